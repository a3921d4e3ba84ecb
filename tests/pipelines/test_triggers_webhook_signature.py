"""Signed webhook triggers: only a request signed with the trigger's secret
(``X-Hub-Signature-256``) fires them, and a caller that cannot sign learns nothing about them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.models import Execution, Pipeline, TriggerEvaluation, TriggerEvent
from pipelines.triggers.git import sign
from tests.conftest import browser_as

SECRET = "hook-secret-5b1e"
BODY = json.dumps({"ref": "main"}).encode()


def post(headers: dict[str, str]) -> Any:
    return browser_as(None).post("/api/v1/webhooks/signed", data=BODY, content_type="application/json", headers=headers)


@pytest.fixture
def hook(developer: User, shop: Application) -> Callable[..., Pipeline]:
    def hook(name: str = "deploy", **trigger: Any) -> Pipeline:
        document = {"application": "shop", "name": name, "stages": [], "triggers": [{"type": "webhook", **trigger}]}
        return actions.save_pipeline(developer, document, source="api")

    return hook


def test_it_fires_on_a_good_signature(hook: Callable[..., Pipeline]) -> None:
    pipeline = hook(source="signed", secret=SECRET)
    response = post({"X-Hub-Signature-256": sign(SECRET, BODY)})
    assert response.status_code == 200
    assert [row["pipeline"] for row in response.json()["fired"]] == ["deploy"]
    assert Execution.objects.filter(pipeline=pipeline).count() == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "The X-Hub-Signature-256 signature is missing."),
        ({"X-Hub-Signature-256": sign("wrong-secret", BODY)}, "The X-Hub-Signature-256 signature is invalid."),
        ({"X-Hub-Signature-256": sign(SECRET, BODY + b" ")}, "The X-Hub-Signature-256 signature is invalid."),
    ],
)
def test_it_answers_401_and_names_nothing_when_every_candidate_needs_a_signature(
    hook: Callable[..., Pipeline], headers: dict[str, str], reason: str
) -> None:
    hook(source="signed", secret=SECRET)
    response = post(headers)
    assert response.status_code == 401
    assert response.json()["fired"] == response.json()["skipped"] == []
    assert response.json()["rejected"] == 1
    assert b"deploy" not in response.content
    assert not Execution.objects.exists()
    assert TriggerEvaluation.objects.get().reason == reason


def test_it_still_fires_unsigned_triggers_beside_a_rejected_signed_one(hook: Callable[..., Pipeline]) -> None:
    hook(name="guarded", source="signed", secret=SECRET)
    hook(name="open", source="signed")
    response = post({"X-Hub-Signature-256": "sha256=00"})
    assert response.status_code == 200
    body = response.json()
    assert [row["pipeline"] for row in body["fired"]] == ["open"]
    assert body["rejected"] == 1
    assert b"guarded" not in response.content


def test_it_never_stores_the_signature_or_the_secret(hook: Callable[..., Pipeline]) -> None:
    hook(source="signed", secret=SECRET)
    signature = sign(SECRET, BODY)
    post({"X-Hub-Signature-256": signature})
    stored = json.dumps(list(TriggerEvent.objects.values()), default=str) + json.dumps(
        list(Execution.objects.values("trigger", "config"))
    )
    assert signature.removeprefix("sha256=") not in stored
    assert SECRET not in stored
