"""The supervisor's state: what is desired, what runs, and how both look in JSON.

Two JSON shapes come out of these classes: the *document* the control API answers with (see the
supervisor's module docstring) and the *record* kept in ``state.json``, which adds what adoption
needs (process start times, whether a port was chosen by the caller, config generations, the
processes still being stopped). Request bodies are validated here too; a bad one raises
``RequestError`` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .common import now_iso

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~^-]{0,199}$")
HEALTH_STATES = ("STARTING", "UP", "DOWN")
MAX_DESIRED = 100
STATE_VERSION = 1


class RequestError(Exception):
    """A control request that cannot be done: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_name(kind: str, name: str) -> str:
    if not NAME_RE.match(name):
        raise RequestError(400, f"{kind} name {name!r} must be letters, digits and . _ ~ ^ - (at most 200)")
    return name


@dataclass
class HealthSpec:
    path: str = "/health"
    interval_seconds: float = 1.0
    timeout_seconds: float = 2.0

    def document(self) -> dict[str, Any]:
        return {"path": self.path, "intervalSeconds": self.interval_seconds, "timeoutSeconds": self.timeout_seconds}

    @classmethod
    def parse(cls, raw: Any, where: str = "health") -> HealthSpec:
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise RequestError(400, f"{where} must be an object")
        path = raw.get("path", "/health")
        if not isinstance(path, str) or not path.startswith("/"):
            raise RequestError(400, f"{where}.path must be a path starting with /")
        return cls(path, _seconds(raw, "intervalSeconds", 1.0, where), _seconds(raw, "timeoutSeconds", 2.0, where))


def _seconds(raw: dict[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.05 <= value <= 60:
        raise RequestError(400, f"{where}.{key} must be a number of seconds between 0.05 and 60")
    return float(value)


@dataclass
class Instance:
    """One process of a server group. The fields after ``last_error`` live in memory only."""

    index: int
    id: str
    port: int
    pid: int | None = None
    ticks: int | None = None
    health: str = "STARTING"
    started_at: str | None = None
    restarts: int = 0
    last_error: str | None = None
    failures: int = 0
    checking: bool = False
    next_check: float = 0.0
    started_mono: float = 0.0
    crashes: int = 0
    next_start: float = 0.0

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "port": self.port,
            "pid": self.pid,
            "health": self.health,
            "startedAt": self.started_at,
            "restarts": self.restarts,
            "lastError": self.last_error,
        }

    def record(self) -> dict[str, Any]:
        return {**self.document(), "index": self.index, "startTicks": self.ticks}

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> Instance:
        health = raw.get("health", "STARTING")
        return cls(
            index=int(raw["index"]),
            id=str(raw["id"]),
            port=int(raw["port"]),
            pid=raw.get("pid"),
            ticks=raw.get("startTicks"),
            health=health if health in HEALTH_STATES else "STARTING",
            started_at=raw.get("startedAt"),
            restarts=int(raw.get("restarts", 0)),
            last_error=raw.get("lastError"),
        )


@dataclass
class ServerGroup:
    name: str
    command: list[str]
    env: dict[str, str]
    desired: int
    health: HealthSpec
    created_at: str = field(default_factory=now_iso)
    instances: list[Instance] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": list(self.command),
            "env": dict(self.env),
            "desired": self.desired,
            "health": self.health.document(),
            "instances": [instance.document() for instance in self.instances],
            "createdAt": self.created_at,
        }

    def record(self) -> dict[str, Any]:
        return {**self.document(), "instances": [instance.record() for instance in self.instances]}

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> ServerGroup:
        return cls(
            name=str(raw["name"]),
            command=[str(arg) for arg in raw["command"]],
            env={str(key): str(value) for key, value in raw.get("env", {}).items()},
            desired=int(raw["desired"]),
            health=HealthSpec.parse(raw.get("health")),
            created_at=str(raw.get("createdAt") or now_iso()),
            instances=[Instance.from_record(item) for item in raw.get("instances", [])],
        )


@dataclass(frozen=True)
class ServerGroupRequest:
    """A validated ``PUT /server-groups/<name>`` body."""

    command: list[str]
    env: dict[str, str]
    desired: int
    health: HealthSpec

    @classmethod
    def parse(cls, body: Any) -> ServerGroupRequest:
        if not isinstance(body, dict):
            raise RequestError(400, "the body must be a JSON object")
        command = body.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(arg, str) for arg in command):
            raise RequestError(400, "command must be a non-empty list of strings")
        desired = body.get("desired")
        if isinstance(desired, bool) or not isinstance(desired, int) or not 0 <= desired <= MAX_DESIRED:
            raise RequestError(400, f"desired must be a whole number from 0 to {MAX_DESIRED}")
        return cls(list(command), _parse_env(body.get("env", {})), desired, HealthSpec.parse(body.get("health")))


