"""The Prometheus source against a real Prometheus scraping an exporter on loopback."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from pytest_django.fixtures import Settings

from canary.sources import Scope, SourceError, source_for
from tests.canary.prometheus import free_port, needs_prometheus, running_prometheus, wait_for
from tests.http_server import closed_port

pytestmark = needs_prometheus
CANARY, BASELINE = "shop-web-canary-v001", "shop-web-baseline-v001"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    registry = CollectorRegistry()
    latency = Gauge("canary_latency", "Latency", ["server_group"], registry=registry)
    latency.labels(CANARY).set(5.0)
    latency.labels(BASELINE).set(2.0)
    odd = Gauge("canary_odd", "Odd values", ["server_group", "kind"], registry=registry)
    odd.labels(CANARY, "nan").set(math.nan)
    odd.labels(CANARY, "inf").set(math.inf)
    odd.labels(CANARY, "minus_inf").set(-math.inf)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        with running_prometheus([f"127.0.0.1:{port}"], Path(tmp_path_factory.mktemp("prometheus"))) as base:
            wait_for(base, f'count_over_time(canary_latency{{server_group="{CANARY}"}}[1m]) >= 3')
            yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def configured(prometheus: str, settings: Settings) -> str:
    settings.SPINWEB_PROMETHEUS_URL = prometheus
    return prometheus


def recent(scope: str = CANARY, seconds: int = 2) -> Scope:
    end = datetime.now(UTC)
    return Scope(scope, "local", end - timedelta(seconds=seconds), end, step_seconds=1)


def metric(**query: object) -> dict[str, object]:
    return {"name": "latency", "query": {"type": "prometheus", **query}}


def fetch(scope: Scope, templates: dict[str, str] | None = None, **query: object):
    return source_for("prometheus").fetch(metric(**query), scope, templates=templates)


def test_it_fetches_one_value_per_step_for_the_scope(configured: str) -> None:
    series = fetch(recent(), metricName="canary_latency")

    assert series.query == f'avg(canary_latency{{server_group="{CANARY}"}})'
    assert series.values == [5.0, 5.0, 5.0]
    assert len(series.timestamps) == 3
    assert series.reason == ""


def test_it_marks_steps_before_the_first_scrape_as_gaps_with_a_reason(configured: str) -> None:
    end = datetime.now(UTC)
    scope = Scope(CANARY, "local", end - timedelta(hours=2), end, step_seconds=600)

    series = fetch(scope, metricName="canary_latency")

    assert len(series.values) == 13
    assert math.isnan(series.values[0])
    assert series.values[-1] == 5.0
    assert "steps have no data" in series.reason


def test_it_keeps_nan_and_infinities_as_prometheus_answers_them(configured: str) -> None:
    kinds = {
        kind: fetch(recent(), metricName="canary_odd", labelBindings=[f'kind="{kind}"']).values
        for kind in ("nan", "inf", "minus_inf")
    }

    assert all(math.isnan(value) for value in kinds["nan"])
    assert kinds["inf"] == [math.inf] * 3
    assert kinds["minus_inf"] == [-math.inf] * 3


def test_it_averages_several_answered_series_and_says_so(configured: str) -> None:
    series = fetch(
        recent(),
        metricName="canary_latency",
        customFilter='server_group=~"shop-web-.*"',
        groupByFields=["server_group"],
    )

    assert series.query == 'avg(canary_latency{server_group=~"shop-web-.*"}) by (server_group)'
    assert series.values == [3.5, 3.5, 3.5]
    assert "2 series answered" in series.notes[0]


def test_it_sends_a_raw_promql_query_with_the_scope_substituted(configured: str) -> None:
    series = fetch(recent(BASELINE), customInlineTemplate='PromQL: max(canary_latency{server_group="${scope}"}) * 10')

    assert series.query == f'max(canary_latency{{server_group="{BASELINE}"}}) * 10'
    assert series.values == [20.0, 20.0, 20.0]


def test_it_uses_a_named_filter_template(configured: str) -> None:
    templates = {"by-group": 'server_group="${scope}"'}

    series = fetch(recent(BASELINE), templates, metricName="canary_latency", customFilterTemplate="by-group")

    assert series.values == [2.0, 2.0, 2.0]


def test_it_turns_an_empty_result_into_nodata_with_a_reason(configured: str) -> None:
    series = fetch(recent("shop-web-nobody-v009"), metricName="canary_latency")

    assert series.values == []
    assert series.reason.startswith("Prometheus: no data for shop-web-nobody-v009")


def test_it_reports_prometheus_own_message_for_a_bad_query(configured: str) -> None:
    with pytest.raises(SourceError, match=r"Prometheus refused the query .*bad_data: .*parse error"):
        fetch(recent(), customInlineTemplate="PromQL: avg(canary_latency{")


def test_it_retries_an_unreachable_prometheus_then_fails_naming_it(settings: Settings) -> None:
    waits: list[float] = []
    source = source_for("prometheus")
    source.sleep = waits.append

    with closed_port() as port:
        settings.SPINWEB_PROMETHEUS_URL = f"http://127.0.0.1:{port}"
        with pytest.raises(SourceError, match=r"Prometheus at .* is unreachable.*after 3 attempts"):
            source.fetch(metric(metricName="canary_latency"), recent())
    assert waits == [0.5, 2.0]


def test_it_refuses_to_guess_when_no_prometheus_is_configured(settings: Settings) -> None:
    settings.SPINWEB_PROMETHEUS_URL = ""

    with pytest.raises(SourceError, match="no Prometheus configured"):
        fetch(recent(), metricName="canary_latency")
