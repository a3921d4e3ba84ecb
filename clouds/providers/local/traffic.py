"""A steady HTTP client for the demo, the benchmark and tests, and a load balancer's own traffic figures.

    with TrafficGenerator("http://127.0.0.1:20001/", rate=50) as traffic:
        ...                          # 50 GET requests a second, each on its own connection
    numbers = traffic.stats.snapshot()   # sent, ok, failed, answers per version, p50/p95 latency

An answer counts as *ok* when it is a 2xx, as *failed* otherwise (5xx, refused, reset, timeout).
The sample app says its version in its JSON body; the stats count answers per version and keep
the current *streak*: the version of the latest ok answers and since when every ok answer came
from it, which tells when a deployment reached 100 % of the traffic.

Requests are sent on a schedule (open loop): a slow server does not slow the sender down, so
latency shows up as latency and not as fewer requests. Each request opens its own connection, so
a keep-alive connection closed by the server between two requests is never mistaken for a failure.

``load_balancer_traffic(target)`` reads a local load balancer's ``/metrics`` (admin port) and
sums it up for pages: requests, errors (5xx answers), success rate, p50/p95 latency from the
histogram, requests per server group.

Plain Python (no Django), so the detached generator that ``manage.py demo --traffic`` starts
stays small::

    python -m clouds.providers.local.traffic --url http://127.0.0.1:PORT/ --rate 10 \
        [--pidfile FILE] [--give-up-after 10] [--detach]

It logs a line of figures every 10 s, stops on SIGTERM or SIGINT, and stops by itself once the
load balancer has not answered for ``--give-up-after`` seconds (its supervisor shut down).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from clouds.providers.local.runtime.client import SupervisorClient, SupervisorError
from clouds.providers.local.runtime.common import start_ticks, write_json_atomic

LATENCY_WINDOW = 5000
"""Latency percentiles are over the most recent answers, so a long-running generator stays small."""


class TrafficUnavailable(Exception):
    """The load balancer's figures cannot be read (not running, unknown, or not a load balancer)."""


@dataclass(frozen=True)
class Streak:
    """Every ok answer since ``since`` (``time.monotonic()``) came from ``version``; ``count`` of them."""

    version: str
    since: float
    count: int


@dataclass(frozen=True)
class TrafficSnapshot:
    sent: int
    ok: int
    failed: int
    by_version: dict[str, int]
    failures: dict[str, int]
    p50_ms: float | None
    p95_ms: float | None
    streak: Streak | None
    last_answer_at: float | None

    @property
    def in_flight(self) -> int:
        return self.sent - self.ok - self.failed


