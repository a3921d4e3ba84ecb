"""Changing and deleting applications through the REST API."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from applications.models import Application, ApplicationGrant
from clouds.models import Cluster, LoadBalancer, ServerGroup
from spinweb.models import AuditEvent
from tests.conftest import api_as, assert_sentence, fields_of

URL = "/api/v1/applications/shop/"


def test_it_lets_a_writer_change_the_description(developer: User, shop: Application) -> None:
    response = api_as(developer).patch(URL, {"description": "The new shop"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["description"] == "The new shop"
    assert response.json()["access"] == ["READ", "WRITE", "EXECUTE"]
    shop.refresh_from_db()
    assert shop.description == "The new shop"


def test_it_lets_a_writer_change_the_owner_email(developer: User, shop: Application) -> None:
    response = api_as(developer).patch(URL, {"email": "owners@example.com"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["email"] == "owners@example.com"
    shop.refresh_from_db()
    assert shop.owner_email == "owners@example.com"


def test_it_lets_a_writer_change_the_permissions(developer: User, shop: Application) -> None:
    permissions = {"READ": ["blog-readers", "shop-viewers"], "WRITE": ["shop-devs"], "EXECUTE": ["shop-devs"]}

    response = api_as(developer).patch(URL, {"permissions": permissions}, format="json")

    assert response.status_code == 200, response.content
    stored = set(ApplicationGrant.objects.filter(application=shop).values_list("group__name", "level"))
    assert stored == {
        ("blog-readers", "READ"),
        ("shop-viewers", "READ"),
        ("shop-devs", "WRITE"),
        ("shop-devs", "EXECUTE"),
    }


def test_it_answers_a_permissions_change_with_the_new_permissions(developer: User, shop: Application) -> None:
    permissions = {"READ": ["blog-readers"], "WRITE": ["shop-devs"], "EXECUTE": ["shop-devs"]}

    response = api_as(developer).patch(URL, {"permissions": permissions}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["permissions"] == permissions


def test_it_lets_the_reader_it_grants_see_the_application(developer: User, outsider: User, shop: Application) -> None:
    permissions = {"READ": ["blog-readers"], "WRITE": ["shop-devs"], "EXECUTE": ["shop-devs"]}
    api_as(developer).patch(URL, {"permissions": permissions}, format="json")

    response = api_as(outsider).get(URL)

    assert response.status_code == 200
    assert response.json()["access"] == ["READ"]


def test_it_replaces_the_whole_application_on_put(developer: User, shop: Application) -> None:
    data = {
        "name": "shop",
        "email": "team@example.com",
        "description": "",
        "permissions": {"READ": [], "WRITE": ["shop-devs"], "EXECUTE": []},
    }

    response = api_as(developer).put(URL, data, format="json")

    assert response.status_code == 200, response.content
    shop.refresh_from_db()
    assert (shop.owner_email, shop.description) == ("team@example.com", "")
    assert set(shop.grants.values_list("group__name", "level")) == {("shop-devs", "WRITE")}


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_it_forbids_a_reader_to_change_or_delete(viewer: User, shop: Application, method: str) -> None:
    data = {"name": "shop", "email": "evil@example.com", "description": "Defaced"}

    response = getattr(api_as(viewer), method)(URL, data, format="json")

    assert response.status_code == 403, response.content
    assert "WRITE" in response.json()["detail"]
    shop.refresh_from_db()
    assert (shop.owner_email, shop.description) == ("shop@example.com", "The shop")
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("persona", ["outsider", "nobody"])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_it_hides_the_application_from_users_without_access(
    request: pytest.FixtureRequest, shop: Application, persona: str, method: str
) -> None:
    user = request.getfixturevalue(persona)

    response = getattr(api_as(user), method)(URL, {"description": "Defaced"}, format="json")

    assert response.status_code == 404, response.content
    shop.refresh_from_db()
    assert shop.description == "The shop"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_it_answers_a_hidden_application_exactly_like_a_missing_one(
    outsider: User, shop: Application, method: str
) -> None:
    """Closed by default: the answer must not tell an outsider that ``shop`` exists."""
    client = api_as(outsider)

    hidden = getattr(client, method)(URL, {"description": "x"}, format="json")
    missing = getattr(client, method)("/api/v1/applications/ghost/", {"description": "x"}, format="json")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_it_answers_404_for_an_application_that_does_not_exist(admin: User) -> None:
    response = api_as(admin).patch("/api/v1/applications/ghost/", {"description": "x"}, format="json")

    assert response.status_code == 404


def test_it_refuses_a_rename(developer: User, shop: Application) -> None:
    response = api_as(developer).patch(URL, {"name": "store"}, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["name"]
    assert_sentence(body["errors"][0]["message"])
    assert Application.objects.filter(name="shop").exists()
    assert not Application.objects.filter(name="store").exists()
    assert not AuditEvent.objects.exists()


def test_it_accepts_the_unchanged_name(developer: User, shop: Application) -> None:
    response = api_as(developer).patch(URL, {"name": "shop", "description": "Same name"}, format="json")

    assert response.status_code == 200, response.content


def test_it_keeps_everything_when_an_update_is_refused(developer: User, shop: Application) -> None:
    data = {"description": "Half applied", "permissions": {"READ": ["ghosts"]}}

    response = api_as(developer).patch(URL, data, format="json")

    assert response.status_code == 400, response.content
    assert fields_of(response.json()) == ["permissions.READ[0]"]
    shop.refresh_from_db()
    assert shop.description == "The shop"
    assert shop.grants.count() == 4
    assert not AuditEvent.objects.exists()


def test_it_refuses_to_delete_an_application_with_running_server_groups(
    developer: User, shop: Application, shop_cluster: Cluster
) -> None:
    response = api_as(developer).delete(URL)

    assert response.status_code == 409, response.content
    detail = response.json()["detail"]
    assert detail.endswith("."), detail
    assert "shop cannot be deleted" in detail
    assert "1 server group" in detail
    assert "1 load balancer" in detail
    assert Application.objects.filter(name="shop").exists()
    assert ServerGroup.objects.filter(cluster=shop_cluster).count() == 1
    assert shop.grants.count() == 4
    assert not AuditEvent.objects.exists()


def test_it_refuses_to_delete_an_application_with_only_a_load_balancer(
    developer: User, shop: Application, shop_cluster: Cluster
) -> None:
    ServerGroup.objects.update(destroyed_at=timezone.now())

    response = api_as(developer).delete(URL)

    assert response.status_code == 409, response.content
    detail = response.json()["detail"]
    assert "1 load balancer" in detail
    assert "server group" not in detail
    assert Application.objects.filter(name="shop").exists()


def test_it_deletes_an_application_whose_server_groups_are_destroyed(
    developer: User, shop: Application, shop_cluster: Cluster
) -> None:
    ServerGroup.objects.update(destroyed_at=timezone.now())
    LoadBalancer.objects.all().delete()

    response = api_as(developer).delete(URL)

    assert response.status_code == 204, response.content
    assert not Application.objects.filter(name="shop").exists()
    assert not Cluster.objects.exists()


def test_it_deletes_an_application_without_infrastructure(developer: User, shop: Application) -> None:
    response = api_as(developer).delete(URL)

    assert response.status_code == 204, response.content
    assert not Application.objects.filter(name="shop").exists()
    assert not ApplicationGrant.objects.filter(application_id=shop.pk).exists()
    assert api_as(developer).get(URL).status_code == 404


def test_it_refuses_a_permissions_change_that_takes_write_from_the_writer(developer: User, shop: Application) -> None:
    before = shop.permissions
    response = api_as(developer).patch(
        URL, {"permissions": {"READ": ["shop-devs"], "WRITE": [], "EXECUTE": []}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "permissions.WRITE"
    assert "would take WRITE on shop away from you" in response.json()["errors"][0]["message"]
    assert Application.objects.get(name="shop").permissions == before
    assert not AuditEvent.objects.exists()


def test_it_lets_an_admin_hand_write_to_another_group(admin: User, shop: Application) -> None:
    response = api_as(admin).patch(URL, {"permissions": {"WRITE": ["shop-viewers"]}}, format="json")
    assert response.status_code == 200
    assert response.json()["permissions"] == {"READ": [], "WRITE": ["shop-viewers"], "EXECUTE": []}
