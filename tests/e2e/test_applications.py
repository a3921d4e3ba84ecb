"""The applications pages in a real browser: log in, list, filter, create, and the API behind them."""

from __future__ import annotations

import re

from django.contrib.auth.models import Group, User
from playwright.sync_api import Locator, Page, expect

from applications.models import Application
from spinweb.models import AuditEvent
from tests.conftest import PASSWORD


def log_in(page: Page, user: User) -> None:
    """Open the site anonymously, get sent to the login page, and log in through its form."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/applications/$"))
    expect(page.get_by_role("heading", name="Log in to Spinweb")).to_be_visible()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/applications/$"))
    expect(page.get_by_role("heading", name="Applications", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=f"Log out {user.username}")).to_be_visible()


def table_rows(page: Page) -> Locator:
    return page.locator("#applications tbody tr")


def test_it_logs_in_creates_an_application_and_finds_it_in_the_api(
    page: Page, admin: User, shop: Application, groups: dict[str, Group]
) -> None:
    log_in(page, admin)
    rows = table_rows(page)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("shop")
    expect(rows.first).to_contain_text("shop@example.com")

    page.get_by_role("button", name="New application").click()  # an <a role="button">
    expect(page).to_have_url(re.compile(r"/applications/new/$"))
    expect(page.get_by_role("heading", name="New application")).to_be_visible()
    page.get_by_label("Name").fill("checkout")
    page.get_by_label("Owner email").fill("checkout-team@example.com")
    page.get_by_label("Description").fill("Takes the money")
    page.get_by_label("READ groups").select_option(label="shop-viewers")
    page.get_by_role("button", name="Create application").click()

    expect(page).to_have_url(re.compile(r"/applications/checkout/$"))
    expect(page.get_by_role("heading", name="checkout", level=1)).to_be_visible()
    expect(page.get_by_text("Application checkout created.")).to_be_visible()
    expect(page.get_by_text("Takes the money")).to_be_visible()
    permissions = page.locator("article", has=page.locator("header", has_text="Permissions"))
    expect(permissions.locator("tr", has=page.locator("th", has_text="READ")).locator("td")).to_have_text(
        "shop-viewers"
    )
    expect(permissions.locator("tr", has=page.locator("th", has_text="WRITE")).locator("td")).to_have_text("nobody")

    # Same browser context, so the same session cookie: the API sees the logged-in admin.
    response = page.request.get("/api/v1/applications/checkout/", headers={"Accept": "application/json"})
    assert response.status == 200, response.text()
    body = response.json()
    assert body["name"] == "checkout"
    assert body["email"] == "checkout-team@example.com"
    assert body["description"] == "Takes the money"
    assert body["permissions"] == {"READ": ["shop-viewers"], "WRITE": [], "EXECUTE": []}

    event = AuditEvent.objects.get(action="create", object_type="applications.application", application="checkout")
    assert event.source == "ui"
    assert event.actor == admin


def test_a_reader_sees_only_their_application_and_filters_without_reloading(
    page: Page, viewer: User, shop: Application, blog: Application
) -> None:
    log_in(page, viewer)
    rows = table_rows(page)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("shop")
    expect(page.locator("#applications")).not_to_contain_text("blog")
    expect(page.get_by_text("New application")).to_have_count(0)  # neither as a button nor as a link

    # htmx swaps only #applications; a full page load would drop this marker.
    page.evaluate("window.__e2eMarker = 'still here'")
    search = page.get_by_role("searchbox", name="Filter applications")
    search.fill("zzz")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_text("No application matches “zzz”.")
    expect(page).to_have_url(re.compile(r"/applications/\?q=zzz$"))  # hx-push-url

    search.fill("sho")
    expect(rows.first).to_contain_text("shop")
    expect(page).to_have_url(re.compile(r"/applications/\?q=sho$"))
    expect(rows).to_have_count(1)
    assert page.evaluate("window.__e2eMarker") == "still here"


def test_a_bad_name_shows_the_error_beside_the_field_and_creates_nothing(
    page: Page, admin: User, shop: Application
) -> None:
    log_in(page, admin)
    page.get_by_role("button", name="New application").click()  # an <a role="button">
    page.get_by_label("Name").fill("Bad-Name")
    page.get_by_label("Owner email").fill("someone@example.com")
    page.get_by_role("button", name="Create application").click()

    expect(page).to_have_url(re.compile(r"/applications/new/$"))
    name_label = page.locator("label", has=page.locator("#id_name"))
    expect(name_label.get_by_role("alert")).to_have_text(
        "Application name 'Bad-Name' may contain only lowercase letters and digits."
    )
    expect(page.locator("#id_name")).to_have_value("Bad-Name")
    expect(page.get_by_role("alert")).to_have_count(1)  # only the name is wrong
    assert list(Application.objects.values_list("name", flat=True)) == ["shop"]
    assert not AuditEvent.objects.filter(action="create").exists()
