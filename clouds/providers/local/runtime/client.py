"""``SupervisorClient``: typed calls to a home's supervisor, and starting it when it is not running.

    client = SupervisorClient(home, ports=(20000, 29999))
    client.ensure_running()
    group = client.put_server_group("shop-web-v001", command=[python, "-m", "...", "--port", "{port}"], desired=3)
    lb = client.put_load_balancer("shop-web", 0, {"shop-web-v001": 100})
    requests.get(f"http://{lb.address}/")

Errors: ``SupervisorUnavailable`` when the supervisor cannot be reached or started, or fails
internally (transient: try again later); ``SupervisorRefused`` when it answered 4xx (the request
itself is wrong or conflicts; ``status`` and the supervisor's ``message``).
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from .common import LOOPBACK, base_environment

DEFAULT_PORTS = (20000, 29999)
# Unix socket paths are limited to 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107


class SupervisorError(Exception):
    """Base of the errors below."""


class SupervisorUnavailable(SupervisorError):
    """The supervisor cannot be reached or started, or failed inside: worth retrying later."""


class SupervisorRefused(SupervisorError):
    """The supervisor answered 4xx: the request is wrong or conflicts with what exists."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class HealthSpec:
    path: str = "/health"
    interval_seconds: float = 1.0
    timeout_seconds: float = 2.0

    def document(self) -> dict[str, Any]:
        return {"path": self.path, "intervalSeconds": self.interval_seconds, "timeoutSeconds": self.timeout_seconds}


@dataclass(frozen=True)
class RuntimeInstance:
    id: str
    port: int
    pid: int | None
    health: str  # STARTING | UP | DOWN
    started_at: datetime | None
    restarts: int
    last_error: str | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"


@dataclass(frozen=True)
class RuntimeServerGroup:
    name: str
    command: list[str]
    env: dict[str, str]
    desired: int
    health: HealthSpec
    instances: list[RuntimeInstance]
    created_at: datetime

    @property
    def up_count(self) -> int:
        return sum(1 for instance in self.instances if instance.health == "UP")


@dataclass(frozen=True)
class RuntimeLoadBalancer:
    name: str
    port: int
    admin_port: int
    backends: dict[str, int]
    pid: int | None
    last_error: str | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}/metrics"

    @property
    def status_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}/status"

    @property
    def history_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}/history"


@dataclass(frozen=True)
class RuntimeState:
    server_groups: dict[str, RuntimeServerGroup]
    load_balancers: dict[str, RuntimeLoadBalancer]
    stopping_pids: list[int] = field(default_factory=list)
    supervisor_pid: int | None = None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


