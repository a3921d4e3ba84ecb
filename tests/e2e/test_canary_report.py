"""A canary interval's report in a real browser: the charts are drawn and styled, and a replay
from the page's form shows its verdict next to the original."""

from __future__ import annotations

import os

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from applications.models import Application
from tests.canary.config_samples import sample
from tests.canary.test_report_pages import judge, make_run, run_url
from tests.e2e.test_applications import log_in


def test_it_draws_the_charts_and_replays_from_the_form(page: Page, developer: User, shop: Application) -> None:
    document = sample()
    document["metrics"][0]["analysisConfigurations"]["canary"]["critical"] = False
    run = make_run(shop, config_document=document)
    judge(run)
    log_in(page, developer)
    page.goto(run_url(run, "intervals/1/"))
    chart = page.get_by_role("img", name="p99: control and experiment over time")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 100
    control = chart.locator("path.series-control")
    assert control.evaluate("path => getComputedStyle(path).stroke") == "rgb(74, 111, 165)"
    assert control.evaluate("path => path.getTotalLength()") > 100
    if os.environ.get("SPINWEB_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["SPINWEB_SCREENSHOTS"], "canary-interval.png"), full_page=True)

    page.get_by_label("Marginal threshold").fill("10")
    page.get_by_label("Pass threshold").fill("30")
    page.get_by_role("button", name="Replay interval 1").click()
    result = page.locator("#replay-result")
    expect(result).to_contain_text("Replay with web-latency v3 (as run)")
    expect(page.locator("#replay-classification")).to_have_text("Pass")
    expect(page.locator("#judgment-classification")).to_have_text("Fail")
