"""Small HTTP probes the supervisor sends on loopback: instance health and proxy config generation."""

from __future__ import annotations

import contextlib
import http.client
import json
import random
from dataclasses import dataclass

from .common import LOOPBACK, port_is_free
from .state import RequestError


@dataclass(frozen=True)
class Probe:
    healthy: bool
    refused: bool  # nothing listened: the process may still be starting


def check_health(port: int, path: str, timeout: float) -> Probe:
    """One ``GET path``: healthy on a 2xx answer."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
        return Probe(200 <= response.status < 300, refused=False)
    except ConnectionRefusedError:
        return Probe(False, refused=True)
    except (OSError, http.client.HTTPException):
        return Probe(False, refused=False)
    finally:
        connection.close()


def proxy_generation(admin_port: int, timeout: float = 1.0) -> int | None:
    """The config generation a proxy has loaded, or None if it does not answer."""
    connection = http.client.HTTPConnection(LOOPBACK, admin_port, timeout=timeout)
    with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
        connection.request("GET", "/status", headers={"Connection": "close"})
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status == 200 and isinstance(body.get("generation"), int):
            return int(body["generation"])
    connection.close()
    return None


class PortAllocator:
    """Hands out ports of a range that nobody uses, starting at a random place.

    The random start keeps supervisors of different homes that share a range from probing the
    same ports at the same moment; a lost race still ends with a process failing to bind, which
    the supervisor treats like any dead process (replaced on another port).
    """

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self._cursor = random.randrange(high - low + 1)  # noqa: S311 - spreading, not security

    def allocate(self, exclude: set[int]) -> int:
        span = self.high - self.low + 1
        for step in range(span):
            port = self.low + (self._cursor + step) % span
            if port not in exclude and port_is_free(port):
                self._cursor = (self._cursor + step + 1) % span
                return port
        raise RequestError(503, f"no free port left in {self.low}-{self.high}")
