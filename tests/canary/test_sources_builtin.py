"""The built-in source reads the per-second history of real local load balancers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import requests

from canary.sources import Scope, Series, SourceError, source_for
from clouds.providers.local.runtime.client import RuntimeLoadBalancer, SupervisorClient
from clouds.providers.local.traffic import TrafficGenerator
from tests.clouds.local.conftest import LocalHome, sample_command, wait_for_group, wait_until
from tests.clouds.local.fixtures import local_home, local_runtime

__all__ = ["local_home", "local_runtime", "sample_command"]

BASELINE, CANARY, IDLE = "shop-web-baseline-v001", "shop-web-canary-v002", "shop-web-idle-v003"


@pytest.fixture
def cloud(local_runtime: LocalHome, sample_command: list[str]) -> tuple[SupervisorClient, RuntimeLoadBalancer]:
    client = local_runtime.client()
    client.ensure_running()
    client.put_server_group(BASELINE, command=sample_command, desired=1)
    client.put_server_group(
        CANARY, command=sample_command, desired=1, env={"SAMPLE_LATENCY_MS": "60", "SAMPLE_ERROR_RATE": "1"}
    )
    client.put_server_group(IDLE, command=sample_command, desired=1)
    for name in (BASELINE, CANARY, IDLE):
        wait_for_group(client, name, up=1)
    return client, client.put_load_balancer("shop-web", 0, {BASELINE: 50, CANARY: 50, IDLE: 0})


def fetch(metric_name: str, scope: Scope) -> Series:
    return source_for("builtin").fetch(
        {"name": metric_name, "query": {"type": "builtin", "metricName": metric_name}}, scope
    )


def window(group: str, since: datetime) -> Scope:
    end = datetime.now(UTC).replace(microsecond=0)
    return Scope(group, "local", since, end, step_seconds=1)


def served_steps(group: str, since: datetime, count: int) -> Series | None:
    if datetime.now(UTC) < since + timedelta(seconds=count + 1):
        return None
    series = fetch("requests", window(group, since))
    return series if sum(1 for value in series.values if value > 0) >= count else None


@pytest.fixture
def traffic(cloud: tuple[SupervisorClient, RuntimeLoadBalancer]) -> datetime:
    since = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    with TrafficGenerator(f"http://{cloud[1].address}/", rate=40):
        for group in (BASELINE, CANARY):
            wait_until(partial(served_steps, group, since, 3), 20, f"3 seconds of answers from {group}")
    return since


def test_it_gives_each_group_its_own_latency_per_step(traffic: datetime) -> None:
    canary, baseline = fetch("latency_p50", window(CANARY, traffic)), fetch("latency_p50", window(BASELINE, traffic))

    served = [value for value in canary.values if not math.isnan(value)]
    assert len(served) >= 3
    assert min(served) >= 50
    assert max(value for value in baseline.values if not math.isnan(value)) < 30
    assert canary.query == f'latency_p50{{server_group="{CANARY}"}} step 1s'


def test_it_counts_errors_and_their_rate(traffic: datetime) -> None:
    rates = fetch("error_rate", window(CANARY, traffic)).values
    baseline = fetch("errors", window(BASELINE, traffic)).values

    assert {value for value in rates if not math.isnan(value)} == {100.0}
    assert set(baseline) == {0.0}


def test_it_gives_nodata_with_a_reason_for_a_group_without_traffic(traffic: datetime) -> None:
    series = fetch("latency_p99", window(IDLE, traffic))

    assert series.values == []
    assert series.reason.startswith(f"built-in metrics: {IDLE} answered no request")


def test_it_leaves_steps_before_the_load_balancer_started_as_gaps(traffic: datetime) -> None:
    series = fetch("requests", window(BASELINE, traffic - timedelta(minutes=2)))

    assert all(math.isnan(value) for value in series.values[:100])
    assert sum(value for value in series.values if not math.isnan(value)) > 0
    assert "outside the load balancers' history" in series.reason


def test_it_refuses_an_unknown_metric_name_naming_the_known_ones(local_runtime: LocalHome) -> None:
    with pytest.raises(SourceError, match="metricName must be one of requests, errors, error_rate"):
        fetch("throughput", window(BASELINE, datetime.now(UTC) - timedelta(seconds=5)))


def test_it_says_so_when_the_local_cloud_is_not_running(local_runtime: LocalHome) -> None:
    with pytest.raises(SourceError, match=r"the local cloud in .* is not running"):
        fetch("requests", window(BASELINE, datetime.now(UTC) - timedelta(seconds=5)))


def test_it_answers_400_for_a_history_request_without_a_window(
    cloud: tuple[SupervisorClient, RuntimeLoadBalancer],
) -> None:
    answer = requests.get(cloud[1].history_url, params={"server_group": BASELINE}, timeout=5)

    assert answer.status_code == 400
    assert "need server_group, and start, end, step" in answer.text
