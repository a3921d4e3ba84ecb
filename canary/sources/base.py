"""What every metric source shares: the scope asked about, the series returned, retries, templates.

A source turns one Kayenta ``metrics[]`` entry (its ``query`` object) and a ``Scope`` into a
``Series`` on the scope's step grid: one value per step from ``start`` to ``end``, NaN where the
source had nothing, ``reason`` saying why data is missing. A source that cannot answer (down,
bad query) raises ``SourceError`` after its retries; the caller turns that into an Error
classification, never a Pass.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

T = TypeVar("T")

# Waits between attempts; the third failure is final.
DEFAULT_BACKOFF: tuple[float, ...] = (0.5, 2.0)


@dataclass(frozen=True)
class Scope:
    """Kayenta's scope: which server group, where, when (tz-aware), at what resolution."""

    scope: str
    location: str
    start: datetime
    end: datetime
    step_seconds: int
    account: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a scope's start and end must be timezone-aware")
        if self.step_seconds < 1:
            raise ValueError("a scope's step must be at least 1 second")
        if self.end < self.start:
            raise ValueError("a scope ends before it starts")

    def grid(self) -> list[datetime]:
        """Every step from ``start`` to ``end`` inclusive."""
        count = int((self.end - self.start).total_seconds()) // self.step_seconds + 1
        return [self.start + timedelta(seconds=index * self.step_seconds) for index in range(count)]

    def describe(self) -> str:
        start, end = self.start.astimezone(UTC).isoformat(), self.end.astimezone(UTC).isoformat()
        return f"{self.scope} in {self.location or 'any location'} from {start} to {end}"


@dataclass
class Series:
    """One metric's values on the scope's grid (NaN for a gap; ±Inf kept for the judge)."""

    values: list[float]
    timestamps: list[datetime]
    query: str
    reason: str = ""
    notes: list[str] = field(default_factory=list)


class SourceError(Exception):
    """The source could not answer: the message names the source and its cause."""


class RetryableError(SourceError):
    """A failure worth another attempt (unreachable, timeout, 5xx)."""


class MetricSource(ABC):
    """A kind of metric store. ``backoff`` and ``sleep`` are injectable so tests never wait."""

    type: ClassVar[str]

    def __init__(
        self, *, backoff: Sequence[float] = DEFAULT_BACKOFF, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.backoff = tuple(backoff)
        self.sleep = sleep

    @abstractmethod
    def fetch(self, metric: dict[str, Any], scope: Scope, *, templates: dict[str, str] | None = None) -> Series:
        """The metric's series for ``scope``; raises ``SourceError`` once the retries are used up."""

    @abstractmethod
    def query_text(self, metric: dict[str, Any], scope: Scope, *, templates: dict[str, str] | None = None) -> str:
        """What ``fetch`` would send, without sending it."""

    def with_retries(self, call: Callable[[], T]) -> T:
        """``call()``, again after each wait in ``backoff`` while it raises ``RetryableError``."""
        for wait in self.backoff:
            try:
                return call()
            except RetryableError:
                self.sleep(wait)
        try:
            return call()
        except RetryableError as error:
            attempts = len(self.backoff) + 1
            raise SourceError(f"{error} (gave up after {attempts} attempts)") from None


def query_of(metric: Mapping[str, Any], source: str) -> dict[str, Any]:
    query = metric.get("query")
    if not isinstance(query, dict):
        raise SourceError(f"{source}: metric {metric.get('name')!r} has no query object")
    return query


def substitute(template: str, scope: Scope) -> str:
    """Kayenta's template variables: ``${scope}`` and ``${location}``."""
    return template.replace("${scope}", scope.scope).replace("${location}", scope.location)


def on_grid(points: Mapping[datetime, float], scope: Scope, query: str, source: str) -> Series:
    """Put ``points`` on the scope's steps (nearest step), NaN where nothing landed, with the reason."""
    grid = scope.grid()
    if not points:
        return Series([], [], query, f"{source}: no data for {scope.describe()}")
    values = [math.nan] * len(grid)
    landed: set[int] = set()
    for when, value in points.items():
        index = round((when - scope.start).total_seconds() / scope.step_seconds)
        if 0 <= index < len(grid):
            values[index] = value
            landed.add(index)
    missing = len(grid) - len(landed)
    reason = f"{source}: {missing} of {len(grid)} steps have no data" if missing else ""
    return Series(values, grid, query, reason)


def mean_ignoring_nan(values: Sequence[float]) -> float:
    """The mean of the values that are not NaN (NaN when none; +Inf with -Inf gives NaN)."""
    present = [value for value in values if not math.isnan(value)]
    return sum(present) / len(present) if present else math.nan
