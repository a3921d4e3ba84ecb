"""The engine: start stages when their upstreams complete, run tasks, complete stages and runs.

Contract, as in ARCHITECTURE.md:
- The database is the only state. Every change to an execution happens in a transaction that
  holds that execution's row lock (``select_for_update``), so two workers never interleave
  within one execution, and a worker killed at any instruction leaves the last commit intact.
- A worker claims a task by compare-and-swap on its lease. A killed worker's lease expires and
  the sweeper hands the task to another worker, which runs it again with the same idempotency key.
- Tasks are queued only after commit. Waits are ``next_run_at`` values, never sleeps.
- A downstream stage starts in the same transaction in which its last upstream completes.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from pipelines.engine import clock
from pipelines.engine.context import evaluate_stage
from pipelines.engine.dispatch import collecting, enqueue, enqueue_after_commit
from pipelines.engine.events import execution_finished
from pipelines.engine.gates import stage_allowed, task_denials
from pipelines.engine.types import TASKS, SyntheticStage, TaskContext, TaskResult, TransientError, stage_type
from pipelines.models import Execution, StageExecution, TaskExecution
from pipelines.statuses import ACTIVE, HALTED, PASSABLE, Status, derive_stage_status, failure_status, swap
from policies import inputs
from policies.context import acting

logger = logging.getLogger(__name__)
Owner = StageExecution.Owner
WINDOW_STAGE = "restrictExecutionDuringTimeWindow"


def _lease() -> timedelta:
    return timedelta(seconds=settings.SPINWEB_TASK_LEASE_SECONDS)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# Starting and advancing -------------------------------------------------------------------


def begin(execution: Execution) -> None:
    """Start a NOT_STARTED execution whose stages exist. Caller holds the execution's row lock."""
    if swap(
        Execution.objects, execution.pk, [Status.NOT_STARTED, Status.BUFFERED], Status.RUNNING, started_at=clock.now()
    ):
        execution.status = Status.RUNNING
        advance(execution)


def advance(execution: Execution) -> None:
    """Start every top-level stage whose upstreams all passed; complete the run when nothing is left.

    Caller holds the execution's row lock. Safe to call any number of times.
    """
    if execution.status != Status.RUNNING:
        return
    # Only the graph's columns: the stages' JSON is read just for the stages that start.
    graph = list(
        execution.stages.filter(parent__isnull=True)
        .order_by("position")
        .values_list("pk", "ref_id", "requisite_ref_ids", "status")
    )
    status_of = {ref: status for _pk, ref, _reqs, status in graph}
    ready = [
        pk
        for pk, _ref, reqs, status in graph
        if status == Status.NOT_STARTED and all(status_of.get(r, Status.SUCCEEDED) in PASSABLE for r in reqs)
    ]
    running = False
    for stage in StageExecution.objects.filter(pk__in=ready).order_by("position"):
        start_stage(execution, stage)
        if execution.status != Status.RUNNING:
            return
        running = running or stage.status == Status.RUNNING
    if running:
        return  # a stage just started and is running: the run cannot be complete
    if ready:
        graph = list(
            execution.stages.filter(parent__isnull=True).values_list("pk", "ref_id", "requisite_ref_ids", "status")
        )
    rows = [(status, reqs, ref) for _pk, ref, reqs, status in graph]
    if not any(_can_still_run(status, reqs, rows) for status, reqs, _ in rows):
        complete_execution(execution)


def _can_still_run(status: str, requisites: list[str], rows: list[tuple[str, list[str], str]]) -> bool:
    if status in {Status.RUNNING, Status.PAUSED}:
        return True
    if status != Status.NOT_STARTED:
        return False
    by_ref = {ref: row_status for row_status, _reqs, ref in rows}
    # Not started and not blocked by a halted upstream: it will start once its upstreams finish.
    return not any(by_ref.get(ref) in HALTED for ref in requisites)


