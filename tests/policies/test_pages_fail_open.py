"""Every page says loudly, to everyone, when a policy hook fails open."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from tests.conftest import browser_as
from tests.policies.test_pages_policies import text

BANNER = "Policy gate fails OPEN for: stage, deployment."


def test_it_shows_the_banner_on_every_page_when_a_hook_fails_open(settings: Any, viewer: User, admin: User) -> None:
    settings.SPINWEB_POLICY_FAIL_OPEN = ["stage", "deployment"]
    assert BANNER in text(browser_as(viewer).get("/applications/"))
    assert BANNER in text(browser_as(admin).get("/policies/"))
    assert BANNER in text(browser_as(None).get("/login/"))


def test_it_shows_no_banner_when_every_hook_fails_closed(settings: Any, viewer: User) -> None:
    settings.SPINWEB_POLICY_FAIL_OPEN = []
    assert "fails OPEN" not in text(browser_as(viewer).get("/applications/"))
