"""Stages run in DAG order; joins start the moment their last upstream completes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline, StageExecution
from tests.pipelines.conftest import stage, statuses


def test_it_runs_a_linear_pipeline_to_success(save: Callable[..., Pipeline], run: Callable[..., Execution]) -> None:
    pipeline = save(
        stage("1", "wait", "Pause", waitTime=0),
        stage("2", "evaluateVariables", "Vars", ("1",), variables=[{"key": "color", "value": "blue"}]),
    )
    execution = run(pipeline)
    assert execution.status == "SUCCEEDED"
    assert statuses(execution) == {"Pause": "SUCCEEDED", "Vars": "SUCCEEDED"}
    assert execution.stages.get(name="Vars").outputs == {"color": "blue"}


def test_it_starts_a_join_in_the_transaction_that_completes_its_last_upstream(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    pipeline = save(
        stage("1", "wait", "Start", waitTime=0),
        stage("2", "wait", "Left", ("1",), waitTime=0),
        stage("3", "wait", "Right", ("1",), waitTime=0),
        stage("4", "wait", "Join", ("2", "3"), waitTime=0),
    )
    execution = run(pipeline, drain=False)
    rounds = 0
    while execution.stages.get(name="Join").status == "NOT_STARTED":
        assert run_due_tasks(max_rounds=1) > 0, "nothing was due although the join had not started"
        rounds += 1
    left, right, join = (execution.stages.get(name=n) for n in ("Left", "Right", "Join"))
    assert left.ended_at is not None
    assert right.ended_at is not None
    assert join.started_at is not None
    # Same transaction: the join started at once, not on a later poll.
    assert (join.started_at - max(left.ended_at, right.ended_at)).total_seconds() < 0.5
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"


def test_it_passes_variables_and_parameters_to_later_expressions(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    pipeline = save(
        stage(
            "1",
            "evaluateVariables",
            "Vars",
            variables=[
                {"key": "region", "value": "${parameters['region']}"},
                {"key": "target", "value": "${region + '-' + parameters.env}"},
            ],
        ),
        stage(
            "2",
            "wait",
            "Use",
            ("1",),
            waitTime=0,
            note="${target}",
            upper="${#stage('Vars')['outputs']['region'].toUpperCase()}",
        ),
        parameterConfig=[{"name": "region", "default": "eu"}, {"name": "env", "required": True}],
    )
    execution = run(pipeline, env="prod")
    assert execution.status == "SUCCEEDED"
    used = execution.stages.get(name="Use")
    assert used.context["note"] == "eu-prod"
    assert used.context["upper"] == "EU"
    assert execution.trigger["parameters"] == {"region": "eu", "env": "prod"}


def test_it_skips_a_disabled_stage_and_runs_what_follows(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    pipeline = save(
        stage(
            "1",
            "wait",
            "Maybe",
            waitTime=0,
            stageEnabled={"type": "expression", "expression": "parameters.go == 'yes'"},
        ),
        stage("2", "wait", "After", ("1",), waitTime=0),
        parameterConfig=[{"name": "go", "default": "no"}],
    )
    execution = run(pipeline)
    assert statuses(execution) == {"Maybe": "SKIPPED", "After": "SUCCEEDED"}
    assert execution.status == "SUCCEEDED"


def test_it_records_a_failed_expression_and_keeps_the_text(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    pipeline = save(stage("1", "wait", "W", waitTime=0, note="${parameters['missing'].toUpperCase()}"))
    execution = run(pipeline)
    row: StageExecution = execution.stages.get()
    assert row.status == "SUCCEEDED"
    assert row.context["note"] == "${parameters['missing'].toUpperCase()}"
    [failure] = row.expression_failures
    assert failure["path"] == "note"
    assert failure["expression"] == "${parameters['missing'].toUpperCase()}"
    assert failure["reason"]


def test_it_fails_the_stage_on_a_failed_expression_when_asked(
    save: Callable[..., Pipeline], run: Callable[..., Execution]
) -> None:
    pipeline = save(stage("1", "wait", "W", waitTime=0, note="${nosuchname}", failOnFailedExpressions=True))
    execution = run(pipeline)
    row = execution.stages.get()
    assert row.status == "TERMINAL"
    assert "nosuchname" in row.failure_message
    assert execution.status == "TERMINAL"


def test_it_gives_each_stage_its_tasks_in_order(save: Callable[..., Pipeline], run: Callable[..., Any]) -> None:
    pipeline = save(
        stage(
            "1",
            "checkPreconditions",
            "Check",
            preconditions=[
                {"type": "expression", "context": {"expression": "1 < 2"}},
                {"type": "expression", "context": {"expression": "${'a' == 'a'}"}},
            ],
        )
    )
    execution = run(pipeline)
    assert execution.status == "SUCCEEDED"
    children = execution.stages.filter(parent__isnull=False).order_by("position")
    assert [(c.ref_id, c.synthetic_owner, c.status) for c in children] == [
        ("1<1", "STAGE_BEFORE", "SUCCEEDED"),
        ("1<2", "STAGE_BEFORE", "SUCCEEDED"),
    ]


def test_it_sweeps_due_tasks_once_until_their_message_may_be_lost(
    save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Any
) -> None:
    from pipelines.engine.runner import sweep

    run(save(stage("1", "wait", "Soak", waitTime=60)))
    assert sweep() == 0  # not due yet
    fake_clock.advance(61)
    assert sweep() == 1
    assert sweep() == 0  # queued already
    fake_clock.advance(31)  # a lease period later the message may have been lost: queued again
    assert sweep() == 1
