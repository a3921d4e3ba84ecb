"""The application pages: list, create, edit and the confirmed delete."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from clouds.models import Cluster
from spinweb.models import AuditEvent
from tests.conftest import browser_as


def test_it_lists_only_visible_applications(shop: Application, blog: Application, viewer: User) -> None:
    page = browser_as(viewer).get("/applications/").content.decode()
    assert 'href="/applications/shop/"' in page
    assert "/applications/blog/" not in page
    assert "New application" not in page


def test_it_filters_the_list_with_a_fragment_for_htmx(shop: Application, blog: Application, admin: User) -> None:
    response = browser_as(admin).get("/applications/?q=blo", HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert "/applications/blog/" in fragment
    assert "/applications/shop/" not in fragment


def test_it_creates_an_application_from_the_form(admin: User, groups: dict[str, Group]) -> None:
    response = browser_as(admin).post(
        "/applications/new/",
        {
            "name": "checkout",
            "owner_email": "pay@example.com",
            "description": "Payments",
            "read_groups": [groups["shop-viewers"].pk],
            "execute_groups": [groups["shop-devs"].pk],
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/applications/checkout/"
    app = Application.objects.get(name="checkout")
    assert app.permissions == {"READ": ["shop-viewers"], "WRITE": [], "EXECUTE": ["shop-devs"]}
    event = AuditEvent.objects.get(object_type="applications.application", action="create")
    assert event.source == "ui"
    assert event.actor_name == "admin"
    assert event.after == app.audit_snapshot()


def test_it_shows_form_errors_and_saves_nothing(admin: User) -> None:
    response = browser_as(admin).post("/applications/new/", {"name": "Check-Out", "owner_email": "not-an-email"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "may contain only lowercase letters and digits" in page
    assert "Enter a valid email address." in page
    assert not Application.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_the_create_page_without_the_add_permission(developer: User) -> None:
    assert browser_as(developer).get("/applications/new/").status_code == 403


def test_it_edits_description_and_permissions_but_not_the_name(
    shop: Application, developer: User, groups: dict[str, Group]
) -> None:
    response = browser_as(developer).post(
        "/applications/shop/edit/",
        {
            "name": "renamed",
            "owner_email": "shop@example.com",
            "description": "New words",
            "read_groups": [groups["blog-readers"].pk],
            "write_groups": [groups["shop-devs"].pk],
            "execute_groups": [groups["shop-devs"].pk],
        },
    )
    assert response.status_code == 302
    shop.refresh_from_db()
    assert shop.name == "shop"
    assert shop.description == "New words"
    assert shop.permissions == {"READ": ["blog-readers"], "WRITE": ["shop-devs"], "EXECUTE": ["shop-devs"]}
    event = AuditEvent.objects.get(action="update")
    assert event.changed_fields == ["description", "permissions"]
    assert event.before is not None
    assert event.after is not None
    assert event.before["description"] == "The shop"
    assert event.after["description"] == "New words"


def test_it_refuses_edits_to_readers(shop: Application, viewer: User) -> None:
    client = browser_as(viewer)
    assert client.get("/applications/shop/edit/").status_code == 403
    assert client.post("/applications/shop/edit/", {"owner_email": "x@example.com"}).status_code == 403
    assert Application.objects.get(name="shop").owner_email == "shop@example.com"


def test_it_deletes_only_after_the_name_is_typed(shop: Application, developer: User) -> None:
    client = browser_as(developer)
    wrong = client.post("/applications/shop/delete/", {"confirm": "shop2"})
    assert wrong.status_code == 200
    assert "Type &#x27;shop&#x27; exactly to confirm." in wrong.content.decode()
    assert Application.objects.filter(name="shop").exists()
    right = client.post("/applications/shop/delete/", {"confirm": "shop"})
    assert right.status_code == 302
    assert right["Location"] == "/applications/"
    assert not Application.objects.filter(name="shop").exists()
    event = AuditEvent.objects.get(action="delete")
    assert event.before is not None
    assert event.before["name"] == "shop"
    assert event.source == "ui"


@pytest.mark.usefixtures("shop_cluster")
def test_it_refuses_to_delete_an_application_with_running_server_groups(developer: User) -> None:
    client = browser_as(developer)
    page = client.get("/applications/shop/delete/").content.decode()
    assert "it still has 1 server group (shop-web-v003); destroy them first" in page
    response = client.post("/applications/shop/delete/", {"confirm": "shop"})
    assert response.status_code == 409
    assert Application.objects.filter(name="shop").exists()
    assert Cluster.objects.filter(name="shop-web").exists()


@pytest.mark.usefixtures("shop_cluster")
def test_it_shows_clusters_and_recent_changes_on_the_application_page(viewer: User) -> None:
    page = browser_as(viewer).get("/applications/shop/").content.decode()
    assert "shop-web-v003" in page
    assert "shop:1.4.2" in page
    assert "Edit" not in page
    assert "Delete" not in page
