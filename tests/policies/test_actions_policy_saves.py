"""Saving, versioning, restoring and deleting policies; test cases run on every save."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from policies.actions import PolicyInvalid, delete_policy, restore_policy_version, save_policy
from policies.hooks import EXECUTION_PACKAGE
from policies.models import Policy, PolicyVersion
from policies.testing import run_policy_tests
from spinweb.models import AuditEvent, AuditSource
from tests.policies.conftest import deny_source

pytestmark = pytest.mark.django_db

SOURCE = deny_source(EXECUTION_PACKAGE, "No prod runs", 'input.pipeline.parameters.env == "prod"')


def case(name: str, env: str, **expect: Any) -> dict[str, Any]:
    return {"name": name, "input": {"pipeline": {"parameters": {"env": env}}}, "expect": expect}


GOOD_CASES = [case("prod is refused", "prod", allowed=False, deny=["No prod runs"]), case("dev", "dev", allowed=True)]


def save(**fields: Any) -> Policy:
    values: dict[str, Any] = {"name": "freeze", "source": SOURCE, "tests": GOOD_CASES, "source_label": AuditSource.UI}
    return save_policy(None, **{**values, **fields})


def test_it_saves_a_policy_with_its_package_first_version_and_audit(admin: User) -> None:
    policy = save_policy(admin, name="freeze", source=SOURCE, tests=GOOD_CASES, source_label=AuditSource.UI)
    assert (policy.package, policy.version, policy.enabled, policy.mode) == (EXECUTION_PACKAGE, 1, False, "enforce")
    assert list(policy.versions.values_list("version", "source")) == [(1, SOURCE)]
    event = AuditEvent.objects.get(object_type="policies.policy")
    assert (event.action, event.actor_name, event.source, (event.after or {})["name"]) == (
        "create",
        admin.username,
        "ui",
        "freeze",
    )
    assert [r.passed for r in run_policy_tests(policy)] == [True, True]


def test_it_refuses_a_save_when_a_test_case_fails_and_changes_nothing() -> None:
    policy = save()
    failing = [*GOOD_CASES, case("staging is refused", "staging", deny=["No prod runs"])]
    with pytest.raises(PolicyInvalid) as refused:
        save(policy=policy, source=SOURCE.replace("No prod runs", "No prod runs!"), tests=failing)
    issues = dict(refused.value.issues)
    assert set(issues) == {"tests[0]", "tests[2]"}
    assert issues["tests[2]"] == (
        "Test case 'staging is refused' failed: Expected deny messages ['No prod runs'], got []."
    )
    assert "Expected deny messages ['No prod runs'], got ['No prod runs!']" in issues["tests[0]"]
    policy.refresh_from_db()
    assert (policy.version, policy.source) == (1, SOURCE)
    assert PolicyVersion.objects.count() == 1
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("tests", "field"),
    [
        ("not a list", "tests"),
        ([{"name": "x", "input": [], "expect": {"allowed": True}}], "tests[0].input"),
        ([{"name": "x", "input": {}, "expect": {}}], "tests[0].expect"),
        ([{"name": "x", "input": {}, "expect": {"allowed": "yes"}}], "tests[0].expect.allowed"),
        ([{"name": "x", "input": {}, "expect": {"allowed": True}, "extra": 1}], "tests[0].extra"),
    ],
)
def test_it_refuses_malformed_test_cases(tests: Any, field: str) -> None:
    with pytest.raises(PolicyInvalid) as refused:
        save(tests=tests)
    assert field in [path for path, _ in refused.value.issues]
    assert not Policy.objects.exists()


def test_it_refuses_a_duplicate_name_and_a_bad_mode() -> None:
    save()
    with pytest.raises(PolicyInvalid) as refused:
        save(mode="audit")
    assert dict(refused.value.issues) == {
        "name": "Another policy is already named 'freeze'.",
        "mode": "The mode must be enforce or warn, not 'audit'.",
    }


def test_it_uses_case_data_over_the_live_data() -> None:
    source = deny_source(EXECUTION_PACKAGE, "listed", "input.app in data.frozen_apps")
    cases = [
        {"name": "listed", "input": {"app": "shop"}, "data": {"frozen_apps": ["shop"]}, "expect": {"deny": ["listed"]}},
        {"name": "not listed", "input": {"app": "shop"}, "expect": {"allowed": True}},
    ]
    assert save(source=source, tests=cases).version == 1


def test_it_keeps_versions_and_restores_one_as_a_new_version(developer: User) -> None:
    policy = save(description="first")
    second = SOURCE.replace("No prod runs", "Frozen")
    policy = save(policy=policy, source=second, tests=[], mode="warn", enabled=True, description="second")
    assert (policy.version, policy.mode, policy.enabled) == (2, "warn", True)
    restored = restore_policy_version(developer, policy, 1, source_label=AuditSource.API)
    assert (restored.version, restored.source, restored.mode, restored.enabled) == (3, SOURCE, "enforce", False)
    assert restored.description == "first"
    assert restored.tests == GOOD_CASES
    assert list(restored.versions.values_list("version", flat=True)) == [3, 2, 1]
    event = AuditEvent.objects.filter(action="update").first()
    assert event is not None
    assert event.detail == "Restored version 1."
    assert (event.before or {})["version"] == 2
    with pytest.raises(PolicyInvalid, match="no version 9"):
        restore_policy_version(developer, restored, 9, source_label=AuditSource.API)


def test_it_deletes_a_policy_with_an_audit_event() -> None:
    policy = save()
    delete_policy(None, policy, source_label=AuditSource.CLI)
    assert not Policy.objects.exists()
    assert not PolicyVersion.objects.exists()
    event = AuditEvent.objects.filter(action="delete").get()
    assert (event.actor_name, (event.before or {})["name"]) == ("system", "freeze")
