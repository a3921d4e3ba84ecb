"""``pipeline``: run another pipeline as a child, and by default wait for it (Orca's PipelineStage).

Fields: ``application`` (the child's; default the parent's), ``pipeline`` (the child's config
id), ``pipelineParameters`` (evaluated when the stage starts) and ``waitForCompletion``
(default true). The child's trigger links back to the parent (``trigger.parentExecution``);
the stage's context links to the child (``executionId``, ``application``, ``pipeline``).

Who may start the child, checked again when the stage runs (grants may change after a save):
a run started by a person acts as that person, who needs EXECUTE on the child's application;
a run started without a person (a trigger) may start only pipelines of its own application,
since nobody's permissions vouch for reaching into another application.

A child's end wakes the parent's waiting task at once (:func:`on_execution_finished`); the
task also looks every ``POLL`` in case that wake-up was lost. A parent stage that is canceled
(the run canceled, or halted by a failure elsewhere) cancels its child.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import receiver

from pipelines import actions
from pipelines.engine import clock
from pipelines.engine.events import execution_finished
from pipelines.engine.types import StageType, Task, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import Execution, Pipeline, StageExecution, TaskExecution, is_uuid
from pipelines.statuses import ACTIVE, COMPLETED, HALTED, Status
from policies.types import PolicyDenied
from spinweb.models import AuditSource
from spinweb.permissions import Access

STAGE_TYPE, START_TASK, MONITOR_TASK = "pipeline", "startPipeline", "monitorPipeline"
# How often a waiting stage looks at its child when no wake-up came.
POLL = timedelta(seconds=10)


def _expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def waits(context: Mapping[str, Any]) -> bool:
    """``waitForCompletion``, true unless it says false (a string when it was an expression)."""
    value = context.get("waitForCompletion", True)
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return bool(value)


@register_stage
class PipelineStage(StageType):
    type = STAGE_TYPE
    label = "Pipeline"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = []
        pipeline = stage.get("pipeline")
        if not isinstance(pipeline, str) or not pipeline.strip():
            issues.append(("pipeline", "pipeline is required: the id of the pipeline to run."))
        elif not _expression(pipeline) and not is_uuid(pipeline):
            issues.append(("pipeline", f"pipeline must be a pipeline id (a UUID), not {pipeline!r}."))
        application = stage.get("application")
        if "application" in stage and (not isinstance(application, str) or not application.strip()):
            issues.append(("application", "application must be the name of an application."))
        if "pipelineParameters" in stage and not isinstance(stage["pipelineParameters"], dict):
            issues.append(("pipelineParameters", "pipelineParameters must be an object of parameter values."))
        wait = stage.get("waitForCompletion")
        if "waitForCompletion" in stage and not isinstance(wait, bool) and not _expression(wait):
            issues.append(("waitForCompletion", "waitForCompletion must be true or false."))
        return issues

    def tasks(self, stage: StageExecution) -> list[str]:
        return [START_TASK, MONITOR_TASK] if waits(stage.context) else [START_TASK]


class ChildTask(Task):
    """Both tasks stop the child on cancel. The engine calls ``on_cancel`` only for a task that is
    running; between the start and the wait none is, and ``on_execution_finished`` covers that."""

    def on_cancel(self, ctx: TaskContext) -> None:
        cancel_children([ctx.stage], ctx.execution)


@register_task
class StartPipelineTask(ChildTask):
    """Start the child once per task row: its trigger carries this task's idempotency key.

    The parent's row lock is held while the child is looked for and started. A re-run after a
    crash finds the child by the key instead of starting another; a cancel of the parent either
    comes first (nothing is started) or after (the child exists and the cancel stops it). A
    restarted stage has new task rows, hence a new key, hence a new child.
    """

    name = START_TASK

    def run(self, ctx: TaskContext) -> TaskResult:
        with transaction.atomic():
            parent = actions._locked(ctx.execution)
            if parent.status in COMPLETED:
                return TaskResult.terminal(f"The execution ended ({parent.status}) before the child started.")
            child = _started_by(ctx.idempotency_key)
            if child is None:
                started = _start(ctx, parent)
                if isinstance(started, str):
                    return TaskResult.terminal(started)
                child = started
        return _started(child)


def _started_by(key: str) -> Execution | None:
    found = Execution.objects.select_related("application").filter(trigger_type=STAGE_TYPE, trigger__parentTaskKey=key)
    return found.first()


def _started(child: Execution) -> TaskResult:
    links = {
        "executionId": str(child.id),
        "executionName": child.name,
        "application": child.application.name,
        "pipeline": str(child.pipeline_id),
    }
    return TaskResult(Status.SUCCEEDED, context=links, outputs={"executionId": str(child.id)})


def _start(ctx: TaskContext, parent: Execution) -> Execution | str:
    """Start the child, or say why it was not started."""
    context = ctx.stage.context
    application = context.get("application") or parent.application.name
    pipeline_id = context.get("pipeline")
    parameters = context.get("pipelineParameters") or {}
    if not isinstance(parameters, dict):
        return "pipelineParameters must be an object of parameter values."
    found = Pipeline.objects.select_related("application").prefetch_related("application__grants")
    child = found.filter(pk=pipeline_id, application__name=application).first() if is_uuid(pipeline_id) else None
    if child is None:
        return f"There is no pipeline {pipeline_id!r} in application {application!r}."
    refusal = refusal_for(parent, child)
    if refusal:
        return refusal
    trigger = _trigger(ctx, parent)
    try:
        return actions.start_execution(
            parent.started_by, child, parameters=parameters, trigger=trigger, source=AuditSource.SYSTEM
        )
    except ValidationError as exc:
        return f"The pipeline {child} was not started: {' '.join(exc.messages)}"
    except PolicyDenied as exc:
        return f"The pipeline {child} was not started: {exc}"


def refusal_for(parent: Execution, child: Pipeline) -> str:
    """Why ``parent`` may not start ``child`` ("" when it may); the rule is the module's docstring."""
    target = f"{child.application.name}/{child.name}"
    user = parent.started_by
    if user is not None:
        if Access.EXECUTE.value in child.application.levels_for(user):
            return ""
        return (
            f"The user {user.get_username()} may not run pipelines of application {child.application.name}, "
            f"so {target} was not started."
        )
    if child.application_id == parent.application_id:
        return ""
    return (
        f"A run started by a trigger may only start pipelines of its own application "
        f"({parent.application.name}), so {target} was not started."
    )


