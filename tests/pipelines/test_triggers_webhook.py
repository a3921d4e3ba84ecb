"""``POST /api/v1/webhooks/<source>``: no login; starts the pipelines whose webhook trigger has
that source and whose constraints the payload meets, and records why the others did not start."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.models import Execution, Pipeline, TriggerEvaluation, TriggerEvent
from tests.conftest import browser_as
from tests.pipelines.conftest import stage

ENVIRONMENTS = [{"value": "staging"}, {"value": "prod"}]


def post(source: str, payload: Any, **headers: str) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return browser_as(None).post(
        f"/api/v1/webhooks/{source}", data=body, content_type="application/json", headers=headers
    )


@pytest.fixture
def hook(developer: User, shop: Application) -> Callable[..., Pipeline]:
    def hook(name: str = "deploy", source: str = "deploy-hook", **trigger: Any) -> Pipeline:
        document = {
            "application": "shop",
            "name": name,
            "stages": [stage("1", "wait", "Pause", waitTime=60)],
            "parameterConfig": [{"name": "env", "default": "staging", "hasOptions": True, "options": ENVIRONMENTS}],
            "triggers": [{"type": "webhook", "source": source, **trigger}],
        }
        return actions.save_pipeline(developer, document, source="api")

    return hook


def test_it_starts_the_matching_pipeline_and_answers_with_its_run(hook: Callable[..., Pipeline]) -> None:
    pipeline = hook(payloadConstraints={"branch": "^main$", "$.repository.name": "shop"})
    payload = {"branch": "main", "repository": {"name": "acme/shop"}, "parameters": {"env": "prod"}}
    response = post("deploy-hook", payload)
    assert response.status_code == 200, response.content
    run = Execution.objects.get(pipeline=pipeline)
    body = response.json()
    assert body["fired"] == [
        {"application": "shop", "pipeline": "deploy", "pipelineId": str(pipeline.pk), "execution": str(run.pk)}
    ]
    assert body["skipped"] == []
    assert run.trigger["type"] == "webhook"
    assert run.trigger["source"] == "deploy-hook"
    assert run.trigger["payload"] == payload
    assert run.trigger["parameters"] == {"env": "prod"}
    assert run.parameters == {"env": "prod"}


def test_it_skips_a_pipeline_whose_constraint_fails_and_says_why(hook: Callable[..., Pipeline]) -> None:
    hook(payloadConstraints={"branch": "^main$"})
    response = post("deploy-hook", {"branch": "dev"})
    assert response.status_code == 200
    reason = "payloadConstraints.branch: 'dev' does not match '^main$'."
    assert response.json()["skipped"] == [{"application": "shop", "pipeline": "deploy", "reason": reason}]
    assert not Execution.objects.exists()
    evaluation = TriggerEvaluation.objects.get()
    assert (evaluation.outcome, evaluation.reason) == ("skipped", reason)


def test_it_records_a_call_no_trigger_listens_to(hook: Callable[..., Pipeline]) -> None:
    hook()
    response = post("nobody-listens", {"hello": "world"})
    assert response.status_code == 200
    assert response.json()["fired"] == response.json()["skipped"] == []
    event = TriggerEvent.objects.get()
    assert event.summary == "No webhook trigger has source 'nobody-listens'."
    assert event.payload == {"hello": "world"}
    assert not TriggerEvaluation.objects.exists()


def test_it_never_fires_disabled_triggers_or_pipelines(hook: Callable[..., Pipeline], developer: User) -> None:
    hook(name="paused-trigger", enabled=False)
    idle = hook(name="idle")
    actions.save_pipeline(developer, {**idle.document, "disabled": True}, source="api")
    response = post("deploy-hook", {})
    reasons = {row["pipeline"]: row["reason"] for row in response.json()["skipped"]}
    assert reasons == {"paused-trigger": "The trigger is disabled.", "idle": "The pipeline is disabled."}
    assert not Execution.objects.exists()


def test_it_records_a_parameter_the_pipeline_refuses(hook: Callable[..., Pipeline]) -> None:
    hook()
    response = post("deploy-hook", {"parameters": {"env": "moon"}})
    assert response.status_code == 200
    [skipped] = response.json()["skipped"]
    assert skipped["reason"] == "env must be one of staging, prod, not 'moon'."
    evaluation = TriggerEvaluation.objects.get()
    assert evaluation.outcome == "refused"
    assert not Execution.objects.exists()


def test_it_names_no_pipeline_that_does_not_listen_to_the_source(
    hook: Callable[..., Pipeline], blog: Application, admin: User
) -> None:
    hook()
    secret_name = {"application": "blog", "name": "blog-private-pipeline", "stages": []}
    actions.save_pipeline(admin, {**secret_name, "triggers": [{"type": "webhook", "source": "other"}]}, source="api")
    response = post("deploy-hook", {})
    assert b"blog-private-pipeline" not in response.content
    assert len(response.json()["fired"]) == 1


def test_it_refuses_bodies_that_are_not_a_json_object(hook: Callable[..., Pipeline]) -> None:
    hook()
    not_json = post("deploy-hook", b"branch=main")
    assert not_json.status_code == 400
    assert not_json.json()["detail"].startswith("The body is not JSON")
    a_list = post("deploy-hook", [1, 2])
    assert a_list.status_code == 400
    assert a_list.json()["detail"] == "The body must be a JSON object."
    assert not Execution.objects.exists()
    assert not TriggerEvent.objects.exists()


def test_it_refuses_a_body_over_the_limit_with_413(hook: Callable[..., Pipeline], settings: Any) -> None:
    settings.SPINWEB_WEBHOOK_MAX_BYTES = 1024
    hook()
    response = post("deploy-hook", {"padding": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["detail"] == "The body is 2015 bytes; webhooks take at most 1024 bytes."
    assert not Execution.objects.exists()


def test_it_takes_only_posts(hook: Callable[..., Pipeline]) -> None:
    assert browser_as(None).get("/api/v1/webhooks/deploy-hook").status_code == 405


def test_it_shows_calls_no_trigger_listens_to_in_the_admin_only(
    hook: Callable[..., Pipeline], admin: User, viewer: User
) -> None:
    hook()
    post("nobody-listens", {})
    post("deploy-hook", {})
    listing = browser_as(admin).get("/admin/pipelines/triggerevent/")
    assert b"nobody-listens" in listing.content
    for event in TriggerEvent.objects.all():
        page = browser_as(admin).get(f"/admin/pipelines/triggerevent/{event.pk}/change/")
        assert page.status_code == 200
        assert event.source.encode() in page.content
    assert b"nobody-listens" not in browser_as(viewer).get("/applications/shop/triggers/").content


def test_it_gives_up_on_a_regex_that_a_crafted_payload_makes_run_for_ever(hook: Callable[..., Pipeline]) -> None:
    # Overlapping alternatives under repetition backtrack exponentially: without a time limit
    # this value holds the request for hours. Anyone may call the endpoint, so the limit is what
    # keeps it answering.
    hook(payloadConstraints={"name": "^(a|aa)+$"})
    started = time.monotonic()

    response = post("deploy-hook", {"name": "a" * 60 + "!"})

    assert time.monotonic() - started < 5
    assert response.status_code == 200
    assert response.json()["fired"] == []
    (skipped,) = response.json()["skipped"]
    assert "took longer than 0.1 s on this value, so it counts as no match" in skipped["reason"]
    assert not Execution.objects.exists()
