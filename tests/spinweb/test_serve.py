"""``manage.py serve`` (the quickstart's last step) runs a web server and a real worker.

The worker is checked end to end: a task enqueued through the configured broker (the ORM
broker on SQLite, or Redis) comes back with its result.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from clouds.providers.local.runtime.client import SupervisorClient
from tests.components import require_redis

ROOT = Path(__file__).resolve().parents[2]
ENQUEUE = (
    "from django_q.tasks import async_task, result; "
    "task = async_task('spinweb.tasks.ping', 'from the test'); "
    "print('RESULT', result(task, wait=30000))"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(data_dir: Path, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "SPINWEB_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["SPINWEB_DATA_DIR"] = str(data_dir)
    env["SPINWEB_WORKERS"] = "1"
    env["SPINWEB_QUEUE_NAME"] = f"spinweb-test-{data_dir.name}"  # no other run's worker takes our tasks
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def live_members(group: int) -> list[int]:
    """Processes of a process group that still run (zombies, which only wait to be reaped, don't count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(stat.parent.name))
    return members


def children_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


def wait_for_health(url: str, server: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert server.poll() is None, f"serve exited early with {server.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # between polls, within the deadline above
    pytest.fail(f"{url} did not answer within {deadline_s} s")


@pytest.fixture(params=["orm", "redis"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    redis_url = require_redis().rsplit("/", 1)[0] + "/14" if request.param == "redis" else None
    env = environment(tmp_path, redis_url)
    # A short path of its own: the local provider's control socket path must fit in 108 bytes.
    env["SPINWEB_LOCAL_HOME"] = tempfile.mkdtemp(prefix="sw-serve-")
    server = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env, start_new_session=True
        )
        wait_for_health(f"http://127.0.0.1:{port}/healthz", server)
        yield f"http://127.0.0.1:{port}", env, server
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(env["SPINWEB_LOCAL_HOME"], ignore_errors=True)


def stop(server: subprocess.Popen[bytes]) -> None:
    """serve stops its own children; its process group is killed only if that fails."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # serve leads its own group: never leave one behind


def test_it_serves_pages_and_runs_tasks_on_a_worker(
    served: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    base, env, _server = served
    with urllib.request.urlopen(f"{base}/static/vendor/htmx/htmx.min.js", timeout=5) as response:
        assert b"htmx" in response.read(200)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", ENQUEUE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "RESULT pong: from the test" in result.stdout


def descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        for child in children_of(frontier.pop()):
            found.append(child)
            frontier.append(child)
    return found


def test_it_stops_web_server_and_worker_together(served: tuple[str, dict[str, str], subprocess.Popen[bytes]]) -> None:
    base, _env, server = served
    assert len(children_of(server.pid)) == 1  # the worker cluster; the web server is a thread of serve
    assert len(descendants(server.pid)) >= 4  # its sentinel's pusher, monitor and worker
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    # Nothing is left behind: the port is free again and no process of serve's group survives.
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(f"{base}/healthz", timeout=2)
    assert not live_members(server.pid)


def test_it_stops_everything_when_the_worker_cluster_dies(
    served: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    base, _env, server = served
    [sentinel] = children_of(server.pid)
    orphans = children_of(sentinel)
    assert orphans
    os.kill(sentinel, signal.SIGKILL)  # its pusher, monitor and workers are orphaned, not stopped
    assert server.wait(timeout=30) != 0
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(f"{base}/healthz", timeout=2)
    assert not live_members(server.pid), "an orphan of the dead worker cluster is still running"


def test_it_leaves_the_local_provider_running_when_it_stops(
    served: tuple[str, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    # A worker starts the local supervisor; serve, a subreaper, inherits it. Stopping Spinweb
    # must not stop it: server groups outlive the web server and workers, and are adopted later.
    _base, env, server = served
    home = Path(env["SPINWEB_LOCAL_HOME"])
    enqueue = (
        "from django_q.tasks import async_task, result; "
        "task = async_task('tests.spinweb.serve_tasks.start_local_supervisor'); "
        "print('RESULT', result(task, wait=30000))"
    )
    started = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", enqueue],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    supervisor = int(started.stdout.split("RESULT")[-1].strip())
    try:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert SupervisorClient(home).state().supervisor_pid == supervisor
    finally:
        SupervisorClient(home).shutdown()