def start_stage(execution: Execution, stage: StageExecution) -> None:
    """NOT_STARTED -> RUNNING: evaluate expressions, plan synthetic stages and tasks, begin."""
    now = clock.now()
    stage.status, stage.started_at = Status.RUNNING, now
    evaluation = evaluate_stage(execution, stage)
    failures = [failure.__dict__ for failure in evaluation.failures]
    if not swap(
        StageExecution.objects,
        stage.pk,
        [Status.NOT_STARTED],
        Status.RUNNING,
        started_at=now,
        context=evaluation.context,
        expression_failures=failures,
    ):
        return
    stage.context, stage.expression_failures = evaluation.context, failures
    if evaluation.enabled is False:
        _finish_stage(execution, stage, Status.SKIPPED)
        return
    if evaluation.failures and stage.config.get("failOnFailedExpressions"):
        first = evaluation.failures[0]
        stage.failure_message = f"Expression {first.expression} at {first.path} failed: {first.reason}"
        stage.save(update_fields=["failure_message"])
        _finish_stage(execution, stage, failure_status(stage.config))
        return
    if not stage_allowed(execution, stage):
        _finish_stage(execution, stage, Status.TERMINAL)
        return
    kind = stage_type(stage.type)
    planned = kind.before_stages(stage)
    windowed = bool(stage.config.get("restrictExecutionDuringTimeWindow")) and stage.type != WINDOW_STAGE
    if windowed:
        # The execution window comes first; the stage's own before-stages then run one by one.
        window = {"restrictedExecutionWindow": stage.context.get("restrictedExecutionWindow", {})}
        planned = [SyntheticStage(WINDOW_STAGE, "Restrict execution during time window", window), *planned]
    # With no before-stages the first task is due at once: created due and queued after commit.
    due = now if not planned else None
    tasks = TaskExecution.objects.bulk_create(
        TaskExecution(
            stage=stage,
            name=name,
            position=index,
            next_run_at=due if index == 0 else None,
            enqueued_at=due if index == 0 else None,
        )
        for index, name in enumerate(kind.tasks(stage))
    )
    before = _add_synthetic(execution, stage, planned, Owner.BEFORE, chained=windowed)
    if before:
        for child in before:
            if not child.requisite_ref_ids:
                start_stage(execution, child)
    elif tasks:
        enqueue_after_commit([tasks[0].pk])
    else:
        _tasks_done(execution, stage)


def _add_synthetic(
    execution: Execution, parent: StageExecution, planned: list[SyntheticStage], owner: str, *, chained: bool
) -> list[StageExecution]:
    """Rows for synthetic stages (refIds ``<parent><N`` before, ``<parent>>N`` after, as Orca)."""
    if not planned:
        return []
    mark = {Owner.BEFORE.value: "<", Owner.AFTER.value: ">", Owner.FAILURE.value: "!"}[owner]
    last = execution.stages.order_by("-position").values_list("position", flat=True).first() or 0
    rows = []
    for index, spec in enumerate(planned, start=1):
        ref = f"{parent.ref_id}{mark}{index}"
        requisites = [f"{parent.ref_id}{mark}{index - 1}"] if chained and index > 1 else []
        config = {"type": spec.type, "name": spec.name, "refId": ref, **spec.context}
        rows.append(
            StageExecution(
                execution=execution,
                parent=parent,
                synthetic_owner=owner,
                ref_id=ref,
                requisite_ref_ids=requisites,
                type=spec.type,
                name=spec.name,
                position=last + index,
                config=config,
            )
        )
    return StageExecution.objects.bulk_create(rows)


def _start_tasks_or_finish(execution: Execution, stage: StageExecution) -> None:
    first = stage.tasks.filter(status=Status.NOT_STARTED).order_by("position").first()
    if first is None:
        _tasks_done(execution, stage)
        return
    _schedule(first, clock.now())


