"""After-stages planned on success, on-failure stages (rollbacks), transient retries, windows.

The stage types here are registered by this test module only, to exercise the engine's
mechanisms that the built-in generic stages do not use yet (strategies and rollbacks will).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.engine.types import (
    StageType,
    SyntheticStage,
    Task,
    TaskContext,
    TaskResult,
    TransientError,
    register_stage,
    register_task,
)
from pipelines.models import Execution, Pipeline, StageExecution
from pipelines.stages.window import next_opening
from tests.pipelines.conftest import stage, statuses


@register_stage
class DeployLike(StageType):
    type = "testDeployLike"

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["testOutcome"]

    def after_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        return [
            SyntheticStage("wait", "Cleanup 1", {"waitTime": 0}),
            SyntheticStage("wait", "Cleanup 2", {"waitTime": 0}),
        ]

    def on_failure_stages(self, stage: StageExecution) -> list[SyntheticStage]:
        return [SyntheticStage("wait", "Rollback", {"waitTime": 0})]


@register_task
class OutcomeTask(Task):
    name = "testOutcome"
    backoff = timedelta(seconds=5)
    max_transient_failures = 3

    def run(self, ctx: TaskContext) -> TaskResult:
        outcome = ctx.stage.context.get("outcome", "ok")
        if outcome == "flaky" and ctx.task.failures < 2:
            raise TransientError("the provider answered 503")
        if outcome in {"fail", "always-flaky"}:
            if outcome == "always-flaky":
                raise TransientError("the provider answered 503")
            return TaskResult.terminal("the deploy failed")
        return TaskResult.succeeded(deployed=True)


CANCELED_KEYS: list[str] = []


@register_stage
class LongJob(StageType):
    type = "testLongJob"

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["testLongJob"]


@register_task
class LongJobTask(Task):
    """Stands for a job started elsewhere (a build, a rollout) that must be stopped on cancel."""

    name = "testLongJob"

    def run(self, ctx: TaskContext) -> TaskResult:
        return TaskResult.running(None, jobKey=ctx.idempotency_key)

    def on_cancel(self, ctx: TaskContext) -> None:
        CANCELED_KEYS.append(ctx.idempotency_key)


def test_it_calls_the_cancel_hook_of_running_tasks(
    save: Callable[..., Pipeline],
    run: Callable[..., Execution],
    developer: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    execution = run(save(stage("1", "testLongJob", "Build")))
    task = execution.stages.get().tasks.get()
    assert task.status == "RUNNING"
    with django_capture_on_commit_callbacks(execute=True):  # hooks run once the cancel commits
        actions.cancel(developer, execution, source="api")
    assert CANCELED_KEYS[-1] == task.idempotency_key
    task.refresh_from_db()
    assert task.status == "CANCELED"


def test_it_runs_after_stages_one_by_one_once_the_stage_succeeded(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    execution = run(save(stage("1", "testDeployLike", "Deploy")))
    assert execution.status == "SUCCEEDED"
    children = list(execution.stages.filter(parent__isnull=False).order_by("position"))
    assert [(c.name, c.ref_id, c.synthetic_owner, c.status) for c in children] == [
        ("Cleanup 1", "1>1", "STAGE_AFTER", "SUCCEEDED"),
        ("Cleanup 2", "1>2", "STAGE_AFTER", "SUCCEEDED"),
    ]
    assert children[0].ended_at is not None
    assert children[1].started_at is not None
    assert children[0].ended_at <= children[1].started_at


def test_it_runs_on_failure_stages_and_keeps_the_failure(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    execution = run(save(stage("1", "testDeployLike", "Deploy", outcome="fail")))
    assert statuses(execution) == {"Deploy": "TERMINAL", "Rollback": "SUCCEEDED"}
    assert execution.status == "TERMINAL"
    assert not execution.stages.filter(synthetic_owner="STAGE_AFTER").exists()


def test_it_retries_transient_errors_with_backoff(
    save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Any
) -> None:
    execution = run(save(stage("1", "testDeployLike", "Deploy", outcome="flaky")))
    task = execution.stages.get(name="Deploy").tasks.get()
    assert task.failures == 1
    assert task.message == "the provider answered 503"
    assert task.next_run_at is not None
    fake_clock.advance(5.1)
    run_due_tasks()
    task.refresh_from_db()
    assert task.failures == 2  # the backoff doubled: 10 s now
    fake_clock.advance(5)
    assert run_due_tasks() == 0
    fake_clock.advance(5.1)
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"


def test_it_gives_up_after_too_many_transient_errors(
    save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Any
) -> None:
    execution = run(save(stage("1", "testDeployLike", "Deploy", outcome="always-flaky")))
    for _ in range(3):
        fake_clock.advance(60)
        run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "TERMINAL"
    assert "gave up after 3 attempts" in execution.stages.get(name="Deploy").failure_message


def test_it_holds_a_stage_until_its_execution_window_and_can_skip_it(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: Any, fake_clock: Any
) -> None:
    fake_clock.travel_to(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))  # a Monday, before hours
    hours = {"whitelist": [{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}], "days": [2, 3, 4, 5, 6]}
    pipeline = save(
        stage(
            "1", "wait", "Deploy", waitTime=0, restrictExecutionDuringTimeWindow=True, restrictedExecutionWindow=hours
        )
    )
    execution = run(pipeline)
    window = execution.stages.get(type="restrictExecutionDuringTimeWindow")
    assert window.status == "RUNNING"
    assert window.context["windowOpensAt"] == "2026-11-23T09:00:00+00:00"
    assert execution.stages.get(name="Deploy").tasks.get().status == "NOT_STARTED"
    actions.skip_wait(developer, execution, "Deploy", source="api")
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"


def test_it_starts_the_stage_when_its_window_opens(
    save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Any
) -> None:
    fake_clock.travel_to(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))
    hours = {"whitelist": [{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}]}
    execution = run(
        save(
            stage(
                "1",
                "wait",
                "Deploy",
                waitTime=0,
                restrictExecutionDuringTimeWindow=True,
                restrictedExecutionWindow=hours,
            )
        )
    )
    assert execution.status == "RUNNING"
    fake_clock.travel_to(datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC))
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"


def test_it_finds_the_next_opening_of_a_window() -> None:
    window = {"whitelist": [{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}], "days": [2, 3, 4, 5, 6]}
    monday_early = datetime(2026, 11, 23, 7, 30)  # a Monday (Spinnaker day 2)
    assert next_opening(window, monday_early) == datetime(2026, 11, 23, 9, 0)
    assert next_opening(window, datetime(2026, 11, 23, 10, 0)) == datetime(2026, 11, 23, 10, 0)
    saturday = datetime(2026, 11, 28, 12, 0)
    assert next_opening(window, saturday) == datetime(2026, 11, 30, 9, 0)
