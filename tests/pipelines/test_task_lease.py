"""A task that asks for a longer claim than SPINWEB_TASK_LEASE_SECONDS keeps it while it runs,
so a slow call (a webhook's read timeout) is not handed to a second worker halfway through."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pipelines.engine import clock
from pipelines.engine.runner import due_tasks
from pipelines.engine.types import StageType, Task, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import Execution, Pipeline, StageExecution, TaskExecution
from tests.pipelines.conftest import stage


def _probe(ctx: TaskContext) -> TaskResult:
    """What another worker would see of this task one minute from now, and the claim left."""
    row = TaskExecution.objects.get(pk=ctx.task.pk)
    assert row.lease_expires_at is not None
    later = clock.now() + timedelta(minutes=1)
    return TaskResult.succeeded(
        claimSeconds=(row.lease_expires_at - clock.now()).total_seconds(),
        takenOverAfterAMinute=due_tasks(later).filter(pk=row.pk).exists(),
    )


@register_stage
class LeaseProbeStage(StageType):
    type = "leaseProbe"

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["longLeaseProbe" if stage.context.get("long") else "leaseProbe"]


@register_task
class LeaseProbeTask(Task):
    name = "leaseProbe"

    def run(self, ctx: TaskContext) -> TaskResult:
        return _probe(ctx)


@register_task
class LongLeaseProbeTask(Task):
    name = "longLeaseProbe"
    lease = timedelta(minutes=10)

    def run(self, ctx: TaskContext) -> TaskResult:
        return _probe(ctx)


def test_it_keeps_a_long_claim_for_a_task_that_asks_for_one(
    save: Callable[..., Pipeline], run: Callable[..., Execution], settings: Any
) -> None:
    settings.SPINWEB_TASK_LEASE_SECONDS = 30
    execution = run(save(stage("1", "leaseProbe", "Short"), stage("2", "leaseProbe", "Long", long=True)))

    outputs = {row.name: row.outputs for row in execution.stages.all()}
    assert execution.status == "SUCCEEDED"
    assert outputs["Short"]["claimSeconds"] <= 30
    assert outputs["Short"]["takenOverAfterAMinute"] is True
    assert outputs["Long"]["claimSeconds"] > 9 * 60
    assert outputs["Long"]["takenOverAfterAMinute"] is False
