"""After a reboot the local provider's processes are gone, its state file is not: starting
Spinweb (``manage.py serve``) starts the supervisor again, which brings the server groups back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from clouds.providers.local.runtime.client import RuntimeServerGroup, SupervisorClient, SupervisorUnavailable
from tests.clouds.local.conftest import LocalHome, wait_for_group, wait_until
from tests.spinweb.test_serve import ROOT, environment, free_port, stop, wait_for_health


def group_back(home: LocalHome) -> RuntimeServerGroup | None:
    """The group once a supervisor answers again and has it UP (serve starts it in the background)."""
    try:
        group = home.client().state().server_groups.get("shop-web-v000")
    except SupervisorUnavailable:
        return None
    return group if group is not None and group.up_count >= 1 else None


def test_it_brings_server_groups_back_when_spinweb_starts(
    local_home: LocalHome, supervisor: SupervisorClient, sample_command: list[str], tmp_path: Path
) -> None:
    supervisor.put_server_group("shop-web-v000", command=sample_command, desired=1)
    before = wait_for_group(supervisor, "shop-web-v000", up=1).instances[0]
    state = supervisor.state()
    # The machine goes down: the supervisor and its instances die without a word.
    for pid in [state.supervisor_pid, before.pid]:
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    env = environment(tmp_path, None)
    env.update(SPINWEB_LOCAL_HOME=str(local_home.path), SPINWEB_LOCAL_PORTS="-".join(map(str, local_home.ports)))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env, start_new_session=True
    )
    try:
        wait_for_health(f"http://127.0.0.1:{port}/healthz", server)
        back = wait_until(lambda: group_back(local_home), 30, "shop-web-v000 back and UP")
        assert back is not None
        assert back.instances[0].pid != before.pid
    finally:
        stop(server)
