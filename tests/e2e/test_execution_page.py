"""The live execution page in a real browser, with the real engine running in-process (``engine``).

Start a run from the pipelines page and watch it finish without a reload; judge, restart and
cancel from the page; a half-typed cancel reason survives the page's polling.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from applications.models import Application
from pipelines import actions
from pipelines.models import Execution, Pipeline
from tests.e2e.conftest import EnginePump
from tests.e2e.test_applications import log_in
from tests.pipelines.conftest import stage

# Long enough for the slowest machine to finish a run's quick stages and redraw.
RUN_TIMEOUT_MS = 30_000


def save(engine: EnginePump, user: User, *stages: dict[str, Any], name: str, **fields: Any) -> Pipeline:
    with engine.lock:
        document = {"application": "shop", "name": name, "stages": list(stages), **fields}
        return actions.save_pipeline(user, document, source="api")


def start(engine: EnginePump, user: User, pipeline: Pipeline) -> Execution:
    with engine.lock:
        return actions.start_execution(user, pipeline, source="api")


def node(page: Page, ref: str) -> Locator:
    """A stage's box (its rect carries the status class)."""
    return page.locator(f'#execution-live g[data-ref-id="{ref}"] > rect')


def stage_button(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=re.compile(rf"^Stage {re.escape(name)}: "))


def mark(page: Page) -> None:
    """A full page load would drop this; see ``still_same_page``."""
    page.evaluate("window.__e2eMarker = 'still here'")


def still_same_page(page: Page, url: str) -> None:
    assert page.url == url
    assert page.evaluate("window.__e2eMarker") == "still here"


def open_run(page: Page, execution: Execution) -> str:
    page.goto(f"/applications/shop/executions/{execution.pk}/")
    expect(page.get_by_role("heading", name=execution.name, level=1)).to_be_visible()
    mark(page)
    return page.url


