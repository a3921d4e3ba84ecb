"""The CloudWatch source: GetMetricData through boto3, against moto's server on loopback."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from canary.sources import Scope, SourceError, source_for
from tests.canary.cloudwatch import GROUP, put
from tests.http_server import closed_port


def metric(**query: Any) -> dict[str, Any]:
    return {
        "name": "cpu",
        "query": {"type": "cloudwatch", "namespace": "AWS/EC2", "metricName": "CPUUtilization", **query},
    }


def scope_of(start: datetime, minutes: int, group: str = GROUP) -> Scope:
    return Scope(group, "us-east-1", start, start + timedelta(minutes=minutes), step_seconds=60)


def test_it_fetches_the_scope_average_per_step(moto: str) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    put(moto, start, [10.0, 20.0, 30.0])
    put(moto, start, [99.0, 99.0, 99.0], group="shop-web-baseline-v001")

    series = source_for("cloudwatch").fetch(metric(), scope_of(start, 2))

    assert series.values == [10.0, 20.0, 30.0]
    assert series.reason == ""


def test_it_leaves_missing_minutes_as_gaps_and_an_unknown_group_as_nodata(moto: str) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    put(moto, start, [10.0])

    partial = source_for("cloudwatch").fetch(metric(), scope_of(start, 2))
    empty = source_for("cloudwatch").fetch(metric(), scope_of(start, 2, group="shop-web-nobody-v009"))

    assert partial.values[0] == 10.0
    assert all(math.isnan(value) for value in partial.values[1:])
    assert partial.reason == "CloudWatch: 2 of 3 steps have no data"
    assert empty.values == []
    assert empty.reason.startswith("CloudWatch: no data for shop-web-nobody-v009")


def test_it_shows_the_exact_request_with_the_scope_as_a_dimension() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)

    text = source_for("cloudwatch").query_text(
        metric(stat="p99", dimensions={"Env": "${location}"}), scope_of(start, 5)
    )

    stat = json.loads(text)["MetricStat"]
    assert stat["Stat"] == "p99"
    assert stat["Period"] == 60
    assert stat["Metric"]["Dimensions"] == [
        {"Name": "AutoScalingGroupName", "Value": GROUP},
        {"Name": "Env", "Value": "us-east-1"},
    ]


def test_it_names_the_missing_query_field() -> None:
    with pytest.raises(SourceError, match=r"needs query\.namespace"):
        source_for("cloudwatch").fetch(metric(namespace=""), scope_of(datetime.now(UTC), 1))


def test_it_retries_an_unreachable_endpoint_then_fails_naming_cloudwatch(credentials: None, settings: Settings) -> None:
    waits: list[float] = []
    source = source_for("cloudwatch")
    source.sleep = waits.append

    with closed_port() as port:
        settings.SPINWEB_CLOUDWATCH_ENDPOINT = f"http://127.0.0.1:{port}"
        with pytest.raises(SourceError, match=r"CloudWatch cannot be reached: .*after 3 attempts"):
            source.fetch(metric(), scope_of(datetime.now(UTC) - timedelta(minutes=5), 2))
    assert waits == [0.5, 2.0]