class SupervisorClient:
    """Talks to the supervisor of ``home`` (``home/control.sock``); safe to share between threads."""

    def __init__(self, home: Path, ports: tuple[int, int] = DEFAULT_PORTS, *, timeout: float = 30.0) -> None:
        self.home = Path(home).resolve()
        self.ports = ports
        self.timeout = timeout
        self.socket_path = self.home / "control.sock"
        if len(str(self.socket_path).encode()) > MAX_SOCKET_PATH:
            raise ValueError(
                f"the local home {self.home} is too long a path for a Unix socket ({MAX_SOCKET_PATH} bytes)"
            )

    # ------------------------------------------------------------ lifecycle

    def is_running(self) -> bool:
        try:
            self._call("GET", "/state", timeout=2.0)
        except SupervisorError:
            return False
        return True

    def ensure_running(self, timeout: float = 20.0) -> None:
        """Start the supervisor unless it answers; return once it answers.

        Safe when several processes call it at once: they queue on ``home/start.lock`` and only
        the first starts a supervisor (and the supervisor's own lock would stop a second one).
        """
        if self.is_running():
            return
        deadline = time.monotonic() + timeout
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(self.home / "start.lock", "a") as lock:
                self._lock_until(lock, deadline)
                if not self.is_running():
                    self._launch()
                    self._wait_answering(deadline)
        except (OSError, subprocess.SubprocessError) as error:
            raise SupervisorUnavailable(f"cannot start the supervisor of {self.home}: {error}") from None

    def _lock_until(self, lock: IO[str], deadline: float) -> None:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SupervisorUnavailable(f"another process is starting the supervisor of {self.home}") from None
                time.sleep(0.05)  # flock has no timeout; the holder is starting the supervisor

    def _launch(self) -> None:
        argv = [sys.executable, "-m", "clouds.providers.local.runtime.supervisor", "--home", str(self.home)]
        argv += ["--ports", f"{self.ports[0]}-{self.ports[1]}", "--detach"]
        with open(self.home / "supervisor.log", "ab") as errors:
            launcher = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=base_environment(self.home, "supervisor"),
                cwd=self.home,
                start_new_session=True,
            )
        launcher.wait(timeout=30)  # returns as soon as the supervisor has forked itself away

    def _wait_answering(self, deadline: float) -> None:
        while not self.is_running():
            if time.monotonic() >= deadline:
                raise SupervisorUnavailable(f"the supervisor of {self.home} did not start: {self._log_tail()}")
            time.sleep(0.05)  # the new process is importing and adopting; nothing to wait on but the socket

    def _log_tail(self) -> str:
        try:
            lines = (self.home / "supervisor.log").read_text(errors="replace").splitlines()
        except OSError:
            return "no supervisor.log"
        return " | ".join(lines[-5:]) or "supervisor.log is empty"

    # ------------------------------------------------------------ endpoints

    def state(self) -> RuntimeState:
        raw = self._call("GET", "/state")
        return RuntimeState(
            server_groups={name: _server_group(item) for name, item in raw["serverGroups"].items()},
            load_balancers={name: _load_balancer(item) for name, item in raw["loadBalancers"].items()},
            stopping_pids=[int(item["pid"]) for item in raw.get("stopping", [])],
            supervisor_pid=raw.get("supervisor", {}).get("pid"),
        )

    def put_server_group(
        self,
        name: str,
        *,
        command: Sequence[str],
        desired: int,
        env: Mapping[str, str] | None = None,
        health: HealthSpec | None = None,
    ) -> RuntimeServerGroup:
        """Create the group or change its desired count/health; idempotent for the same arguments."""
        body = {
            "command": list(command),
            "env": dict(env or {}),
            "desired": desired,
            "health": (health or HealthSpec()).document(),
        }
        return _server_group(self._call("PUT", f"/server-groups/{quote(name, safe='')}", body))

    def delete_server_group(self, name: str) -> None:
        """Take it out of every load balancer and stop its processes (404 → SupervisorRefused)."""
        self._call("DELETE", f"/server-groups/{quote(name, safe='')}")

    def put_load_balancer(
        self, name: str, port: int = 0, backends: Mapping[str, int] | None = None
    ) -> RuntimeLoadBalancer:
        """Create or update; returns once the proxy routes by these backends."""
        body = {"port": port, "backends": dict(backends or {})}
        return _load_balancer(self._call("PUT", f"/load-balancers/{quote(name, safe='')}", body))

    def delete_load_balancer(self, name: str) -> None:
        self._call("DELETE", f"/load-balancers/{quote(name, safe='')}")

    def shutdown(self) -> None:
        """Stop every instance and proxy of this home, forget them, and stop the supervisor."""
        self._call("POST", "/shutdown")

    # ------------------------------------------------------------ transport

    def _call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        connection = _UnixConnection(self.socket_path, timeout or self.timeout)
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise SupervisorUnavailable(f"the supervisor of {self.home} does not answer: {error}") from None
        finally:
            connection.close()
        answer = _json(raw)
        message = str(answer.get("error", "")) if isinstance(answer, dict) else ""
        if 400 <= status < 500:
            raise SupervisorRefused(status, message or f"refused with HTTP {status}")
        if status >= 500:
            raise SupervisorUnavailable(message or f"the supervisor failed with HTTP {status}")
        return answer


def _json(raw: bytes) -> Any:
    with contextlib.suppress(ValueError):
        return json.loads(raw)
    return None


def _when(raw: Any) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


def _server_group(raw: dict[str, Any]) -> RuntimeServerGroup:
    health = raw["health"]
    created = _when(raw.get("createdAt"))
    assert created is not None
    return RuntimeServerGroup(
        name=raw["name"],
        command=list(raw["command"]),
        env=dict(raw["env"]),
        desired=int(raw["desired"]),
        health=HealthSpec(health["path"], float(health["intervalSeconds"]), float(health["timeoutSeconds"])),
        instances=[
            RuntimeInstance(
                id=item["id"],
                port=int(item["port"]),
                pid=item.get("pid"),
                health=item["health"],
                started_at=_when(item.get("startedAt")),
                restarts=int(item.get("restarts", 0)),
                last_error=item.get("lastError"),
            )
            for item in raw["instances"]
        ],
        created_at=created,
    )


def _load_balancer(raw: dict[str, Any]) -> RuntimeLoadBalancer:
    return RuntimeLoadBalancer(
        name=raw["name"],
        port=int(raw["port"]),
        admin_port=int(raw["adminPort"]),
        backends={str(name): int(weight) for name, weight in raw["backends"].items()},
        pid=raw.get("pid"),
        last_error=raw.get("lastError"),
    )
