"""Saving a policy checks its Rego first: syntax errors with line and column, packages no hook
evaluates, policies that can never decide. Both Rego syntaxes are accepted."""

from __future__ import annotations

import pytest

from policies.actions import PolicyInvalid, save_policy
from policies.models import Policy, PolicyVersion
from policies.rego import RegoProblem, check_source, namespaced_source, package_of
from spinweb.models import AuditSource

EXECUTION = "spinnaker.execution.pipelines.before"


def test_it_reports_a_syntax_error_with_line_and_column() -> None:
    source = f'package {EXECUTION}\n\nimport rego.v1\n\ndeny contains msg if {{\n\tmsg := "a"; "b" == input.x "c"\n}}\n'
    problems = check_source(source)
    assert problems == [RegoProblem(6, 14, "Invalid literal")]
    assert str(problems[0]) == "line 6, column 14: Invalid literal"


def test_it_counts_columns_in_characters_after_non_ascii_text() -> None:
    source = f'package {EXECUTION}\n# é è\ndeny contains msg if {{ msg := "é"; "b" == input.x "c" }}\n'
    assert [(p.line, p.column) for p in check_source(source)] == [(3, 36)]


@pytest.mark.django_db
def test_it_refuses_a_save_with_a_syntax_error_and_saves_nothing() -> None:
    source = f"package {EXECUTION}\nimport rego.v1\ndeny contains msg if {{\n  x := [1, 2\n}}\n"
    with pytest.raises(PolicyInvalid) as refused:
        save_policy(None, name="broken", source=source, source_label=AuditSource.CLI)
    fields = [field for field, _ in refused.value.issues]
    assert "source:4:8" in fields
    assert any(message.startswith("line 4, column 8: ") for _, message in refused.value.issues)
    assert not Policy.objects.exists()
    assert not PolicyVersion.objects.exists()


def test_it_refuses_a_package_no_hook_evaluates() -> None:
    problems = check_source('package my.rules\nimport rego.v1\ndeny contains "x" if input.bad\n')
    assert len(problems) == 1
    assert problems[0].line == 1
    assert "No hook evaluates package my.rules" in problems[0].message
    assert "spinnaker.http.authz" in problems[0].message


def test_it_refuses_a_source_without_a_package() -> None:
    assert "no package line" in check_source('deny contains "x" if true\n')[0].message


def test_it_refuses_a_hook_policy_that_can_never_decide() -> None:
    problems = check_source(f"package {EXECUTION}\nimport rego.v1\nallow := true\n")
    assert [p.message for p in problems] == ["The policy defines no deny rule, so it can never produce a decision."]


def test_it_refuses_an_authz_policy_without_allow() -> None:
    problems = check_source('package spinnaker.http.authz\nimport rego.v1\ndeny contains "no" if true\n')
    assert [p.message for p in problems] == ["The policy defines no allow rule, so it can never produce a decision."]


def test_it_refuses_a_deny_that_is_not_a_set_of_messages() -> None:
    problems = check_source(f"package {EXECUTION}\ndeny := 5\n")
    assert "deny = 5, which is not a set of messages" in problems[0].message


@pytest.mark.parametrize(
    "source",
    [
        f'package {EXECUTION}\nimport rego.v1\ndeny contains msg if {{ input.bad; msg := "x" }}\n',
        f'package {EXECUTION}\ndeny contains msg if {{ input.bad; msg := "x" }}\n',
        f'package {EXECUTION}\ndeny[msg] {{ input.bad; msg := "x" }}\n',
        'package opa.pipelines\ndeny[msg] {\n  input.bad\n  msg := "x"\n}\n',
        "package spinnaker.http.authz\nimport rego.v1\ndefault allow := false\nallow if input.user.isAdmin\n",
    ],
    ids=["v1", "v1-without-import", "v0", "v0-alias-package", "authz"],
)
def test_it_accepts_both_rego_syntaxes(source: str) -> None:
    assert check_source(source) == []


def test_it_moves_a_policy_into_its_own_namespace_keeping_line_numbers() -> None:
    source = "# header\npackage a.b\nimport data.a.b.lib\nx := data.a.b.y\nz := data.a.bc\n"
    assert package_of(source) == "a.b"
    assert namespaced_source(7, source).splitlines() == [
        "# header",
        "package spinweb_policies.p7.a.b",
        "import data.spinweb_policies.p7.a.b.lib",
        "x := data.spinweb_policies.p7.a.b.y",
        "z := data.a.bc",
    ]