def test_it_starts_a_run_with_parameters_and_watches_it_succeed_without_reloading(
    page: Page, engine: EnginePump, developer: User, shop: Application
) -> None:
    save(
        engine,
        developer,
        stage("1", "evaluateVariables", "Compute", variables=[{"key": "target", "value": "${parameters.env}-east"}]),
        stage("2", "wait", "Settle", ("1",), waitTime=1),
        stage("3", "wait", "Soak", ("1",), waitTime=2),
        stage("4", "evaluateVariables", "Report", ("2", "3"), variables=[{"key": "done", "value": "${target}"}]),
        name="deploy",
        parameterConfig=[{"name": "env", "default": "qa"}],
    )
    log_in(page, developer)
    page.goto("/applications/shop/pipelines/")
    page.get_by_text("Start manual execution").click()
    page.locator('input[name="param-env"]').fill("prod")
    page.get_by_role("button", name="Run deploy").click()

    expect(page).to_have_url(re.compile(r"/applications/shop/executions/[0-9a-f-]{36}/$"))
    expect(page.get_by_text("env=prod")).to_be_visible()
    url = page.url
    mark(page)
    for ref in ("1", "2", "3", "4"):
        expect(node(page, ref)).to_have_class("status-SUCCEEDED", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#execution-status")).to_have_text("Succeeded")
    expect(page.locator("#execution-live")).not_to_have_attribute("hx-trigger", re.compile(".*"))  # polling ended
    still_same_page(page, url)

    stage_button(page, "Report").click()
    panel = page.locator("#stage-detail")
    expect(panel.get_by_role("heading", name=re.compile("^Report"))).to_be_visible()
    expect(panel).to_contain_text('"done": "prod-east"')
    still_same_page(page, url)
    assert Execution.objects.get().parameters == {"env": "prod"}


def test_it_judges_a_manual_judgment_and_the_next_stage_runs(
    page: Page, engine: EnginePump, developer: User, shop: Application
) -> None:
    pipeline = save(
        engine,
        developer,
        stage(
            "1",
            "manualJudgment",
            "Approve",
            instructions="Look first",
            judgmentInputs=[{"value": "go"}, {"value": "hold"}],
        ),
        stage(
            "2",
            "evaluateVariables",
            "Record",
            ("1",),
            variables=[{"key": "chosen", "value": '${#judgment("Approve")}'}],
        ),
        name="release",
    )
    execution = start(engine, developer, pipeline)
    log_in(page, developer)
    url = open_run(page, execution)
    expect(node(page, "1")).to_have_class("status-RUNNING", timeout=RUN_TIMEOUT_MS)
    judge = page.get_by_role("form", name="Judge Approve")
    expect(judge).to_contain_text("Look first")
    judge.get_by_label("Judgment input for Approve").select_option("hold")
    judge.get_by_role("button", name="Continue").click()

    expect(page.get_by_text("Judgment recorded.")).to_be_visible()
    expect(node(page, "1")).to_have_class("status-SUCCEEDED", timeout=RUN_TIMEOUT_MS)
    expect(node(page, "2")).to_have_class("status-SUCCEEDED", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_role("form", name="Judge Approve")).to_have_count(0)
    stage_button(page, "Record").click()
    expect(page.locator("#stage-detail")).to_contain_text('"chosen": "hold"')
    still_same_page(page, url)


def test_it_restarts_a_failed_stage_which_runs_again(
    page: Page, engine: EnginePump, developer: User, shop: Application
) -> None:
    pipeline = save(
        engine,
        developer,
        stage("1", "manualJudgment", "Approve"),
        stage("2", "wait", "Settle", ("1",), waitTime=1),
        name="release",
    )
    execution = start(engine, developer, pipeline)
    log_in(page, developer)
    url = open_run(page, execution)
    page.get_by_role("form", name="Judge Approve").get_by_role("button", name="Stop").click()
    expect(node(page, "1")).to_have_class("status-TERMINAL", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#execution-status")).to_have_text("Terminal")
    expect(node(page, "2")).to_have_class("status-NOT_STARTED")

    stage_button(page, "Approve").click()
    panel = page.locator("#stage-detail")
    expect(panel).to_contain_text("Stopped by developer at the manual judgment.")
    panel.get_by_role("button", name="Restart Approve").click()

    expect(node(page, "1")).to_have_class("status-RUNNING", timeout=RUN_TIMEOUT_MS)
    expect(panel).to_contain_text("Restarted by developer")
    page.get_by_role("form", name="Judge Approve").get_by_role("button", name="Continue").click()
    expect(node(page, "2")).to_have_class("status-SUCCEEDED", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#execution-status")).to_have_text("Succeeded")
    still_same_page(page, url)


def test_it_cancels_a_running_execution_after_confirmation_keeping_the_typed_reason(
    page: Page, engine: EnginePump, developer: User, shop: Application
) -> None:
    pipeline = save(
        engine,
        developer,
        stage("1", "wait", "Long wait", waitTime=3600),
        stage("2", "wait", "Short wait", waitTime=2),
        name="soak",
    )
    execution = start(engine, developer, pipeline)
    log_in(page, developer)
    url = open_run(page, execution)
    expect(node(page, "1")).to_have_class("status-RUNNING", timeout=RUN_TIMEOUT_MS)
    page.get_by_text("Cancel run…").click()
    page.get_by_label("Reason").fill("wrong build")
    # The short wait ends while the reason sits typed: the live part is redrawn around it.
    expect(node(page, "2")).to_have_class("status-SUCCEEDED", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_label("Reason")).to_have_value("wrong build")

    page.get_by_label("Yes, cancel this run").check()
    page.get_by_role("button", name="Cancel run", exact=True).click()

    expect(page.locator("#execution-status")).to_have_text("Canceled")
    expect(page.locator("#execution-live")).to_contain_text("canceled by developer: wrong build")
    expect(node(page, "1")).to_have_class("status-CANCELED")
    expect(page.get_by_role("button", name="Cancel run", exact=True)).to_have_count(0)
    still_same_page(page, url)
    assert Execution.objects.get().status == "CANCELED"
