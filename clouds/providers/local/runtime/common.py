"""Process, port and file helpers shared by the supervisor, its client and the tests.

Every process the runtime starts for a home (the supervisor, instances, proxies) carries the
environment entry ``SPINWEB_RUNTIME_HOME=<absolute home>`` (the *marker*). Linux keeps a
process's initial environment in ``/proc/<pid>/environ``, so the marker tells, after any crash,
which processes belong to which home. Together with the process start time (field 22 of
``/proc/<pid>/stat``) it also guards against a recycled pid.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MARKER_ENV = "SPINWEB_RUNTIME_HOME"
ROLE_ENV = "SPINWEB_RUNTIME_ROLE"
ROLES = ("supervisor", "instance", "proxy")
LOOPBACK = "127.0.0.1"

# Only these of the caller's variables reach the supervisor and the processes it starts: the web
# server's environment holds secrets (database URL, secret key) that a demo app must not see.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


def project_root() -> Path:
    """The directory that holds the ``clouds`` package, so ``python -m clouds...`` works anywhere."""
    return Path(__file__).resolve().parents[4]


def marker_entry(home: Path) -> str:
    return f"{MARKER_ENV}={home.resolve()}"


def base_environment(home: Path, role: str) -> dict[str, str]:
    """A small environment for a runtime process: a few inherited variables, PYTHONPATH and the marker."""
    env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    python_path = [str(project_root())]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    env[MARKER_ENV] = str(home.resolve())
    env[ROLE_ENV] = role
    return env


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks after boot), or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    fields = raw[raw.rfind(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def process_environment(pid: int) -> set[str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            raw = handle.read()
    except OSError:
        return set()
    return {entry.decode(errors="replace") for entry in raw.split(b"\0") if entry}


def is_alive(pid: int, ticks: int | None) -> bool:
    """The process is running and is the one that started at ``ticks`` (not a recycled pid)."""
    if not Path("/proc/self/stat").exists():  # no procfs: the best we can do is "some process has it"
        return _signal_zero(pid)
    current = start_ticks(pid)
    return current is not None and (ticks is None or current == ticks)


def is_ours(pid: int, ticks: int | None, home: Path) -> bool:
    """Alive, not recycled, and carrying this home's marker."""
    if not is_alive(pid, ticks):
        return False
    if not Path("/proc/self/environ").exists():
        return True
    return marker_entry(home) in process_environment(pid)


def marked_processes(home: Path, roles: tuple[str, ...] = ROLES) -> dict[int, str]:
    """Every live process carrying this home's marker, with its role (Linux only; empty elsewhere)."""
    wanted = marker_entry(home)
    found: dict[int, str] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or start_ticks(int(entry)) is None:
                continue
            env = process_environment(int(entry))
            if wanted not in env:
                continue
            role = next((item.split("=", 1)[1] for item in env if item.startswith(f"{ROLE_ENV}=")), "")
            if role in roles:
                found[int(entry)] = role
    return found


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pid: int, signum: int) -> None:
    """Signal the process and its own children: runtime processes lead their own session."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def port_is_free(port: int) -> bool:
    """Nobody listens on, or is bound to, 127.0.0.1:``port`` right now (the caller may still lose a race)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # The servers set SO_REUSEADDR too, so a port with connections in TIME_WAIT counts as free.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((LOOPBACK, port))
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        probe.close()
    return True


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
