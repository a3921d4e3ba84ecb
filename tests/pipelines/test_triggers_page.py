"""The triggers page (``/applications/<name>/triggers/``) and ``/api/v1/trigger-evaluations/``:
an application's triggers and what recent events did, for people who can read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.models import Application
from pipelines import actions
from pipelines.models import Execution, Pipeline, TriggerEvaluation, TriggerEvent
from tests.conftest import api_as, browser_as
from tests.pipelines.conftest import Clock

PAGE = "/applications/shop/triggers/"


@pytest.fixture
def deploy(developer: User, shop: Application, fake_clock: Clock) -> Pipeline:
    fake_clock.travel_to(datetime(2030, 1, 7, 8, 0, tzinfo=UTC))  # a Monday
    triggers = [
        {"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI", "timeZone": "Europe/Paris"},
        {"type": "webhook", "source": "deploy-hook", "payloadConstraints": {"branch": "^main$"}},
    ]
    document = {"application": "shop", "name": "deploy", "stages": [], "triggers": triggers}
    return actions.save_pipeline(developer, document, source="api")


def hook(branch: str) -> None:
    body = json.dumps({"branch": branch})
    browser_as(None).post("/api/v1/webhooks/deploy-hook", data=body, content_type="application/json")


def test_it_shows_each_trigger_with_the_next_cron_firings(deploy: Pipeline, viewer: User) -> None:
    response = browser_as(viewer).get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Cron 0 0 10 ? * MON-FRI (Europe/Paris)" in page
    assert "Mon 2030-01-07 10:00:00 CET" in page
    assert "Tue 2030-01-08 10:00:00 CET" in page
    assert "Wed 2030-01-09 10:00:00 CET" in page
    assert "Webhook source deploy-hook, 1 constraint" in page
    assert "http://testserver/api/v1/webhooks/deploy-hook" in page


def test_it_lists_recent_evaluations_newest_first_with_reasons_and_runs(
    deploy: Pipeline, viewer: User, fake_clock: Clock
) -> None:
    hook("main")
    fake_clock.advance(60)
    hook("dev")
    page = browser_as(viewer).get(PAGE).content.decode()
    run = Execution.objects.get(pipeline=deploy)
    link = reverse("pipelines:execution", kwargs={"name": "shop", "execution_id": run.pk})
    reason = "payloadConstraints.branch: &#x27;dev&#x27; does not match &#x27;^main$&#x27;."
    assert reason in page
    assert f'href="{link}"' in page
    assert page.index(reason) < page.index(f'href="{link}"')


def test_it_answers_404_to_people_who_cannot_read_the_application(
    deploy: Pipeline, outsider: User, nobody: User
) -> None:
    hook("main")
    for user in (outsider, nobody):
        response = browser_as(user).get(PAGE)
        assert response.status_code == 404
        assert b"deploy-hook" not in response.content
    assert browser_as(None).get(PAGE).status_code == 302


def evaluations(pipeline: Pipeline, count: int) -> None:
    event = TriggerEvent.objects.create(
        kind="webhook", source="deploy-hook", received_at=datetime.now(UTC), summary="Test batch."
    )
    start = datetime(2030, 1, 1, tzinfo=UTC)
    TriggerEvaluation.objects.bulk_create(
        TriggerEvaluation(
            event=event,
            application_id=pipeline.application_id,
            pipeline=pipeline,
            pipeline_name=pipeline.name,
            trigger_index=1,
            trigger_type="webhook",
            outcome="skipped",
            reason=f"reason number {n:03d}.",
            created_at=start + timedelta(minutes=n),
        )
        for n in range(count)
    )


def test_it_pages_evaluations_in_a_constant_number_of_queries(deploy: Pipeline, viewer: User) -> None:
    client = browser_as(viewer)
    evaluations(deploy, 3)
    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    evaluations(deploy, 57)
    with CaptureQueriesContext(connection) as many:
        first = client.get(PAGE).content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert "reason number 056." in first  # newest first
    assert "reason number 006." not in first
    older = client.get(PAGE + "?page=2").content.decode()
    assert "reason number 006." in older


def test_it_lists_evaluations_over_the_api_for_readers_only(deploy: Pipeline, viewer: User, outsider: User) -> None:
    hook("dev")
    rows = api_as(viewer).get("/api/v1/trigger-evaluations/?application=shop").json()["results"]
    assert [(row["pipeline"], row["outcome"], row["event"]["kind"]) for row in rows] == [
        ("deploy", "skipped", "webhook")
    ]
    assert api_as(outsider).get("/api/v1/trigger-evaluations/").json()["results"] == []
    assert api_as(None).get("/api/v1/trigger-evaluations/").status_code == 401
