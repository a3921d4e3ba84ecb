"""A stage type for tests only: its task performs a countable side effect exactly once per key.

Loaded by worker processes through ``SPINWEB_EXTRA_STAGE_MODULES``. The side effect is a file
named after the task's idempotency key, created with O_EXCL: a re-run after a crash finds the
file and does not do the work again, as a provider call with an idempotency key would.
Every attempt is also appended to ``attempts.log``, so tests can see that re-runs happened.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pipelines.engine.types import StageType, Task, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution


@register_stage
class SideEffectStage(StageType):
    type = "sideEffect"

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["sideEffect"]


@register_task
class SideEffectTask(Task):
    name = "sideEffect"

    def run(self, ctx: TaskContext) -> TaskResult:
        folder = Path(ctx.stage.context["directory"])
        record = {"execution": str(ctx.execution.id), "stage": ctx.stage.ref_id, "key": ctx.idempotency_key}
        with (folder / "attempts.log").open("a") as log:
            log.write(json.dumps(record) + "\n")
        try:
            fd = os.open(folder / f"effect-{ctx.idempotency_key}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return TaskResult.succeeded(effect="already done")  # a re-run after a crash
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(record))
        # The rest of the work takes a moment: a worker killed now has done the effect but not
        # recorded the task's success, the case idempotency keys exist for.
        time.sleep(ctx.stage.context.get("durationMs", 0) / 1000)
        return TaskResult.succeeded(effect="done")
