"""``manage.py policy add|eval|test|list|data``: the names, flags, output and exit codes scripts rely on."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from policies.models import Policy, PolicyDecision, ReferenceData
from tests.policies.conftest import deny_source

WAIT = "spinnaker.execution.stages.before.wait"
LONG_WAITS = """package spinnaker.execution.stages.before.wait

import rego.v1

deny contains "too long" if input.stage.context.waitTime > data.limits.wait
"""
ADMINS_ONLY = """package spinnaker.http.authz

import rego.v1

default allow := false

allow if input.user.isAdmin

message := "Administrators only." if not allow
"""


def call(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(*args, stdout=out, stderr=err)
    return caught.value.returncode, str(caught.value), err.getvalue()


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_it_adds_then_updates_a_policy_named_after_its_file(tmp_path: Path, db: None) -> None:
    rego = write(tmp_path, "short-waits.rego", deny_source(WAIT, "no waiting"))
    out, _ = call("policy", "add", rego)
    assert out.strip() == f"Created short-waits v1 ({WAIT}, enforce, enabled)."
    out, _ = call("policy", "add", rego, "--mode", "warn", "--disabled")
    assert out.strip() == f"Updated short-waits v2 ({WAIT}, warn, disabled)."
    policy = Policy.objects.get(name="short-waits")
    assert (policy.name, policy.mode, policy.enabled, policy.version) == ("short-waits", "warn", False, 2)


def test_it_saves_the_test_cases_given_and_refuses_failing_ones(tmp_path: Path, db: None) -> None:
    rego = write(tmp_path, "w.rego", LONG_WAITS)
    case = {"name": "long", "input": {"stage": {"context": {"waitTime": 90}}}, "data": {"limits": {"wait": 60}}}
    good = write(tmp_path, "good.json", [{**case, "expect": {"allowed": False, "deny": ["too long"]}}])
    call("policy", "add", rego, "--name", "waits", "--tests", good)
    assert Policy.objects.get(name="waits").tests[0]["name"] == "long"
    bad = write(tmp_path, "bad.json", {"tests": [{**case, "expect": {"allowed": True}}]})
    code, _, err = failing("policy", "add", rego, "--name", "waits", "--tests", bad)
    assert code == 2
    assert "tests[0]: Test case 'long' failed: Expected allowed, got denied (too long)." in err
    assert Policy.objects.get(name="waits").version == 1


def test_it_exits_2_with_the_line_and_column_of_a_rego_error(tmp_path: Path, db: None) -> None:
    source = "package spinnaker.http.authz\n\nimport rego.v1\n\nallow if {\n\tinput.x = = 1\n}\n"
    rego = write(tmp_path, "broken.rego", source)
    code, message, err = failing("policy", "add", rego)
    assert code == 2
    assert message.endswith("nothing was saved.")
    assert err.splitlines()[0] == f"{rego}:6:10: Invalid assignment operator"
    assert not Policy.objects.filter(name="broken").exists()


def test_it_evaluates_an_input_with_the_enabled_policies(tmp_path: Path, db: None) -> None:
    call("policy", "add", write(tmp_path, "waits.rego", LONG_WAITS))
    call("policy", "data", "set", "limits", write(tmp_path, "limits.json", {"wait": 60}))
    long_wait = write(tmp_path, "input.json", {"stage": {"context": {"waitTime": 90}}})
    out, _ = call("policy", "eval", "--package", WAIT, "--input", long_wait)
    assert json.loads(out) == {"allowed": False, "deny": ["too long"]}
    short = write(tmp_path, "short.json", {"stage": {"context": {"waitTime": 5}}})
    assert json.loads(call("policy", "eval", "--package", WAIT, "--input", short)[0]) == {"allowed": True, "deny": []}
    assert set(PolicyDecision.objects.values_list("dry_run", flat=True)) == {True}


def test_it_answers_allow_and_message_for_authz(tmp_path: Path, db: None) -> None:
    call("policy", "add", write(tmp_path, "admins.rego", ADMINS_ONLY))
    request = {"method": "GET", "path": ["api"], "body": None, "user": {"username": "u", "isAdmin": False, "roles": []}}
    out, _ = call("policy", "eval", "--package", "spinnaker.http.authz", "--input", write(tmp_path, "r.json", request))
    assert json.loads(out) == {"allowed": False, "message": "Administrators only."}


def test_it_exits_2_on_an_unknown_package_or_an_input_that_is_not_json(tmp_path: Path, db: None) -> None:
    document = write(tmp_path, "in.json", {})
    code, message, _ = failing("policy", "eval", "--package", "spinnaker.nope", "--input", document)
    assert code == 2
    assert message.startswith("No hook evaluates package spinnaker.nope;")
    code, message, _ = failing("policy", "eval", "--package", WAIT, "--input", write(tmp_path, "x.json", "{nope"))
    assert code == 2
    assert message.endswith(
        "x.json is not JSON: Expecting property name enclosed in double quotes at line 1, column 2."
    )


def test_it_runs_every_policys_cases_and_exits_1_on_a_failure(tmp_path: Path, db: None) -> None:
    Policy.objects.all().delete()  # the starter library, when migrate installed it
    cases = [
        {"name": "long", "input": {"stage": {"context": {"waitTime": 90}}}, "expect": {"deny": ["too long"]}},
        {"name": "short", "input": {"stage": {"context": {"waitTime": 5}}}, "expect": {"allowed": True}},
    ]
    call("policy", "data", "set", "limits", write(tmp_path, "limits.json", {"wait": 60}))
    call("policy", "add", write(tmp_path, "waits.rego", LONG_WAITS), "--tests", write(tmp_path, "t.json", cases))
    out, _ = call("policy", "test")
    assert out.splitlines() == ["PASS waits: long", "PASS waits: short", "2 passed, 0 failed."]
    call("policy", "data", "set", "limits", write(tmp_path, "limits.json", {"wait": 120}))
    printed = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("policy", "test", "waits", stdout=printed)
    assert caught.value.returncode == 1
    assert printed.getvalue().splitlines() == [
        "FAIL waits: long: Expected deny messages ['too long'], got [].",
        "PASS waits: short",
        "1 passed, 1 failed.",
    ]
    assert failing("policy", "test", "nope")[:2] == (2, "No policy named nope.")


def test_it_lists_policies_and_reference_data(tmp_path: Path, db: None) -> None:
    call("policy", "add", write(tmp_path, "waits.rego", LONG_WAITS), "--disabled")
    call("policy", "data", "set", "limits", write(tmp_path, "l.json", {"wait": 60}), "--description", "Limits.")
    listed, _ = call("policy", "list")
    assert listed.splitlines()[0].split() == ["NAME", "ENABLED", "MODE", "VERSION", "PACKAGE", "STARTER"]
    assert ["waits", "no", "enforce", "1", WAIT, "-"] in [line.split() for line in listed.splitlines()]
    data, _ = call("policy", "data", "list")
    assert data.splitlines()[1].split() == ["limits", "1", "Limits."]
    assert ReferenceData.objects.get(key="limits").document == {"wait": 60}
