"""The execution window: a synthetic stage that waits until the window opens (Orca's
``restrictExecutionDuringTimeWindow``). Days are 1 = Sunday … 7 = Saturday."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from pipelines.engine import clock
from pipelines.engine.types import StageType, Task, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution


@register_stage
class ExecutionWindowStage(StageType):
    type = "restrictExecutionDuringTimeWindow"
    label = "Execution window"

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["waitForExecutionWindow"]


def spinnaker_day(moment: datetime) -> int:
    return (moment.isoweekday() % 7) + 1  # Monday=1 in ISO -> 2; Sunday=7 -> 1


def next_opening(window: dict[str, Any], now: datetime) -> datetime | None:
    """``now`` when inside the window, else the next moment it opens (None: never)."""
    days = set(window.get("days") or range(1, 8))
    ranges = window.get("whitelist") or []
    for offset in range(0, 8):
        day = (now + timedelta(days=offset)).replace(hour=0, minute=0, second=0, microsecond=0)
        if spinnaker_day(day) not in days:
            continue
        for item in sorted(ranges, key=lambda r: (r.get("startHour", 0), r.get("startMin", 0))):
            start = day.replace(hour=int(item.get("startHour", 0)), minute=int(item.get("startMin", 0)))
            end = day.replace(hour=int(item.get("endHour", 23)), minute=int(item.get("endMin", 59)))
            if end <= start:
                end += timedelta(days=1)
            if start <= now < end:
                return now
            if now < start:
                return start
    return None


@register_task
class WaitForWindowTask(Task):
    name = "waitForExecutionWindow"
    timeout = timedelta(days=8)

    def run(self, ctx: TaskContext) -> TaskResult:
        if ctx.stage.context.get("skipRemainingWait"):
            return TaskResult.succeeded()
        window = ctx.stage.context.get("restrictedExecutionWindow") or {}
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        now = clock.now().astimezone(zone)
        opening = next_opening(window, now)
        if opening is None:
            return TaskResult.terminal("The execution window never opens: check its days and hours.")
        if opening <= now:
            return TaskResult.succeeded()
        return TaskResult.running(opening, windowOpensAt=opening.isoformat())
