"""Listing applications through the REST API: who sees what, pages, filters and query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from tests.conftest import api_as, grant

URL = "/api/v1/applications/"


def names(body: dict[str, Any]) -> list[str]:
    return [row["name"] for row in body["results"]]


def many_apps(groups: dict[str, Group], count: int) -> None:
    """``count`` applications, each with grants for two groups, readable by the developer."""
    for index in range(count):
        app = Application.objects.create(
            name=f"app{index:02d}", owner_email=f"team{index % 3}@example.com", description=f"Number {index}"
        )
        grant(app, groups["shop-devs"], "READ", "WRITE")
        grant(app, groups["shop-viewers"], "READ")


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("admin", ["blog", "shop"]),
        ("developer", ["shop"]),
        ("viewer", ["shop"]),
        ("outsider", ["blog"]),
        ("nobody", []),
    ],
)
def test_it_lists_only_the_applications_a_user_can_read(
    request: pytest.FixtureRequest, shop: Application, blog: Application, persona: str, expected: list[str]
) -> None:
    user = request.getfixturevalue(persona)

    response = api_as(user).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert names(body) == expected
    assert body["count"] == len(expected)


def test_it_refuses_anonymous_callers(shop: Application) -> None:
    response = api_as(None).get(URL)

    assert response.status_code == 401
    assert "shop" not in response.content.decode()


def test_it_shows_each_application_as_spinnaker_does(developer: User, shop: Application) -> None:
    response = api_as(developer).get(URL)

    [row] = response.json()["results"]
    assert row["name"] == "shop"
    assert row["email"] == "shop@example.com"
    assert row["description"] == "The shop"
    assert row["permissions"] == {
        "READ": ["shop-devs", "shop-viewers"],
        "WRITE": ["shop-devs"],
        "EXECUTE": ["shop-devs"],
    }
    assert row["access"] == ["READ", "WRITE", "EXECUTE"]


def test_it_shows_a_viewer_only_read_access(viewer: User, shop: Application) -> None:
    response = api_as(viewer).get(URL)

    assert response.json()["results"][0]["access"] == ["READ"]


def test_it_pages_the_list(developer: User, groups: dict[str, Group]) -> None:
    many_apps(groups, 12)
    client = api_as(developer)

    first = client.get(URL, {"page_size": 5}).json()
    last = client.get(URL, {"page_size": 5, "page": 3}).json()

    assert first["count"] == 12
    assert names(first) == ["app00", "app01", "app02", "app03", "app04"]
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert "page_size=5" in first["next"]
    assert names(last) == ["app10", "app11"]
    assert last["next"] is None


def test_it_follows_the_next_link_to_the_second_page(developer: User, groups: dict[str, Group]) -> None:
    many_apps(groups, 7)
    client = api_as(developer)

    next_url = client.get(URL, {"page_size": 4}).json()["next"]
    second = client.get(next_url).json()

    assert names(second) == ["app04", "app05", "app06"]


def test_it_answers_404_past_the_last_page(developer: User, shop: Application) -> None:
    response = api_as(developer).get(URL, {"page": 2})

    assert response.status_code == 404


def test_it_searches_name_and_description(admin: User, shop: Application, blog: Application) -> None:
    client = api_as(admin)

    assert names(client.get(URL, {"search": "blo"}).json()) == ["blog"]
    assert names(client.get(URL, {"search": "The shop"}).json()) == ["shop"]
    assert names(client.get(URL, {"search": "nothing like it"}).json()) == []


def test_it_does_not_search_beyond_what_the_user_can_read(outsider: User, shop: Application) -> None:
    response = api_as(outsider).get(URL, {"search": "shop"})

    assert response.json()["count"] == 0


def test_it_filters_by_owner_email(admin: User, shop: Application, blog: Application) -> None:
    response = api_as(admin).get(URL, {"owner_email": "blog@example.com"})

    assert names(response.json()) == ["blog"]


def test_it_orders_on_request(admin: User, shop: Application, blog: Application) -> None:
    response = api_as(admin).get(URL, {"ordering": "-name"})

    assert names(response.json()) == ["shop", "blog"]


@pytest.mark.parametrize("persona", ["developer", "admin"])
def test_it_lists_many_applications_in_a_fixed_number_of_queries(
    request: pytest.FixtureRequest, groups: dict[str, Group], django_assert_max_num_queries: Any, persona: str
) -> None:
    many_apps(groups, 20)
    client = api_as(request.getfixturevalue(persona))

    # One of them is the policy-set generation check of the authz hook (policies.middleware).
    with django_assert_max_num_queries(7):
        response = client.get(URL)

    assert response.json()["count"] == 20
    assert all(row["permissions"]["WRITE"] == ["shop-devs"] for row in response.json()["results"])
