"""A load balancer's recent answers per server group, second by second, for canary analysis.

Each second a group answered in keeps: requests, 5xx answers, the latency sum and a latency
histogram (``BOUNDS_MS``, plus one bucket above the last bound). Only the last ``RETAIN_SECONDS``
are kept, and only seconds with answers, so memory stays bounded per group whatever the traffic.

``window(group, start, end, step)`` sums the seconds per step: the step at ``t`` covers the
answers in ``[t - step, t)``. A step reaching back before what is retained (before the load
balancer started, or more than an hour ago) or into the future is ``known: false``.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

RETAIN_SECONDS = 3600
MAX_STEPS = 10_000
BOUNDS_MS = (1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10_000, 30_000)


class Second:
    __slots__ = ("buckets", "errors", "latency_ms", "requests", "when")

    def __init__(self, when: int) -> None:
        self.when = when
        self.requests = 0
        self.errors = 0
        self.latency_ms = 0.0
        self.buckets = array("I", bytes(4 * (len(BOUNDS_MS) + 1)))

    def add(self, code: int, milliseconds: float) -> None:
        self.requests += 1
        self.errors += code >= 500
        self.latency_ms += milliseconds
        self.buckets[_bucket(milliseconds)] += 1


def _bucket(milliseconds: float) -> int:
    for index, bound in enumerate(BOUNDS_MS):
        if milliseconds <= bound:
            return index
    return len(BOUNDS_MS)


class History:
    """Thread-safe; ``clock`` is injectable for tests."""

    def __init__(self, retain: int = RETAIN_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.retain = retain
        self.clock = clock
        self.started = int(clock())
        self._groups: dict[str, deque[Second]] = {}
        self._lock = threading.Lock()

    def record(self, group: str, code: int, seconds: float) -> None:
        now = int(self.clock())
        with self._lock:
            seconds_of_group = self._groups.setdefault(group, deque())
            if not seconds_of_group or seconds_of_group[-1].when < now:
                seconds_of_group.append(Second(now))
                self._forget_before(now - self.retain)
            seconds_of_group[-1].add(code, seconds * 1000.0)

    def _forget_before(self, oldest: int) -> None:
        for group in list(self._groups):
            kept = self._groups[group]
            while kept and kept[0].when < oldest:
                kept.popleft()
            if not kept:
                del self._groups[group]

    def window(self, group: str, start: int, end: int, step: int) -> dict[str, Any]:
        if step < 1 or end < start or (end - start) // step + 1 > MAX_STEPS:
            raise ValueError(f"need 1 <= step and start <= end, with at most {MAX_STEPS} steps")
        now = int(self.clock())
        since = max(self.started, now - self.retain)
        with self._lock:
            seconds = {entry.when: entry for entry in self._groups.get(group, ()) if start - step <= entry.when < end}
        points = [_point(t, step, seconds, since, now) for t in range(start, end + 1, step)]
        return {
            "serverGroup": group,
            "step": step,
            "retainedSince": since,
            "now": now,
            "boundsMs": list(BOUNDS_MS),
            "points": points,
        }


def _point(t: int, step: int, seconds: dict[int, Second], since: int, now: int) -> dict[str, Any]:
    if t - step < since or t > now + 1:
        return {"t": t, "known": False}
    inside = [seconds[when] for when in range(t - step, t) if when in seconds]
    buckets = [0] * (len(BOUNDS_MS) + 1)
    for entry in inside:
        for index, count in enumerate(entry.buckets):
            buckets[index] += count
    return {
        "t": t,
        "known": True,
        "requests": sum(entry.requests for entry in inside),
        "errors": sum(entry.errors for entry in inside),
        "latencySumMs": round(sum(entry.latency_ms for entry in inside), 3),
        "buckets": buckets,
    }
