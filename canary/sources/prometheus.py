"""Prometheus: ``/api/v1/query_range`` over HTTP, queries built the way Kayenta builds them.

``query`` fields (Kayenta's ``PrometheusCanaryMetricSetQueryConfig``):

- ``metricName``: with the filters below, sent as ``avg(<metricName>{<filters>}) by (<groupByFields>)``;
- ``scopeLabel`` (default ``server_group``): the label that must equal the scope;
- ``labelBindings``: more filters, a list of ``label="value"`` strings or an object label → value;
- ``customFilter``: a filter string used instead of the scope label (``${scope}``/``${location}`` substituted);
- ``customFilterTemplate``: the name of a ``templates`` entry used the same way;
- ``customInlineTemplate``: ``PromQL:<raw query>`` sent as it is, after the same substitutions;
- ``groupByFields``: labels for ``by (…)``.

Several result series are averaged per step (with a note); ``NaN``/``+Inf``/``-Inf`` samples are
kept as such; missing steps are NaN; an empty result is Nodata with the reason.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings

from canary.sources.base import (
    MetricSource,
    RetryableError,
    Scope,
    Series,
    SourceError,
    mean_ignoring_nan,
    on_grid,
    query_of,
    substitute,
)

NAME = "Prometheus"
SPECIAL_VALUES = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "Inf": math.inf}


class PrometheusSource(MetricSource):
    type = "prometheus"

    def query_text(self, metric: dict[str, Any], scope: Scope, *, templates: dict[str, str] | None = None) -> str:
        query = query_of(metric, NAME)
        inline = str(query.get("customInlineTemplate") or "")
        if inline:
            if not inline.startswith("PromQL:"):
                raise SourceError(f"{NAME}: customInlineTemplate must start with 'PromQL:', got {inline[:40]!r}")
            return substitute(inline.removeprefix("PromQL:").strip(), scope)
        name = str(query.get("metricName") or "")
        if not name:
            raise SourceError(f"{NAME}: metric {metric.get('name')!r} needs query.metricName or customInlineTemplate")
        selector = f"{name}{{{','.join(_filters(query, scope, templates or {}))}}}"
        group_by = [str(field) for field in query.get("groupByFields") or []]
        return f"avg({selector}) by ({','.join(group_by)})" if group_by else f"avg({selector})"

    def fetch(self, metric: dict[str, Any], scope: Scope, *, templates: dict[str, str] | None = None) -> Series:
        text = self.query_text(metric, scope, templates=templates)
        base = settings.SPINWEB_PROMETHEUS_URL
        if not base:
            raise SourceError(f"{NAME}: no Prometheus configured (set SPINWEB_PROMETHEUS_URL)")
        result = self.with_retries(lambda: _query_range(base, text, scope))
        return _series(result, scope, text)


def _filters(query: dict[str, Any], scope: Scope, templates: dict[str, str]) -> list[str]:
    template_name = query.get("customFilterTemplate")
    if template_name:
        if template_name not in templates:
            raise SourceError(f"{NAME}: customFilterTemplate names {template_name!r}, which is not in templates")
        filters = [substitute(templates[template_name], scope)]
    elif query.get("customFilter"):
        filters = [substitute(str(query["customFilter"]), scope)]
    else:
        label = str(query.get("scopeLabel") or "server_group")
        filters = [f'{label}="{_escape(scope.scope)}"']
    bindings = query.get("labelBindings") or []
    if isinstance(bindings, dict):
        filters += [f'{label}="{_escape(str(value))}"' for label, value in bindings.items()]
    else:
        filters += [substitute(str(binding), scope) for binding in bindings]
    return [item for item in filters if item]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _query_range(base: str, text: str, scope: Scope) -> list[dict[str, Any]]:
    params = {
        "query": text,
        "start": f"{scope.start.timestamp():.3f}",
        "end": f"{scope.end.timestamp():.3f}",
        "step": f"{scope.step_seconds}s",
    }
    try:
        response = requests.get(
            f"{base}/api/v1/query_range", params=params, timeout=settings.SPINWEB_METRICS_TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        raise RetryableError(f"{NAME} at {base} is unreachable: {error}") from None
    body = _json(response)
    if response.status_code >= 500 or response.status_code == 429:
        raise RetryableError(f"{NAME} failed with HTTP {response.status_code}: {_message(body, response)}")
    if response.status_code != 200 or body.get("status") != "success":
        raise SourceError(f"{NAME} refused the query {text!r}: {_message(body, response)}")
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise SourceError(f"{NAME} answered a {data.get('resultType')!r} instead of a matrix for {text!r}")
    return list(data.get("result") or [])


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict[str, Any], response: requests.Response) -> str:
    if body.get("error"):
        return f"{body.get('errorType', 'error')}: {body['error']}"
    return response.text[:200] or f"HTTP {response.status_code}"


def _sample(raw: Any) -> float:
    text = str(raw)
    if text in SPECIAL_VALUES:
        return SPECIAL_VALUES[text]
    try:
        return float(text)
    except ValueError:
        raise SourceError(f"{NAME} answered a sample that is not a number: {text[:40]!r}") from None


def _series(result: list[dict[str, Any]], scope: Scope, text: str) -> Series:
    by_time: dict[datetime, list[float]] = {}
    for item in result:
        for stamp, raw in item.get("values") or []:
            by_time.setdefault(datetime.fromtimestamp(float(stamp), UTC), []).append(_sample(raw))
    points = {when: mean_ignoring_nan(values) for when, values in by_time.items()}
    series = on_grid(points, scope, text, NAME)
    if len(result) > 1:
        labels = "; ".join(_labels(item.get("metric") or {}) for item in result[:5])
        series.notes.append(f"{len(result)} series answered ({labels}); their values are averaged per step")
    return series


def _labels(metric: dict[str, str]) -> str:
    return "{" + ",".join(f"{key}={value}" for key, value in sorted(metric.items())) + "}"
