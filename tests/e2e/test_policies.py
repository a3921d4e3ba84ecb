"""The policy editor in a real browser: Check shows a Rego error at its line, then the fixed policy saves."""

from __future__ import annotations

import json
import re

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from policies.models import Policy
from tests.e2e.test_applications import log_in

PACKAGE = "spinnaker.execution.stages.before.wait"
BROKEN = f"package {PACKAGE}\n\nimport rego.v1\n\ndeny contains msg if {{\n  msg := \n}}\n"
FIXED = (
    f"package {PACKAGE}\n\nimport rego.v1\n\ndeny contains msg if {{\n"
    '  input.stage.context.waitTime > 3600\n  msg := "Waits over an hour are not allowed."\n}\n'
)
CASES = [{"name": "long wait", "input": {"stage": {"context": {"waitTime": 7200}}}, "expect": {"allowed": False}}]


def test_the_editor_checks_without_saving_then_saves_and_the_playground_loads_examples(page: Page, admin: User) -> None:
    log_in(page, admin)
    page.get_by_role("link", name="Policies").click()
    expect(page.get_by_role("heading", name="Policies", exact=True)).to_be_visible()
    page.get_by_role("button", name="New policy").click()

    page.locator("#id_name").fill("no-long-waits")
    page.locator("#id_source").fill(BROKEN)
    page.locator("#id_tests").fill(json.dumps(CASES))
    page.get_by_role("button", name="Check").click()
    problem = page.locator("#policy-check li.error").first
    expect(problem).to_contain_text(re.compile(r"line \d+:\d+ · "))
    assert not Policy.objects.exists()

    page.locator("#id_source").fill(FIXED)
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#policy-check")).to_contain_text("No problems found; 1 test case passed. Nothing was saved.")
    expect(page.locator("#policy-check tr.case-passed")).to_contain_text("long wait")
    assert not Policy.objects.exists()

    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("heading", name="Edit no-long-waits")).to_be_visible()
    expect(page.get_by_text("Saved no-long-waits, version 1.")).to_be_visible()
    assert Policy.objects.get().package == PACKAGE

    page.goto("/policies/playground/")
    page.locator("#id_suffix").fill("destroyServerGroup")
    page.locator("#id_hook").select_option("deployment")
    expect(page.locator("#id_input")).to_have_value(re.compile(r'"operation": "destroyServerGroup"'))
