"""The clusters page in a real browser, against real server groups of the local provider, with the
engine running in-process (``engine``): resize a group and destroy it from the page, and watch the
page follow without a reload.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from applications.models import Application
from clouds.models import Account, ServerGroup
from clouds.providers.base import Capacity, provider_for
from tests.clouds.local.fixtures import sample_spec
from tests.clouds.local.stage_helpers import deployer, local_account, local_home, local_runtime
from tests.e2e.conftest import EnginePump
from tests.e2e.test_applications import log_in
from tests.e2e.test_execution_page import mark, still_same_page

__all__ = ["deployer", "local_account", "local_home", "local_runtime"]

# Starting an instance and seeing it healthy, then the page's next poll.
CHANGE_TIMEOUT_MS = 30_000


def column(page: Page, group: ServerGroup) -> Locator:
    return page.locator(f"#server-group-{group.pk}")


def test_it_resizes_and_destroys_a_server_group_from_the_page(
    deployer: Account, page: Page, engine: EnginePump, developer: User, shop: Application
) -> None:
    # ``deployer`` (and with it the local cloud) comes first so that it is torn down last: the
    # page's live polls and the engine thread, which would start the supervisor again, stop before
    # the local cloud is shut down and checked for survivors.
    with engine.lock:
        created = provider_for(deployer).create_server_group(
            sample_spec(capacity=Capacity(1, 1, 1)), idempotency_key="e2e-create"
        )
        group = ServerGroup.objects.get(name=created.name, destroyed_at__isnull=True)
    log_in(page, developer)
    page.goto("/applications/shop/clusters/")
    expect(page.get_by_role("heading", name="Clusters", level=1)).to_be_visible()
    url = page.url
    mark(page)
    expect(column(page, group).locator(".dot-UP")).to_have_count(1, timeout=CHANGE_TIMEOUT_MS)

    column(page, group).get_by_text("Resize…").click()
    column(page, group).get_by_label("Max").fill("2")
    column(page, group).get_by_label("Desired").fill("2")
    column(page, group).get_by_role("button", name=f"Resize {group.name}").click()

    started = page.locator(f"#operation-{group.pk}").get_by_role("link", name=f"Resize {group.name}")
    expect(started).to_be_visible()
    expect(started).to_have_attribute("href", re.compile(r"^/applications/shop/executions/[0-9a-f-]{36}/$"))
    expect(column(page, group).locator(".dot-UP")).to_have_count(2, timeout=CHANGE_TIMEOUT_MS)
    expect(column(page, group)).to_contain_text("Capacity 2")
    expect(started).to_be_visible()  # the page's polls kept the outcome
    still_same_page(page, url)

    column(page, group).get_by_text("Destroy…").click()
    confirm = column(page, group).get_by_label(f"Type {group.name} to confirm")
    confirm.fill("shop-web")
    column(page, group).get_by_role("button", name=f"Destroy {group.name}").click()
    expect(page.locator(f"#operation-{group.pk}")).to_contain_text(f"Type the server group's name, {group.name}")
    confirm.fill(group.name)
    column(page, group).get_by_role("button", name=f"Destroy {group.name}").click()
    expect(page.locator(f"#operation-{group.pk}").get_by_role("link", name=f"Destroy {group.name}")).to_be_visible()
    expect(column(page, group)).to_have_count(0, timeout=CHANGE_TIMEOUT_MS)
    expect(page.locator("#clusters-live")).to_contain_text("No server groups.")
    still_same_page(page, url)
