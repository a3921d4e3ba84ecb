"""The proxy's routing: its config file, the choice of an instance by weight, and pooled connections.

Config (written by the supervisor, replaced atomically)::

    {"name": "shop-web", "port": 20001, "adminPort": 20002, "generation": 7,
     "backends": [{"serverGroup": "shop-web-v001", "weight": 80,
                   "instances": [{"id": "shop-web-v001-0", "address": "127.0.0.1:20003"}]}]}

A server group is picked by smooth weighted round-robin among the backends that have instances
and a weight above 0 (so 80/20 is exactly 8 of every 10 requests, not 80 % on average), then an
instance of it by plain round-robin.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POOL_IDLE_SECONDS = 10.0
POOL_MAX_IDLE = 32


@dataclass(frozen=True)
class Target:
    server_group: str
    instance: str
    address: str

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host, int(port)


@dataclass(frozen=True)
class Backend:
    server_group: str
    weight: int
    instances: tuple[Target, ...]


@dataclass(frozen=True)
class Config:
    name: str
    port: int
    admin_port: int
    generation: int
    backends: tuple[Backend, ...]

    @classmethod
    def load(cls, path: Path) -> Config:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        backends = tuple(
            Backend(
                str(item["serverGroup"]),
                int(item["weight"]),
                tuple(Target(str(item["serverGroup"]), str(i["id"]), str(i["address"])) for i in item["instances"]),
            )
            for item in raw.get("backends", [])
        )
        return cls(str(raw["name"]), int(raw["port"]), int(raw["adminPort"]), int(raw.get("generation", 0)), backends)

    def addresses(self) -> set[str]:
        return {target.address for backend in self.backends for target in backend.instances}


class RoutingTable:
    """Picks targets for one config generation; a new config gets a new table."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._live = [backend for backend in config.backends if backend.weight > 0 and backend.instances]
        self._current = {backend.server_group: 0 for backend in self._live}
        self._next = {backend.server_group: 0 for backend in self._live}
        self._lock = threading.Lock()

    def pick(self) -> Target | None:
        """The next target by weight and rotation; None without any live backend."""
        with self._lock:
            if not self._live:
                return None
            for backend in self._live:
                self._current[backend.server_group] += backend.weight
            chosen = max(self._live, key=lambda backend: self._current[backend.server_group])
            self._current[chosen.server_group] -= sum(backend.weight for backend in self._live)
            index = self._next[chosen.server_group] % len(chosen.instances)
            self._next[chosen.server_group] += 1
            return chosen.instances[index]

    def fallback(self, exclude: frozenset[str]) -> Target | None:
        """Another target for a retry, avoiding ``exclude``; does not move the rotation, so a dead
        instance costs one retry per turn of the rotation, not one per request."""
        with self._lock:
            for backend in sorted(self._live, key=lambda backend: -backend.weight):
                start = self._next[backend.server_group]
                for step in range(len(backend.instances)):
                    target = backend.instances[(start + step) % len(backend.instances)]
                    if target.address not in exclude:
                        return target
            return None


class ConnectionPool:
    """Idle keep-alive connections per upstream address (most recently used first)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[str, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        self._wanted: set[str] | None = None

    def acquire(self, target: Target) -> tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was used before (a reused one may have been closed meanwhile)."""
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(target.address, [])
            while idle:
                connection, since = idle.pop()
                if now - since < POOL_IDLE_SECONDS:
                    return connection, True
                connection.close()
        host, port = target.host_port
        return http.client.HTTPConnection(host, port, timeout=self.timeout), False

    def release(self, target: Target, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(target.address, [])
            if (self._wanted is not None and target.address not in self._wanted) or len(idle) >= POOL_MAX_IDLE:
                connection.close()
                return
            idle.append((connection, time.monotonic()))

    def retain(self, addresses: set[str]) -> None:
        """Close idle connections to instances that left the config."""
        with self._lock:
            self._wanted = set(addresses)
            for address in [a for a in self._idle if a not in addresses]:
                for connection, _since in self._idle.pop(address):
                    connection.close()
