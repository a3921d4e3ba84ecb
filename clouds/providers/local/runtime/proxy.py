"""The local load balancer: an HTTP reverse proxy on loopback with live weights and draining.

    python -m clouds.providers.local.runtime.proxy --config HOME/lb/<name>.json

Started and configured by the supervisor (see ``routing`` for the config). The config is re-read
within 50 ms of being replaced; requests already forwarded keep going to their instance, new
ones follow the new weights, so a weight change drops nothing and a backend that is removed or
set to weight 0 drains: its in-flight requests finish, it gets no new ones.

A request that cannot reach its instance (refused, reset before an answer) is sent once more to
another instance before the client gets 502; an instance that does not answer within 60 s gives
504; with no instance to send to the client gets 503. Requests are retried whatever their method:
the instances are demo apps, and a request that failed before any answer was most likely never
handled. Answers carry ``X-Spinweb-Server-Group`` and ``X-Spinweb-Instance``.

The admin port serves ``/metrics`` (Prometheus text, a registry of its own)::

    spinweb_lb_requests_total{load_balancer, server_group, instance, code}
    spinweb_lb_errors_total{load_balancer, server_group, instance}   # 5xx answers and failed attempts
    spinweb_lb_request_duration_seconds{load_balancer, server_group}  # histogram

``/history?server_group=G&start=S&end=E&step=N`` (epoch seconds): the group's answers per step
over the last hour (see ``history``), and ``/status``: ``{"name", "port", "generation",
"backends": [{"serverGroup", "weight", "instances": [ids], "inFlight"}], "inFlight": {server
group: n}}`` (groups that left the config but still have requests in flight included).
Exits 3 if a port is taken; SIGTERM stops it gracefully.
"""

from __future__ import annotations

import argparse
import errno
import http.client
import json
import logging
import os
import sys
import threading
import time
from collections import Counter as Tally
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .common import LOOPBACK
from .history import History
from .httpserver import GracefulHandler, GracefulHTTPServer, serve_until_signalled
from .routing import Config, ConnectionPool, RoutingTable, Target

log = logging.getLogger("spinweb.runtime.proxy")

ADDRESS_IN_USE_EXIT = 3
UPSTREAM_TIMEOUT = 60.0
WATCH_SECONDS = 0.05
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


class UpstreamFailed(Exception):
    """The instance could not be reached or broke off before answering."""


class Metrics:
    def __init__(self, load_balancer: str) -> None:
        self.load_balancer = load_balancer
        self.registry = CollectorRegistry()
        labels = ["load_balancer", "server_group", "instance"]
        self.requests = Counter("spinweb_lb_requests", "Requests answered", [*labels, "code"], registry=self.registry)
        self.errors = Counter("spinweb_lb_errors", "5xx answers and failed attempts", labels, registry=self.registry)
        self.duration = Histogram(
            "spinweb_lb_request_duration_seconds",
            "Time to answer",
            ["load_balancer", "server_group"],
            registry=self.registry,
        )
        self.history = History()

    def answered(self, target: Target | None, code: int, seconds: float) -> None:
        group, instance = (target.server_group, target.instance) if target else ("", "")
        if target:
            self.history.record(group, code, seconds)
        self.requests.labels(self.load_balancer, group, instance, str(code)).inc()
        if code >= 500:
            self.errors.labels(self.load_balancer, group, instance).inc()
        self.duration.labels(self.load_balancer, group).observe(seconds)

    def failed_attempt(self, target: Target) -> None:
        self.errors.labels(self.load_balancer, target.server_group, target.instance).inc()


