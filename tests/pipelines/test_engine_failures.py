"""The four "if stage fails" options, exactly as Spinnaker's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline
from tests.pipelines.conftest import stage, statuses


def failing(ref: str, name: str, requires: tuple[str, ...] = (), **options: Any) -> dict[str, Any]:
    return stage(
        ref,
        "checkPreconditions",
        name,
        requires,
        preconditions=[{"type": "expression", "context": {"expression": "1 > 2"}}],
        **options,
    )


def judgment(ref: str, name: str = "Approve") -> dict[str, Any]:
    return stage(ref, "manualJudgment", name)


def test_it_halts_the_pipeline_and_cancels_other_branches(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    execution = run(save(failing("1", "Fail"), judgment("2"), stage("3", "wait", "After", ("1",), waitTime=0)))
    assert execution.status == "TERMINAL"
    assert statuses(execution) == {
        "Fail": "TERMINAL",
        "Check precondition 1": "TERMINAL",
        "Approve": "CANCELED",
        "After": "NOT_STARTED",
    }
    assert "is false" in execution.stages.get(name="Check precondition 1").failure_message


def test_it_halts_only_the_branch_and_succeeds(save: Callable[..., Pipeline], run: Callable[..., Execution]) -> None:
    pipeline = save(
        stage(
            "1",
            "checkPreconditions",
            "Fail",
            preconditions=[{"type": "expression", "failPipeline": False, "context": {"expression": "1 > 2"}}],
            failPipeline=False,
        ),
        stage("2", "wait", "Other", waitTime=0),
        stage("3", "wait", "After", ("1",), waitTime=0),
    )
    execution = run(pipeline)
    assert statuses(execution)["Fail"] == "STOPPED"
    assert statuses(execution)["After"] == "NOT_STARTED"
    assert statuses(execution)["Other"] == "SUCCEEDED"
    assert execution.status == "SUCCEEDED"


def test_it_halts_the_branch_then_fails_once_the_others_complete(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    pipeline = save(
        failing("1", "Fail", failPipeline=False, completeOtherBranchesThenFail=True),
        stage("2", "wait", "Other", waitTime=0),
    )
    execution = run(pipeline)
    assert statuses(execution) == {"Fail": "STOPPED", "Check precondition 1": "TERMINAL", "Other": "SUCCEEDED"}
    assert execution.status == "TERMINAL"


def test_it_ignores_the_failure_and_runs_downstream(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    pipeline = save(
        failing("1", "Fail", failPipeline=False, continuePipeline=True), stage("2", "wait", "After", ("1",), waitTime=0)
    )
    execution = run(pipeline)
    assert statuses(execution)["Fail"] == "FAILED_CONTINUE"
    assert statuses(execution)["After"] == "SUCCEEDED"
    assert execution.status == "SUCCEEDED"


def test_it_times_out_a_stage_with_stage_timeout_ms(
    save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Any
) -> None:
    execution = run(save(stage("1", "manualJudgment", "Approve", stageTimeoutMs=60_000)))
    assert execution.status == "RUNNING"
    fake_clock.advance(30)
    assert run_due_tasks() == 0  # nobody judged, and the timeout has not come: nothing to run
    fake_clock.advance(31)
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "TERMINAL"
    assert "timed out" in execution.stages.get().failure_message
