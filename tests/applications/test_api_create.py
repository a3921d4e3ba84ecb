"""Creating applications through the REST API: validation, permissions and what is stored."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User

from applications.models import Application, ApplicationGrant
from spinweb.models import AuditEvent
from tests.conftest import api_as, assert_sentence, fields_of, make_user, message_for

URL = "/api/v1/applications/"


def payload(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "checkout",
        "email": "checkout@example.com",
        "description": "Takes the money",
        "permissions": {"READ": ["shop-viewers"], "WRITE": ["shop-devs"], "EXECUTE": ["shop-devs"]},
    }
    data.update(overrides)
    return data


def assert_nothing_saved(before: int) -> None:
    """No application, grant or audit event came out of a refused request."""
    assert not Application.objects.filter(name="checkout").exists()
    assert ApplicationGrant.objects.count() == before
    assert not AuditEvent.objects.exists()


def test_it_creates_an_application_with_its_permissions(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "checkout"
    assert body["email"] == "checkout@example.com"
    assert body["description"] == "Takes the money"
    assert body["permissions"] == {"READ": ["shop-viewers"], "WRITE": ["shop-devs"], "EXECUTE": ["shop-devs"]}
    assert body["access"] == ["READ", "WRITE", "EXECUTE"]
    application = Application.objects.get(name="checkout")
    assert application.owner_email == "checkout@example.com"
    assert application.created_by == admin
    stored = set(application.grants.values_list("group__name", "level"))
    assert stored == {("shop-viewers", "READ"), ("shop-devs", "WRITE"), ("shop-devs", "EXECUTE")}


def test_it_shows_the_creator_the_levels_their_groups_hold(groups: dict[str, Group]) -> None:
    creator = make_user("creator", groups["shop-viewers"])
    creator.user_permissions.add(Permission.objects.get(codename="add_application"))

    response = api_as(creator).post(URL, payload(), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["access"] == ["READ"]


def test_it_creates_an_application_without_permissions(admin: User) -> None:
    data = payload()
    del data["permissions"]

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["permissions"] == {"READ": [], "WRITE": [], "EXECUTE": []}
    assert not ApplicationGrant.objects.filter(application__name="checkout").exists()


@pytest.mark.parametrize("name", ["My-App", "my-app", "1app", "MyApp", "my_app", "a" * 64])
def test_it_refuses_a_bad_name(admin: User, groups: dict[str, Group], name: str) -> None:
    response = api_as(admin).post(URL, payload(name=name), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["name"]
    assert_sentence(message_for(body, "name"))
    assert not Application.objects.filter(name=name).exists()
    assert_nothing_saved(0)


def test_it_refuses_an_empty_name(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(name=""), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["name"]
    assert_sentence(message_for(body, "name"))
    assert not Application.objects.exists()
    assert_nothing_saved(0)


def test_it_says_which_rule_a_name_breaks(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(name="1app"), format="json")

    assert "must start with a letter" in message_for(response.json(), "name")


def test_it_refuses_a_duplicate_name(admin: User, shop: Application) -> None:
    grants_before = ApplicationGrant.objects.count()

    response = api_as(admin).post(URL, payload(name="shop"), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["name"]
    message = message_for(body, "name")
    assert "already exists" in message
    assert_sentence(message)
    assert Application.objects.filter(name="shop").count() == 1
    assert Application.objects.get(name="shop").owner_email == "shop@example.com"
    assert ApplicationGrant.objects.count() == grants_before
    assert not AuditEvent.objects.exists()


def test_it_refuses_an_unknown_group(admin: User, groups: dict[str, Group]) -> None:
    data = payload(permissions={"READ": ["no-such-group"], "WRITE": ["shop-devs"]})

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["permissions.READ[0]"]
    message = message_for(body, "permissions.READ[0]")
    assert "no-such-group" in message
    assert_sentence(message)
    assert "permissions.READ[0]" in body["detail"]
    assert_nothing_saved(0)


def test_it_points_at_the_position_of_the_unknown_group(admin: User, groups: dict[str, Group]) -> None:
    data = payload(permissions={"EXECUTE": ["shop-devs", "ghosts"]})

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    assert fields_of(response.json()) == ["permissions.EXECUTE[1]"]
    assert_nothing_saved(0)


def test_it_refuses_an_unknown_permission_key(admin: User, groups: dict[str, Group]) -> None:
    data = payload(permissions={"ADMIN": ["shop-devs"], "READ": ["shop-devs"]})

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["permissions.ADMIN"]
    message = message_for(body, "permissions.ADMIN")
    assert "ADMIN" in message
    assert_sentence(message)
    assert_nothing_saved(0)


@pytest.mark.parametrize("permissions", [["shop-devs"], "shop-devs"])
def test_it_refuses_permissions_that_are_not_an_object(
    admin: User, groups: dict[str, Group], permissions: object
) -> None:
    response = api_as(admin).post(URL, payload(permissions=permissions), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["permissions"]
    assert_sentence(message_for(body, "permissions"))
    assert_nothing_saved(0)


def test_it_refuses_a_level_that_is_not_a_list(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(permissions={"READ": "shop-devs"}), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["permissions.READ"]
    assert_sentence(message_for(body, "permissions.READ"))
    assert_nothing_saved(0)


@pytest.mark.parametrize("email", ["not-an-email", "", "shop@"])
def test_it_refuses_a_bad_email(admin: User, groups: dict[str, Group], email: str) -> None:
    response = api_as(admin).post(URL, payload(email=email), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert fields_of(body) == ["email"]
    assert_sentence(message_for(body, "email"))
    assert_nothing_saved(0)


def test_it_reports_every_bad_field_at_once(admin: User, groups: dict[str, Group]) -> None:
    response = api_as(admin).post(URL, payload(name="", email="nope"), format="json")

    assert response.status_code == 400, response.content
    assert sorted(fields_of(response.json())) == ["email", "name"]
    assert_nothing_saved(0)


@pytest.mark.parametrize("persona", ["developer", "viewer", "outsider", "nobody"])
def test_it_refuses_users_without_the_add_permission(
    request: pytest.FixtureRequest, shop: Application, persona: str
) -> None:
    user = request.getfixturevalue(persona)
    grants_before = ApplicationGrant.objects.count()

    response = api_as(user).post(URL, payload(), format="json")

    assert response.status_code == 403, response.content
    assert "add application" in response.json()["detail"]
    assert_nothing_saved(grants_before)


def test_it_refuses_anonymous_callers(groups: dict[str, Group]) -> None:
    response = api_as(None).post(URL, payload(), format="json")

    assert response.status_code == 401
    assert_nothing_saved(0)
