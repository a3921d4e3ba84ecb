"""Draining: a request already sent to a server group finishes when the group leaves the load balancer."""

from __future__ import annotations

import json
import threading

from clouds.providers.local.runtime.client import RuntimeLoadBalancer, SupervisorClient
from clouds.providers.local.runtime.common import marked_processes

from .conftest import LocalHome, get, wait_for_group, wait_until


def slow_and_fast(supervisor: SupervisorClient, sample_command: list[str]) -> RuntimeLoadBalancer:
    supervisor.put_server_group("slow", command=sample_command, desired=1, env={"SAMPLE_LATENCY_MS": "1500"})
    supervisor.put_server_group("fast", command=sample_command, desired=1)
    wait_for_group(supervisor, "slow", up=1)
    wait_for_group(supervisor, "fast", up=1)
    return supervisor.put_load_balancer("shop-web", 0, {"slow": 100, "fast": 0})


def in_flight(lb: RuntimeLoadBalancer) -> dict[str, int]:
    status, body = get(lb.status_url)
    assert status == 200
    return dict(json.loads(body)["inFlight"])


def start_request(lb: RuntimeLoadBalancer) -> tuple[threading.Thread, list[tuple[int, bytes]]]:
    answers: list[tuple[int, bytes]] = []
    request = threading.Thread(target=lambda: answers.append(get(f"http://{lb.address}/", timeout=20)))
    request.start()
    wait_until(lambda: in_flight(lb).get("slow") == 1, 5, "the slow request to be in flight")
    return request, answers


def test_it_lets_a_request_in_flight_finish_when_its_group_is_taken_out(
    supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    lb = slow_and_fast(supervisor, sample_command)
    request, answers = start_request(lb)

    supervisor.put_load_balancer("shop-web", 0, {"fast": 100})
    meanwhile = get(f"http://{lb.address}/")
    still = in_flight(lb)
    request.join(timeout=20)

    assert json.loads(meanwhile[1])["instance"] == "fast-0"
    assert still == {"slow": 1}
    assert [(status, json.loads(body)["instance"]) for status, body in answers] == [(200, "slow-0")]


def test_it_lets_a_request_in_flight_finish_when_its_group_is_deleted(
    supervisor: SupervisorClient, local_home: LocalHome, sample_command: list[str]
) -> None:
    lb = slow_and_fast(supervisor, sample_command)
    slow_pid = supervisor.state().server_groups["slow"].instances[0].pid
    request, answers = start_request(lb)

    supervisor.delete_server_group("slow")
    request.join(timeout=20)

    assert [(status, json.loads(body)["instance"]) for status, body in answers] == [(200, "slow-0")]
    wait_until(lambda: slow_pid not in marked_processes(local_home.path), 10, "the deleted instance to exit")