def _schedule(task: TaskExecution, when: datetime | None, *, holder: str | None = None, message: str = "") -> bool:
    """Give the task a due time and release its lease; queue it now when it is due now.

    With ``holder``, only while that worker still holds the lease; False when it does not.
    """
    now = clock.now()
    due = when is not None and when <= now + timedelta(milliseconds=50)
    rows = TaskExecution.objects.filter(pk=task.pk)
    if holder is not None:
        rows = rows.filter(lease_owner=holder, status=Status.RUNNING)
    # A task that ran and asks to run again has passed its policy gate (``gates.task_denials``).
    fields: dict[str, Any] = {"message": message[:2000], "gate_passed": True} if holder is not None else {}
    if not rows.update(
        next_run_at=when, lease_owner="", lease_expires_at=None, enqueued_at=now if due else None, **fields
    ):
        return False
    if due:
        enqueue_after_commit([task.pk])
    return True


def _tasks_done(execution: Execution, stage: StageExecution) -> None:
    """All tasks succeeded: plan and run after-stages one by one, else complete the stage."""
    if not stage.children.filter(synthetic_owner=Owner.AFTER).exists():
        after = _add_synthetic(execution, stage, stage_type(stage.type).after_stages(stage), Owner.AFTER, chained=True)
        if after:
            start_stage(execution, after[0])
            return
    complete_stage(execution, stage)


def complete_stage(execution: Execution, stage: StageExecution) -> None:
    """Derive the stage's status from its tasks and children; run on-failure stages first if any."""
    children = list(stage.children.values_list("synthetic_owner", "status"))
    statuses = [status for owner, status in children if owner != Owner.FAILURE]
    statuses += list(stage.tasks.values_list("status", flat=True))
    status = derive_stage_status(stage.config, statuses)
    if status in HALTED and not any(owner == Owner.FAILURE for owner, _ in children):
        rollback = stage_type(stage.type).on_failure_stages(stage)
        planned = _add_synthetic(execution, stage, rollback, Owner.FAILURE, chained=True)
        if planned:
            start_stage(execution, planned[0])
            return
    _finish_stage(execution, stage, status)


def _finish_stage(execution: Execution, stage: StageExecution, status: str) -> None:
    fields: dict[str, Any] = {}
    if status in HALTED | {Status.FAILED_CONTINUE} and not stage.failure_message:
        # A parent failed through a child: say why, so the parent's row is enough to read.
        failed = stage.children.filter(status=Status.TERMINAL).exclude(failure_message="").first()
        fields["failure_message"] = stage.failure_message = failed.failure_message if failed else ""
    if not swap(StageExecution.objects, stage.pk, [Status.RUNNING, Status.PAUSED], status, **fields):
        return
    stage.status = status
    if stage.parent_id is not None:
        _child_completed(execution, StageExecution.objects.get(pk=stage.parent_id), stage)
        return
    if status == Status.TERMINAL:
        halt(execution, Status.TERMINAL)
        return
    advance(execution)


def _child_completed(execution: Execution, parent: StageExecution, child: StageExecution) -> None:
    if parent.status not in {Status.RUNNING, Status.PAUSED}:
        return
    siblings = list(parent.children.filter(synthetic_owner=child.synthetic_owner).order_by("position"))
    if any(sibling.status in ACTIVE and sibling.status != Status.NOT_STARTED for sibling in siblings):
        return  # parallel before-stages still running
    pending = [sibling for sibling in siblings if sibling.status == Status.NOT_STARTED]
    if child.synthetic_owner == Owner.BEFORE:
        if any(sibling.status in HALTED for sibling in siblings):
            complete_stage(execution, parent)
        elif pending:
            start_stage(execution, pending[0])
        else:
            _start_tasks_or_finish(execution, parent)
    elif child.synthetic_owner == Owner.AFTER:
        if pending and child.status in PASSABLE:
            start_stage(execution, pending[0])
        else:
            complete_stage(execution, parent)
    elif pending:  # on-failure stages run one after another whatever each one's outcome
        start_stage(execution, pending[0])
    else:
        complete_stage(execution, parent)  # keeps the failure that started the on-failure stages


