"""Built-in metrics of the local cloud, read from its load balancers' per-second history.

``query.metricName`` is one of ``METRICS``; each step's value covers the answers of the scope's
server group in the ``step`` seconds before it, summed over every local load balancer:

- ``requests``, ``errors``: answers, and 5xx answers, in the step;
- ``error_rate``: percent of the step's answers that were 5xx (NaN without answers);
- ``latency_mean``, ``latency_p50``, ``latency_p90``, ``latency_p99``: milliseconds (NaN without answers).

Steps the load balancers no longer (or not yet) hold are NaN; a group that answered nothing in the
whole window is Nodata, with the reason, so an idle canary is never judged a Pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

import requests
from django.conf import settings

from canary.sources.base import MetricSource, RetryableError, Scope, Series, SourceError, query_of
from clouds.providers.local.runtime.client import RuntimeLoadBalancer, SupervisorClient, SupervisorError

NAME = "built-in metrics"


class Step:
    """One step summed over the load balancers."""

    def __init__(self, bucket_count: int) -> None:
        self.requests = 0
        self.errors = 0
        self.latency_ms = 0.0
        self.buckets = [0] * bucket_count

    def add(self, point: dict[str, Any]) -> None:
        self.requests += int(point["requests"])
        self.errors += int(point["errors"])
        self.latency_ms += float(point["latencySumMs"])
        for index, count in enumerate(point["buckets"]):
            self.buckets[index] += int(count)


def _quantile(share: float) -> Callable[[Step, Sequence[float]], float]:
    def value(step: Step, bounds: Sequence[float]) -> float:
        return histogram_quantile(step.buckets, bounds, share) if step.requests else math.nan

    return value


METRICS: dict[str, Callable[[Step, Sequence[float]], float]] = {
    "requests": lambda step, _: float(step.requests),
    "errors": lambda step, _: float(step.errors),
    "error_rate": lambda step, _: 100.0 * step.errors / step.requests if step.requests else math.nan,
    "latency_mean": lambda step, _: step.latency_ms / step.requests if step.requests else math.nan,
    "latency_p50": _quantile(0.50),
    "latency_p90": _quantile(0.90),
    "latency_p99": _quantile(0.99),
}


def histogram_quantile(buckets: Sequence[int], bounds: Sequence[float], share: float) -> float:
    """Interpolated within the bucket the quantile falls in; the overflow bucket answers the last bound."""
    rank, seen, lower = share * sum(buckets), 0, 0.0
    for index, count in enumerate(buckets):
        if index == len(bounds):
            return float(bounds[-1])
        if count and seen + count >= rank:
            return lower + (bounds[index] - lower) * (rank - seen) / count
        seen, lower = seen + count, float(bounds[index])
    return float(bounds[-1])


class BuiltinSource(MetricSource):
    type = "builtin"

    def query_text(self, metric: dict[str, Any], scope: Scope, *, templates: dict[str, str] | None = None) -> str:
        name = _metric_name(metric)
        return f'{name}{{server_group="{scope.scope}"}} step {scope.step_seconds}s'

    def fetch(self, metric: dict[str, Any], scope: Scope, *, templates: dict[str, str] | None = None) -> Series:
        text = self.query_text(metric, scope)
        windows = self.with_retries(lambda: _windows(scope))
        steps, bounds = _merge(windows)
        grid = scope.grid()
        if not any(step and step.requests for step in steps):
            return Series([], [], text, f"{NAME}: {scope.scope} answered no request {_between(scope)}")
        compute = METRICS[_metric_name(metric)]
        values = [compute(step, bounds) if step else math.nan for step in steps]
        unknown = sum(1 for step in steps if step is None)
        reason = f"{NAME}: {unknown} of {len(grid)} steps are outside the load balancers' history" if unknown else ""
        return Series(values, grid, text, reason)


def _metric_name(metric: dict[str, Any]) -> str:
    name = str(query_of(metric, NAME).get("metricName") or "")
    if name not in METRICS:
        raise SourceError(f"{NAME}: query.metricName must be one of {', '.join(METRICS)}, not {name!r}")
    return name


def _between(scope: Scope) -> str:
    return f"from {scope.start.astimezone(UTC).isoformat()} to {scope.end.astimezone(UTC).isoformat()}"


def _balancers() -> list[RuntimeLoadBalancer]:
    low, high = settings.SPINWEB_LOCAL_PORTS
    client = SupervisorClient(settings.SPINWEB_LOCAL_HOME, (int(low), int(high)), timeout=5.0)
    try:
        if not client.is_running():
            raise SourceError(f"{NAME}: the local cloud in {client.home} is not running")
        return list(client.state().load_balancers.values())
    except SupervisorError as error:
        raise RetryableError(f"{NAME}: the local supervisor does not answer: {error}") from None


def _windows(scope: Scope) -> list[dict[str, Any]]:
    """Every load balancer's history of the scope's group: the same grid for each."""
    start, step = math.floor(scope.start.timestamp()), scope.step_seconds
    end = start + len(scope.grid()) * step - step
    params: dict[str, str | int] = {"server_group": scope.scope, "start": start, "end": end, "step": step}
    windows = []
    for balancer in _balancers():
        try:
            answer = requests.get(balancer.history_url, params=params, timeout=settings.SPINWEB_METRICS_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise RetryableError(f"{NAME}: load balancer {balancer.name} does not answer: {error}") from None
        if answer.status_code != 200:
            raise SourceError(f"{NAME}: load balancer {balancer.name} refused: {answer.text[:200]}")
        windows.append(answer.json())
    return windows


def _merge(windows: list[dict[str, Any]]) -> tuple[list[Step | None], list[float]]:
    """Per step: the sum over the load balancers that know it (None when none does)."""
    if not windows:
        return [], [1.0]
    bounds = [float(bound) for bound in windows[0]["boundsMs"]]
    steps: list[Step | None] = [None] * len(windows[0]["points"])
    for window in windows:
        for index, point in enumerate(window["points"]):
            if point.get("known"):
                step = steps[index] or Step(len(bounds) + 1)
                step.add(point)
                steps[index] = step
    return steps, bounds
