"""A real HTTP server on loopback whose answers a test scripts, and which records every request.

    with LoopbackServer() as server:
        server.route("POST", "/hook", Reply(503), Reply(200, {"id": "abc"}))
        ...  # call server.url("/hook")
        assert [r.method for r in server.requests] == ["POST", "POST"]

Each route answers with its replies in order and repeats the last one; a path without a route
answers 404. The server binds 127.0.0.1 on a free port and runs in a thread until the ``with``
block ends. ``closed_port()`` reserves a port nobody listens on, for "connection refused".
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    """One scripted answer. A dict or list body is sent as JSON, a str as UTF-8 text."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class Received:
    """A request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Received], Reply]


class LoopbackServer:
    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], list[Reply] | Responder] = {}
        self._requests: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval makes shutdown quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, method: str, path: str, *replies: Reply | Responder) -> None:
        """Answer ``method path`` with ``replies`` in turn (the last one repeats), or with a function."""
        if len(replies) == 1 and callable(replies[0]):
            self._routes[(method.upper(), path)] = replies[0]
        else:
            self._routes[(method.upper(), path)] = [reply for reply in replies if isinstance(reply, Reply)]

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def received(self, method: str, path: str) -> list[Received]:
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The requests once at least ``count`` have arrived; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.requests
            if len(seen) >= count:
                return seen
            time.sleep(0.01)
        raise AssertionError(f"expected {count} requests within {timeout} s, got {len(self.requests)}")

    def answer(self, received: Received) -> Reply:
        with self._lock:
            self._requests.append(received)
            route = self._routes.get((received.method, urlsplit(received.path).path))
            if route is None:
                return Reply(404, "no route")
            if callable(route):
                return route(received)
            return route.pop(0) if len(route) > 1 else route[0]

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            received = Received(self.command, self.path, dict(self.headers.items()), body)
            reply = server.answer(received)
            content, content_type = reply.encoded()
            self.send_response(reply.status)
            headers = {"Content-Type": content_type, **reply.headers, "Content-Length": str(len(content))}
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``server.requests`` instead."""

    return Handler


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connecting to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()
