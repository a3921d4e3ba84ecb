"""Cron triggers fire through ``fire_due_crons`` (the sweeper's call), once per due time, and
every firing is recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User

from pipelines import actions
from pipelines.models import Execution, Pipeline, PipelineTrigger, TriggerEvaluation, TriggerEvent
from pipelines.triggers.scheduler import fire_due_crons
from tests.pipelines.conftest import Clock, stage

EVERY_MINUTE = "0 * * * * ?"


def cron(expression: str = EVERY_MINUTE, **fields: Any) -> dict[str, Any]:
    return {"type": "cron", "id": "nightly-cron", "cronExpression": expression, **fields}


@pytest.fixture
def clock_at_ten(fake_clock: Clock) -> Clock:
    fake_clock.travel_to(datetime(2030, 1, 7, 10, 0, 30, tzinfo=UTC))
    return fake_clock


@pytest.fixture
def build(save: Callable[..., Pipeline], clock_at_ten: Clock) -> Callable[..., Pipeline]:
    def build(*triggers: dict[str, Any], name: str = "build", **fields: Any) -> Pipeline:
        return save(stage("1", "wait", "Pause", waitTime=60), name=name, triggers=list(triggers), **fields)

    return build


def test_it_fires_once_when_the_time_comes(build: Callable[..., Pipeline], clock_at_ten: Clock) -> None:
    pipeline = build(cron())
    assert fire_due_crons() == 0  # 10:00:30; the next minute starts at 10:01:00
    clock_at_ten.advance(30)
    assert fire_due_crons() == 1
    assert fire_due_crons() == 0
    run = Execution.objects.get(pipeline=pipeline)
    assert run.trigger_type == "cron"
    assert run.trigger["cronExpression"] == EVERY_MINUTE
    assert run.trigger["id"] == "nightly-cron"
    assert run.trigger["user"] == "system"
    clock_at_ten.advance(60)
    assert fire_due_crons() == 1
    assert Execution.objects.filter(pipeline=pipeline).count() == 2


def test_it_fires_a_missed_trigger_once_after_hours_without_workers(
    build: Callable[..., Pipeline], clock_at_ten: Clock
) -> None:
    pipeline = build(cron())
    clock_at_ten.advance(3 * 3600)  # 180 minutes missed
    assert fire_due_crons() == 1
    assert fire_due_crons() == 0
    assert Execution.objects.filter(pipeline=pipeline).count() == 1
    row = PipelineTrigger.objects.get(pipeline=pipeline)
    assert row.next_fire_at == datetime(2030, 1, 7, 13, 1, tzinfo=UTC)


def test_it_records_the_firing_with_its_run(build: Callable[..., Pipeline], clock_at_ten: Clock) -> None:
    pipeline = build(cron(runAsUser="release-bot"))
    clock_at_ten.advance(30)
    fire_due_crons()
    evaluation = TriggerEvaluation.objects.select_related("event").get()
    run = Execution.objects.get(pipeline=pipeline)
    assert (evaluation.outcome, evaluation.execution_id, evaluation.pipeline_name) == ("fired", run.pk, "build")
    assert evaluation.event.kind == TriggerEvent.Kind.CRON
    assert evaluation.event.payload["scheduledTime"] == "2030-01-07T10:01:00+00:00"
    assert run.trigger["user"] == "release-bot"


def test_it_never_fires_a_disabled_trigger_or_pipeline(build: Callable[..., Pipeline], clock_at_ten: Clock) -> None:
    build(cron(enabled=False))
    idle = build(cron(), name="idle", disabled=True)
    clock_at_ten.advance(120)
    assert fire_due_crons() == 0
    assert not Execution.objects.exists()
    assert PipelineTrigger.objects.get(pipeline=idle).next_fire_at is None


def test_it_stops_firing_once_an_edit_removes_the_trigger(
    build: Callable[..., Pipeline], clock_at_ten: Clock, developer: User
) -> None:
    pipeline = build(cron())
    document = {**pipeline.document, "triggers": []}
    actions.save_pipeline(developer, document, source="api")
    clock_at_ten.advance(120)
    assert fire_due_crons() == 0
    assert not Execution.objects.exists()


def test_it_keeps_the_schedule_through_an_unrelated_edit(
    build: Callable[..., Pipeline], clock_at_ten: Clock, developer: User
) -> None:
    pipeline = build(cron())
    due = PipelineTrigger.objects.get(pipeline=pipeline).next_fire_at
    clock_at_ten.advance(40)  # 10:01:10, the 10:01 firing not yet swept
    actions.save_pipeline(developer, {**pipeline.document, "description": "tweaked"}, source="api")
    assert PipelineTrigger.objects.get(pipeline=pipeline).next_fire_at == due
    assert fire_due_crons() == 1


def test_it_records_a_refusal_when_a_required_parameter_has_no_default(
    build: Callable[..., Pipeline], clock_at_ten: Clock
) -> None:
    build(cron(), parameterConfig=[{"name": "version", "required": True}])
    clock_at_ten.advance(30)
    assert fire_due_crons() == 1
    evaluation = TriggerEvaluation.objects.get()
    assert evaluation.outcome == "refused"
    assert "'version' is required" in evaluation.reason
    assert not Execution.objects.exists()
