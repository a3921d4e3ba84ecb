"""The pipeline editor in a real browser: a requisite typed into the JSON that closes a cycle."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from applications.models import Application
from pipelines import actions
from pipelines.models import Pipeline
from tests.e2e.test_applications import log_in


def two_stages(shop: Application, developer: User) -> Pipeline:
    document = {
        "application": shop.name,
        "name": "deploy",
        "stages": [
            {"refId": "1", "type": "wait", "name": "Bake", "waitTime": 10, "requisiteStageRefIds": []},
            {"refId": "2", "type": "wait", "name": "Ship", "waitTime": 10, "requisiteStageRefIds": ["1"]},
        ],
    }
    return actions.save_pipeline(developer, document, source="api")


def place_cursor_in_first_empty_list(page: Page) -> None:
    """Put the caret between the brackets of the first stage's empty requisiteStageRefIds."""
    page.evaluate(
        """() => {
          const area = document.getElementById("pipeline-json");
          const at = area.value.indexOf('"requisiteStageRefIds": []') + '"requisiteStageRefIds": ['.length;
          area.focus();
          area.setSelectionRange(at, at);
        }"""
    )


def test_the_editor_places_a_cycle_at_its_line_and_refuses_to_save_it(
    page: Page, shop: Application, developer: User, settings: Any
) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"
    pipeline = two_stages(shop, developer)
    log_in(page, developer)
    page.goto(f"/applications/shop/pipelines/{pipeline.pk}/edit/")
    expect(page.get_by_role("heading", name="Edit deploy")).to_be_visible()
    expect(page.locator("#graph-preview svg.pipeline-graph")).to_be_visible()
    page.evaluate("window.__e2eMarker = 'still here'")

    place_cursor_in_first_empty_list(page)
    page.keyboard.type('"2"')

    problem = page.locator('#editor-issues li[data-path="stages[0].requisiteStageRefIds[0]"]')
    expect(problem).to_contain_text("Stages 1 → 2 → 1 form a cycle.")
    text = page.locator("#pipeline-json").input_value()
    line = next(n for n, row in enumerate(text.splitlines(), 1) if '"requisiteStageRefIds": ["2"]' in row)
    expect(problem).to_contain_text(f"line {line} · stages[0].requisiteStageRefIds[0]: Stages 1 → 2 → 1 form a cycle.")
    marked = page.locator(f'#editor-gutter .gutter-line[data-line="{line}"]')
    expect(marked).to_have_class(re.compile(r"\bhas-error\b"))
    expect(marked).to_have_attribute("title", re.compile("form a cycle"))
    expect(page.locator("#editor-gutter .has-error")).to_have_count(1)
    expect(page.locator("#graph-preview svg.pipeline-graph")).to_be_visible()  # a cycle still draws

    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/edit/")):
        page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").first).to_have_text("1 problem: nothing is saved until it is fixed.")
    expect(page.locator("#pipeline-json")).to_have_value(text.replace("\r\n", "\n"))
    expect(page.get_by_text("Saved version")).to_have_count(0)
    pipeline.refresh_from_db()
    assert pipeline.version == 1
    assert pipeline.config["stages"][0]["requisiteStageRefIds"] == []
    assert page.evaluate("window.__e2eMarker") == "still here"

    # Clicking the problem's line number selects that line in the textarea.
    problem.get_by_role("link").click()
    selected = page.evaluate(
        "() => { const a = document.getElementById('pipeline-json');"
        " return a.value.slice(a.selectionStart, a.selectionEnd); }"
    )
    assert '"requisiteStageRefIds": ["2"]' in selected


def test_the_editor_saves_a_fixed_pipeline_as_the_next_version(
    page: Page, shop: Application, developer: User, settings: Any
) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"
    pipeline = two_stages(shop, developer)
    log_in(page, developer)
    page.goto(f"/applications/shop/pipelines/{pipeline.pk}/edit/")
    area = page.locator("#pipeline-json")
    area.fill(area.input_value().replace('"waitTime": 10', '"waitTime": 45', 1))
    expect(page.get_by_text("No problems found.")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved version 2.")
    pipeline.refresh_from_db()
    assert pipeline.version == 2
    assert pipeline.config["stages"][0]["waitTime"] == 45
