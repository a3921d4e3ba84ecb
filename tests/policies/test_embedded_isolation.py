"""The embedded engine loads every policy in a namespace of its own: policies sharing a package do
not clash, and one that no longer loads fails closed alone."""

from __future__ import annotations

import pytest

from policies import gate
from policies.hooks import Hook, stage_package
from policies.models import Policy
from tests.policies.conftest import MakePolicy

pytestmark = pytest.mark.django_db

WAIT = stage_package("wait")


def helper_policy(limit: int, message: str) -> str:
    return (
        f"package {WAIT}\nimport rego.v1\n\nlimit := {limit}\n\n"
        f'deny contains "{message}" if input.stage.context.waitTime > limit\n'
    )


def test_it_keeps_rules_of_the_same_name_apart(make_policy: MakePolicy) -> None:
    make_policy(helper_policy(10, "over ten"), name="ten")
    make_policy(helper_policy(100, "over a hundred"), name="hundred")
    decision = gate.decide(Hook.STAGE, WAIT, {"stage": {"context": {"waitTime": 50}}})
    assert [str(v) for v in decision.violations] == ["ten: over ten"]


def test_it_fails_closed_only_for_a_policy_that_does_not_load(make_policy: MakePolicy) -> None:
    make_policy(helper_policy(10, "over ten"), name="ten")
    Policy.objects.create(name="corrupt", source=f"package {WAIT}\ndeny contains x if {{", package=WAIT, enabled=True)
    decision = gate.decide(Hook.STAGE, WAIT, {"stage": {"context": {"waitTime": 50}}})
    assert [str(v) for v in decision.violations] == ["ten: over ten"]
    assert decision.error.startswith(
        f"Policy gate stage ({WAIT}) could not decide: policy corrupt could not be loaded:"
    )
    assert "line 2" in decision.error


def test_it_reads_v0_partial_sets_as_messages(make_policy: MakePolicy) -> None:
    make_policy(f'package {WAIT}\n\ndeny[msg] {{\n  input.stage.name == "W"\n  msg := "v0 says no"\n}}\n', name="old")
    assert gate.decide(Hook.STAGE, WAIT, {"stage": {"name": "W"}}).denials == ["Denied by policy old: v0 says no"]


def test_it_turns_non_string_messages_into_compact_json(make_policy: MakePolicy) -> None:
    make_policy(f'package {WAIT}\nimport rego.v1\ndeny contains {{"code": 7, "why": "x"}} if true\n', name="obj")
    assert gate.decide(Hook.STAGE, WAIT, {}).violations[0].message == '{"code":7,"why":"x"}'


def test_it_can_read_the_time(make_policy: MakePolicy) -> None:
    make_policy(f'package {WAIT}\nimport rego.v1\ndeny contains "future" if time.now_ns() < 0\n', name="clock")
    assert gate.decide(Hook.STAGE, WAIT, {}).allowed


def test_it_compares_input_and_data_text_with_policy_literals(make_policy: MakePolicy) -> None:
    from policies.actions import save_reference_data
    from spinweb.models import AuditSource

    save_reference_data(None, key="names", document={"list": ['Zoë "Z"', "a\\b\nc"]}, source_label=AuditSource.CLI)
    source = (
        f"package {WAIT}\nimport rego.v1\n"
        'deny contains "literal in data" if "Zoë \\"Z\\"" in data.names.list\n'
        'deny contains "escape in data" if "a\\\\b\\nc" in data.names.list\n'
        'deny contains "input in data" if input.who in data.names.list\n'
        'deny contains "input equals literal" if input.who == "Zoë \\"Z\\""\n'
    )
    make_policy(source, name="texts")
    decision = gate.decide(Hook.STAGE, WAIT, {"who": 'Zoë "Z"'})
    assert sorted(v.message for v in decision.violations) == [
        "escape in data",
        "input equals literal",
        "input in data",
        "literal in data",
    ]
