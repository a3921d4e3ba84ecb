"""Every change made through the REST API lands in the audit log, with the state before and after."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from clouds.models import Account, Cluster
from spinweb.models import AuditEvent
from tests.conftest import api_as

APPS = "/api/v1/applications/"
ACCOUNTS = "/api/v1/accounts/"


def test_it_records_an_application_created_through_the_api(admin: User, groups: dict[str, Group]) -> None:
    data = {"name": "checkout", "email": "pay@example.com", "permissions": {"READ": ["shop-viewers"]}}

    api_as(admin).post(APPS, data, format="json")

    event = AuditEvent.objects.get()
    assert (event.action, event.source) == ("create", "api")
    assert (event.actor, event.actor_name) == (admin, "admin")
    assert event.object_type == "applications.application"
    assert event.object_id == str(Application.objects.get(name="checkout").pk)
    assert event.object_repr == "checkout"
    assert event.application == "checkout"
    assert event.before is None
    assert event.after == {
        "name": "checkout",
        "owner_email": "pay@example.com",
        "description": "",
        "permissions": {"READ": ["shop-viewers"], "WRITE": [], "EXECUTE": []},
    }


def test_it_records_an_application_update_with_before_and_after(developer: User, shop: Application) -> None:
    api_as(developer).patch(f"{APPS}shop/", {"description": "The better shop"}, format="json")

    event = AuditEvent.objects.get()
    assert (event.action, event.source, event.actor) == ("update", "api", developer)
    assert event.application == "shop"
    assert event.changed_fields == ["description"]
    assert event.before is not None
    assert event.after is not None
    assert event.before["description"] == "The shop"
    assert event.after["description"] == "The better shop"
    assert event.before["owner_email"] == event.after["owner_email"] == "shop@example.com"


def test_it_records_a_permissions_change(developer: User, shop: Application) -> None:
    permissions = {"READ": ["blog-readers"], "WRITE": ["shop-devs"], "EXECUTE": ["shop-devs"]}

    api_as(developer).patch(f"{APPS}shop/", {"permissions": permissions}, format="json")

    event = AuditEvent.objects.get()
    assert event.changed_fields == ["permissions"]
    assert event.before is not None
    assert event.after is not None
    assert event.before["permissions"]["READ"] == ["shop-devs", "shop-viewers"]
    assert event.after["permissions"] == permissions


def test_it_records_an_application_deleted_through_the_api(developer: User, shop: Application) -> None:
    shop_id = shop.pk

    api_as(developer).delete(f"{APPS}shop/")

    event = AuditEvent.objects.get()
    assert (event.action, event.source, event.actor) == ("delete", "api", developer)
    assert event.application == "shop"
    assert event.object_id == str(shop_id)
    assert event.after is None
    assert event.before is not None
    assert event.before["name"] == "shop"
    assert event.before["permissions"]["WRITE"] == ["shop-devs"]


@pytest.mark.parametrize(
    "change",
    [
        {"description": "The shop"},
        {"email": "shop@example.com"},
        {"name": "shop", "description": "The shop"},
        {"permissions": {"READ": ["shop-viewers", "shop-devs"], "WRITE": ["shop-devs"], "EXECUTE": ["shop-devs"]}},
        {},
    ],
    ids=["same-description", "same-email", "same-name", "same-permissions", "empty"],
)
def test_it_records_nothing_for_an_update_that_changes_nothing(
    developer: User, shop: Application, change: dict[str, object]
) -> None:
    response = api_as(developer).patch(f"{APPS}shop/", change, format="json")

    assert response.status_code == 200, response.content
    assert not AuditEvent.objects.exists()


def test_it_records_nothing_for_a_refused_change(viewer: User, shop: Application) -> None:
    api_as(viewer).patch(f"{APPS}shop/", {"description": "Defaced"}, format="json")
    api_as(viewer).delete(f"{APPS}shop/")

    assert not AuditEvent.objects.exists()


def test_it_records_account_changes_through_the_api(admin: User, groups: dict[str, Group]) -> None:
    client = api_as(admin)
    data = {"name": "aws-dev", "provider": "aws", "regions": ["us-east-1"], "permissions": {"READ": ["shop-devs"]}}

    client.post(ACCOUNTS, data, format="json")
    client.patch(f"{ACCOUNTS}aws-dev/", {"regions": ["us-east-1", "eu-west-1"]}, format="json")
    client.delete(f"{ACCOUNTS}aws-dev/")

    events = list(AuditEvent.objects.order_by("id"))
    assert [event.action for event in events] == ["create", "update", "delete"]
    assert {(event.source, event.actor_name, event.object_type) for event in events} == {
        ("api", "admin", "clouds.account")
    }
    created, updated, deleted = events
    assert created.after is not None
    assert created.after["permissions"] == {"READ": ["shop-devs"], "WRITE": []}
    assert updated.changed_fields == ["regions"]
    assert updated.before is not None
    assert updated.after is not None
    assert (updated.before["regions"], updated.after["regions"]) == (["us-east-1"], ["us-east-1", "eu-west-1"])
    assert deleted.before is not None
    assert deleted.before["name"] == "aws-dev"
    assert deleted.after is None


def test_it_records_nothing_for_a_refused_delete(admin: User, local_account: Account, shop_cluster: Cluster) -> None:
    api_as(admin).delete(f"{ACCOUNTS}local/")
    api_as(admin).delete(f"{APPS}shop/")

    assert not AuditEvent.objects.exists()
