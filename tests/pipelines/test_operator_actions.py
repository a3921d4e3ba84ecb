"""Pause, resume, cancel, restart, judge and skip: one function each, used by API and CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied

from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline
from spinweb.models import AuditEvent
from tests.pipelines.conftest import stage, statuses


def test_it_continues_after_a_judgment_and_exposes_the_input(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    pipeline = save(
        stage("1", "manualJudgment", "Approve", judgmentInputs=[{"value": "fast"}, {"value": "slow"}]),
        stage("2", "wait", "Next", ("1",), waitTime=0, mode="${#judgment('Approve')}"),
    )
    execution = run(pipeline)
    assert statuses(execution) == {"Approve": "RUNNING", "Next": "NOT_STARTED"}
    assert run_due_tasks() == 0  # waiting for a person holds no worker and has nothing due
    actions.judge(developer, execution, "Approve", "continue", judgment_input="fast", source="api")
    run_due_tasks()
    assert statuses(execution) == {"Approve": "SUCCEEDED", "Next": "SUCCEEDED"}
    assert execution.stages.get(name="Next").context["mode"] == "fast"
    approve = execution.stages.get(name="Approve")
    assert approve.context["lastModifiedBy"] == "developer"
    assert AuditEvent.objects.filter(action="judge", object_id=str(execution.pk)).exists()


def test_it_stops_at_a_judgment(save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User) -> None:
    execution = run(save(stage("1", "manualJudgment", "Approve")))
    actions.judge(developer, execution, "Approve", "stop", source="api")
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "TERMINAL"
    assert execution.stages.get().failure_message == "Stopped by developer at the manual judgment."


def test_it_lets_only_the_named_groups_judge(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User, groups: dict[str, Group]
) -> None:
    Group.objects.create(name="release-managers")
    execution = run(save(stage("1", "manualJudgment", "Approve", selectedStageRoles=["release-managers"])))
    with pytest.raises(PermissionDenied, match="release-managers"):
        actions.judge(developer, execution, "Approve", "continue", source="api")
    developer.groups.add(Group.objects.get(name="release-managers"))
    actions.judge(User.objects.get(pk=developer.pk), execution, "Approve", "continue", source="api")
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"


def test_it_refuses_a_judgment_input_outside_the_choices(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    execution = run(save(stage("1", "manualJudgment", "Approve", judgmentInputs=[{"value": "ok"}])))
    with pytest.raises(actions.ActionRefused, match="must be one of ok"):
        actions.judge(developer, execution, "Approve", "continue", judgment_input="maybe", source="api")


def test_it_waits_without_a_worker_and_skips_the_rest(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User, fake_clock: Any
) -> None:
    execution = run(save(stage("1", "wait", "Soak", waitTime=600), stage("2", "wait", "Then", ("1",), waitTime=0)))
    assert statuses(execution)["Soak"] == "RUNNING"
    fake_clock.advance(300)
    assert run_due_tasks() == 0
    actions.skip_wait(developer, execution, "Soak", source="api")
    run_due_tasks()
    assert statuses(execution) == {"Soak": "SUCCEEDED", "Then": "SUCCEEDED"}


def test_it_finishes_a_wait_when_its_time_comes(
    save: Callable[..., Pipeline], run: Callable[..., Execution], fake_clock: Any
) -> None:
    execution = run(save(stage("1", "wait", "Soak", waitTime=120)))
    fake_clock.advance(121)
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"


def test_it_pauses_and_resumes(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User, fake_clock: Any
) -> None:
    execution = run(save(stage("1", "wait", "Soak", waitTime=60), stage("2", "wait", "Then", ("1",), waitTime=0)))
    actions.pause(developer, execution, source="api")
    fake_clock.advance(61)
    run_due_tasks()
    assert statuses(execution) == {"Soak": "PAUSED", "Then": "NOT_STARTED"}
    assert execution.status == "PAUSED"
    actions.resume(developer, execution, source="api")
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"
    with pytest.raises(actions.ActionRefused, match="Only a running execution can be paused"):
        actions.pause(developer, execution, source="api")


def test_it_cancels_a_run_and_its_running_stages(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    execution = run(save(stage("1", "manualJudgment", "Approve"), stage("2", "wait", "Then", ("1",), waitTime=0)))
    actions.cancel(developer, execution, reason="wrong build", source="api")
    execution.refresh_from_db()
    assert execution.status == "CANCELED"
    assert execution.canceled_by == "developer"
    assert execution.cancellation_reason == "wrong build"
    assert statuses(execution) == {"Approve": "CANCELED", "Then": "NOT_STARTED"}
    assert execution.stages.get(name="Approve").tasks.get().status == "CANCELED"


def test_it_restarts_a_failed_stage_and_everything_downstream(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    pipeline = save(
        stage("1", "wait", "First", waitTime=0),
        stage(
            "2",
            "checkPreconditions",
            "Gate",
            ("1",),
            preconditions=[{"type": "expression", "context": {"expression": "parameters.ok == 'yes'"}}],
        ),
        stage("3", "wait", "Last", ("2",), waitTime=0),
        parameterConfig=[{"name": "ok", "default": "no"}],
    )
    execution = run(pipeline)
    assert execution.status == "TERMINAL"
    first_ended = execution.stages.get(name="First").ended_at
    Execution.objects.filter(pk=execution.pk).update(trigger={**execution.trigger, "parameters": {"ok": "yes"}})
    actions.restart_stage(developer, execution, "Gate", source="api")
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == "SUCCEEDED"
    gate = execution.stages.get(name="Gate")
    assert gate.restart_details is not None
    assert gate.restart_details["restartedBy"] == "developer"
    assert "is false" in gate.restart_details["previousException"]
    assert execution.stages.get(name="First").ended_at == first_ended  # upstream untouched


def test_it_refuses_to_restart_a_stage_that_has_not_ended(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    execution = run(save(stage("1", "manualJudgment", "Approve")))
    with pytest.raises(actions.ActionRefused, match="has not ended"):
        actions.restart_stage(developer, execution, "Approve", source="api")


def test_it_refuses_to_restart_a_stage_while_what_follows_it_runs(
    save: Callable[..., Pipeline], run: Callable[..., Execution], developer: User
) -> None:
    execution = run(save(stage("1", "wait", "First", waitTime=0), stage("2", "manualJudgment", "Approve", ("1",))))
    with pytest.raises(actions.ActionRefused, match="Approve after First is still running"):
        actions.restart_stage(developer, execution, "First", source="api")
    assert execution.stages.get(name="Approve").status == "RUNNING"
