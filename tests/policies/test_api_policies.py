"""/api/v1/policies/: CRUD through the actions, errors by field, test cases, versions, diff, restore."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from policies.models import Policy
from spinweb.models import AuditEvent
from tests.conftest import api_as, assert_sentence, fields_of, message_for
from tests.policies.conftest import MakePolicy, deny_source

WAIT = "spinnaker.execution.stages.before.wait"
SOURCE = deny_source(WAIT, "Too long.", "input.stage.context.waitTime > 60")
CASES = [{"name": "long", "input": {"stage": {"context": {"waitTime": 61}}}, "expect": {"deny": ["Too long."]}}]


def test_it_creates_reads_and_lists_a_policy(admin: User) -> None:
    client = api_as(admin)
    created = client.post("/api/v1/policies/", {"name": "short", "source": SOURCE, "tests": CASES}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["package"], body["version"], body["enabled"], body["mode"]) == (WAIT, 1, False, "enforce")
    assert body["updated_by"] == "admin"
    assert client.get(f"/api/v1/policies/{body['id']}/").json()["tests"] == CASES
    listed = client.get("/api/v1/policies/", {"package": WAIT}).json()
    assert [row["name"] for row in listed["results"]] == ["short"]
    assert AuditEvent.objects.filter(object_type="policies.policy", source="api").count() == 1


def test_it_refuses_a_rego_error_with_line_and_column(admin: User) -> None:
    broken = f"package {WAIT}\n\nimport rego.v1\n\ndeny contains msg if {{\n  msg := \n}}\n"
    response = api_as(admin).post("/api/v1/policies/", {"name": "x", "source": broken}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith("Invalid policy.")
    assert any(field.startswith("source:") for field in fields_of(body))
    assert all(error["message"] for error in body["errors"])
    assert not Policy.objects.exists()


def test_it_refuses_a_failing_test_case_and_a_taken_name(admin: User, make_policy: MakePolicy) -> None:
    make_policy(SOURCE, name="taken")
    wrong = [{"name": "long", "input": {"stage": {"context": {"waitTime": 61}}}, "expect": {"allowed": True}}]
    response = api_as(admin).post(
        "/api/v1/policies/", {"name": "taken", "source": SOURCE, "tests": wrong}, format="json"
    )
    body = response.json()
    assert response.status_code == 400
    assert message_for(body, "name") == "Another policy is already named 'taken'."
    assert message_for(body, "tests[0]").startswith("Test case 'long' failed")
    assert_sentence(message_for(body, "tests[0]"))
    assert Policy.objects.count() == 1


def test_it_updates_partially_as_a_new_version_and_restores(admin: User, make_policy: MakePolicy) -> None:
    policy = make_policy(SOURCE, name="short", enabled=False)
    client = api_as(admin)
    patched = client.patch(f"/api/v1/policies/{policy.pk}/", {"enabled": True, "mode": "warn"}, format="json")
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["enabled"], patched.json()["mode"], patched.json()["version"]) == (True, "warn", 2)
    versions = client.get(f"/api/v1/policies/{policy.pk}/versions/").json()
    assert [(v["version"], v["mode"]) for v in versions] == [(2, "warn"), (1, "enforce")]
    diff = client.get(f"/api/v1/policies/{policy.pk}/diff/", {"from": 1, "to": 2}).json()
    assert "-mode: enforce" in diff["diff"]
    assert "+mode: warn" in diff["diff"]
    restored = client.post(f"/api/v1/policies/{policy.pk}/restore/", {"version": 1}, format="json")
    assert restored.status_code == 200
    assert (restored.json()["version"], restored.json()["mode"]) == (3, "enforce")
    missing = client.post(f"/api/v1/policies/{policy.pk}/restore/", {"version": 9}, format="json")
    assert missing.status_code == 400
    assert message_for(missing.json(), "version") == "Policy short has no version 9."


def test_it_runs_the_test_cases_on_demand(admin: User, make_policy: MakePolicy) -> None:
    policy = make_policy(SOURCE, name="short", tests=CASES)
    response = api_as(admin).post(f"/api/v1/policies/{policy.pk}/test/")
    assert response.json() == {"passed": True, "cases": [{"name": "long", "passed": True, "detail": "Passed."}]}


def test_it_deletes_a_policy(admin: User, make_policy: MakePolicy) -> None:
    policy = make_policy(SOURCE, name="short")
    assert api_as(admin).delete(f"/api/v1/policies/{policy.pk}/").status_code == 204
    assert not Policy.objects.exists()
    assert AuditEvent.objects.filter(object_type="policies.policy", action="delete", source="api").exists()


@pytest.mark.parametrize("persona", ["developer", "viewer", "nobody"])
def test_it_is_for_admins_only(persona: str, request: pytest.FixtureRequest, make_policy: MakePolicy) -> None:
    policy = make_policy(SOURCE, name="short")
    client = api_as(request.getfixturevalue(persona))
    assert client.get("/api/v1/policies/").status_code == 403
    assert client.get(f"/api/v1/policies/{policy.pk}/").status_code == 403
    assert client.post("/api/v1/policies/", {"name": "x", "source": SOURCE}, format="json").status_code == 403
    assert client.delete(f"/api/v1/policies/{policy.pk}/").status_code == 403
    assert client.post("/api/v1/policy-eval/", {"package": WAIT, "input": {}}, format="json").status_code == 403
    assert client.get("/api/v1/policy-data/").status_code == 403
    assert client.get("/api/v1/policy-decisions/").status_code == 403
    assert Policy.objects.count() == 1
