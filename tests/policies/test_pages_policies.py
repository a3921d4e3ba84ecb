"""The policy list and editor: admins only, errors beside their fields, check without saving."""

from __future__ import annotations

import json
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User

from policies.models import Policy, PolicyVersion
from spinweb.models import AuditEvent
from tests.conftest import browser_as
from tests.policies.conftest import MakePolicy, deny_source

WAIT = "spinnaker.execution.stages.before.wait"
GOOD = deny_source(WAIT, "Waits over an hour are not allowed.", "input.stage.context.waitTime > 3600")
CASES = [
    {"name": "long wait", "input": {"stage": {"context": {"waitTime": 7200}}}, "expect": {"allowed": False}},
    {"name": "short wait", "input": {"stage": {"context": {"waitTime": 10}}}, "expect": {"allowed": True}},
]


def form(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "no-long-waits",
        "description": "Keep waits short.",
        "mode": "enforce",
        "source": GOOD,
        "tests": json.dumps(CASES),
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def text(response: Any) -> str:
    return unescape(response.content.decode())


def test_it_lists_policies_with_package_hook_mode_and_version(admin: User, make_policy: MakePolicy) -> None:
    make_policy(GOOD, name="no-long-waits", mode="warn", enabled=False)
    page = text(browser_as(admin).get("/policies/"))
    assert "no-long-waits" in page
    assert WAIT in page
    assert "<td>stage</td>" in page
    assert "Warn only" in page
    assert "disabled" in page
    assert "written here" in page
    assert "/policies/decisions/?package=spinnaker.execution.stages.before.wait" in page


@pytest.mark.parametrize("persona", ["developer", "viewer", "nobody"])
def test_it_refuses_the_pages_to_everyone_but_admins(persona: str, request: pytest.FixtureRequest) -> None:
    client = browser_as(request.getfixturevalue(persona))
    for url in ["/policies/", "/policies/new/", "/policies/data/", "/policies/playground/", "/policies/decisions/"]:
        assert client.get(url).status_code == 403, url
    assert client.post("/policies/new/", form()).status_code == 403
    assert not Policy.objects.exists()


def test_it_creates_a_policy_through_the_actions(admin: User) -> None:
    client = browser_as(admin)
    response = client.post("/policies/new/", form(enabled="on"))
    policy = Policy.objects.get(name="no-long-waits")
    assert response.status_code == 302
    assert response["Location"] == f"/policies/{policy.pk}/"
    assert (policy.package, policy.enabled, policy.version, policy.tests) == (WAIT, True, 1, CASES)
    assert PolicyVersion.objects.filter(policy=policy, version=1).exists()
    assert AuditEvent.objects.filter(object_type="policies.policy", source="ui", action="create").exists()
    assert "Saved no-long-waits, version 1." in text(client.get(response["Location"]))


def test_it_shows_a_rego_syntax_error_beside_the_source_with_line_and_column(admin: User) -> None:
    broken = f"package {WAIT}\n\nimport rego.v1\n\ndeny contains msg if {{\n  msg := \n}}\n"
    response = browser_as(admin).post("/policies/new/", form(source=broken))
    page = text(response)
    assert response.status_code == 400
    assert "Nothing was saved" in page
    source_errors = page.split('id="source-errors">', 1)[1].split("</small>", 1)[0]
    assert "line 7, column 1" in source_errors or "line 6" in source_errors
    assert not Policy.objects.exists()


def test_it_refuses_a_save_whose_test_case_fails_and_says_which(admin: User) -> None:
    wrong = [{"name": "long wait", "input": {"stage": {"context": {"waitTime": 7200}}}, "expect": {"allowed": True}}]
    response = browser_as(admin).post("/policies/new/", form(tests=json.dumps(wrong)))
    page = text(response)
    assert response.status_code == 400
    tests_errors = page.split('id="tests-errors">', 1)[1].split("</small>", 1)[0]
    assert "tests[0]" in tests_errors
    assert "'long wait' failed" in tests_errors
    assert "Expected allowed, got denied (Waits over an hour are not allowed.)" in tests_errors
    assert not Policy.objects.exists()


def test_it_names_the_line_of_bad_test_case_json(admin: User) -> None:
    response = browser_as(admin).post("/policies/new/", form(tests='[\n  {"name": "x",\n}\n]'))
    assert response.status_code == 400
    assert "The test case list is not JSON: line 3, column 1" in text(response)


def test_it_checks_source_and_runs_cases_without_saving(admin: User) -> None:
    client = browser_as(admin)
    ok = text(client.post("/policies/check/", {"source": GOOD, "tests": json.dumps(CASES)}))
    assert "long wait" in ok
    assert "short wait" in ok
    assert "No problems found; 2 test cases passed. Nothing was saved." in ok

    broken = f"package {WAIT}\n\ndeny contains msg if {{\n  msg := \n}}\n"
    bad = text(client.post("/policies/check/", {"source": broken, "tests": "[]"}))
    assert "problem" in bad
    assert 'data-line="' in bad
    assert "line " in bad

    failing = [{"name": "must pass", "input": {"stage": {"context": {"waitTime": 9000}}}, "expect": {"deny": []}}]
    result = text(client.post("/policies/check/", {"source": GOOD, "tests": json.dumps(failing)}))
    assert "must pass" in result
    assert "failed" in result
    assert "Waits over an hour are not allowed." in result
    assert not Policy.objects.exists()


def test_it_edits_a_policy_as_a_new_version(admin: User, make_policy: MakePolicy) -> None:
    policy = make_policy(GOOD, name="no-long-waits", tests=CASES)
    page = text(browser_as(admin).get(f"/policies/{policy.pk}/"))
    assert "Edit no-long-waits" in page
    assert "long wait" in page  # the cases, as JSON in their box
    response = browser_as(admin).post(f"/policies/{policy.pk}/", form(mode="warn"))
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.mode, policy.version) == ("warn", 2)


