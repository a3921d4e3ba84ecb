"""A real Prometheus (Debian's ``/usr/bin/prometheus``) for tests, scraping loopback targets every second.

    with running_prometheus(["127.0.0.1:9100"], tmp_path) as base_url:
        ...  # base_url = "http://127.0.0.1:<free port>", every target already scraped and up

It gets a temporary config and storage under ``tmp_path``, listens on a free loopback port, and
is stopped (SIGTERM, then SIGKILL) when the block ends, also when the test failed. Tests that
need it are skipped when the binary is missing, except in CI (``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.clouds.local.conftest import wait_until

PROMETHEUS = Path("/usr/bin/prometheus")
START_TIMEOUT = 60.0

# Skipped on a developer's machine without it; in CI (which installs it) a missing binary fails instead.
needs_prometheus = pytest.mark.skipif(
    not PROMETHEUS.exists() and os.environ.get("CI") != "true", reason="Debian's prometheus is not installed"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def config_text(targets: list[str]) -> str:
    listed = ", ".join(f'"{target}"' for target in targets)
    return (
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: spinweb\n    static_configs:\n      - targets: [{listed}]\n"
    )


@contextlib.contextmanager
def running_prometheus(targets: list[str], folder: Path) -> Iterator[str]:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(config_text(targets))
    port = free_port()
    argv = [
        str(PROMETHEUS),
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with open(folder / "prometheus.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_all_up(base, len(targets), process, folder / "prometheus.log")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_all_up(base: str, count: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until every target has been scraped successfully once; fails with the log tail after the deadline."""
    with contextlib.suppress(AssertionError):
        wait_until(lambda: process.poll() is not None or _up_targets(base) >= count, START_TIMEOUT, "the scrapes")
    if process.poll() is None and _up_targets(base) >= count:
        return
    tail = log.read_text(errors="replace").splitlines()[-10:]
    raise AssertionError(f"Prometheus at {base} did not scrape its {count} targets in time:\n" + "\n".join(tail))


def _up_targets(base: str) -> int:
    try:
        answer = requests.get(f"{base}/api/v1/targets", timeout=2).json()
    except (requests.RequestException, ValueError):
        return 0
    active = answer.get("data", {}).get("activeTargets", [])
    return sum(1 for target in active if target.get("health") == "up")


def _has_result(base: str, query: str) -> bool:
    with contextlib.suppress(requests.RequestException, ValueError):
        answer = requests.get(f"{base}/api/v1/query", params={"query": query}, timeout=2).json()
        return bool(answer.get("data", {}).get("result"))
    return False


def wait_for(base: str, query: str, timeout: float = 30.0) -> None:
    """Until an instant ``query`` answers a non-empty result."""
    wait_until(lambda: _has_result(base, query), timeout, f"Prometheus data for {query}")