def _parse_env(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise RequestError(400, "env must be an object of strings")
    for key, value in raw.items():
        if not isinstance(value, str) or not key or "=" in key or "\0" in key or "\0" in value:
            raise RequestError(400, f"env.{key} must be a string (names without '=')")
    return dict(raw)


@dataclass
class LoadBalancer:
    name: str
    port: int
    fixed_port: bool
    admin_port: int
    backends: dict[str, int] = field(default_factory=dict)
    pid: int | None = None
    ticks: int | None = None
    generation: int = 0
    last_error: str | None = None
    started_mono: float = 0.0
    crashes: int = 0
    next_start: float = 0.0

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "port": self.port,
            "adminPort": self.admin_port,
            "backends": dict(self.backends),
            "pid": self.pid,
            "lastError": self.last_error,
        }

    def record(self) -> dict[str, Any]:
        return {
            **self.document(),
            "fixedPort": self.fixed_port,
            "startTicks": self.ticks,
            "generation": self.generation,
        }

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> LoadBalancer:
        return cls(
            name=str(raw["name"]),
            port=int(raw["port"]),
            fixed_port=bool(raw.get("fixedPort")),
            admin_port=int(raw["adminPort"]),
            backends={str(key): int(value) for key, value in raw.get("backends", {}).items()},
            pid=raw.get("pid"),
            ticks=raw.get("startTicks"),
            generation=int(raw.get("generation", 0)),
            last_error=raw.get("lastError"),
        )


@dataclass(frozen=True)
class LoadBalancerRequest:
    """A validated ``PUT /load-balancers/<name>`` body."""

    port: int
    backends: dict[str, int]

    @classmethod
    def parse(cls, body: Any) -> LoadBalancerRequest:
        if not isinstance(body, dict):
            raise RequestError(400, "the body must be a JSON object")
        port = body.get("port", 0)
        if isinstance(port, bool) or not isinstance(port, int) or not (port == 0 or 1024 < port < 65536):
            raise RequestError(400, "port must be 0 (choose one) or a port from 1025 to 65535")
        backends = body.get("backends", {})
        if not isinstance(backends, dict):
            raise RequestError(400, "backends must be an object of server group name to weight")
        for name, weight in backends.items():
            check_name("backends: server group", name)
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
                raise RequestError(400, f"backends.{name} must be a weight from 0 to 100")
        return cls(port, dict(backends))


@dataclass
class Stopping:
    """A process being stopped: SIGTERM was sent and SIGKILL follows at ``kill_at`` (epoch), or not yet sent (None)."""

    label: str
    pid: int
    ticks: int | None
    kill_at: float | None = None

    def record(self) -> dict[str, Any]:
        return {"label": self.label, "pid": self.pid, "startTicks": self.ticks, "killAt": self.kill_at}

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> Stopping:
        return cls(str(raw["label"]), int(raw["pid"]), raw.get("startTicks"), raw.get("killAt"))


@dataclass
class State:
    server_groups: dict[str, ServerGroup] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    stopping: list[Stopping] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "serverGroups": {name: group.document() for name, group in self.server_groups.items()},
            "loadBalancers": {name: lb.document() for name, lb in self.load_balancers.items()},
            "stopping": [{"label": item.label, "pid": item.pid} for item in self.stopping],
        }

    def record(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "serverGroups": {name: group.record() for name, group in self.server_groups.items()},
            "loadBalancers": {name: lb.record() for name, lb in self.load_balancers.items()},
            "stopping": [item.record() for item in self.stopping],
        }

    @classmethod
    def from_record(cls, raw: dict[str, Any]) -> State:
        return cls(
            {name: ServerGroup.from_record(item) for name, item in raw.get("serverGroups", {}).items()},
            {name: LoadBalancer.from_record(item) for name, item in raw.get("loadBalancers", {}).items()},
            [Stopping.from_record(item) for item in raw.get("stopping", [])],
        )

    def ports_in_use(self) -> set[int]:
        ports = {instance.port for group in self.server_groups.values() for instance in group.instances}
        for lb in self.load_balancers.values():
            ports.update((lb.port, lb.admin_port))
        return ports
