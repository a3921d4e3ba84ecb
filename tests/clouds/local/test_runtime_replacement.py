"""A dead instance is replaced: new process, same id, restart counted, UP again."""

from __future__ import annotations

import os
import signal

from clouds.providers.local.runtime.client import SupervisorClient

from .conftest import get, wait_for_group, wait_until


def test_it_replaces_an_instance_killed_with_sigkill(supervisor: SupervisorClient, sample_command: list[str]) -> None:
    supervisor.put_server_group("shop-web-v001", command=sample_command, desired=2)
    victim, survivor = wait_for_group(supervisor, "shop-web-v001", up=2).instances
    assert victim.pid is not None

    os.kill(victim.pid, signal.SIGKILL)

    def replaced() -> bool:
        instance = supervisor.state().server_groups["shop-web-v001"].instances[0]
        return instance.pid not in (None, victim.pid) and instance.health == "UP"

    wait_until(replaced, 15, "a replacement of the killed instance to be UP")
    group = supervisor.state().server_groups["shop-web-v001"]
    assert group.instances[0].id == victim.id
    assert group.instances[0].restarts == 1
    assert group.instances[1] == survivor
    assert get(f"http://{group.instances[0].address}/")[0] == 200
