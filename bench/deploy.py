"""Blue/green deploy speed and safety on the local provider, under traffic. Prints figures; not a test.

Each run starts from nothing: a fresh temporary data directory (SQLite) and local home, the demo
seeded, N instances of hello v1 behind the load balancer hello-web, then the demo's Blue/Green
pipeline deploys v2 while a client sends requests through the load balancer. Prints, per run and
overall, the time from the pipeline's start until every answer comes from v2, and the failed
requests (targets: at most 10 s, none failed). Everything it starts is stopped, also on Ctrl-C.

    .venv/bin/python bench/deploy.py [--instances 3] [--rate 100] [--runs 3] [--verbose]

The engine runs in this process (as ``manage.py demo --run-once`` does), so the figures are those of
the deploy itself, not of a worker queue.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spinweb.demo.run_once import Summary

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 10.0
PORT_BLOCK = 40


def free_port_block(low: int = 20000, high: int = 29999) -> tuple[int, int]:
    """A block of ports all free right now, at random so that parallel runs differ."""
    for _ in range(100):
        start = low + random.randrange((high - low + 1) // PORT_BLOCK) * PORT_BLOCK  # noqa: S311 - not security
        if all(_free(port) for port in range(start, start + PORT_BLOCK)):
            return start, start + PORT_BLOCK - 1
    raise SystemExit(f"no block of {PORT_BLOCK} free ports between {low} and {high}")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def configure(data: Path) -> None:
    """Point Django at the temporary data directory before it loads its settings."""
    for name in list(os.environ):
        if name.startswith(("DATABASE_URL", "REDIS_URL", "SPINWEB_")):
            del os.environ[name]
    low, high = free_port_block()
    os.environ |= {
        "DJANGO_SETTINGS_MODULE": "spinweb.settings",
        "SPINWEB_DATA_DIR": str(data),
        "SPINWEB_LOCAL_HOME": str(data / "local"),
        "SPINWEB_LOCAL_PORTS": f"{low}-{high}",
        "SPINWEB_LOG_LEVEL": "WARNING",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=3, choices=range(1, 6))
    parser.add_argument("--rate", type=float, default=100.0, help="requests a second (default 100)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="print the progress of each run")
    args = parser.parse_args()

    # Short, under /tmp: the local home's control socket path must fit in 107 bytes.
    data = Path(tempfile.mkdtemp(prefix="swb-", dir="/tmp"))
    try:
        configure(data)
        bench(args)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def bench(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from spinweb.demo.run_once import DemoFailed, Options, run_once

    call_command("migrate", interactive=False, verbosity=0)
    print(
        f"Blue/green deploy v1 -> v2 of {args.instances} instance(s) under {args.rate:g} requests/s "
        f"(local provider, SQLite, engine in process), {args.runs} run(s)",
        flush=True,
    )
    results: list[Summary] = []
    for number in range(1, args.runs + 1):
        say = (lambda line: print(f"    {line}", flush=True)) if args.verbose else (lambda line: None)
        try:
            summary = run_once(Options(instances=args.instances, rate=args.rate), say)
        except DemoFailed as error:
            print(f"run {number}: failed: {error}", flush=True)
            continue
        results.append(summary)
        print(f"run {number}: {describe(summary)}", flush=True)
    report(results, args.runs)


def describe(summary: Summary) -> str:
    traffic = summary.traffic
    reached = f"{summary.seconds_to_all_new:.1f} s" if summary.seconds_to_all_new is not None else "never"
    latency = f"p50 {traffic.p50_ms:.0f} ms, p95 {traffic.p95_ms:.0f} ms" if traffic.p95_ms is not None else "-"
    return (
        f"100 % on v2 after {reached}; {traffic.sent} requests, {traffic.failed} failed; {latency}; "
        f"pipeline {summary.status}"
    )


def report(summaries: list[Summary], runs: int) -> None:
    times = [s.seconds_to_all_new for s in summaries if s.seconds_to_all_new is not None]
    sent = sum(s.traffic.sent for s in summaries)
    failed = sum(s.traffic.failed for s in summaries)
    print()
    if times:
        verdict = "met" if max(times) <= TARGET_SECONDS and len(times) == runs else "MISSED"
        print(
            f"time to 100 % on v2: median {statistics.median(times):.1f} s, max {max(times):.1f} s "
            f"over {len(times)} of {runs} run(s) (target <= {TARGET_SECONDS:g} s: {verdict})"
        )
    else:
        print(f"time to 100 % on v2: never reached in {runs} run(s) (target <= {TARGET_SECONDS:g} s: MISSED)")
    print(f"failed requests: {failed} of {sent} (target 0: {'met' if failed == 0 and sent else 'MISSED'})")


if __name__ == "__main__":
    main()
