"""The policy gates of stages and tasks: the engine asks them before a stage plans anything and
before a task first runs (see :mod:`policies.gate`, the one function every hook goes through).
"""

from __future__ import annotations

from pipelines.models import Execution, StageExecution, TaskExecution
from policies import gate, inputs
from policies.hooks import Hook, stage_package, task_package


def stage_allowed(execution: Execution, stage: StageExecution) -> bool:
    """The stage policies' decision on a started stage (context evaluated, nothing planned yet).

    A denial becomes the stage's failure message; warnings go to ``context["policyWarnings"]``.
    """
    decision = gate.decide(
        Hook.STAGE,
        stage_package(stage.type),
        lambda: inputs.stage_input(execution, stage, stage.context),
        application=execution.application.name,
        execution_id=execution.pk,
        stage_id=stage.pk,
        subject=f"stage {stage.name} ({stage.type})",
    )
    if not decision.allowed:
        stage.failure_message = " ".join(decision.denials)
        stage.save(update_fields=["failure_message"])
        return False
    if decision.warnings:
        stage.context = {**stage.context, "policyWarnings": decision.warnings}
        stage.save(update_fields=["context"])
    return True


def task_denials(task: TaskExecution, stage: StageExecution, execution: Execution) -> list[str]:
    """The task policies' denials, asked once per task: a task that recorded a RUNNING result has
    passed (``gate_passed``, set by ``_schedule``), so its later runs are not gated again."""
    decision = gate.decide(
        Hook.TASK,
        task_package(task.name),
        lambda: inputs.task_input(execution, stage, task),
        application=execution.application.name,
        execution_id=execution.pk,
        stage_id=stage.pk,
        subject=f"task {task.name} of stage {stage.name}",
    )
    return decision.denials
