"""The Django admin: the audit log is read-only there, and changes made there are audited."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import Group, User

from applications.models import Application, ApplicationGrant
from clouds.models import Account, Cluster
from spinweb.models import AuditEvent
from tests.conftest import api_as, browser_as

EVENTS = "/admin/spinweb/auditevent/"


def application_form(application: Application, **fields: str) -> dict[str, Any]:
    """The change form as the admin page posts it, grants inline included, with ``fields`` changed."""
    grants = list(application.grants.order_by("id"))
    data: dict[str, Any] = {
        "owner_email": application.owner_email,
        "description": application.description,
        "grants-TOTAL_FORMS": str(len(grants) + 1),
        "grants-INITIAL_FORMS": str(len(grants)),
        "grants-MIN_NUM_FORMS": "0",
        "grants-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, grant in enumerate(grants):
        data[f"grants-{index}-id"] = str(grant.pk)
        data[f"grants-{index}-application"] = str(application.pk)
        data[f"grants-{index}-group"] = str(grant.group_id)
        data[f"grants-{index}-level"] = grant.level
    data[f"grants-{len(grants)}-application"] = str(application.pk)
    data.update(fields)
    return data


def change_url(application: Application) -> str:
    return f"/admin/applications/application/{application.pk}/change/"


def test_it_lists_audit_events_in_the_admin(admin: User, developer: User, shop: Application) -> None:
    api_as(developer).patch("/api/v1/applications/shop/", {"description": "Seen in the admin"}, format="json")

    response = browser_as(admin).get(EVENTS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "developer" in page
    assert "applications.application" in page
    assert f"{EVENTS}{AuditEvent.objects.get().pk}/change/" in page


def test_it_shows_an_event_read_only(admin: User, developer: User, shop: Application) -> None:
    api_as(developer).patch("/api/v1/applications/shop/", {"description": "Read only"}, format="json")
    event = AuditEvent.objects.get()

    page = browser_as(admin).get(f"{EVENTS}{event.pk}/change/")

    assert page.status_code == 200
    assert "Read only" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()


def test_it_offers_no_way_to_add_an_event(admin: User) -> None:
    client = browser_as(admin)

    assert client.get(f"{EVENTS}add/").status_code == 403
    response = client.post(f"{EVENTS}add/", {"actor_name": "forger", "source": "api", "action": "delete"})
    assert response.status_code == 403
    assert not AuditEvent.objects.exists()


def test_it_offers_no_way_to_change_or_delete_an_event(admin: User, developer: User, shop: Application) -> None:
    api_as(developer).patch("/api/v1/applications/shop/", {"description": "Keep me"}, format="json")
    event = AuditEvent.objects.get()
    client = browser_as(admin)

    change = client.post(f"{EVENTS}{event.pk}/change/", {"actor_name": "forger"})
    delete = client.post(f"{EVENTS}{event.pk}/delete/", {"post": "yes"})
    bulk = client.post(EVENTS, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})

    assert change.status_code == 403
    assert delete.status_code == 403
    assert bulk.status_code in (200, 302)
    event.refresh_from_db()
    assert event.actor_name == "developer"


def test_it_audits_an_application_change_made_in_the_admin(admin: User, shop: Application) -> None:
    response = browser_as(admin).post(change_url(shop), application_form(shop, description="Changed in the admin"))

    assert response.status_code == 302, response.content.decode()[:2000]
    shop.refresh_from_db()
    assert shop.description == "Changed in the admin"
    event = AuditEvent.objects.get()
    assert (event.action, event.source, event.actor) == ("update", "admin", admin)
    assert event.application == "shop"
    assert event.changed_fields == ["description"]
    assert event.before is not None
    assert event.after is not None
    assert (event.before["description"], event.after["description"]) == ("The shop", "Changed in the admin")


def test_it_audits_a_grant_added_in_the_admin(admin: User, shop: Application, groups: dict[str, Group]) -> None:
    data = application_form(shop)
    new = shop.grants.count()
    data[f"grants-{new}-group"] = str(groups["blog-readers"].pk)
    data[f"grants-{new}-level"] = "READ"

    response = browser_as(admin).post(change_url(shop), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert ApplicationGrant.objects.filter(application=shop, group__name="blog-readers", level="READ").exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.source) == ("update", "admin")
    assert event.changed_fields == ["permissions"]
    assert event.after is not None
    assert event.after["permissions"]["READ"] == ["blog-readers", "shop-devs", "shop-viewers"]


def test_it_audits_a_grant_removed_in_the_admin(admin: User, shop: Application) -> None:
    data = application_form(shop)
    viewer_grant = shop.grants.get(group__name="shop-viewers")
    index = list(shop.grants.order_by("id")).index(viewer_grant)
    data[f"grants-{index}-DELETE"] = "on"

    response = browser_as(admin).post(change_url(shop), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get()
    assert event.changed_fields == ["permissions"]
    assert event.after is not None
    assert event.after["permissions"]["READ"] == ["shop-devs"]
    assert not ApplicationGrant.objects.filter(pk=viewer_grant.pk).exists()


def test_it_records_nothing_when_an_admin_saves_without_changes(admin: User, shop: Application) -> None:
    response = browser_as(admin).post(change_url(shop), application_form(shop))

    assert response.status_code == 302
    assert not AuditEvent.objects.exists()


def test_it_audits_an_application_created_in_the_admin(admin: User, groups: dict[str, Group]) -> None:
    data = {
        "name": "checkout",
        "owner_email": "pay@example.com",
        "description": "",
        "grants-TOTAL_FORMS": "1",
        "grants-INITIAL_FORMS": "0",
        "grants-MIN_NUM_FORMS": "0",
        "grants-MAX_NUM_FORMS": "1000",
        "grants-0-group": str(groups["shop-devs"].pk),
        "grants-0-level": "WRITE",
        "_save": "Save",
    }

    response = browser_as(admin).post("/admin/applications/application/add/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get()
    assert (event.action, event.source, event.actor) == ("create", "admin", admin)
    assert event.application == "checkout"
    assert event.after is not None
    assert event.after["permissions"]["WRITE"] == ["shop-devs"]


def test_it_audits_an_application_deleted_in_the_admin(admin: User, shop: Application) -> None:
    response = browser_as(admin).post(f"/admin/applications/application/{shop.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Application.objects.filter(name="shop").exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.source, event.application) == ("delete", "admin", "shop")


def test_it_shows_what_blocks_a_delete_in_the_admin(admin: User, shop: Application, shop_cluster: Cluster) -> None:
    client = browser_as(admin)

    page = client.get(f"/admin/applications/application/{shop.pk}/delete/")
    client.post(f"/admin/applications/application/{shop.pk}/delete/", {"post": "yes"})

    assert "server group" in page.content.decode()
    assert Application.objects.filter(name="shop").exists()
    assert not AuditEvent.objects.exists()


def test_it_audits_an_account_change_made_in_the_admin(admin: User, local_account: Account) -> None:
    data = {
        "name": "local",
        "provider": "local",
        "regions": '["local"]',
        "environment": "dev",
        "credentials_kind": "none",
        "credentials_ref": "",
        "description": "The laptop",
        "grants-TOTAL_FORMS": "0",
        "grants-INITIAL_FORMS": "0",
        "grants-MIN_NUM_FORMS": "0",
        "grants-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }

    response = browser_as(admin).post(f"/admin/clouds/account/{local_account.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get()
    assert (event.action, event.source, event.object_type) == ("update", "admin", "clouds.account")
    assert event.changed_fields == ["description"]


def test_it_audits_group_changes_made_in_the_admin(admin: User, groups: dict[str, Group]) -> None:
    client = browser_as(admin)
    group = groups["shop-viewers"]
    response = client.post(f"/admin/auth/group/{group.pk}/change/", {"name": "shop-readers", "permissions": []})
    assert response.status_code == 302
    event = AuditEvent.objects.get(object_type="auth.group", action="update")
    assert event.before == {"name": "shop-viewers", "permissions": []}
    assert event.after == {"name": "shop-readers", "permissions": []}
    assert event.source == "admin"


def test_it_audits_user_changes_without_the_password(admin: User, viewer: User) -> None:
    client = browser_as(admin)
    response = client.post(f"/admin/auth/user/{viewer.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(object_type="auth.user", action="delete")
    assert event.before is not None
    assert event.before["username"] == "viewer"
    assert event.before["groups"] == ["shop-viewers"]
    assert viewer.password not in json.dumps(event.before)
