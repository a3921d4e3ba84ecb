"""Next firing times on the trigger's own wall clock, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipelines.triggers.cron import next_firings

PARIS = "Europe/Paris"  # 2026: clocks jump 02:00 -> 03:00 on 29 March, fall 03:00 -> 02:00 on 25 October


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def firings(expression: str, since: str, count: int = 3, zone: str | None = PARIS) -> list[str]:
    trigger = {"type": "cron", "cronExpression": expression, "timeZone": zone}
    return [moment.isoformat() for moment in next_firings(trigger, count, at(since))]


def test_it_keeps_the_local_hour_when_summer_time_starts() -> None:
    assert firings("0 0 10 ? * MON-FRI", "2026-03-26T12:00:00") == [
        "2026-03-27T10:00:00+01:00",  # 09:00 UTC
        "2026-03-30T10:00:00+02:00",  # 08:00 UTC: the same 10:00 in Paris
        "2026-03-31T10:00:00+02:00",
    ]


def test_it_fires_a_time_lost_to_the_spring_gap_right_after_the_gap() -> None:
    assert firings("0 30 2 * * ?", "2026-03-28T12:00:00") == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_it_fires_a_repeated_autumn_time_once() -> None:
    assert firings("0 30 2 * * ?", "2026-10-24T12:00:00") == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]


def test_it_fires_every_real_hour_when_the_hour_is_a_wildcard() -> None:
    assert firings("0 0 * * * ?", "2026-10-24T22:30:00", count=4) == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_it_uses_the_configured_zone_when_the_trigger_names_none(settings: Any) -> None:
    settings.SPINWEB_CRON_TIME_ZONE = "America/New_York"
    assert firings("0 9 * * *", "2026-03-07T15:00:00", count=2, zone=None) == [
        "2026-03-08T09:00:00-04:00",  # the morning New York moved its clocks
        "2026-03-09T09:00:00-04:00",
    ]


def test_it_gives_no_times_for_an_expression_it_cannot_read() -> None:
    assert firings("not cron at all", "2026-03-07T12:00:00") == []