def _trigger(ctx: TaskContext, parent: Execution) -> dict[str, Any]:
    """Spinnaker's pipeline trigger (``parentPipelineId`` is the parent *execution*'s id)."""
    return {
        "type": STAGE_TYPE,
        "parentExecution": {
            "id": str(parent.id),
            "application": parent.application.name,
            "name": parent.name,
            "pipelineConfigId": str(parent.pipeline_id) if parent.pipeline_id else None,
        },
        "parentPipelineStageId": str(ctx.stage.id),
        "parentPipelineId": str(parent.id),
        "parentPipelineName": parent.name,
        "parentPipelineApplication": parent.application.name,
        "parentStatus": Status.RUNNING.value,
        "parentTaskKey": ctx.idempotency_key,
    }


@register_task
class MonitorPipelineTask(ChildTask):
    """RUNNING while the child is active (BUFFERED included), then the child's outcome."""

    name = MONITOR_TASK
    # Orca's; stageTimeoutMs overrides it.
    timeout = timedelta(hours=12)

    def run(self, ctx: TaskContext) -> TaskResult:
        child_id = ctx.stage.context.get("executionId")
        child = Execution.objects.select_related("application").filter(pk=child_id).first()
        if child is None:
            return TaskResult.terminal(f"The child execution {child_id} no longer exists.")
        if child.status in ACTIVE:
            return TaskResult.running(clock.now() + POLL)
        outputs = {"status": child.status, "executionId": str(child.id)}
        if child.status == Status.SUCCEEDED:
            return TaskResult(Status.SUCCEEDED, outputs=outputs)
        # A task ends SUCCEEDED or TERMINAL only: a canceled child fails the stage and says so.
        return TaskResult(Status.TERMINAL, message=ended_message(child), outputs=outputs)


def ended_message(child: Execution) -> str:
    """ "Child pipeline shop/deploy (<id>) ended TERMINAL: <why>", the why from the child itself."""
    if child.status == Status.CANCELED:
        why = f"canceled by {child.canceled_by or 'someone'}"
        why += f" ({child.cancellation_reason})" if child.cancellation_reason else ""
    else:
        failed = child.stages.filter(status__in=HALTED).exclude(failure_message="").order_by("position")
        why = failed.values_list("failure_message", flat=True).first() or ""
    summary = f"Child pipeline {child.application.name}/{child.name} ({child.id}) ended {child.status}"
    return f"{summary}: {why}" if why else f"{summary}."


# Reacting to ends of runs ------------------------------------------------------------------


@receiver(execution_finished, dispatch_uid="pipelines.stages.pipeline")
def on_execution_finished(sender: Any, execution_id: Any, **kwargs: Any) -> None:
    """A child ended: wake its parent's stage. A parent ended: cancel children of canceled stages."""
    execution = Execution.objects.select_related("application").filter(pk=execution_id).first()
    if execution is None:
        return
    wake_parent(execution)
    if execution.status in HALTED:
        canceled = StageExecution.objects.filter(execution=execution, type=STAGE_TYPE, status=Status.CANCELED)
        cancel_children(list(canceled), execution)


def wake_parent(child: Execution) -> None:
    """Run the parent stage's waiting task now instead of at its next poll."""
    trigger = child.trigger
    stage_id, parent_id = trigger.get("parentPipelineStageId"), trigger.get("parentPipelineId")
    if trigger.get("type") != STAGE_TYPE or not is_uuid(stage_id) or not is_uuid(parent_id):
        return
    with transaction.atomic():
        parent = Execution.objects.select_for_update(of=("self",)).filter(pk=parent_id).first()
        if parent is None:
            return
        stage = StageExecution.objects.filter(pk=stage_id, execution=parent, status=Status.RUNNING).first()
        if stage is not None:
            actions._wake(stage)


def cancel_children(stages: Iterable[StageExecution], parent: Execution) -> None:
    """Cancel the active children that these stages' current start tasks started.

    Keys of the current task rows only: a restarted stage does not cancel an earlier child.
    """
    starts = TaskExecution.objects.filter(stage__in=stages, name=START_TASK)
    keys = [str(pk) for pk in starts.values_list("pk", flat=True)]
    if not keys:
        return
    children = Execution.objects.filter(trigger_type=STAGE_TYPE, status__in=ACTIVE, trigger__parentTaskKey__in=keys)
    label = f"{parent.application.name}/{parent.name} ({parent.id})"
    ended = "was canceled" if parent.status == Status.CANCELED else f"ended {parent.status}"
    reason = f"The parent execution {label} {ended}."
    for child in children:
        with contextlib.suppress(actions.ActionRefused):  # it ended meanwhile
            actions.cancel(None, child, reason=reason, source=AuditSource.SYSTEM)