def complete_execution(execution: Execution) -> None:
    """All top-level stages are done (or blocked): the run's status, as Orca's CompleteExecution."""
    rows = list(execution.stages.filter(parent__isnull=True).values_list("status", "config"))
    statuses = {status for status, _ in rows}
    if Status.TERMINAL in statuses:
        status = Status.TERMINAL
    elif Status.CANCELED in statuses:
        status = Status.CANCELED
    elif any(s == Status.STOPPED and c.get("completeOtherBranchesThenFail") for s, c in rows):
        status = Status.TERMINAL
    else:
        status = Status.SUCCEEDED
    if swap(Execution.objects, execution.pk, [Status.RUNNING], status):
        execution.status = status
        _announce(execution)
        _after_execution(execution)


def halt(execution: Execution, status: str, *, canceled_by: str = "", reason: str = "", release: bool = True) -> None:
    """End the run now: running stages and tasks are canceled (their cancel hooks run on a worker)."""
    fields: dict[str, Any] = {}
    if status == Status.CANCELED:
        fields = {"canceled": True, "canceled_by": canceled_by, "cancellation_reason": reason}
    olds = [Status.RUNNING, Status.PAUSED, Status.BUFFERED, Status.NOT_STARTED]
    if not swap(Execution.objects, execution.pk, olds, status, **fields):
        return
    execution.status = status
    now = clock.now()
    running = TaskExecution.objects.filter(stage__execution=execution, status=Status.RUNNING)
    hooks = list(running.values_list("pk", flat=True))
    TaskExecution.objects.filter(stage__execution=execution, status__in=[Status.RUNNING, Status.NOT_STARTED]).update(
        status=Status.CANCELED, ended_at=now, next_run_at=None, parked=False
    )
    execution.stages.filter(status__in=[Status.RUNNING, Status.PAUSED]).update(status=Status.CANCELED, ended_at=now)
    if hooks and settings.SPINWEB_ENGINE_DISPATCH != "none":
        ids = [str(pk) for pk in hooks]
        transaction.on_commit(lambda: _enqueue_cancel_hooks(ids))
    elif hooks:
        transaction.on_commit(lambda: _run_cancel_hooks([str(pk) for pk in hooks]))
    _announce(execution)
    if release:
        _after_execution(execution)


def _announce(execution: Execution) -> None:
    """Send ``execution_finished`` once the run's end is committed (triggers, parent stages listen)."""
    pk = execution.pk
    transaction.on_commit(lambda: _send_finished(pk))


def _send_finished(pk: Any) -> None:
    for receiver, result in execution_finished.send_robust(sender=Execution, execution_id=pk):
        if isinstance(result, Exception):
            logger.error("%r failed on the end of execution %s", receiver, pk, exc_info=result)


def _enqueue_cancel_hooks(ids: list[str]) -> None:
    from django_q.tasks import async_task

    for task_id in ids:
        async_task("pipelines.tasks.run_cancel_hook", task_id, save=False)


def _run_cancel_hooks(ids: list[str]) -> None:
    for task_id in ids:
        run_cancel_hook(task_id)


def run_cancel_hook(task_id: str) -> None:
    task = TaskExecution.objects.select_related("stage__execution").filter(pk=task_id).first()
    if task is None or task.name not in TASKS:
        return
    try:
        TASKS[task.name].on_cancel(TaskContext(task.stage.execution, task.stage, task))
    except Exception:
        logger.exception("The cancel hook of task %s failed", task_id)


def _after_execution(execution: Execution) -> None:
    """A run ended: let runs waiting under the concurrency limit go (see ``concurrency``)."""
    from pipelines.engine.concurrency import release_waiting

    limited = execution.config.get("limitConcurrent", True) or execution.config.get("maxConcurrentExecutions")
    if execution.pipeline_id is not None and limited:
        release_waiting(execution.pipeline_id)


# Running tasks ----------------------------------------------------------------------------


