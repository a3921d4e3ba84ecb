"""Metric sources for canary analysis, looked up by a metric's ``query.type``.

series = source_for(metric["query"]["type"]).fetch(metric, scope, templates=config.get("templates"))
"""

from __future__ import annotations

from canary.sources.base import MetricSource, Scope, Series, SourceError
from canary.sources.builtin import BuiltinSource
from canary.sources.cloudwatch import CloudWatchSource
from canary.sources.prometheus import PrometheusSource

__all__ = ["SOURCE_TYPES", "MetricSource", "Scope", "Series", "SourceError", "source_for"]

_SOURCES: dict[str, type[MetricSource]] = {
    source.type: source for source in (BuiltinSource, PrometheusSource, CloudWatchSource)
}
SOURCE_TYPES: frozenset[str] = frozenset(_SOURCES)


def source_for(query_type: str) -> MetricSource:
    """A source for ``query_type``; ``SourceError`` naming the known types when there is none."""
    source = _SOURCES.get(query_type)
    if source is None:
        known = ", ".join(sorted(SOURCE_TYPES))
        raise SourceError(f"unknown metric source {query_type!r}: use one of {known}")
    return source()
