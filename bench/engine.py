"""Pipeline engine throughput and hand-off latency with real workers. Prints figures; not a test.

Makes a fresh PostgreSQL database (DATABASE_URL's server, default 127.0.0.1:5432), starts
``manage.py serve`` (web server + one qcluster), saves a K-stage DAG of no-op stages (``wait``
0 s: one task each) with parallel branches and joins, starts N executions at once and waits for
all of them. Then prints:

- stage completions per second (all stages of all runs, first start to last end);
- hand-off latency from an upstream stage's completion to its downstream stage's start, and to
  the downstream's first task actually running on a worker (median and p99);
- executions in flight (most RUNNING at once) and how many ended SUCCEEDED;
- peak memory of the web server and workers together (PSS, and the RSS sum for comparison).

    .venv/bin/python bench/engine.py [--executions 1000] [--workers 2] [--broker orm|redis]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# 1 -> (2, 3, 4) -> 5 -> (6, 7) -> 8: two fan-outs and two joins.
DAG = {"1": [], "2": ["1"], "3": ["1"], "4": ["1"], "5": ["2", "3", "4"], "6": ["5"], "7": ["5"], "8": ["6", "7"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--broker", choices=["orm", "redis"], default="redis")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()

    import psycopg

    server = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    name = f"spinweb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    data = tempfile.mkdtemp(prefix="spinweb-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "SPINWEB_"))}
    env.update(
        {
            "DATABASE_URL": f"{server}/{name}",
            "SPINWEB_DATA_DIR": data,
            "SPINWEB_WORKERS": str(args.workers),
            "SPINWEB_QUEUE_NAME": name,
            "SPINWEB_LOG_LEVEL": "WARNING",
        }
    )
    if args.broker == "redis":
        env["REDIS_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ.update(env)
    serve = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        serve = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "serve", "--port", str(free_port())],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        )
        run(args, serve)
    finally:
        if serve is not None:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=60)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(data, ignore_errors=True)


def run(args: argparse.Namespace, serve: subprocess.Popen[bytes]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spinweb.settings")
    import django

    django.setup()
    from django.db import transaction

    from applications.models import Application
    from pipelines import actions
    from pipelines.models import Execution, StageExecution, TaskExecution

    Application.objects.create(name="bench", owner_email="bench@example.com")
    stages = [
        {"refId": ref, "type": "wait", "name": f"Stage {ref}", "waitTime": 0, "requisiteStageRefIds": reqs}
        for ref, reqs in DAG.items()
    ]
    pipeline = actions.save_pipeline(
        None, {"application": "bench", "name": "dag", "limitConcurrent": False, "stages": stages}, source="cli"
    )
    started = time.monotonic()
    with transaction.atomic():  # all runs go in flight together, when this commits
        for _ in range(args.executions):
            actions.start_execution(None, pipeline, source="cli")
    print(
        f"started {args.executions} executions of {len(DAG)} stages in {time.monotonic() - started:.1f} s "
        f"({args.workers} workers, {args.broker} broker, PostgreSQL)"
    )
    peak_running, peak_rss, peak_pss = 0, 0, 0
    peak_roles: dict[str, int] = {}
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        running = Execution.objects.filter(status="RUNNING").count()
        peak_running = max(peak_running, running)
        rss, pss = tree_memory(serve.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        for role, value in role_rss(serve.pid).items():
            peak_roles[role] = max(peak_roles.get(role, 0), value)
        if not Execution.objects.filter(status__in=["RUNNING", "NOT_STARTED", "BUFFERED"]).exists():
            break
        time.sleep(0.5)  # sampling interval of the benchmark's own monitor
    report(Execution, StageExecution, TaskExecution, peak_running, peak_rss, peak_pss)
    print(
        "peak RSS by role         "
        + "   ".join(f"{role} {value / 1024 / 1024:.1f} MB" for role, value in sorted(peak_roles.items()))
    )


def report(
    Execution: Any, StageExecution: Any, TaskExecution: Any, peak_running: int, peak_rss: int, peak_pss: int
) -> None:
    rows = list(StageExecution.objects.values_list("execution_id", "ref_id", "started_at", "ended_at"))
    first_task = {
        (e, r): t for e, r, t in TaskExecution.objects.values_list("stage__execution_id", "stage__ref_id", "started_at")
    }
    by_key = {(e, r): (s, f) for e, r, s, f in rows}
    to_stage, to_task = [], []
    for (execution, ref), (start, _end) in by_key.items():
        upstream = [by_key[(execution, req)][1] for req in DAG[ref]]
        if not upstream or any(u is None for u in upstream) or start is None:
            continue
        ready = max(upstream)
        to_stage.append((start - ready).total_seconds() * 1000)
        if first_task.get((execution, ref)):
            to_task.append((first_task[(execution, ref)] - ready).total_seconds() * 1000)
    starts = [s for _, _, s, _ in rows if s]
    ends = [f for _, _, _, f in rows if f]
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
    done = Execution.objects.filter(status="SUCCEEDED").count()
    print(f"stage completions/s      {len(ends) / span:8.1f}   ({len(ends)} stages in {span:.1f} s)")
    print(f"hand-off to stage start  median {pct(to_stage, 50):7.1f} ms   p99 {pct(to_stage, 99):7.1f} ms")
    print(f"hand-off to task running median {pct(to_task, 50):7.1f} ms   p99 {pct(to_task, 99):7.1f} ms")
    print(f"executions in flight     {peak_running} at most; {done} of {Execution.objects.count()} SUCCEEDED")
    print(
        f"peak memory web+workers  PSS {peak_pss / 1024 / 1024:6.1f} MB   (RSS sum {peak_rss / 1024 / 1024:.1f} MB, "
        "counting pages shared by forked workers once per process)"
    )


def pct(values: list[float], percentile: int) -> float:
    if not values:
        return float("nan")
    if percentile == 50:
        return statistics.median(values)
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(len(ordered) * percentile / 100))]


def tree_memory(root: int) -> tuple[int, int]:
    """Resident bytes (RSS) and proportional bytes (PSS) of a process and all its descendants.

    Worker processes are forked from one parent and share pages: RSS counts a shared page in
    every process, PSS divides it among them, so the PSS sum is what the machine really spends.
    """
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("PPid:"))
        except (OSError, StopIteration):
            continue
        children.setdefault(ppid, []).append(int(status.parent.name))
    rss = pss = 0
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        frontier.extend(children.get(pid, []))
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        values = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in rollup[1:] if line.endswith("kB")}
        rss, pss = rss + values.get("Rss", 0), pss + values.get("Pss", 0)
    return rss, pss


def role_rss(web: int) -> dict[str, int]:
    """RSS of the web server, of the django-q2 workers, and of the cluster's other processes
    (sentinel, pusher, monitor), using the pids the cluster publishes in its status."""
    from django_q.status import Stat

    infra = "cluster (sentinel, pusher, monitor)"
    roles = {"web": _rss(web), "workers": 0, infra: 0}
    for stat in Stat.get_all():
        roles["workers"] += sum(_rss(pid) for pid in stat.workers)
        roles[infra] += sum(_rss(pid) for pid in (stat.sentinel, stat.pusher, stat.monitor))
    return roles


def _rss(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in rollup if line.startswith("Rss:")), 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
