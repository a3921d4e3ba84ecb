"""The gate: enforce denies, warn only warns, each message names its policy, no covering policy
decides nothing, and every evaluated decision is logged with its stored input."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from policies import gate
from policies.hooks import AUTHZ_PACKAGE, EXECUTION_PACKAGE, SAVE_PACKAGE, Hook
from policies.models import DecisionResult, PolicyDecision, PolicyInput
from policies.types import PolicyDenied
from tests.policies.conftest import MakePolicy, deny_source

pytestmark = pytest.mark.django_db


def run_document(user: str = "dev", env: str = "prod") -> dict[str, Any]:
    return {"pipeline": {"application": "shop", "parameters": {"env": env}}, "user": {"username": user}}


PROD = 'input.pipeline.parameters.env == "prod"'


def test_it_denies_with_an_enforcing_policy_and_names_it(make_policy: MakePolicy) -> None:
    make_policy(deny_source(EXECUTION_PACKAGE, "No prod runs today", PROD), name="freeze")
    decision = gate.decide(Hook.EXECUTION, EXECUTION_PACKAGE, run_document())
    assert (decision.allowed, decision.result, decision.evaluated) == (False, DecisionResult.DENY, 1)
    assert decision.denials == ["Denied by policy freeze: No prod runs today"]
    assert gate.decide(Hook.EXECUTION, EXECUTION_PACKAGE, run_document(env="dev")).result == DecisionResult.ALLOW


def test_it_only_warns_with_a_warn_mode_policy(make_policy: MakePolicy) -> None:
    make_policy(deny_source(EXECUTION_PACKAGE, "Prod run", PROD), name="watch", mode="warn")
    decision = gate.decide(Hook.EXECUTION, EXECUTION_PACKAGE, run_document())
    assert (decision.allowed, decision.result) == (True, DecisionResult.WARN)
    assert decision.denials == []
    assert decision.warnings == ["Policy watch (warn only): Prod run"]


def test_it_attributes_two_policies_of_one_package_separately(make_policy: MakePolicy) -> None:
    make_policy(deny_source(EXECUTION_PACKAGE, "same words", PROD), name="first")
    make_policy(deny_source(EXECUTION_PACKAGE, "same words", PROD), name="second", mode="warn")
    make_policy(deny_source(EXECUTION_PACKAGE, "never", "false"), name="third")
    decision = gate.decide(Hook.EXECUTION, EXECUTION_PACKAGE, run_document())
    assert [str(v) for v in decision.violations] == ["first: same words", "second: same words"]
    assert decision.denials == ["Denied by policy first: same words"]
    assert decision.warnings == ["Policy second (warn only): same words"]
    assert decision.evaluated == 3


def test_it_decides_nothing_and_logs_nothing_when_no_policy_covers(make_policy: MakePolicy) -> None:
    make_policy(deny_source(EXECUTION_PACKAGE, "x"), name="other-hook")
    make_policy(deny_source(SAVE_PACKAGE, "x"), name="disabled", enabled=False)

    def never_built() -> dict[str, Any]:
        raise AssertionError("the document is built only when a policy covers the package")

    decision = gate.decide(Hook.SAVE, SAVE_PACKAGE, never_built)
    assert (decision.allowed, decision.result, decision.evaluated, decision.record_id) == (True, "allow", 0, None)
    assert not PolicyDecision.objects.exists()


def test_it_answers_the_save_hook_for_the_opa_pipelines_alias(make_policy: MakePolicy) -> None:
    make_policy(deny_source("opa.pipelines", "Old style"), name="alias")
    assert gate.decide(Hook.SAVE, SAVE_PACKAGE, {"pipeline": {}}).denials == ["Denied by policy alias: Old style"]


def test_it_logs_the_decision_with_its_input_digest_and_stored_input(make_policy: MakePolicy) -> None:
    make_policy(deny_source(EXECUTION_PACKAGE, "No prod runs today", PROD), name="freeze")
    document = run_document(user="alice")
    decision = gate.decide(
        Hook.EXECUTION,
        EXECUTION_PACKAGE,
        lambda: document,
        application="shop",
        execution_id="5b0f6d0e-4c1e-4d5e-8f7a-1f2e3d4c5b6a",
        subject="run of shop/deploy",
    )
    row = PolicyDecision.objects.get()
    assert decision.record_id == row.pk
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    assert row.input_id == hashlib.sha256(canonical.encode()).hexdigest()
    assert row.input.document == document
    assert (row.hook, row.package, row.allowed, row.result, row.engine) == (
        "execution",
        EXECUTION_PACKAGE,
        False,
        "deny",
        "embedded",
    )
    assert row.messages == [{"policy": "freeze", "mode": "enforce", "message": "No prod runs today"}]
    assert (row.username, row.application, str(row.execution_id)) == (
        "alice",
        "shop",
        "5b0f6d0e-4c1e-4d5e-8f7a-1f2e3d4c5b6a",
    )
    assert row.duration_ms > 0
    assert not row.dry_run
    assert not row.failed_open
    gate.decide(Hook.EXECUTION, EXECUTION_PACKAGE, document, dry_run=True)
    assert PolicyInput.objects.count() == 1
    assert PolicyDecision.objects.filter(dry_run=True).count() == 1


def test_it_raises_policy_denied_from_require(make_policy: MakePolicy) -> None:
    make_policy(deny_source(EXECUTION_PACKAGE, "Nope"), name="nope")
    with pytest.raises(PolicyDenied) as denied:
        gate.require(Hook.EXECUTION, EXECUTION_PACKAGE, run_document())
    assert str(denied.value) == "Denied by policy nope: Nope"
    assert denied.value.decision.record_id == PolicyDecision.objects.get().pk


AUTHZ = """package spinnaker.http.authz

