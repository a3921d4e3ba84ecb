"""The supervisor's control API: HTTP/1.0 with JSON bodies over a Unix socket (one request per connection)."""

from __future__ import annotations

import json
import logging
import os
import socketserver
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .reconciler import Supervisor
from .state import RequestError

log = logging.getLogger("spinweb.runtime.control")

MAX_BODY = 1024 * 1024
Route = Callable[[Supervisor, str, Any], tuple[int, Any]]


def _get_state(supervisor: Supervisor, name: str, body: Any) -> tuple[int, Any]:
    return 200, supervisor.document()


def _put_group(supervisor: Supervisor, name: str, body: Any) -> tuple[int, Any]:
    return 200, supervisor.put_server_group(name, body)


def _delete_group(supervisor: Supervisor, name: str, body: Any) -> tuple[int, Any]:
    supervisor.delete_server_group(name)
    return 200, {"deleted": name}


def _put_lb(supervisor: Supervisor, name: str, body: Any) -> tuple[int, Any]:
    return 200, supervisor.put_load_balancer(name, body)


def _delete_lb(supervisor: Supervisor, name: str, body: Any) -> tuple[int, Any]:
    supervisor.delete_load_balancer(name)
    return 200, {"deleted": name}


def _shutdown(supervisor: Supervisor, name: str, body: Any) -> tuple[int, Any]:
    return 200, supervisor.shutdown()


# (method, first path segment) -> (handler, whether the path names an object)
ROUTES: dict[tuple[str, str], tuple[Route, bool]] = {
    ("GET", "state"): (_get_state, False),
    ("PUT", "server-groups"): (_put_group, True),
    ("DELETE", "server-groups"): (_delete_group, True),
    ("PUT", "load-balancers"): (_put_lb, True),
    ("DELETE", "load-balancers"): (_delete_lb, True),
    ("POST", "shutdown"): (_shutdown, False),
}


class ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves the control API on ``path`` (mode 0600: only this user may drive the supervisor)."""

    daemon_threads = False  # so that closing the server lets a running shutdown answer first
    block_on_close = True

    def __init__(self, path: Path, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        if path.exists() or path.is_symlink():
            path.unlink()  # a stale socket of a dead supervisor; we hold the home's lock
        super().__init__(str(path), ControlHandler)
        os.chmod(path, 0o600)


class ControlHandler(BaseHTTPRequestHandler):
    server: ControlServer
    protocol_version = "HTTP/1.0"

    def _handle(self) -> None:
        try:
            status, answer = self._dispatch()
        except RequestError as error:
            status, answer = error.status, {"error": error.message}
        except Exception as error:
            log.exception("control request %s %s failed", self.command, self.path)
            status, answer = 500, {"error": f"internal error: {error}"}
        self._send(status, answer)

    def _dispatch(self) -> tuple[int, Any]:
        segments = [unquote(part) for part in urlsplit(self.path).path.strip("/").split("/")]
        route = ROUTES.get((self.command, segments[0]))
        if route is None:
            raise RequestError(404, f"no such endpoint: {self.command} {self.path}")
        handler, named = route
        if len(segments) != (2 if named else 1) or (named and not segments[1]):
            raise RequestError(404, f"no such endpoint: {self.command} {self.path}")
        return handler(self.server.supervisor, segments[1] if named else "", self._body())

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise RequestError(413, "the body is too large")
        if not length:
            return None
        try:
            return json.loads(self.rfile.read(length))
        except ValueError as error:
            raise RequestError(400, f"the body is not JSON: {error}") from None

    def _send(self, status: int, answer: Any) -> None:
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_DELETE = do_POST = _handle

    def address_string(self) -> str:
        return "control.sock"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("control: " + format, *args)
