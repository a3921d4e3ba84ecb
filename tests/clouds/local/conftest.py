"""Fixtures for tests that run the local cloud's real processes (supervisor, instances, proxies).

- ``local_home`` -> ``LocalHome(path, ports)``: an empty home directory with a short path under
  /tmp (Unix socket paths are limited to 107 bytes) and a range of ``PORTS_PER_TEST`` ports, all
  free when handed out, below the kernel's ephemeral range. Use it on its own when the code under
  test starts the supervisor itself, e.g. the local driver with
  ``settings.SPINWEB_LOCAL_HOME = local_home.path`` and ``settings.SPINWEB_LOCAL_PORTS = local_home.ports``.
  Teardown ALWAYS runs, also when the test failed: it shuts down the home's supervisor (starting
  one first if processes of the home run without it, so that it adopts and stops them), waits
  until no process carrying the home's marker is left, SIGKILLs any that is, and then fails the
  test naming the survivors. Finally the directory is removed.
- ``supervisor`` -> a ``SupervisorClient`` for ``local_home``, already running.
- ``sample_command`` -> the argv that runs the sample app on ``{port}``.
- ``spawn`` -> ``spawn(argv, env=None) -> Popen``: a process of the test's own (outside any
  supervisor), in its own session, killed with its children at teardown whatever happens;
  ``start_sample_app(spawn, **env)`` runs the sample app that way on a free port.

Helpers to import: ``wait_until(condition, timeout, what)`` (poll with a deadline, never a fixed
sleep), ``wait_for_group(client, name, up=n)``, ``get(url)`` (status and body, never raises on
HTTP errors).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from clouds.providers.local.runtime.client import (
    RuntimeServerGroup,
    SupervisorClient,
    SupervisorError,
)
from clouds.providers.local.runtime.common import marked_processes, port_is_free, project_root, signal_group

PORTS_PER_TEST = 40
PORT_FLOOR, PORT_CEILING = 10000, 19999
SAMPLE_APP = "clouds.providers.local.runtime.sample_app"
T = TypeVar("T")


@dataclass(frozen=True)
class LocalHome:
    path: Path
    ports: tuple[int, int]

    def client(self) -> SupervisorClient:
        return SupervisorClient(self.path, self.ports)


def wait_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """The first truthy value of ``condition()``; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def wait_for_group(client: SupervisorClient, name: str, up: int, timeout: float = 15.0) -> RuntimeServerGroup:
    """The group once exactly ``up`` instances are UP and every instance is UP."""

    def ready() -> RuntimeServerGroup | None:
        group = client.state().server_groups.get(name)
        if group and group.up_count == up == len(group.instances):
            return group
        return None

    group = wait_until(ready, timeout, f"{up} UP instances of {name}")
    assert group is not None
    return group


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """``GET url`` on loopback: the status and body (HTTP errors are answers too)."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", "/" + path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def free_port_range(size: int = PORTS_PER_TEST) -> tuple[int, int]:
    """A block of ``size`` ports that are all free now, chosen at random so parallel sessions differ."""
    blocks = (PORT_CEILING - PORT_FLOOR + 1) // size
    for _ in range(100):
        low = PORT_FLOOR + random.randrange(blocks) * size
        if all(port_is_free(port) for port in range(low, low + size)):
            return low, low + size - 1
    raise AssertionError(f"no block of {size} free ports between {PORT_FLOOR} and {PORT_CEILING}")


def stop_everything(home: LocalHome) -> list[str]:
    """Shut the home down the supported way; returns what had to be killed by force (should be nothing)."""
    client = home.client()
    with contextlib.suppress(SupervisorError):
        if not client.is_running() and marked_processes(home.path):
            client.ensure_running()  # it adopts (or stops) whatever of the home still runs
        if client.is_running():
            client.shutdown()
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not marked_processes(home.path), 15.0, "the home's processes to exit")
    survivors = marked_processes(home.path)
    for pid in survivors:
        signal_group(pid, signal.SIGKILL)
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not marked_processes(home.path), 5.0, "killed processes to go")
    return [f"{role} {pid}" for pid, role in survivors.items()]


def log_tail(home: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join((home / "supervisor.log").read_text(errors="replace").splitlines()[-lines:])
    return "(no supervisor.log)"


@pytest.fixture
def local_home() -> Iterator[LocalHome]:
    home = LocalHome(Path(tempfile.mkdtemp(prefix="swl-", dir="/tmp")), free_port_range())
    try:
        yield home
    finally:
        survivors = stop_everything(home)
        tail = log_tail(home.path)
        shutil.rmtree(home.path, ignore_errors=True)
        if survivors:
            pytest.fail(f"processes of {home.path} survived the shutdown: {survivors}\n{tail}")


@pytest.fixture
def supervisor(local_home: LocalHome) -> SupervisorClient:
    client = local_home.client()
    client.ensure_running()
    return client


@pytest.fixture
def sample_command() -> list[str]:
    return [sys.executable, "-m", SAMPLE_APP, "--port", "{port}"]


Spawn = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        environment = {**os.environ, "PYTHONPATH": str(project_root()), **(env or {})}
        output = open(tmp_path / f"process-{len(started)}.log", "wb")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            argv, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        output.close()
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def start_sample_app(spawn: Spawn, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """The app on a free port, answering; a port lost to another process is retried on the next one."""
    low, high = free_port_range(10)
    for port in range(low, high + 1):
        if not port_is_free(port):
            continue
        process = spawn([sys.executable, "-m", SAMPLE_APP, "--port", str(port)], env)
        base = f"http://127.0.0.1:{port}"
        if started(process, base):
            return process, base
    raise AssertionError("the sample app found no free port")


def started(process: subprocess.Popen[bytes], base: str) -> bool:
    """True once it answers; False if it exited first (its port was taken meanwhile)."""
    wait_until(lambda: process.poll() is not None or answers(base), 10, "the sample app to listen")
    return process.poll() is None


def answers(base: str) -> bool:
    try:
        get(f"{base}/health", timeout=1)
    except OSError:
        return False
    return True