import rego.v1

default allow := false

allow if input.user.isAdmin

allow if input.method == "GET"

message := "Only admins may change things" if not allow
"""


def authz_document(method: str, admin: bool) -> dict[str, Any]:
    return {"method": method, "path": ["api", "v1", "pipelines"], "user": {"username": "u", "isAdmin": admin}}


def test_it_allows_authz_only_when_allow_is_true(make_policy: MakePolicy) -> None:
    make_policy(AUTHZ, name="admins-write")
    refused = gate.decide(Hook.AUTHZ, AUTHZ_PACKAGE, authz_document("POST", admin=False))
    assert (refused.allowed, refused.result, refused.message) == (False, "deny", "Only admins may change things")
    assert refused.denials == ["Denied by policy admins-write: Only admins may change things"]
    assert gate.decide(Hook.AUTHZ, AUTHZ_PACKAGE, authz_document("POST", admin=True)).allowed
    assert gate.decide(Hook.AUTHZ, AUTHZ_PACKAGE, authz_document("GET", admin=False)).allowed


def test_it_denies_authz_when_allow_is_undefined_with_a_default_message(make_policy: MakePolicy) -> None:
    make_policy("package spinnaker.http.authz\nimport rego.v1\nallow if input.user.isAdmin\n", name="admins-only")
    decision = gate.decide(Hook.AUTHZ, AUTHZ_PACKAGE, authz_document("GET", admin=False))
    assert (decision.allowed, decision.message) == (False, "Request refused by policy admins-only.")


def test_it_keeps_messages_with_quotes_backslashes_and_unicode(make_policy: MakePolicy) -> None:
    source = (
        f"package {EXECUTION_PACKAGE}\nimport rego.v1\n"
        'deny contains sprintf("user \\"%s\\" may not run \\\\ é", [input.user.username])\n'
        'deny contains concat("", ["in: ", input.note])\n'
    )
    make_policy(source, name="quoted")
    document = {"user": {"username": 'o"brien'}, "note": 'say "hi"\\ ✓'}
    decision = gate.decide(Hook.EXECUTION, EXECUTION_PACKAGE, document)
    assert sorted(v.message for v in decision.violations) == sorted(
        ['user "o"brien" may not run \\ é', 'in: say "hi"\\ ✓']
    )
