"""A supervisor killed with SIGKILL: its processes keep serving, and the next one adopts them."""

from __future__ import annotations

import os
import signal

from clouds.providers.local.runtime.client import SupervisorClient
from clouds.providers.local.runtime.common import is_alive, marked_processes

from .conftest import LocalHome, get, wait_for_group, wait_until


def roles(local_home: LocalHome) -> list[str]:
    return sorted(marked_processes(local_home.path).values())


def test_it_adopts_the_running_instances_and_proxy_after_a_crash(
    supervisor: SupervisorClient, local_home: LocalHome, sample_command: list[str]
) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2)
    before = wait_for_group(supervisor, "shop-web-v001", up=2)
    lb = supervisor.put_load_balancer("shop-web", 0, {"shop-web-v001": 100})
    crashed = supervisor.state().supervisor_pid
    assert crashed is not None

    os.kill(crashed, signal.SIGKILL)
    wait_until(lambda: not is_alive(crashed, None), 10, "the supervisor to die")

    assert get(f"http://{lb.address}/")[0] == 200  # nothing stopped with it
    supervisor.ensure_running()
    after = supervisor.state()
    assert after.supervisor_pid != crashed
    assert after.server_groups["shop-web-v001"].instances == before.instances
    assert after.load_balancers["shop-web"].pid == lb.pid
    assert roles(local_home) == ["instance", "instance", "proxy", "supervisor"]


def test_it_restarts_what_died_while_it_was_away_and_supervises_adopted_ones(
    supervisor: SupervisorClient, local_home: LocalHome, sample_command: list[str]
) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2)
    gone, kept = wait_for_group(supervisor, "shop-web-v001", up=2).instances
    crashed = supervisor.state().supervisor_pid
    assert crashed is not None
    assert gone.pid is not None
    assert kept.pid is not None
    os.kill(crashed, signal.SIGKILL)
    os.kill(gone.pid, signal.SIGKILL)
    wait_until(lambda: not is_alive(crashed, None) and not is_alive(gone.pid or 0, None), 10, "both to die")

    supervisor.ensure_running()
    restarted, adopted = wait_for_group(supervisor, "shop-web-v001", up=2).instances

    assert restarted.pid != gone.pid
    assert restarted.restarts == 1
    assert adopted.pid == kept.pid
    os.kill(kept.pid, signal.SIGKILL)  # not its child: noticed through /proc
    wait_until(
        lambda: supervisor.state().server_groups["shop-web-v001"].instances[1].pid not in (None, kept.pid),
        15,
        "the adopted instance to be replaced",
    )
    wait_for_group(supervisor, "shop-web-v001", up=2)
    assert roles(local_home) == ["instance", "instance", "supervisor"]
