"""The authz hook (``spinnaker.http.authz``): with an authz policy enabled, every signed-in API call
(token or session) and page asks it; a refusal is a 403 with the policy's message. Signing in,
webhooks and health checks are never asked; with no authz policy nothing changes."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from applications.models import Application
from pipelines.models import Pipeline
from policies.models import DecisionResult, PolicyDecision
from tests.conftest import PASSWORD, browser_as
from tests.policies.hook_helpers import enable

ADMINS_ONLY = """
package spinnaker.http.authz
import rego.v1

default allow := false

allow if input.user.isAdmin

message := "Only administrators may use Spinweb during the migration."
"""

NO_DELETES = """
package spinnaker.http.authz
import rego.v1

default allow := false

allow if input.method != "DELETE"

message := sprintf("%s may not delete anything.", [input.user.username])
"""
REFUSAL = "Only administrators may use Spinweb during the migration."


def token_client(user: User) -> APIClient:
    """An API client signed in with a token, as scripts are (no session)."""
    encoded = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    basic = APIClient()
    basic.credentials(HTTP_AUTHORIZATION=f"Basic {encoded}")
    response = basic.post("/api/v1/auth/token/")
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


@pytest.fixture
def people(admin: User, developer: User, shop: Application) -> dict[str, User]:
    return {"admin": admin, "developer": developer}


def test_it_changes_nothing_without_an_authz_policy(people: dict[str, User]) -> None:
    assert token_client(people["developer"]).get("/api/v1/applications/").status_code == 200
    assert browser_as(people["developer"]).get("/applications/").status_code == 200
    assert not PolicyDecision.objects.exists()


def test_it_refuses_api_calls_with_the_policy_message(people: dict[str, User]) -> None:
    client = token_client(people["developer"])
    enable("admins-only", ADMINS_ONLY)
    response = client.get("/api/v1/applications/")
    assert response.status_code == 403
    assert response.json() == {"detail": f"Denied by policy admins-only: {REFUSAL}", "errors": []}
    assert token_client(people["admin"]).get("/api/v1/applications/").status_code == 200
    logged = PolicyDecision.objects.filter(hook="authz", username="developer").get()
    assert logged.result == DecisionResult.DENY
    assert logged.input.document["path"] == ["api", "v1", "applications"]


def test_it_shows_a_403_page_with_the_policy_message(people: dict[str, User]) -> None:
    enable("admins-only", ADMINS_ONLY)
    response = browser_as(people["developer"]).get("/applications/shop/pipelines/")
    assert response.status_code == 403
    assert REFUSAL in response.content.decode()
    assert browser_as(people["admin"]).get("/applications/shop/pipelines/").status_code == 200


def test_it_sees_the_method_path_and_masked_body(people: dict[str, User]) -> None:
    enable("no-deletes", NO_DELETES)
    client = browser_as(people["developer"])
    body = {"application": "shop", "name": "deploy", "stages": [], "token": "s3cr3t"}
    saved = client.post("/api/v1/pipelines/", json.dumps(body), content_type="application/json")
    assert saved.status_code == 201, saved.content
    stored = PolicyDecision.objects.get(hook="authz", input__document__method="POST").input.document
    assert stored["body"]["token"] == "********"
    pipeline_id = saved.json()["id"]
    response = client.delete(f"/api/v1/pipelines/{pipeline_id}/")
    assert response.status_code == 403
    assert response.json()["detail"] == "Denied by policy no-deletes: developer may not delete anything."
    refused = PolicyDecision.objects.get(hook="authz", result=DecisionResult.DENY).input.document
    assert (refused["method"], refused["path"]) == ("DELETE", ["api", "v1", "pipelines", pipeline_id])
    assert Pipeline.objects.filter(pk=pipeline_id).exists()


def test_it_never_asks_about_signing_in_or_webhooks(people: dict[str, User]) -> None:
    enable("admins-only", ADMINS_ONLY)
    visitor = Client()
    assert visitor.get("/login/").status_code == 200
    signed_in = visitor.post("/login/", {"username": "developer", "password": PASSWORD})
    assert signed_in.status_code == 302
    webhook = visitor.post("/api/v1/webhooks/ci", data=json.dumps({}), content_type="application/json")
    assert webhook.status_code == 200
    assert visitor.get("/healthz").status_code == 200
    assert not PolicyDecision.objects.filter(hook="authz").exists()
