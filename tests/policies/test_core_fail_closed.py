"""An engine that cannot decide denies (fails closed), naming the hook and the cause, unless the
hook is listed in SPINWEB_POLICY_FAIL_OPEN; a warn-mode policy's failure never blocks."""

from __future__ import annotations

from typing import Any

import pytest

from policies import gate
from policies.hooks import Hook, stage_package
from policies.models import DecisionResult, PolicyDecision
from tests.policies.conftest import MakePolicy

pytestmark = pytest.mark.django_db

DEPLOY = stage_package("deploy")
BROKEN = f"""package {DEPLOY}

import rego.v1

deny contains msg if {{
\tmsg := nosuch.fn(input.stage.name)
}}
"""
DOCUMENT = {"stage": {"name": "Deploy"}, "user": {"username": "dev"}}


def test_it_denies_when_a_policy_cannot_be_evaluated(make_policy: MakePolicy) -> None:
    make_policy(BROKEN, name="typo")
    decision = gate.decide(Hook.STAGE, DEPLOY, DOCUMENT)
    assert (decision.allowed, decision.result) == (False, DecisionResult.ERROR)
    assert decision.denials == [
        f"Policy gate stage ({DEPLOY}) could not decide: policy typo could not be evaluated: "
        "Function not found: nosuch.fn."
    ]
    row = PolicyDecision.objects.get()
    assert (row.allowed, row.result, row.failed_open) == (False, "error", False)
    assert "Function not found: nosuch.fn" in row.error


def test_it_fails_open_for_a_hook_listed_in_the_setting(make_policy: MakePolicy, settings: Any) -> None:
    settings.SPINWEB_POLICY_FAIL_OPEN = ["stage"]
    make_policy(BROKEN, name="typo")
    decision = gate.decide(Hook.STAGE, DEPLOY, DOCUMENT)
    assert (decision.allowed, decision.result, decision.denials) == (True, DecisionResult.ERROR, [])
    assert decision.warnings[0].endswith("(this hook fails open)")
    assert PolicyDecision.objects.get().failed_open


def test_it_still_fails_closed_for_hooks_not_listed(make_policy: MakePolicy, settings: Any) -> None:
    settings.SPINWEB_POLICY_FAIL_OPEN = ["task", "authz"]
    make_policy(BROKEN, name="typo")
    assert not gate.decide(Hook.STAGE, DEPLOY, DOCUMENT).allowed


def test_it_only_warns_when_a_warn_mode_policy_fails(make_policy: MakePolicy) -> None:
    make_policy(BROKEN, name="typo", mode="warn")
    decision = gate.decide(Hook.STAGE, DEPLOY, DOCUMENT)
    assert (decision.allowed, decision.result) == (True, DecisionResult.WARN)
    assert "could not be evaluated" in decision.warnings[0]


def test_it_denies_when_the_input_is_not_json(make_policy: MakePolicy) -> None:
    make_policy(f'package {DEPLOY}\nimport rego.v1\ndeny contains "x" if input.never\n', name="plain")
    decision = gate.decide(Hook.STAGE, DEPLOY, {"stage": {"size": float("nan")}})
    assert not decision.allowed
    assert "could not decide" in decision.error
