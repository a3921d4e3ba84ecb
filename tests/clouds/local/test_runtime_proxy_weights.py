"""The load balancer splits traffic by weight, and weights change live without a failed request."""

from __future__ import annotations

import http.client
import threading
from collections import Counter

from clouds.providers.local.runtime.client import RuntimeLoadBalancer, SupervisorClient

from .conftest import wait_for_group, wait_until


def two_versions(supervisor: SupervisorClient, sample_command: list[str]) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2, env={"SAMPLE_VERSION": "1"})
    supervisor.put_server_group("shop-web-v002", command=sample_command, desired=1, env={"SAMPLE_VERSION": "2"})
    wait_for_group(supervisor, "shop-web-v001", up=2)
    wait_for_group(supervisor, "shop-web-v002", up=1)


def send(lb: RuntimeLoadBalancer, count: int) -> Counter[tuple[int, str | None]]:
    """``count`` requests on one kept-alive connection: how many each server group answered, by status."""
    seen: Counter[tuple[int, str | None]] = Counter()
    connection = http.client.HTTPConnection("127.0.0.1", lb.port, timeout=10)
    try:
        for _ in range(count):
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            seen[(response.status, response.getheader("X-Spinweb-Server-Group"))] += 1
    finally:
        connection.close()
    return seen


def test_it_splits_traffic_by_weight(supervisor: SupervisorClient, sample_command: list[str]) -> None:
    two_versions(supervisor, sample_command)

    lb = supervisor.put_load_balancer("shop-web", 0, {"shop-web-v001": 80, "shop-web-v002": 20})
    seen = send(lb, 1000)

    assert sum(seen.values()) == seen[(200, "shop-web-v001")] + seen[(200, "shop-web-v002")] == 1000
    assert 750 <= seen[(200, "shop-web-v001")] <= 850


def test_it_changes_weights_under_load_without_failing_a_request(
    supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    two_versions(supervisor, sample_command)
    lb = supervisor.put_load_balancer("shop-web", 0, {"shop-web-v001": 100, "shop-web-v002": 0})
    stop = threading.Event()
    tallies: list[Counter[tuple[int, str | None]]] = []
    failures: list[BaseException] = []

    def hammer() -> None:
        tally: Counter[tuple[int, str | None]] = Counter()
        try:
            while not stop.is_set():
                tally += send(lb, 20)
        except (OSError, http.client.HTTPException) as error:
            failures.append(error)
        tallies.append(tally)

    clients = [threading.Thread(target=hammer) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        supervisor.put_load_balancer("shop-web", 0, {"shop-web-v001": 50, "shop-web-v002": 50})
        wait_until(lambda: send(lb, 1)[(200, "shop-web-v002")], 5, "v002 to take traffic")
        supervisor.put_load_balancer("shop-web", 0, {"shop-web-v001": 0, "shop-web-v002": 100})
        only_v002 = send(lb, 10)  # in effect as soon as the call returned
        supervisor.put_load_balancer("shop-web", 0, {"shop-web-v001": 50, "shop-web-v002": 50})
        wait_until(lambda: send(lb, 1)[(200, "shop-web-v001")], 5, "v001 to take traffic again")
        supervisor.delete_server_group("shop-web-v001")  # out of the load balancer first, then stopped
        after = send(lb, 20)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=30)

    total = sum(tallies, Counter())
    assert failures == []
    assert {status for status, _ in total} == {200}
    assert total[(200, "shop-web-v001")] > 0
    assert total[(200, "shop-web-v002")] > 0
    assert only_v002 == Counter({(200, "shop-web-v002"): 10})
    assert after == Counter({(200, "shop-web-v002"): 20})
