"""/api/v1/policy-eval/: the enabled policies' answer for a package and an input, logged as a dry run."""

from __future__ import annotations

from django.contrib.auth.models import User

from policies.hooks import AUTHZ_PACKAGE
from policies.models import PolicyDecision
from tests.conftest import api_as, message_for
from tests.policies.conftest import MakePolicy, deny_source

WAIT = "spinnaker.execution.stages.before.wait"
AUTHZ = (
    f"package {AUTHZ_PACKAGE}\n\nimport rego.v1\n\ndefault allow := false\n\n"
    'allow if input.user.isAdmin\n\nmessage := "Admins only."\n'
)


def test_it_answers_with_deny_messages_and_who_said_them(admin: User, make_policy: MakePolicy) -> None:
    make_policy(deny_source(WAIT, "Too long."), name="strict")
    make_policy(deny_source(WAIT, "Hmm."), name="nag", mode="warn")
    response = api_as(admin).post("/api/v1/policy-eval/", {"package": WAIT, "input": {"stage": {}}}, format="json")
    body = response.json()
    assert response.status_code == 200
    assert (body["allowed"], body["result"], body["deny"]) == (False, "deny", ["Too long."])
    assert sorted(body["violations"], key=lambda v: v["policy"]) == [
        {"policy": "nag", "mode": "warn", "message": "Hmm."},
        {"policy": "strict", "mode": "enforce", "message": "Too long."},
    ]
    assert PolicyDecision.objects.get(pk=body["decision"]).dry_run


def test_it_answers_authz_with_allowed_and_message(admin: User, make_policy: MakePolicy) -> None:
    make_policy(AUTHZ, name="admins")
    client = api_as(admin)
    refused = client.post(
        "/api/v1/policy-eval/", {"package": AUTHZ_PACKAGE, "input": {"user": {"isAdmin": False}}}, format="json"
    )
    assert refused.json()["allowed"] is False
    assert "Admins only." in refused.json()["message"]
    assert "deny" not in refused.json()
    allowed = client.post(
        "/api/v1/policy-eval/", {"package": AUTHZ_PACKAGE, "input": {"user": {"isAdmin": True}}}, format="json"
    )
    assert allowed.json()["allowed"] is True


def test_it_refuses_a_package_no_hook_evaluates_and_input_that_is_not_an_object(admin: User) -> None:
    client = api_as(admin)
    unknown = client.post("/api/v1/policy-eval/", {"package": "my.rules", "input": {}}, format="json")
    assert unknown.status_code == 400
    assert message_for(unknown.json(), "package") == "No hook evaluates package my.rules."
    not_object = client.post("/api/v1/policy-eval/", {"package": WAIT, "input": [1]}, format="json")
    assert not_object.status_code == 400
    assert "input" in [error["field"] for error in not_object.json()["errors"]]