class TrafficStats:
    """Counts of one generator's requests; safe to read while the generator runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent = self._ok = self._failed = 0
        self._by_version: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._streak: Streak | None = None
        self._last_answer_at: float | None = None

    def sent(self) -> None:
        with self._lock:
            self._sent += 1

    def answered(self, status: int, version: str | None, seconds: float, at: float) -> None:
        with self._lock:
            self._last_answer_at = at
            self._latencies.append(seconds)
            if not 200 <= status < 300:
                self._failed += 1
                self._failures[f"HTTP {status}"] += 1
                return
            self._ok += 1
            label = version or "unknown"
            self._by_version[label] += 1
            streak = self._streak
            if streak is not None and streak.version == label:
                self._streak = Streak(label, streak.since, streak.count + 1)
            else:
                self._streak = Streak(label, at, 1)

    def unanswered(self, reason: str) -> None:
        with self._lock:
            self._failed += 1
            self._failures[reason] += 1

    def snapshot(self) -> TrafficSnapshot:
        with self._lock:
            latencies = sorted(self._latencies)
            return TrafficSnapshot(
                sent=self._sent,
                ok=self._ok,
                failed=self._failed,
                by_version=dict(self._by_version),
                failures=dict(self._failures),
                p50_ms=_percentile_ms(latencies, 0.50),
                p95_ms=_percentile_ms(latencies, 0.95),
                streak=self._streak,
                last_answer_at=self._last_answer_at,
            )


def _percentile_ms(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index] * 1000


class TrafficGenerator:
    """Sends ``rate`` GET requests a second to ``url`` from background threads until stopped.

    ``stop()`` (or leaving the ``with`` block) stops sending and waits for the answers of the
    requests already sent, so the counts are final afterwards.
    """

    def __init__(self, url: str, rate: float, *, timeout: float = 10.0, workers: int = 32) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"the traffic generator needs an http://host:port/ URL, not {url!r}")
        if not 0 < rate <= 2000:
            raise ValueError(f"the rate must be above 0 and at most 2000 requests a second, not {rate}")
        self.url, self.rate, self.timeout = url, rate, timeout
        self._host, self._port = parts.hostname, parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.stats = TrafficStats()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="traffic")
        self._pacer = threading.Thread(target=self._pace, name="traffic-pacer", daemon=True)

    def start(self) -> TrafficGenerator:
        self._pacer.start()
        return self

    def stop(self) -> TrafficSnapshot:
        self._stopping.set()
        if self._pacer.is_alive():
            self._pacer.join()
        self._pool.shutdown(wait=True)
        return self.stats.snapshot()

    def __enter__(self) -> TrafficGenerator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _pace(self) -> None:
        interval = 1.0 / self.rate
        due = time.monotonic()
        while not self._stopping.is_set():
            delay = due - time.monotonic()
            if delay > 0 and self._stopping.wait(delay):
                return
            self.stats.sent()
            self._pool.submit(self._one)
            due += interval
            # After a stall (a suspended laptop) carry on at the rate instead of sending a burst.
            due = max(due, time.monotonic() - 1.0)

    def _one(self) -> None:
        started = time.monotonic()
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            connection.request("GET", self._path, headers={"User-Agent": "spinweb-traffic"})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.stats.unanswered(_reason(error))
            return
        finally:
            connection.close()
        now = time.monotonic()
        self.stats.answered(response.status, _version(body), now - started, now)


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ConnectionResetError):  # RemoteDisconnected included
        return "connection reset"
    return type(error).__name__


def _version(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    version = document.get("version") if isinstance(document, dict) else None
    return str(version) if version is not None else None


# A load balancer's own figures -------------------------------------------------------------


@dataclass(frozen=True)
class LoadBalancerTraffic:
    """What a local load balancer has answered since it started (its counters never go back)."""

    requests: int
    errors: int
    success_rate: float | None  # percent of answers below 500; None before the first request
    p50_ms: float | None
    p95_ms: float | None
    by_server_group: dict[str, int] = field(default_factory=dict)
    # The latency histogram as (upper bound in seconds, requests at or below it), for windows.
    buckets: tuple[tuple[float, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_balancer_traffic(target: str, *, home: Path | None = None, timeout: float = 2.0) -> LoadBalancerTraffic:
    """The figures of a local load balancer.

    ``target`` is its admin URL (``LoadBalancerState.metrics_url``, its ``/status`` URL, or
    ``http://127.0.0.1:<admin port>``), or its traffic address ``127.0.0.1:<port>`` (the
    ``LoadBalancer.address`` of its row) together with the supervisor's ``home``, which knows the
    admin port. Raises ``TrafficUnavailable`` when nothing answers there.
    """
    url = _metrics_url(target, home, timeout)
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as error:
        raise TrafficUnavailable(f"{url} does not answer: {error}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise TrafficUnavailable(f"{url} answered HTTP {response.status}")
    return parse_metrics(text)


def _metrics_url(target: str, home: Path | None, timeout: float) -> str:
    if target.startswith("http://"):
        parts = urlsplit(target)
        return f"http://{parts.netloc}/metrics"
    if home is None:
        raise TrafficUnavailable(f"{target} is a load balancer's traffic address; give the home to find its admin port")
    _, _, port = target.rpartition(":")
    try:
        balancers = SupervisorClient(home, timeout=timeout).state().load_balancers.values()
    except SupervisorError as error:
        raise TrafficUnavailable(f"the supervisor of {home} does not answer: {error}") from None
    for balancer in balancers:
        if str(balancer.port) == port:
            return balancer.metrics_url
    raise TrafficUnavailable(f"no load balancer of {home} listens on {target}")


def parse_metrics(text: str) -> LoadBalancerTraffic:
    """Sum a load balancer's Prometheus text up (see ``runtime.proxy`` for its metrics)."""
    requests = errors = 0
    by_group: Counter[str] = Counter()
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "spinweb_lb_requests_total":
                count = int(sample.value)
                requests += count
                errors += count if sample.labels.get("code", "").startswith("5") else 0
                by_group[sample.labels.get("server_group") or "(none)"] += count
            elif sample.name == "spinweb_lb_request_duration_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    ordered = sorted(buckets.items())
    return LoadBalancerTraffic(
        requests=requests,
        errors=errors,
        success_rate=round(100.0 * (requests - errors) / requests, 2) if requests else None,
        p50_ms=_histogram_quantile_ms(ordered, 0.50),
        p95_ms=_histogram_quantile_ms(ordered, 0.95),
        by_server_group=dict(by_group),
        buckets=tuple(ordered),
    )