# How long one worker keeps running tasks its own results made due before leaving the rest
# to the queue, so one busy execution cannot hold a worker for long.
CONTINUE_FOR_SECONDS = 2.0


def run_task(task_id: str) -> None:
    """Run a due task, then keep going with the tasks its results make due.

    Of several tasks made due at once (a fan-out), all but the first are also queued, so idle
    workers take them at once; this worker still runs those nobody has claimed when it gets to
    them, so under a long queue an execution does not wait behind the whole queue.
    """
    deadline = time.monotonic() + CONTINUE_FOR_SECONDS
    pending, queued = [task_id], {task_id}
    while pending:
        with collecting() as made_due:
            run_one_task(pending.pop(0))
        enqueue([pk for pk in made_due[1:] if pk not in queued])
        queued.update(made_due[1:])
        pending = made_due + pending
        if time.monotonic() > deadline or settings.SPINWEB_ENGINE_DISPATCH == "none":
            enqueue([pk for pk in pending if pk not in queued])
            return


def run_one_task(task_id: str) -> None:
    """Run one due task once. Safe to call for any id at any time: claims decide who runs it."""
    owner, now = worker_id(), clock.now()
    claimed = (
        due_tasks(now)
        .filter(pk=task_id)
        .update(
            lease_owner=owner,
            lease_expires_at=now + _lease(),
            attempts=F("attempts") + 1,
            enqueued_at=None,
            status=Status.RUNNING,
            started_at=Coalesce(F("started_at"), Value(now)),
        )
    )
    if not claimed:
        return
    task = TaskExecution.objects.select_related("stage__execution__application").get(pk=task_id)
    _extend_lease(task, owner, now)
    stage, execution = task.stage, task.stage.execution
    if execution.status == Status.PAUSED:
        TaskExecution.objects.filter(pk=task.pk, lease_owner=owner).update(
            parked=True, lease_owner="", lease_expires_at=None
        )
        return
    if execution.status != Status.RUNNING or stage.status != Status.RUNNING:
        TaskExecution.objects.filter(pk=task.pk, lease_owner=owner).update(
            lease_owner="", lease_expires_at=None, next_run_at=None
        )
        return
    result = _run(task, stage, execution, now)
    _record(task, owner, result)


def _extend_lease(task: TaskExecution, owner: str, now: datetime) -> None:
    wanted = TASKS[task.name].lease if task.name in TASKS else None
    if wanted is not None and wanted > _lease():
        TaskExecution.objects.filter(pk=task.pk, lease_owner=owner).update(lease_expires_at=now + wanted)


def _run(task: TaskExecution, stage: StageExecution, execution: Execution, now: datetime) -> TaskResult | None:
    implementation = TASKS.get(task.name)
    if implementation is None:
        return TaskResult.terminal(f"Unknown task type {task.name!r}.")
    limit = stage_timeout(stage, implementation.timeout)
    if task.started_at is not None and now - task.started_at > limit:
        return TaskResult.terminal(f"Task {task.name} timed out after {limit}.")
    denials = [] if task.gate_passed else task_denials(task, stage, execution)
    if denials:
        return TaskResult.terminal(" ".join(denials))
    try:
        with acting(
            lambda: inputs.execution_user(execution),
            application=execution.application.name,
            execution_id=execution.pk,
            stage_id=stage.pk,
            stage_type=stage.type,
            task=task.name,
        ):
            return implementation.run(TaskContext(execution, stage, task))
    except TransientError as exc:
        if task.failures + 1 >= implementation.max_transient_failures:
            return TaskResult.terminal(f"{exc} (gave up after {task.failures + 1} attempts)")
        delay = min(implementation.backoff * (2**task.failures), timedelta(seconds=60))
        TaskExecution.objects.filter(pk=task.pk).update(failures=F("failures") + 1, message=str(exc)[:2000])
        return TaskResult(Status.RUNNING, message=str(exc), wake_at=now + delay)
    except Exception as exc:
        logger.exception("Task %s of stage %s failed", task.name, stage.pk)
        return TaskResult.terminal(f"{type(exc).__name__}: {exc}")


