"""``wait``: wait ``waitTime`` seconds without holding a worker; an operator may skip the rest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pipelines.engine import clock
from pipelines.engine.types import StageType, Task, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution


def whole_seconds(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


@register_stage
class WaitStage(StageType):
    type = "wait"
    label = "Wait"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        value = stage.get("waitTime")
        if isinstance(value, str) and "${" in value:
            return []
        seconds = whole_seconds(value)
        if seconds is None or seconds < 0:
            return [("waitTime", "waitTime must be a whole number of seconds (0 or more).")]
        return []

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["wait"]


@register_task
class WaitTask(Task):
    name = "wait"
    timeout = timedelta(days=365)

    def run(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        seconds = whole_seconds(context.get("waitTime"))
        if seconds is None or seconds < 0:
            return TaskResult.terminal(f"waitTime must be a whole number of seconds, not {context.get('waitTime')!r}.")
        started = ctx.stage.started_at or clock.now()
        until = started + timedelta(seconds=seconds)
        if context.get("skipRemainingWait") or clock.now() >= until:
            return TaskResult.succeeded()
        return TaskResult.running(until, waitUntil=_iso(until))


def _iso(moment: datetime) -> str:
    return moment.isoformat()
