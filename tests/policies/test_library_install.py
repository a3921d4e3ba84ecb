"""Installing the starter library: every policy created disabled, once; an edited one is left
alone, a deleted one comes back, a name taken by another policy gets a suffix."""

from __future__ import annotations

from policies.actions import delete_policy, save_policy
from policies.library import install_missing, starters
from policies.models import Policy
from spinweb.models import AuditSource

NAMES = sorted(starter.name for starter in starters())


def clear() -> None:
    # The test database may have been migrated with the post_migrate installer connected.
    Policy.objects.all().delete()


def test_it_creates_every_starter_disabled_with_its_tests(db: None) -> None:
    clear()
    assert sorted(install_missing()) == NAMES
    policies = list(Policy.objects.order_by("name"))
    assert [p.name for p in policies] == NAMES
    assert {(p.enabled, p.mode, p.version) for p in policies} == {(False, "enforce", 1)}
    assert all(p.starter == p.name and p.tests and p.description for p in policies)
    assert install_missing() == []
    assert Policy.objects.count() == len(NAMES)


def test_it_leaves_an_edited_starter_alone_and_brings_back_a_deleted_one(db: None) -> None:
    clear()
    install_missing()
    window = Policy.objects.get(starter="deploy-window")
    save_policy(
        None,
        name="office-hours",
        source=window.source,
        description="Ours now.",
        enabled=True,
        policy=window,
        starter=window.starter,
        source_label=AuditSource.CLI,
    )
    delete_policy(None, Policy.objects.get(starter="no-long-waits"), source_label=AuditSource.CLI)
    assert install_missing() == ["no-long-waits"]
    kept = Policy.objects.get(starter="deploy-window")
    assert (kept.name, kept.enabled, kept.description, kept.tests) == ("office-hours", True, "Ours now.", [])


def test_it_suffixes_a_starter_whose_name_is_taken(db: None) -> None:
    clear()
    wait = next(starter for starter in starters() if starter.name == "no-long-waits")
    save_policy(None, name="no-long-waits", source=wait.source, source_label=AuditSource.CLI)
    assert "no-long-waits-starter" in install_missing()
    assert Policy.objects.get(starter="no-long-waits").name == "no-long-waits-starter"
    assert Policy.objects.get(name="no-long-waits").starter == ""
