"""A threading HTTP/1.1 server that stops gracefully: in-flight requests finish, idle keep-alives close.

Both the sample app and the proxy keep client connections alive between requests. On stop the
server closes its listening socket, shuts down the connections that sit idle between two
requests, lets every request already being handled finish (and then closes its connection), and
only then returns. A load balancer that drains a backend relies on exactly this.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

IDLE_KEEPALIVE_SECONDS = 30


class GracefulHTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[GracefulHandler]) -> None:
        super().__init__(address, handler)
        self.stopping = False
        self.track_lock = threading.Lock()
        self.connections: dict[GracefulHandler, bool] = {}  # handler -> busy with a request

    def stop(self) -> None:
        """Stop accepting, close idle connections, wait for requests in flight (call from another thread)."""
        self.shutdown()
        self.socket.close()
        with self.track_lock:
            self.stopping = True
            idle = [handler for handler, busy in self.connections.items() if not busy]
        for handler in idle:
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
        self.server_close()  # joins the handler threads


class GracefulHandler(BaseHTTPRequestHandler):
    server: GracefulHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = IDLE_KEEPALIVE_SECONDS
    # Headers and body go out in two writes; with Nagle the second waits for a delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def handle(self) -> None:
        with self.server.track_lock:
            if self.server.stopping:
                return
            self.server.connections[self] = False
        try:
            super().handle()
        finally:
            with self.server.track_lock:
                self.server.connections.pop(self, None)

    def parse_request(self) -> bool:
        with self.server.track_lock:
            self.server.connections[self] = True
            stopping = self.server.stopping
        ok = super().parse_request()
        if stopping:
            self.close_connection = True
        return ok

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            with self.server.track_lock:
                if self.server.stopping:
                    self.close_connection = True
                if self in self.server.connections:
                    self.server.connections[self] = False

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.server.stopping:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per request would fill the instance log at demo loads."""


def serve_until_signalled(*servers: GracefulHTTPServer) -> None:
    """Serve every server until SIGTERM or SIGINT, then stop them all gracefully."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True) for server in servers
    ]
    for thread in threads:
        thread.start()
    while not stop.wait(1.0):
        pass
    stoppers = [threading.Thread(target=server.stop) for server in servers]
    for thread in stoppers:
        thread.start()
    for thread in stoppers:
        thread.join()
