"""The pipelines list in a real browser: start a run with parameters, and watch runs change live."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from applications.models import Application
from pipelines import actions
from pipelines.models import Execution, Pipeline
from tests.e2e.test_applications import log_in


def release(shop: Application, developer: User) -> Pipeline:
    document = {
        "application": shop.name,
        "name": "release",
        "limitConcurrent": False,
        "stages": [{"refId": "1", "type": "manualJudgment", "name": "Approve", "requisiteStageRefIds": []}],
        "parameterConfig": [
            {"name": "env", "hasOptions": True, "options": [{"value": "qa"}, {"value": "prod"}], "default": "qa"},
            {"name": "version", "required": True, "description": "The build to ship"},
        ],
    }
    return actions.save_pipeline(developer, document, source="api")


def test_it_starts_a_pipeline_with_parameters_and_lands_on_its_execution(
    page: Page, shop: Application, developer: User, settings: Any
) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"
    release(shop, developer)
    log_in(page, developer)
    page.goto("/applications/shop/pipelines/")
    article = page.locator("article.pipeline", has_text="release")
    article.get_by_text("Start manual execution").click()
    form = article.locator("form.start-form")
    expect(form.get_by_label("env")).to_have_value("qa")
    expect(form.get_by_text("The build to ship")).to_be_visible()
    form.get_by_label("env").select_option("prod")
    form.get_by_label("version").fill("1.4.2")
    form.get_by_role("button", name="Run release").click()

    expect(page).to_have_url(re.compile(r"/applications/shop/executions/[0-9a-f-]{36}/$"))
    expect(page.get_by_text("env=prod")).to_be_visible()
    expect(page.get_by_text("version=1.4.2")).to_be_visible()
    execution = Execution.objects.get()
    assert page.url.endswith(f"/applications/shop/executions/{execution.pk}/")
    assert execution.parameters == {"env": "prod", "version": "1.4.2"}


def test_runs_refresh_live_without_closing_an_open_start_form(
    page: Page, shop: Application, developer: User, settings: Any
) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"
    pipeline = release(shop, developer)
    execution = actions.start_execution(developer, pipeline, parameters={"version": "1"}, source="api")
    log_in(page, developer)
    page.goto("/applications/shop/pipelines/")
    runs = page.locator(f"#runs-{pipeline.pk}")
    expect(runs.locator('[title="Approve: RUNNING"]')).to_have_count(1)
    expect(page.locator("#runs-poller")).to_have_attribute("data-active", "true")

    article = page.locator("article.pipeline", has_text="release")
    article.get_by_text("Start manual execution").click()
    article.get_by_label("version").fill("typed, not sent")

    actions.cancel(developer, execution, reason="test", source="api")
    expect(runs.locator('[title="Approve: CANCELED"]')).to_have_count(1)
    expect(page.locator("#runs-poller")).to_have_attribute("data-active", "false")  # polling stopped
    expect(article.locator("details.start")).to_have_attribute("open", "")
    expect(article.get_by_label("version")).to_have_value("typed, not sent")