def test_it_toggles_a_policy_only_when_confirmed(admin: User, make_policy: MakePolicy) -> None:
    policy = make_policy(GOOD, name="no-long-waits", enabled=False)
    client = browser_as(admin)
    refused = client.post(f"/policies/{policy.pk}/toggle/", follow=True)
    assert "Tick the box to confirm: enable no-long-waits." in text(refused)
    policy.refresh_from_db()
    assert not policy.enabled
    done = client.post(f"/policies/{policy.pk}/toggle/", {"confirm": "yes"}, follow=True)
    assert "no-long-waits is now enabled." in text(done)
    policy.refresh_from_db()
    assert (policy.enabled, policy.version) == (True, 2)


def test_it_deletes_a_policy_only_with_its_name_typed(admin: User, make_policy: MakePolicy) -> None:
    policy = make_policy(GOOD, name="no-long-waits")
    client = browser_as(admin)
    wrong = client.post(f"/policies/{policy.pk}/delete/", {"confirm": "no-long"})
    assert wrong.status_code == 400
    assert "Type 'no-long-waits' exactly to confirm." in text(wrong)
    assert Policy.objects.filter(pk=policy.pk).exists()
    right = client.post(f"/policies/{policy.pk}/delete/", {"confirm": "no-long-waits"})
    assert right.status_code == 302
    assert not Policy.objects.filter(pk=policy.pk).exists()
    assert AuditEvent.objects.filter(object_type="policies.policy", action="delete", source="ui").exists()


def test_it_keeps_a_browser_submitted_source_with_unix_line_ends(admin: User) -> None:
    # Browsers send a textarea's lines ending in CRLF.
    response = browser_as(admin).post("/policies/new/", form(source=GOOD.replace("\n", "\r\n")))
    assert response.status_code == 302
    assert Policy.objects.get().source == GOOD
