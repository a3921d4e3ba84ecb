"""The load balancer's admin port: Prometheus metrics per server group and instance, and a status."""

from __future__ import annotations

import json

from clouds.providers.local.runtime.client import RuntimeLoadBalancer, SupervisorClient

from .conftest import get, wait_for_group


def samples(lb: RuntimeLoadBalancer, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric, labels as Prometheus prints them."""
    status, body = get(lb.metrics_url)
    assert status == 200
    found = {}
    for line in body.decode().splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) :].rsplit(" ", 1)
            found[labels] = float(value)
    return found


def test_it_counts_requests_and_errors_per_server_group(
    supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    supervisor.put_server_group("good", command=sample_command, desired=1)
    supervisor.put_server_group("bad", command=sample_command, desired=1, env={"SAMPLE_ERROR_RATE": "1"})
    wait_for_group(supervisor, "good", up=1)
    wait_for_group(supervisor, "bad", up=1)
    lb = supervisor.put_load_balancer("shop-web", 0, {"good": 50, "bad": 50})

    statuses = [get(f"http://{lb.address}/")[0] for _ in range(10)]

    assert sorted(statuses) == [200] * 5 + [500] * 5
    lb_label = 'load_balancer="shop-web"'
    assert samples(lb, "spinweb_lb_requests_total") == {
        f'{{code="200",instance="good-0",{lb_label},server_group="good"}}': 5.0,
        f'{{code="500",instance="bad-0",{lb_label},server_group="bad"}}': 5.0,
    }
    assert samples(lb, "spinweb_lb_errors_total") == {f'{{instance="bad-0",{lb_label},server_group="bad"}}': 5.0}
    counts = samples(lb, "spinweb_lb_request_duration_seconds_count")
    assert counts == {f'{{{lb_label},server_group="good"}}': 5.0, f'{{{lb_label},server_group="bad"}}': 5.0}


def test_it_reports_its_backends_in_its_status(supervisor: SupervisorClient, sample_command: list[str]) -> None:
    supervisor.put_server_group("good", command=sample_command, desired=2)
    wait_for_group(supervisor, "good", up=2)

    lb = supervisor.put_load_balancer("shop-web", 0, {"good": 100, "later": 0})
    status = json.loads(get(lb.status_url)[1])

    assert status["name"] == "shop-web"
    assert status["port"] == lb.port
    assert status["backends"] == [
        {"serverGroup": "good", "weight": 100, "instances": ["good-0", "good-1"], "inFlight": 0},
        {"serverGroup": "later", "weight": 0, "instances": [], "inFlight": 0},
    ]


def test_it_answers_503_without_a_healthy_instance(supervisor: SupervisorClient) -> None:
    lb = supervisor.put_load_balancer("shop-web", 0, {"missing": 100})

    assert get(f"http://{lb.address}/")[0] == 503
    assert samples(lb, "spinweb_lb_requests_total") == {
        '{code="503",instance="",load_balancer="shop-web",server_group=""}': 1.0
    }
