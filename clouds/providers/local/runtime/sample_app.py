"""The sample application that demos and tests deploy: a good version and a bad one, on demand.

    python -m clouds.providers.local.runtime.sample_app --port N

Routes: ``/`` (and any other path) answers ``{"version", "instance", "pid"}``; ``/health``
answers 200 ``ok``; ``/metrics`` is Prometheus text: ``sample_requests_total{version, route,
code}``, ``sample_errors_total{version, route}``, ``sample_request_duration_seconds{version,
route}`` (histogram) and ``sample_requests_in_progress{version, route}``, where ``route`` is
``/`` or ``/health``. Behaviour comes from the environment, so a deploy spec can ask
for a bad version:

- ``SAMPLE_VERSION``: the version label (default ``v1``), in answers and metric labels.
- ``SAMPLE_LATENCY_MS``: milliseconds added to every application request. ``/health`` and
  ``/metrics`` are exempt, so a slow version stays healthy and observable: catching it is the
  canary's job, not the health check's.
- ``SAMPLE_ERROR_RATE``: the share (0..1) of ``/`` requests answered 500.
- ``SAMPLE_FAIL_HEALTH``: ``1`` makes ``/health`` answer 503.

SIGTERM (or SIGINT) stops it gracefully: requests in flight finish, then it exits 0. It exits 3
if the port is taken.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import sys
import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .common import LOOPBACK
from .httpserver import GracefulHandler, GracefulHTTPServer, serve_until_signalled

ADDRESS_IN_USE_EXIT = 3


@dataclass(frozen=True)
class Behaviour:
    version: str
    instance: str
    latency_seconds: float
    error_rate: float
    fail_health: bool

    @classmethod
    def from_environment(cls) -> Behaviour:
        return cls(
            version=os.environ.get("SAMPLE_VERSION", "v1"),
            instance=os.environ.get("SPINWEB_INSTANCE", ""),
            latency_seconds=max(0.0, float(os.environ.get("SAMPLE_LATENCY_MS") or 0)) / 1000,
            error_rate=min(1.0, max(0.0, float(os.environ.get("SAMPLE_ERROR_RATE") or 0))),
            fail_health=os.environ.get("SAMPLE_FAIL_HEALTH", "") == "1",
        )


class Metrics:
    def __init__(self, version: str) -> None:
        self.registry = CollectorRegistry()
        self.version = version
        labels = ["version", "route"]
        self.requests = Counter("sample_requests", "Requests answered", [*labels, "code"], registry=self.registry)
        self.errors = Counter("sample_errors", "Requests answered 5xx", labels, registry=self.registry)
        self.latency = Histogram("sample_request_duration_seconds", "Time to answer", labels, registry=self.registry)
        self.in_progress = Gauge(
            "sample_requests_in_progress", "Requests being answered", labels, registry=self.registry
        )

    def observe(self, route: str, code: int, seconds: float) -> None:
        self.requests.labels(self.version, route, str(code)).inc()
        if code >= 500:
            self.errors.labels(self.version, route).inc()
        self.latency.labels(self.version, route).observe(seconds)


def make_handler(behaviour: Behaviour, metrics: Metrics) -> type[GracefulHandler]:
    class SampleHandler(GracefulHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self.send_body(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
                return
            route = "/health" if path == "/health" else "/"
            started = time.monotonic()
            with metrics.in_progress.labels(behaviour.version, route).track_inprogress():
                code, body, kind = self._health() if route == "/health" else self._application()
                # Counted before answering: whoever has the answer can already see it in /metrics.
                metrics.observe(route, code, time.monotonic() - started)
                self.send_body(code, body, kind, {"X-Sample-Version": behaviour.version})

        def _health(self) -> tuple[int, bytes, str]:
            return (503, b"unhealthy", "text/plain") if behaviour.fail_health else (200, b"ok", "text/plain")

        def _application(self) -> tuple[int, bytes, str]:
            if behaviour.latency_seconds:
                time.sleep(behaviour.latency_seconds)  # the configured slowness is the point
            answer = {"version": behaviour.version, "instance": behaviour.instance, "pid": os.getpid()}
            if random.random() < behaviour.error_rate:  # noqa: S311 - a simulated error rate
                return 500, json.dumps({**answer, "error": "simulated failure"}).encode(), "application/json"
            return 200, json.dumps(answer).encode(), "application/json"

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self.do_GET()

    return SampleHandler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Spinweb's sample application.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default=LOOPBACK)
    args = parser.parse_args(argv)
    behaviour = Behaviour.from_environment()
    try:
        server = GracefulHTTPServer((args.host, args.port), make_handler(behaviour, Metrics(behaviour.version)))
    except OSError as error:
        print(f"sample app: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return ADDRESS_IN_USE_EXIT if error.errno == errno.EADDRINUSE else 1
    print(f"sample app {behaviour.version} listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    serve_until_signalled(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
