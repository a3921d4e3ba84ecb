"""``manualJudgment``: wait for a person to continue or stop, without holding a worker."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pipelines.engine.types import StageType, Task, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution

CONTINUE, STOP = "continue", "stop"


@register_stage
class ManualJudgmentStage(StageType):
    type = "manualJudgment"
    label = "Manual judgment"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = []
        inputs = stage.get("judgmentInputs", [])
        if not isinstance(inputs, list) or not all(isinstance(i, dict) and "value" in i for i in inputs):
            issues.append(("judgmentInputs", 'judgmentInputs must be a list of {"value": …} choices.'))
        roles = stage.get("selectedStageRoles", [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            issues.append(("selectedStageRoles", "selectedStageRoles must be a list of group names."))
        if "instructions" in stage and not isinstance(stage["instructions"], str):
            issues.append(("instructions", "instructions must be text."))
        return issues

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["waitForJudgment"]


@register_task
class WaitForJudgmentTask(Task):
    name = "waitForJudgment"
    # Spinnaker's default; stageTimeoutMs overrides it.
    timeout = timedelta(days=3)

    def run(self, ctx: TaskContext) -> TaskResult:
        decision = ctx.stage.context.get("judgmentStatus")
        who = ctx.stage.context.get("lastModifiedBy", "someone")
        if decision == CONTINUE:
            return TaskResult.succeeded(judgmentStatus=CONTINUE, judgmentInput=ctx.stage.context.get("judgmentInput"))
        if decision == STOP:
            return TaskResult.terminal(f"Stopped by {who} at the manual judgment.")
        # Woken by the judge action; the timeout check still applies when it is.
        started = ctx.task.started_at
        return TaskResult.running(started + self.timeout if started else None)
