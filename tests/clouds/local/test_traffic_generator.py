"""The traffic generator counts every answer it gets, and the load balancer's figures agree with it."""

from __future__ import annotations

import time

from clouds.providers.local.runtime.client import SupervisorClient
from clouds.providers.local.runtime.common import port_is_free
from clouds.providers.local.traffic import TrafficGenerator, load_balancer_traffic

from .conftest import LocalHome, wait_for_group, wait_until


def test_it_counts_answers_by_version_and_failures_as_the_load_balancer_does(
    local_home: LocalHome, supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    supervisor.put_server_group("good", command=sample_command, desired=1, env={"SAMPLE_VERSION": "v1"})
    supervisor.put_server_group("bad", command=sample_command, desired=1, env={"SAMPLE_ERROR_RATE": "1"})
    wait_for_group(supervisor, "good", up=1)
    wait_for_group(supervisor, "bad", up=1)
    lb = supervisor.put_load_balancer("shop-web", 0, {"good": 50, "bad": 50})

    with TrafficGenerator(f"http://{lb.address}/", rate=100) as traffic:
        wait_until(lambda: traffic.stats.snapshot().ok >= 40, 20, "40 good answers")
    seen = traffic.stats.snapshot()

    assert seen.sent == seen.ok + seen.failed
    assert abs(seen.ok - seen.failed) <= 2, seen
    assert seen.by_version == {"v1": seen.ok}
    assert seen.failures == {"HTTP 500": seen.failed}
    assert seen.p50_ms is not None
    assert seen.p95_ms is not None
    assert seen.p50_ms <= seen.p95_ms
    figures = load_balancer_traffic(lb.metrics_url)
    assert (figures.requests, figures.errors) == (seen.sent, seen.failed)
    assert figures.by_server_group == {"good": seen.ok, "bad": seen.failed}
    assert figures.success_rate == round(100 * seen.ok / seen.sent, 2)
    assert figures.p50_ms is not None
    assert figures.p95_ms is not None
    assert 0 < figures.p50_ms <= figures.p95_ms
    assert load_balancer_traffic(lb.address, home=local_home.path) == figures


def test_it_tells_since_when_every_answer_comes_from_the_new_version(
    supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    supervisor.put_server_group("old", command=sample_command, desired=1, env={"SAMPLE_VERSION": "v1"})
    supervisor.put_server_group("new", command=sample_command, desired=1, env={"SAMPLE_VERSION": "v2"})
    wait_for_group(supervisor, "old", up=1)
    wait_for_group(supervisor, "new", up=1)
    lb = supervisor.put_load_balancer("shop-web", 0, {"old": 100, "new": 0})

    with TrafficGenerator(f"http://{lb.address}/", rate=100) as traffic:
        wait_until(lambda: traffic.stats.snapshot().ok >= 20, 20, "answers from v1")
        switched = time.monotonic()
        supervisor.put_load_balancer("shop-web", 0, {"old": 0, "new": 100})
        wait_until(lambda: traffic.stats.snapshot().by_version.get("v2", 0) >= 20, 20, "answers from v2")
    seen = traffic.stats.snapshot()

    assert seen.failed == 0
    assert seen.streak is not None
    assert seen.streak.version == "v2"
    assert seen.streak.since >= switched


def test_it_counts_a_refused_connection_as_a_failure(local_home: LocalHome) -> None:
    port = next(port for port in range(local_home.ports[0], local_home.ports[1] + 1) if port_is_free(port))

    with TrafficGenerator(f"http://127.0.0.1:{port}/", rate=50) as traffic:
        wait_until(lambda: traffic.stats.snapshot().failed >= 5, 10, "five refused requests")
    seen = traffic.stats.snapshot()

    assert (seen.ok, seen.failed) == (0, seen.sent)
    assert seen.failures == {"connection refused": seen.sent}
    assert seen.streak is None
