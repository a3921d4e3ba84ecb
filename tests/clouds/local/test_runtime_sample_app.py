"""The sample app: what it answers, how it can be told to misbehave, its metrics, and a graceful stop."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading

import pytest

from .conftest import SAMPLE_APP, Spawn, get, start_sample_app, wait_until


def metric(base: str, line_start: str) -> float:
    _, body = get(f"{base}/metrics")
    values = [float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines() if line.startswith(line_start)]
    return sum(values)


def test_it_answers_with_its_version_instance_and_pid(spawn: Spawn) -> None:
    process, base = start_sample_app(spawn, SAMPLE_VERSION="v2", SPINWEB_INSTANCE="shop-web-v002-0")

    status, body = get(f"{base}/")

    assert status == 200
    assert json.loads(body) == {"version": "v2", "instance": "shop-web-v002-0", "pid": process.pid}
    assert get(f"{base}/health") == (200, b"ok")


def test_it_fails_its_health_check_when_told_to(spawn: Spawn) -> None:
    _, base = start_sample_app(spawn, SAMPLE_FAIL_HEALTH="1")

    assert get(f"{base}/health")[0] == 503
    assert get(f"{base}/")[0] == 200


def test_it_answers_500_at_the_configured_error_rate(spawn: Spawn) -> None:
    _, failing = start_sample_app(spawn, SAMPLE_ERROR_RATE="1")
    _, healthy = start_sample_app(spawn, SAMPLE_ERROR_RATE="0")

    assert {get(f"{failing}/")[0] for _ in range(20)} == {500}
    assert {get(f"{healthy}/")[0] for _ in range(20)} == {200}
    assert get(f"{failing}/health")[0] == 200


def test_it_counts_requests_errors_and_latency_in_its_metrics(spawn: Spawn) -> None:
    _, base = start_sample_app(spawn, SAMPLE_VERSION="v3", SAMPLE_ERROR_RATE="1", SAMPLE_LATENCY_MS="50")

    for _ in range(3):
        get(f"{base}/")

    assert metric(base, 'sample_requests_total{code="500",route="/",version="v3"}') == 3
    assert metric(base, 'sample_errors_total{route="/",version="v3"}') == 3
    assert metric(base, 'sample_request_duration_seconds_count{route="/",version="v3"}') == 3
    assert metric(base, 'sample_request_duration_seconds_sum{route="/",version="v3"}') >= 0.15


def test_it_finishes_a_request_in_flight_when_stopped(spawn: Spawn) -> None:
    process, base = start_sample_app(spawn, SAMPLE_VERSION="v1", SAMPLE_LATENCY_MS="1500")
    answer: list[tuple[int, bytes]] = []
    slow = threading.Thread(target=lambda: answer.append(get(f"{base}/")))
    slow.start()
    wait_until(lambda: metric(base, "sample_requests_in_progress{") == 1, 5, "the slow request to be handled")

    process.send_signal(signal.SIGTERM)
    slow.join(timeout=10)

    assert [status for status, _ in answer] == [200]
    assert process.wait(timeout=10) == 0


def test_it_exits_3_when_its_port_is_taken(spawn: Spawn) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = spawn([sys.executable, "-m", SAMPLE_APP, "--port", str(taken.getsockname()[1])])

        assert process.wait(timeout=10) == 3


@pytest.mark.parametrize("module", ["supervisor", "proxy", "sample_app", "client"])
def test_it_runs_without_django(module: str) -> None:
    code = f"import sys, clouds.providers.local.runtime.{module}; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