def _wake_time(task: TaskExecution, stage: StageExecution, wanted: datetime | None) -> datetime:
    """When to run a RUNNING task again: when it asked, but never later than its timeout."""
    implementation = TASKS.get(task.name)
    started = task.started_at or clock.now()
    deadline = started + stage_timeout(stage, implementation.timeout if implementation else timedelta(hours=1))
    deadline += timedelta(milliseconds=1)  # just past the limit, so the run that wakes finds it passed
    return min(wanted, deadline) if wanted is not None else deadline


def stage_timeout(stage: StageExecution, default: timedelta) -> timedelta:
    """The nearest ``stageTimeoutMs`` of the stage or its ancestors overrides the task's own."""
    current: StageExecution | None = stage
    while current is not None:
        value = current.config.get("stageTimeoutMs")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return timedelta(milliseconds=value)
        current = current.parent
    return default


def _record(task: TaskExecution, owner: str, result: TaskResult | None) -> None:
    """Apply a task's result under the execution lock, unless the lease was lost meanwhile."""
    if result is None:
        return
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(of=("self",))
            .select_related("application")
            .get(pk=task.stage.execution_id)
        )
        stage = StageExecution.objects.get(pk=task.stage_id)
        # Only the lease holder may record: another worker may have taken over after it expired.
        if result.status == Status.RUNNING:
            wake = _wake_time(task, stage, result.wake_at)
            if not _schedule(task, wake, holder=owner, message=result.message):
                return
        else:
            final = Status.SUCCEEDED if result.status == Status.SUCCEEDED else Status.TERMINAL
            mine = TaskExecution.objects.filter(pk=task.pk, lease_owner=owner, status=Status.RUNNING)
            if not mine.update(
                status=final,
                ended_at=clock.now(),
                message=result.message[:2000],
                lease_owner="",
                lease_expires_at=None,
                next_run_at=None,
            ):
                return
        if result.context or result.outputs:
            stage.context = {**stage.context, **result.context}
            stage.outputs = {**stage.outputs, **result.outputs}
            stage.save(update_fields=["context", "outputs"])
        if result.status == Status.RUNNING:
            return
        if result.status != Status.SUCCEEDED:
            stage.failure_message = result.message
            stage.save(update_fields=["failure_message"])
            complete_stage(execution, stage)
        else:
            _start_tasks_or_finish(execution, stage)


# Finding work ------------------------------------------------------------------------------


def due_tasks(now: datetime) -> QuerySet[TaskExecution]:
    """Tasks that should run now and that no live worker holds (no lease, or an expired one)."""
    unheld = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    return TaskExecution.objects.filter(
        unheld, status__in=[Status.NOT_STARTED, Status.RUNNING], next_run_at__lte=now, parked=False
    )


def sweep(limit: int = 500) -> int:
    """Queue due tasks nobody holds: woken waits, and tasks of workers that died (lease expired).

    A task already queued is queued again only after a lease period, in case its message was lost.
    Rows are marked under ``SKIP LOCKED`` (PostgreSQL), so sweepers in other workers take others.
    """
    now = clock.now()
    stale = now - max(_lease(), timedelta(seconds=10))
    with transaction.atomic():
        queued = list(
            due_tasks(now)
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        TaskExecution.objects.filter(pk__in=queued).update(enqueued_at=now)
    enqueue([str(pk) for pk in queued])
    return len(queued)


def run_due_tasks(max_rounds: int = 1000) -> int:
    """Run every due task in this process until none is due (engine tests drive the engine so)."""
    ran = 0
    for _ in range(max_rounds):
        due = list(due_tasks(clock.now()).order_by("next_run_at").values_list("pk", flat=True)[:100])
        if not due:
            return ran
        for pk in due:
            run_one_task(str(pk))
            ran += 1
    return ran
