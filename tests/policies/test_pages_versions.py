"""A policy's versions: who saved each, a diff between any two, restore after a confirmation."""

from __future__ import annotations

from django.contrib.auth.models import User

from tests.conftest import browser_as
from tests.policies.conftest import MakePolicy, deny_source
from tests.policies.test_pages_policies import WAIT, text

FIRST = deny_source(WAIT, "First message.")
SECOND = deny_source(WAIT, "Second message.")


def test_it_lists_versions_and_diffs_them(admin: User, make_policy: MakePolicy, enable: object) -> None:
    policy = make_policy(FIRST, name="p")
    client = browser_as(admin)
    client.post(f"/policies/{policy.pk}/", {"name": "p", "mode": "warn", "source": SECOND, "tests": "[]"})
    versions = text(client.get(f"/policies/{policy.pk}/versions/"))
    assert 'id="version-1"' in versions
    assert 'id="version-2"' in versions
    assert "admin" in versions  # version 2 was saved by the admin; version 1 by the system
    diff = text(client.get(f"/policies/{policy.pk}/versions/2/"))
    assert "Version 1 → version 2" in diff
    assert '<span class="diff-removed">-mode: enforce</span>' in diff
    assert '<span class="diff-added">+mode: warn</span>' in diff
    assert "+deny contains &quot;Second message.&quot; if {" in diff or '+deny contains "Second message." if {' in diff
    first = text(client.get(f"/policies/{policy.pk}/versions/1/"))
    assert "+# source" in first
    assert client.get(f"/policies/{policy.pk}/versions/9/").status_code == 404


def test_it_restores_a_version_only_when_confirmed(admin: User, make_policy: MakePolicy) -> None:
    policy = make_policy(FIRST, name="p")
    client = browser_as(admin)
    client.post(f"/policies/{policy.pk}/", {"name": "p", "mode": "enforce", "source": SECOND, "tests": "[]"})
    refused = client.post(f"/policies/{policy.pk}/versions/1/restore/", follow=True)
    assert "Tick the box to confirm restoring version 1." in text(refused)
    policy.refresh_from_db()
    assert policy.version == 2
    done = client.post(f"/policies/{policy.pk}/versions/1/restore/", {"confirm": "yes"}, follow=True)
    assert "Restored version 1 as version 3." in text(done)
    policy.refresh_from_db()
    assert (policy.version, policy.source) == (3, FIRST)
