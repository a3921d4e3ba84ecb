"""Starting the supervisor: detached, once per home however many callers race, and only when needed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from clouds.providers.local.runtime.client import SupervisorClient
from clouds.providers.local.runtime.common import marked_processes

from .conftest import LocalHome


def supervisors(local_home: LocalHome) -> list[int]:
    return list(marked_processes(local_home.path, ("supervisor",)))


def test_it_starts_one_supervisor_when_two_callers_race(local_home: LocalHome) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            local_home.client().ensure_running()
        except BaseException as error:
            errors.append(error)

    racers = [threading.Thread(target=start) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)

    assert errors == []
    assert len(supervisors(local_home)) == 1
    assert local_home.client().state().supervisor_pid == supervisors(local_home)[0]


def test_it_leaves_a_running_supervisor_alone(supervisor: SupervisorClient, local_home: LocalHome) -> None:
    running = supervisor.state().supervisor_pid

    supervisor.ensure_running()

    assert supervisors(local_home) == [running]


def test_a_second_supervisor_for_the_same_home_exits_at_once(
    supervisor: SupervisorClient, local_home: LocalHome
) -> None:
    running = supervisor.state().supervisor_pid
    argv = [sys.executable, "-m", "clouds.providers.local.runtime.supervisor", "--home", str(local_home.path)]

    second = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)

    assert second.returncode == 0
    assert "already runs" in second.stderr
    assert supervisor.state().supervisor_pid == running


def test_it_is_not_a_child_of_the_caller(supervisor: SupervisorClient) -> None:
    pid = supervisor.state().supervisor_pid
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    parent, session = int(fields[1]), int(fields[3])

    assert parent != os.getpid()
    assert session == pid