class Proxy:
    """What the handlers share: the current routing table, the pool, in-flight counts, metrics."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        config = Config.load(config_path)
        self.table = RoutingTable(config)
        self.metrics = Metrics(config.name)
        self.pool = ConnectionPool(UPSTREAM_TIMEOUT)
        self.in_flight: Tally[str] = Tally()
        self._lock = threading.Lock()
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.config_path)
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def watch(self) -> None:
        """Reload the config whenever the file is replaced (runs in a thread for the process's life)."""
        while True:
            time.sleep(WATCH_SECONDS)  # polling a file: nothing to block on portably
            stamp = self._stamp()
            if stamp is None or stamp == self._seen:
                continue
            self._seen = stamp
            try:
                config = Config.load(self.config_path)
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.error("config %s unreadable, keeping the previous one: %s", self.config_path, error)
                continue
            self.pool.retain(config.addresses())
            self.table = RoutingTable(config)  # one assignment: handlers see the old or the new table

    def enter(self, target: Target) -> None:
        with self._lock:
            self.in_flight[target.server_group] += 1

    def leave(self, target: Target) -> None:
        with self._lock:
            self.in_flight[target.server_group] -= 1

    def status(self) -> dict[str, Any]:
        config = self.table.config
        with self._lock:
            in_flight = {group: count for group, count in self.in_flight.items() if count}
        backends = [
            {
                "serverGroup": backend.server_group,
                "weight": backend.weight,
                "instances": [target.instance for target in backend.instances],
                "inFlight": in_flight.get(backend.server_group, 0),
            }
            for backend in config.backends
        ]
        return {
            "name": config.name,
            "port": config.port,
            "generation": config.generation,
            "backends": backends,
            "inFlight": in_flight,
        }


def make_handler(proxy: Proxy) -> type[GracefulHandler]:
    class ProxyHandler(GracefulHandler):
        def _proxy(self) -> None:
            started = time.monotonic()
            body = self._request_body()
            if body is None:
                return
            target = proxy.table.pick()
            tried: set[str] = set()
            while target is not None:
                try:
                    self._answer(target, body, started)
                    return
                except UpstreamFailed:
                    proxy.metrics.failed_attempt(target)
                    tried.add(target.address)
                    target = proxy.table.fallback(frozenset(tried)) if len(tried) < 2 else None
            code = 502 if tried else 503
            message = b"bad gateway: no instance answered" if tried else b"no healthy instance to send the request to"
            proxy.metrics.answered(None, code, time.monotonic() - started)
            self.send_body(code, message, "text/plain")

        def _request_body(self) -> bytes | None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self.close_connection = True
                self.send_body(411, b"chunked request bodies are not supported", "text/plain")
                return None
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _answer(self, target: Target, body: bytes, started: float) -> None:
            proxy.enter(target)
            try:
                status, headers, data = self._forward(target, body)
            except TimeoutError:
                status, headers, data = 504, [], b"gateway timeout: the instance did not answer"
            finally:
                proxy.leave(target)
            # Counted before answering: whoever has the answer can already see it in /metrics.
            proxy.metrics.answered(target, status, time.monotonic() - started)
            extra = {"X-Spinweb-Server-Group": target.server_group, "X-Spinweb-Instance": target.instance}
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            if self.server.stopping:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _forward(self, target: Target, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            connection, reused = proxy.pool.acquire(target)
            try:
                return self._exchange(target, connection, body)
            except UpstreamFailed:
                if not reused:
                    raise
            # A kept-alive connection the instance closed meanwhile: once more on a new connection.
            host, port = target.host_port
            return self._exchange(target, http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT), body)

        def _exchange(
            self, target: Target, connection: http.client.HTTPConnection, body: bytes
        ) -> tuple[int, list[tuple[str, str]], bytes]:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            headers["X-Forwarded-For"] = self.client_address[0]
            try:
                if connection.sock is None:
                    connection.connect()
                connection.request(self.command, self.path, body=body or None, headers=headers)
            except OSError as error:
                connection.close()
                raise UpstreamFailed(str(error)) from None
            try:
                response = connection.getresponse()
                data = response.read()
            except TimeoutError:
                connection.close()
                raise
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                raise UpstreamFailed(str(error)) from None
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | {"date", "server"}]
            if response.will_close:
                connection.close()
            else:
                proxy.pool.release(target, connection)
            return response.status, kept, data

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy

    return ProxyHandler


def make_admin_handler(proxy: Proxy) -> type[GracefulHandler]:
    class AdminHandler(GracefulHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self.send_body(200, generate_latest(proxy.metrics.registry), CONTENT_TYPE_LATEST)
            elif path == "/status":
                self.send_body(200, json.dumps(proxy.status()).encode(), "application/json")
            elif path == "/history":
                self._history()
            else:
                self.send_body(404, b"not found: try /metrics, /status or /history", "text/plain")

        def _history(self) -> None:
            params = parse_qs(self.path.partition("?")[2])
            try:
                group = params["server_group"][0]
                start, end, step = (int(params[name][0]) for name in ("start", "end", "step"))
                window = proxy.metrics.history.window(group, start, end, step)
            except (KeyError, ValueError) as error:
                message = f"need server_group, and start, end, step as whole seconds: {error}"
                self.send_body(400, message.encode(), "text/plain")
                return
            self.send_body(200, json.dumps(window).encode(), "application/json")

    return AdminHandler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Spinweb's local load balancer.")
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    proxy = Proxy(args.config)
    config = proxy.table.config
    try:
        server = GracefulHTTPServer((LOOPBACK, config.port), make_handler(proxy))
        admin = GracefulHTTPServer((LOOPBACK, config.admin_port), make_admin_handler(proxy))
    except OSError as error:
        log.error("cannot listen on %s or %s: %s", config.port, config.admin_port, error)
        return ADDRESS_IN_USE_EXIT if error.errno == errno.EADDRINUSE else 1
    threading.Thread(target=proxy.watch, name="config-watch", daemon=True).start()
    log.info("load balancer %s on %s:%s (admin %s)", config.name, LOOPBACK, config.port, config.admin_port)
    serve_until_signalled(server, admin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
