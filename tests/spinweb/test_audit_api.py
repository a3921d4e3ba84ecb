"""The audit log through the REST API: who may read which events, and that nobody may write them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from clouds.models import Account
from spinweb.models import AuditEvent
from tests.conftest import api_as

URL = "/api/v1/audit-events/"


@pytest.fixture
def history(admin: User, shop: Application, blog: Application, local_account: Account) -> None:
    """One change each to shop, blog and the local account, made through the API."""
    client = api_as(admin)
    client.patch("/api/v1/applications/shop/", {"description": "Shop, changed"}, format="json")
    client.patch("/api/v1/applications/blog/", {"description": "Blog, changed"}, format="json")
    client.patch("/api/v1/accounts/local/", {"description": "Laptop"}, format="json")
    assert AuditEvent.objects.count() == 3


def seen(response: Any) -> list[tuple[str, str]]:
    return sorted((row["object_type"], row["object_repr"]) for row in response.json()["results"])


SHOP = ("applications.application", "shop")
BLOG = ("applications.application", "blog")
LOCAL = ("clouds.account", "local")


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("admin", [BLOG, SHOP, LOCAL]),
        ("developer", [SHOP]),
        ("viewer", [SHOP]),
        ("outsider", [BLOG]),
        ("nobody", []),
    ],
)
def test_it_shows_events_of_applications_the_user_can_read(
    request: pytest.FixtureRequest, history: None, persona: str, expected: list[tuple[str, str]]
) -> None:
    response = api_as(request.getfixturevalue(persona)).get(URL)

    assert response.status_code == 200
    assert seen(response) == expected
    assert response.json()["count"] == len(expected)


def test_it_shows_an_event_in_full(developer: User, history: None) -> None:
    [row] = api_as(developer).get(URL).json()["results"]

    assert row["actor"] == "admin"
    assert row["source"] == "api"
    assert row["action"] == "update"
    assert row["application"] == "shop"
    assert row["changed_fields"] == ["description"]
    assert row["before"]["description"] == "The shop"
    assert row["after"]["description"] == "Shop, changed"


def test_it_hides_an_event_detail_from_users_who_cannot_read_its_application(
    outsider: User, developer: User, history: None
) -> None:
    shop_event = AuditEvent.objects.get(application="shop")

    assert api_as(outsider).get(f"{URL}{shop_event.pk}/").status_code == 404
    assert api_as(developer).get(f"{URL}{shop_event.pk}/").status_code == 200


def test_it_does_not_let_a_filter_reach_past_visibility(outsider: User, history: None) -> None:
    response = api_as(outsider).get(URL, {"application": "shop"})

    assert response.json()["count"] == 0


def test_it_filters_events(admin: User, history: None) -> None:
    client = api_as(admin)

    assert seen(client.get(URL, {"application": "blog"})) == [BLOG]
    assert seen(client.get(URL, {"object_type": "clouds.account"})) == [LOCAL]
    assert client.get(URL, {"action": "delete"}).json()["count"] == 0
    assert client.get(URL, {"actor": "admin"}).json()["count"] == 3


def test_it_refuses_anonymous_callers(history: None) -> None:
    assert api_as(None).get(URL).status_code == 401


def test_it_refuses_to_create_an_event(admin: User, history: None) -> None:
    data = {"action": "delete", "source": "api", "object_type": "applications.application", "object_repr": "shop"}

    response = api_as(admin).post(URL, data, format="json")

    assert response.status_code == 405
    assert AuditEvent.objects.count() == 3


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_it_refuses_to_change_or_delete_an_event(admin: User, history: None, method: str) -> None:
    event = AuditEvent.objects.get(application="shop")

    response = getattr(api_as(admin), method)(f"{URL}{event.pk}/", {"actor": "someone-else"}, format="json")

    assert response.status_code == 405
    event.refresh_from_db()
    assert event.actor_name == "admin"
    assert AuditEvent.objects.count() == 3


def test_it_lists_events_in_a_fixed_number_of_queries(
    developer: User, shop: Application, django_assert_max_num_queries: Any
) -> None:
    client = api_as(developer)
    for index in range(20):
        client.patch("/api/v1/applications/shop/", {"description": f"Version {index}"}, format="json")

    # One of them is the policy-set generation check of the authz hook (policies.middleware).
    with django_assert_max_num_queries(4):
        response = client.get(URL)

    assert response.json()["count"] == 20