def histogram_quantile_ms(buckets: Sequence[tuple[float, float]], share: float) -> float | None:
    """The ``share`` quantile (0..1) in milliseconds of a cumulative histogram; None when empty."""
    return _histogram_quantile_ms(list(buckets), share)


def _histogram_quantile_ms(buckets: list[tuple[float, float]], share: float) -> float | None:
    """Prometheus's ``histogram_quantile``: linear inside the bucket that holds the rank."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = share * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(upper):
                return lower * 1000
            inside = cumulative - below
            fraction = (rank - below) / inside if inside else 1.0
            return (lower + (upper - lower) * fraction) * 1000
        lower, below = upper, cumulative
    return lower * 1000


# The detached generator --------------------------------------------------------------------


REPORT_SECONDS = 10.0
CHECK_SECONDS = 1.0


def summary_line(snapshot: TrafficSnapshot) -> str:
    """``sent 120, ok 118, failed 2 (HTTP 503: 2), p50 3 ms, p95 9 ms, versions v1 100 %``."""
    reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(snapshot.failures.items()))
    failed = f"failed {snapshot.failed}" + (f" ({reasons})" if reasons else "")
    latency = (
        f"p50 {snapshot.p50_ms:.0f} ms, p95 {snapshot.p95_ms:.0f} ms"
        if snapshot.p50_ms is not None and snapshot.p95_ms is not None
        else "no answers yet"
    )
    return (
        f"sent {snapshot.sent}, ok {snapshot.ok}, {failed}, {latency}, versions {version_shares(snapshot.by_version)}"
    )


def version_shares(by_version: dict[str, int]) -> str:
    """``v1 67 %, v2 33 %`` (``none`` when nothing answered ok)."""
    total = sum(by_version.values())
    if not total:
        return "none"
    return ", ".join(f"{version} {100 * count / total:.0f} %" for version, count in sorted(by_version.items()))


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _gone(snapshot: TrafficSnapshot, started: float, give_up_after: float) -> bool:
    """Nothing has answered for ``give_up_after`` seconds: the load balancer is gone."""
    last = snapshot.last_answer_at if snapshot.last_answer_at is not None else started
    return time.monotonic() - last >= give_up_after


def _write_pidfile(path: Path, url: str, rate: float) -> None:
    pid = os.getpid()
    write_json_atomic(path, {"pid": pid, "startTicks": start_ticks(pid), "url": url, "rate": rate})


def _remove_pidfile(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def _detach() -> None:
    """Leave the launcher: it returns at once, this process carries on as an orphan in its own session."""
    if os.fork() > 0:
        os._exit(0)


def run(url: str, rate: float, *, pidfile: Path | None, give_up_after: float) -> int:
    generator = TrafficGenerator(url, rate)
    if pidfile is not None:
        _write_pidfile(pidfile, url, rate)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    started = reported = time.monotonic()
    print(f"sending {rate:g} requests/s to {url}", flush=True)
    try:
        generator.start()
        while True:
            # Nothing to block on between two checks; a signal interrupts the sleep.
            time.sleep(CHECK_SECONDS)
            snapshot = generator.stats.snapshot()
            if time.monotonic() - reported >= REPORT_SECONDS:
                reported = time.monotonic()
                print(summary_line(snapshot), flush=True)
            if _gone(snapshot, started, give_up_after):
                print(f"{url} has not answered for {give_up_after:g} s; stopping", flush=True)
                return 0
    except _Stop:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("stopped: " + summary_line(generator.stop()), flush=True)
        if pidfile is not None:
            _remove_pidfile(pidfile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send a steady stream of GET requests to a URL.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=10.0, help="requests a second (default 10)")
    parser.add_argument("--pidfile", type=Path, help="write {pid, startTicks, url, rate} here while running")
    parser.add_argument("--give-up-after", type=float, default=10.0, help="stop after this long without answers")
    parser.add_argument("--detach", action="store_true", help="fork away from the launcher first")
    args = parser.parse_args(argv)
    if args.detach:
        _detach()
    return run(args.url, args.rate, pidfile=args.pidfile, give_up_after=max(args.give_up_after, CHECK_SECONDS))


if __name__ == "__main__":
    sys.exit(main())
