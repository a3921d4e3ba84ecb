"""Live figures of a local load balancer for the clusters page.

A load balancer's counters only grow (``spinweb_lb_*`` on its admin port). The page polls every
few seconds; each read is kept in the cache, so the next one can say what happened in between:
requests per second, the share of answers below 500, latency percentiles and which server group
answered, over that window. The first read (or one after a long pause) gives the figures since
the load balancer started instead, and says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from clouds.models import LoadBalancer, ProviderKind
from clouds.providers.local.traffic import (
    LoadBalancerTraffic,
    TrafficUnavailable,
    histogram_quantile_ms,
    load_balancer_traffic,
)

# A previous read older than this is not a "live" window any more.
LONGEST_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class LiveTraffic:
    requests: int  # in the window, or since the start
    requests_per_second: float | None  # None without a window
    success_rate: float | None  # percent of answers below 500; None without requests
    p50_ms: float | None
    p95_ms: float | None
    shares: dict[str, float] = field(default_factory=dict)  # percent of answers per server group
    window_seconds: float | None = None  # None: the figures are since the load balancer started


def live_traffic(balancer: LoadBalancer, now: float | None = None) -> LiveTraffic | None:
    """The balancer's figures since the previous call (see the module docstring); None when it
    is not a local load balancer or does not answer."""
    if balancer.account.provider != ProviderKind.LOCAL or not balancer.address:
        return None
    try:
        figures = load_balancer_traffic(balancer.address, home=settings.SPINWEB_LOCAL_HOME)
    except TrafficUnavailable:
        return None
    now = time.monotonic() if now is None else now
    key = f"spinweb:lb-traffic:{balancer.pk}"
    previous: tuple[float, LoadBalancerTraffic] | None = cache.get(key)
    cache.set(key, (now, figures), timeout=int(LONGEST_WINDOW_SECONDS * 2))
    if (
        previous is None
        or not 0 < now - previous[0] <= LONGEST_WINDOW_SECONDS
        or figures.requests < previous[1].requests
    ):
        return _since_start(figures)
    return _window(previous[1], figures, now - previous[0])


def _since_start(figures: LoadBalancerTraffic) -> LiveTraffic:
    return LiveTraffic(
        requests=figures.requests,
        requests_per_second=None,
        success_rate=figures.success_rate,
        p50_ms=figures.p50_ms,
        p95_ms=figures.p95_ms,
        shares=_shares(figures.by_server_group),
    )


def _window(before: LoadBalancerTraffic, after: LoadBalancerTraffic, seconds: float) -> LiveTraffic:
    requests, errors = after.requests - before.requests, after.errors - before.errors
    earlier = dict(before.buckets)
    buckets = [(bound, count - earlier.get(bound, 0.0)) for bound, count in after.buckets]
    answered = {group: count - before.by_server_group.get(group, 0) for group, count in after.by_server_group.items()}
    return LiveTraffic(
        requests=requests,
        requests_per_second=round(requests / seconds, 1),
        success_rate=round(100.0 * (requests - errors) / requests, 1) if requests else None,
        p50_ms=histogram_quantile_ms(buckets, 0.50),
        p95_ms=histogram_quantile_ms(buckets, 0.95),
        shares=_shares(answered),
        window_seconds=seconds,
    )


def _shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {group: round(100.0 * count / total, 1) for group, count in sorted(counts.items()) if count} if total else {}
