"""CloudWatch: ``GetMetricData`` through ``boto3`` for one metric of the scope, at the scope's step.

``query`` fields: ``namespace`` (e.g. ``AWS/EC2``), ``metricName``, ``stat`` (default ``Average``;
any CloudWatch statistic such as ``Sum`` or ``p99``), ``scopeDimension`` (default
``AutoScalingGroupName``: the dimension whose value is the scope), ``dimensions`` (more
dimensions: an object name → value or a list of ``{"Name", "Value"}``; ``${scope}`` and
``${location}`` substituted). The region is the scope's location; ``SPINWEB_CLOUDWATCH_ENDPOINT``
points boto3 at another endpoint (a local stand-in). Credentials come from boto3's usual chain.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from django.conf import settings

from canary.sources.base import MetricSource, RetryableError, Scope, Series, SourceError, on_grid, query_of, substitute

NAME = "CloudWatch"
RETRYABLE_CODES = {"Throttling", "ThrottlingException", "InternalFailure", "ServiceUnavailable", "InternalServiceError"}


class CloudWatchSource(MetricSource):
    type = "cloudwatch"

    def query_text(self, metric: dict[str, Any], scope: Scope, *, templates: dict[str, str] | None = None) -> str:
        return json.dumps(_metric_query(metric, scope), sort_keys=True)

    def fetch(self, metric: dict[str, Any], scope: Scope, *, templates: dict[str, str] | None = None) -> Series:
        request = _metric_query(metric, scope)
        text = json.dumps(request, sort_keys=True)
        points = self.with_retries(lambda: _get_metric_data(request, scope))
        return on_grid(points, scope, text, NAME)


def _metric_query(metric: dict[str, Any], scope: Scope) -> dict[str, Any]:
    query = query_of(metric, NAME)
    missing = [name for name in ("namespace", "metricName") if not query.get(name)]
    if missing:
        raise SourceError(f"{NAME}: metric {metric.get('name')!r} needs query.{' and query.'.join(missing)}")
    dimensions = [{"Name": str(query.get("scopeDimension") or "AutoScalingGroupName"), "Value": scope.scope}]
    dimensions += _dimensions(query.get("dimensions") or {}, scope)
    return {
        "Id": "canary",
        "MetricStat": {
            "Metric": {
                "Namespace": str(query["namespace"]),
                "MetricName": str(query["metricName"]),
                "Dimensions": dimensions,
            },
            "Period": scope.step_seconds,
            "Stat": str(query.get("stat") or "Average"),
        },
        "ReturnData": True,
    }


def _dimensions(raw: Any, scope: Scope) -> list[dict[str, str]]:
    pairs = raw.items() if isinstance(raw, dict) else ((item.get("Name"), item.get("Value")) for item in raw)
    return [{"Name": str(name), "Value": substitute(str(value), scope)} for name, value in pairs]


def _client(region: str) -> Any:
    endpoint = settings.SPINWEB_CLOUDWATCH_ENDPOINT or None
    timeout = settings.SPINWEB_METRICS_TIMEOUT_SECONDS
    # boto3's own retries are off: ours count the attempts and keep CloudWatch's last message.
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=timeout, read_timeout=timeout)
    return boto3.client("cloudwatch", region_name=region or "us-east-1", endpoint_url=endpoint, config=config)


def _get_metric_data(request: dict[str, Any], scope: Scope) -> dict[datetime, float]:
    points: dict[datetime, float] = {}
    arguments: dict[str, Any] = {
        "MetricDataQueries": [request],
        "StartTime": scope.start,
        # CloudWatch's EndTime is exclusive; the grid's last point is at ``end``.
        "EndTime": scope.end + timedelta(seconds=scope.step_seconds),
        "ScanBy": "TimestampAscending",
    }
    try:
        client = _client(scope.location)
        while True:
            answer = client.get_metric_data(**arguments)
            for result in answer.get("MetricDataResults", []):
                for when, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    points[when.astimezone(UTC)] = float(value)
            if not answer.get("NextToken"):
                return points
            arguments["NextToken"] = answer["NextToken"]
    except ClientError as error:
        info = error.response.get("Error", {})
        message = f"{NAME} refused GetMetricData: {info.get('Code', 'error')}: {info.get('Message', error)}"
        raise (RetryableError if info.get("Code") in RETRYABLE_CODES else SourceError)(message) from None
    except (EndpointConnectionError, NoCredentialsError) as error:
        error_type = RetryableError if isinstance(error, EndpointConnectionError) else SourceError
        raise error_type(f"{NAME} cannot be reached: {error}") from None
    except BotoCoreError as error:
        raise RetryableError(f"{NAME} failed: {error}") from None
