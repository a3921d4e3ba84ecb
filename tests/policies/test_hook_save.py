"""The save hook (``spinnaker.persistence.pipelines.before``, alias ``opa.pipelines``): every pipeline
save, from the API, the editor page, a restore, asks the policies first and saves nothing when refused."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.models import Pipeline
from policies.models import DecisionResult, PolicyDecision
from tests.conftest import api_as, browser_as
from tests.policies.hook_helpers import enable

NO_WAITS = """
package spinnaker.persistence.pipelines.before
import rego.v1

deny contains msg if {
    some stage in input.pipeline.stages
    stage.type == "wait"
    msg := sprintf("Stage %s is a wait; waits are not allowed.", [stage.name])
}
"""

NEEDS_DESCRIPTION = """
package opa.pipelines
import rego.v1

deny contains "Every pipeline needs a description." if object.get(input.pipeline, "description", "") == ""
"""

LONG_WAITS = """
package spinnaker.persistence.pipelines.before
import rego.v1

deny contains msg if {
    some stage in input.pipeline.stages
    stage.waitTime > 300
    msg := sprintf("%s waits longer than five minutes.", [stage.name])
}
"""


def wait(ref: str, name: str, seconds: int = 5) -> dict[str, Any]:
    return {"refId": ref, "type": "wait", "name": name, "waitTime": seconds, "requisiteStageRefIds": []}


def document(*stages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"application": "shop", "name": "deploy", "stages": list(stages), **fields}


def test_it_refuses_a_save_over_the_api_with_every_deny_message(
    admin: User, developer: User, shop: Application
) -> None:
    enable("no-waits", NO_WAITS)
    enable("needs-description", NEEDS_DESCRIPTION)
    response = api_as(developer).post(
        "/api/v1/pipelines/", document(wait("1", "Pause"), wait("2", "Soak")), format="json"
    )
    assert response.status_code == 400, response.content
    messages = [error["message"] for error in response.json()["errors"]]
    assert sorted(messages) == [
        "Denied by policy needs-description: Every pipeline needs a description.",
        "Denied by policy no-waits: Stage Pause is a wait; waits are not allowed.",
        "Denied by policy no-waits: Stage Soak is a wait; waits are not allowed.",
    ]
    assert not Pipeline.objects.exists()
    logged = PolicyDecision.objects.get(hook="save")
    assert (logged.result, logged.username, logged.application) == (DecisionResult.DENY, "developer", "shop")


def test_it_saves_what_the_policies_allow(admin: User, developer: User, shop: Application) -> None:
    enable("no-waits", NO_WAITS)
    variables = {"refId": "1", "type": "evaluateVariables", "name": "Set", "variables": [{"key": "a", "value": 1}]}
    response = api_as(developer).post("/api/v1/pipelines/", document(variables), format="json")
    assert response.status_code == 201, response.content
    assert Pipeline.objects.get().name == "deploy"
    assert PolicyDecision.objects.get(hook="save").result == DecisionResult.ALLOW


def test_it_saves_with_the_warnings_of_a_warn_mode_policy(admin: User, developer: User, shop: Application) -> None:
    enable("no-waits", NO_WAITS, mode="warn")
    saved = actions.save_pipeline(developer, document(wait("1", "Pause")), source="api")
    assert list(saved.policy_warnings) == ["Policy no-waits (warn only): Stage Pause is a wait; waits are not allowed."]
    assert saved.version == 1
    assert PolicyDecision.objects.get(hook="save").result == DecisionResult.WARN


def test_it_shows_the_denials_beside_the_editor(admin: User, developer: User, shop: Application) -> None:
    enable("no-waits", NO_WAITS)
    text = json.dumps(document(wait("1", "Pause")))
    response = browser_as(developer).post("/applications/shop/pipelines/new/", {"document": text})
    assert response.status_code == 400
    assert "Denied by policy no-waits: Stage Pause is a wait; waits are not allowed." in response.content.decode()
    assert not Pipeline.objects.exists()


def test_it_refuses_to_restore_a_version_the_policies_now_deny(admin: User, developer: User, shop: Application) -> None:
    pipeline = actions.save_pipeline(developer, document(wait("1", "Pause", 600)), source="api")
    actions.save_pipeline(developer, document(wait("1", "Pause", 60)), source="api")
    enable("long-waits", LONG_WAITS)
    response = api_as(developer).post(f"/api/v1/pipelines/{pipeline.pk}/restore/", {"version": 1}, format="json")
    assert response.status_code == 400, response.content
    assert "Denied by policy long-waits: Pause waits longer than five minutes." in response.json()["detail"]
    pipeline.refresh_from_db()
    assert (pipeline.version, pipeline.config["stages"][0]["waitTime"]) == (2, 60)
