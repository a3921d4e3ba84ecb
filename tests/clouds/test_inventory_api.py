"""Clusters, server groups and load balancers through the REST API: read-only, per application."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from applications.models import Application
from clouds.models import Account, Cluster, LoadBalancer, ServerGroup
from tests.conftest import api_as

KINDS = ["clusters", "server-groups", "load-balancers"]


@pytest.fixture
def blog_cluster(blog: Application, local_account: Account) -> Cluster:
    cluster = Cluster.objects.create(application=blog, account=local_account, name="blog")
    lb = LoadBalancer.objects.create(application=blog, account=local_account, name="blog", region="local")
    group = ServerGroup.objects.create(cluster=cluster, name="blog-v001", sequence=1, region="local", artifact="blog:2")
    group.load_balancers.add(lb)
    return cluster


@pytest.fixture
def destroyed_group(shop_cluster: Cluster) -> ServerGroup:
    return ServerGroup.objects.create(
        cluster=shop_cluster,
        name="shop-web-v002",
        sequence=2,
        region="local",
        artifact="shop:1.4.1",
        destroyed_at=timezone.now(),
    )


def url(kind: str, pk: Any = None) -> str:
    return f"/api/v1/{kind}/" if pk is None else f"/api/v1/{kind}/{pk}/"


def shop_row(kind: str) -> Any:
    if kind == "clusters":
        return Cluster.objects.get(name="shop-web")
    if kind == "server-groups":
        return ServerGroup.objects.get(name="shop-web-v003")
    return LoadBalancer.objects.get(name="shop-web")


def names(response: Any) -> list[str]:
    return sorted(row["name"] for row in response.json()["results"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("persona", ["developer", "viewer"])
def test_it_shows_shop_infrastructure_to_shop_readers(
    request: pytest.FixtureRequest, shop_cluster: Cluster, blog_cluster: Cluster, kind: str, persona: str
) -> None:
    client = api_as(request.getfixturevalue(persona))
    row = shop_row(kind)

    listing = client.get(url(kind))
    detail = client.get(url(kind, row.pk))

    assert listing.status_code == 200
    assert names(listing) == [row.name]
    assert detail.status_code == 200
    assert detail.json()["name"] == row.name
    assert detail.json()["application"] == "shop"
    assert detail.json()["account"] == "local"


@pytest.mark.parametrize("kind", KINDS)
def test_it_hides_shop_infrastructure_from_others(
    outsider: User, nobody: User, shop_cluster: Cluster, kind: str
) -> None:
    row = shop_row(kind)

    for user in (outsider, nobody):
        client = api_as(user)
        listing = client.get(url(kind))
        assert listing.status_code == 200
        assert listing.json()["count"] == 0
        assert client.get(url(kind, row.pk)).status_code == 404


@pytest.mark.parametrize("kind", KINDS)
def test_it_answers_404_for_ids_that_do_not_exist(admin: User, shop_cluster: Cluster, kind: str) -> None:
    client = api_as(admin)

    assert client.get(url(kind, 999999)).status_code == 404
    assert client.get(url(kind, "abc")).status_code == 404


@pytest.mark.parametrize("kind", KINDS)
def test_it_shows_everything_to_an_admin(admin: User, shop_cluster: Cluster, blog_cluster: Cluster, kind: str) -> None:
    response = api_as(admin).get(url(kind))

    assert response.json()["count"] == 2


@pytest.mark.parametrize("kind", KINDS)
def test_it_filters_by_application(admin: User, shop_cluster: Cluster, blog_cluster: Cluster, kind: str) -> None:
    response = api_as(admin).get(url(kind), {"application": "shop"})

    assert names(response) == [shop_row(kind).name]
    assert {row["application"] for row in response.json()["results"]} == {"shop"}


def test_it_filters_server_groups_by_active(admin: User, destroyed_group: ServerGroup) -> None:
    client = api_as(admin)

    active = client.get(url("server-groups"), {"active": "true"})
    destroyed = client.get(url("server-groups"), {"active": "false"})
    everything = client.get(url("server-groups"))

    assert names(active) == ["shop-web-v003"]
    assert names(destroyed) == ["shop-web-v002"]
    assert destroyed.json()["results"][0]["destroyed_at"] is not None
    assert names(everything) == ["shop-web-v002", "shop-web-v003"]


def test_it_shows_the_cluster_moniker(developer: User, shop_cluster: Cluster) -> None:
    response = api_as(developer).get(url("clusters", shop_cluster.pk))

    assert response.json()["moniker"] == {"app": "shop", "stack": "web", "cluster": "shop-web"}


def test_it_shows_a_server_group_as_spinnaker_does(developer: User, shop_cluster: Cluster) -> None:
    group = ServerGroup.objects.get(name="shop-web-v003")

    body = api_as(developer).get(url("server-groups", group.pk)).json()

    assert body["moniker"] == {"app": "shop", "stack": "web", "cluster": "shop-web", "sequence": 3}
    assert body["cluster"] == "shop-web"
    assert body["sequence"] == 3
    assert body["artifact"] == "shop:1.4.2"
    assert body["capacity"] == {"min": 1, "max": 1, "desired": 1}
    assert body["enabled"] is True
    assert body["load_balancers"] == ["shop-web"]
    assert body["destroyed_at"] is None


def test_it_shows_where_a_load_balancer_listens(developer: User, shop_cluster: Cluster) -> None:
    lb = LoadBalancer.objects.get(name="shop-web")

    body = api_as(developer).get(url("load-balancers", lb.pk)).json()

    assert body["address"] == "127.0.0.1:8081"
    assert body["region"] == "local"


@pytest.mark.parametrize("kind", KINDS)
def test_it_refuses_to_create_through_the_api(developer: User, shop_cluster: Cluster, kind: str) -> None:
    counts = (Cluster.objects.count(), ServerGroup.objects.count(), LoadBalancer.objects.count())

    response = api_as(developer).post(url(kind), {"name": "shop-api", "application": "shop"}, format="json")

    assert response.status_code == 405
    assert (Cluster.objects.count(), ServerGroup.objects.count(), LoadBalancer.objects.count()) == counts


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_it_refuses_to_change_or_delete_through_the_api(
    developer: User, shop_cluster: Cluster, kind: str, method: str
) -> None:
    row = shop_row(kind)

    response = getattr(api_as(developer), method)(url(kind, row.pk), {"name": "shop-renamed"}, format="json")

    assert response.status_code == 405
    assert type(row).objects.get(pk=row.pk).name == row.name


def test_it_lists_server_groups_in_a_fixed_number_of_queries(
    admin: User, shop_cluster: Cluster, local_account: Account, django_assert_max_num_queries: Any
) -> None:
    lb = LoadBalancer.objects.get(name="shop-web")
    for sequence in range(4, 24):
        group = ServerGroup.objects.create(
            cluster=shop_cluster, name=f"shop-web-v{sequence:03d}", sequence=sequence, region="local", artifact="a"
        )
        group.load_balancers.add(lb)
    client = api_as(admin)
    # The first request after the account was created reloads the policy set (a one-time cost
    # per change); what is measured is the list itself, plus the generation check of the authz hook.
    client.get(url("server-groups"))

    with django_assert_max_num_queries(5):
        response = client.get(url("server-groups"))

    assert response.json()["count"] == 21
