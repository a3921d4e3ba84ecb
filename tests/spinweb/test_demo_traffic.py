"""The demo's background traffic: one detached generator per home, stopped by ``demo --stop`` or by itself."""

from __future__ import annotations

import io

from django.core.management import call_command

from clouds.providers.local.runtime.client import RuntimeLoadBalancer, SupervisorClient
from clouds.providers.local.runtime.common import marked_processes
from clouds.providers.local.traffic import load_balancer_traffic
from spinweb.demo.background import PIDFILE, start_traffic
from tests.clouds.local.conftest import LocalHome, sample_command, supervisor, wait_for_group, wait_until
from tests.clouds.local.fixtures import local_home, local_runtime

__all__ = ["local_home", "local_runtime", "sample_command", "supervisor"]


def traffic_processes(home: LocalHome) -> list[int]:
    return list(marked_processes(home.path, ("traffic",)))


def balancer(supervisor: SupervisorClient, sample_command: list[str]) -> RuntimeLoadBalancer:
    supervisor.put_server_group("hello-web-v000", command=sample_command, desired=1)
    wait_for_group(supervisor, "hello-web-v000", up=1)
    return supervisor.put_load_balancer("hello-web", 0, {"hello-web-v000": 100})


def test_it_runs_one_generator_in_the_background_until_demo_stop(
    local_runtime: LocalHome, supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    lb = balancer(supervisor, sample_command)
    url = f"http://{lb.address}/"

    pid, started = start_traffic(local_runtime.path, url, 20)
    again, started_again = start_traffic(local_runtime.path, url, 20)

    assert (started, started_again, again) == (True, False, pid)
    assert traffic_processes(local_runtime) == [pid]
    wait_until(lambda: load_balancer_traffic(lb.metrics_url).requests >= 10, 10, "requests from the generator")
    out = io.StringIO()
    call_command("demo", "--stop", stdout=out)
    assert "Stopped the traffic generator." in out.getvalue()
    assert traffic_processes(local_runtime) == []
    assert not (local_runtime.path / PIDFILE).exists()


def test_it_stops_by_itself_when_its_load_balancer_goes_away(
    local_runtime: LocalHome, supervisor: SupervisorClient, sample_command: list[str]
) -> None:
    lb = balancer(supervisor, sample_command)
    pid, _ = start_traffic(local_runtime.path, f"http://{lb.address}/", 20, give_up_after=1)
    wait_until(lambda: load_balancer_traffic(lb.metrics_url).requests >= 10, 10, "requests from the generator")

    supervisor.delete_load_balancer("hello-web")

    wait_until(lambda: pid not in traffic_processes(local_runtime), 15, "the generator to stop")
    assert not (local_runtime.path / PIDFILE).exists()
