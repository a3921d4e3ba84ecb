"""Trigger secrets are never shown (API, pages, admin, audit log, versions, runs, CLI) and survive
an edit that sends the mask back."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from applications.models import Application
from pipelines.models import Execution, Pipeline, PipelineVersion
from pipelines.triggers.git import sign
from pipelines.triggers.secrets import MASK
from spinweb.models import AuditEvent
from tests.conftest import api_as, browser_as, message_for

HOOK_SECRET = "hook-secret-d41d8c"
GIT_SECRET = "git-secret-0cc175"
URL = "/api/v1/pipelines/"


def document(**fields: Any) -> dict[str, Any]:
    triggers = [
        {"type": "webhook", "id": "hook", "source": "signed-deploy", "secret": HOOK_SECRET},
        {"type": "git", "source": "github", "project": "acme", "slug": "shop", "secret": GIT_SECRET},
    ]
    return {"application": "shop", "name": "guarded", "stages": [], "triggers": triggers, **fields}


@pytest.fixture
def saved(developer: User, shop: Application) -> dict[str, Any]:
    response = api_as(developer).post(URL, document(), format="json")
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def shows_no_secret(text: str | bytes) -> bool:
    raw = text.decode() if isinstance(text, bytes) else text
    return HOOK_SECRET not in raw and GIT_SECRET not in raw


def fire_signed(secret: str) -> int:
    body = b"{}"
    response = browser_as(None).post(
        "/api/v1/webhooks/signed-deploy",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": sign(secret, body)},
    )
    return len(response.json()["fired"])


def test_it_masks_secrets_in_api_answers(saved: dict[str, Any], developer: User) -> None:
    assert [t["secret"] for t in saved["triggers"]] == [MASK, MASK]
    client = api_as(developer)
    for url in (f"{URL}{saved['id']}/", URL, f"{URL}?application=shop"):
        response = client.get(url)
        assert response.status_code == 200
        assert shows_no_secret(response.content), url


def test_it_keeps_a_secret_sent_back_masked(saved: dict[str, Any], developer: User) -> None:
    edited = {**saved, "description": "edited in the UI"}
    response = api_as(developer).put(f"{URL}{saved['id']}/", edited, format="json")
    assert response.status_code == 200, response.content
    stored = Pipeline.objects.get(pk=saved["id"]).config["triggers"]
    assert [t["secret"] for t in stored] == [HOOK_SECRET, GIT_SECRET]
    assert fire_signed(HOOK_SECRET) == 1


def test_it_takes_a_new_secret_when_one_is_sent(saved: dict[str, Any], developer: User) -> None:
    triggers = [{**saved["triggers"][0], "secret": "rotated-secret"}, saved["triggers"][1]]
    api_as(developer).put(f"{URL}{saved['id']}/", {**saved, "triggers": triggers}, format="json")
    assert fire_signed(HOOK_SECRET) == 0
    assert fire_signed("rotated-secret") == 1


def test_it_refuses_a_mask_that_stands_for_no_stored_secret(saved: dict[str, Any], developer: User) -> None:
    new = {"type": "webhook", "id": "new-hook", "source": "other", "secret": MASK}
    response = api_as(developer).put(
        f"{URL}{saved['id']}/", {**saved, "triggers": [*saved["triggers"], new]}, format="json"
    )
    assert response.status_code == 400
    assert "no stored trigger matches this one" in message_for(response.json(), "triggers[2].secret")


def test_it_keeps_secrets_out_of_the_audit_log_versions_and_diffs(saved: dict[str, Any], developer: User) -> None:
    api_as(developer).put(f"{URL}{saved['id']}/", {**saved, "description": "v2"}, format="json")
    assert shows_no_secret(json.dumps(list(AuditEvent.objects.values("before", "after", "detail"))))
    client = api_as(developer)
    for url in (f"{URL}{saved['id']}/diff/?from=1&to=2", "/api/v1/audit-events/", f"{URL}{saved['id']}/versions/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert shows_no_secret(response.content), url
    assert PipelineVersion.objects.filter(pipeline_id=saved["id"]).count() == 2


def test_it_keeps_secrets_out_of_pages(saved: dict[str, Any], developer: User, admin: User) -> None:
    kwargs = {"name": "shop", "pipeline_id": saved["id"]}
    pages = [
        reverse("pipelines:list", kwargs={"name": "shop"}),
        reverse("pipelines:triggers", kwargs={"name": "shop"}),
        reverse("pipelines:edit", kwargs=kwargs),
        reverse("pipelines:versions", kwargs=kwargs),
    ]
    for url in pages:
        response = browser_as(developer).get(url)
        assert response.status_code == 200, url
        assert shows_no_secret(response.content), url
    version = PipelineVersion.objects.get(pipeline_id=saved["id"])
    for url in (
        reverse("admin:pipelines_pipeline_change", args=[saved["id"]]),
        reverse("admin:pipelines_pipelineversion_change", args=[version.pk]),
    ):
        response = browser_as(admin).get(url)
        assert response.status_code == 200, url
        assert shows_no_secret(response.content), url


def test_it_keeps_secrets_out_of_runs_and_the_cli(saved: dict[str, Any], developer: User) -> None:
    assert fire_signed(HOOK_SECRET) == 1
    run = Execution.objects.get()
    assert shows_no_secret(json.dumps(run.config) + json.dumps(run.trigger))
    response = api_as(developer).get(f"/api/v1/executions/{run.pk}/")
    assert shows_no_secret(response.content)
    out = StringIO()
    call_command("pipeline", "run", "shop", "guarded", "--json", stdout=out, stderr=StringIO())
    assert shows_no_secret(out.getvalue())
