"""Shutdown stops every process of the home and forgets them; the next supervisor starts empty."""

from __future__ import annotations

import json

from clouds.providers.local.runtime.client import SupervisorClient
from clouds.providers.local.runtime.common import is_alive, marked_processes

from .conftest import LocalHome, wait_for_group, wait_until


def test_it_leaves_nothing_running(
    supervisor: SupervisorClient, local_home: LocalHome, sample_command: list[str]
) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2)
    supervisor.put_load_balancer("shop-web", 0, {"shop-web-v001": 100})
    wait_for_group(supervisor, "shop-web-v001", up=2)
    pid = supervisor.state().supervisor_pid
    assert pid is not None
    assert len(marked_processes(local_home.path)) == 4

    supervisor.shutdown()

    assert marked_processes(local_home.path, ("instance", "proxy")) == {}
    wait_until(lambda: not is_alive(pid, None), 10, "the supervisor to exit")
    assert marked_processes(local_home.path) == {}
    assert not (local_home.path / "control.sock").exists()
    assert json.loads((local_home.path / "state.json").read_text())["serverGroups"] == {}
    assert not supervisor.is_running()
    supervisor.ensure_running()
    assert supervisor.state().server_groups == {}
