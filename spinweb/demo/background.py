"""The demo's background traffic: one detached generator per local home, found again by its pidfile.

``start_traffic`` launches ``python -m clouds.providers.local.traffic --detach`` in a session of
its own, so it outlives the command that started it (and the web server). It carries the local
runtime's marker (``SPINWEB_RUNTIME_HOME=<home>``, role ``traffic``) and writes
``<home>/demo-traffic.json`` (pid, process start time, URL, rate). It stops by itself once the load
balancer stops answering (its supervisor shut down), or with ``stop_traffic`` (``demo --stop``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from clouds.providers.local.runtime.common import base_environment, is_ours

PIDFILE = "demo-traffic.json"
ROLE = "traffic"
START_SECONDS = 10.0
STOP_SECONDS = 5.0


def running_traffic(home: Path) -> dict[str, Any] | None:
    """The pidfile's content if its generator still runs (a stale file is removed)."""
    path = home / PIDFILE
    try:
        info = json.loads(path.read_text())
        alive = is_ours(int(info["pid"]), info.get("startTicks"), home)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not alive:
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return dict(info)


def start_traffic(home: Path, url: str, rate: float, *, give_up_after: float = 10.0) -> tuple[int, bool]:
    """The generator's pid, and whether it was started now (one already sending to ``url`` is kept).

    Idempotent: a generator for another URL or rate is stopped and replaced.
    """
    current = running_traffic(home)
    if current is not None and current.get("url") == url and float(current.get("rate", 0)) == rate:
        return int(current["pid"]), False
    stop_traffic(home)
    home.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "clouds.providers.local.traffic", "--url", url, "--rate", f"{rate:g}"]
    argv += ["--pidfile", str(home / PIDFILE), "--give-up-after", f"{give_up_after:g}", "--detach"]
    with open(home / "demo-traffic.log", "ab") as log:
        launcher = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=base_environment(home, ROLE),
            cwd=home,
            start_new_session=True,
        )
    launcher.wait(timeout=30)  # returns as soon as the generator has forked itself away
    return _wait_started(home), True


def _wait_started(home: Path) -> int:
    deadline = time.monotonic() + START_SECONDS
    while (info := running_traffic(home)) is None:
        if time.monotonic() >= deadline:
            raise RuntimeError(f"the traffic generator did not start; see {home / 'demo-traffic.log'}")
        time.sleep(0.05)  # the new process is importing; nothing to wait on but its pidfile
    return int(info["pid"])


def stop_traffic(home: Path) -> bool:
    """Stop the home's generator (SIGTERM, then SIGKILL after a few seconds); False if none ran."""
    info = running_traffic(home)
    if info is None:
        return False
    pid, ticks = int(info["pid"]), info.get("startTicks")
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while is_ours(pid, ticks, home):
        if time.monotonic() >= deadline:
            _signal(pid, signal.SIGKILL)
            break
        time.sleep(0.05)  # the generator waits for its requests in flight, then exits
    with contextlib.suppress(OSError):
        (home / PIDFILE).unlink()
    return True


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)
