"""The clusters page: clusters by account and region, server groups newest first with their
instances, traffic and state, the operations the user may start, and the live fragment.

The accounts here are AWS accounts, for which Spinweb has no driver yet: the page shows their
rows as stored, and the refresh it does first changes nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applications.models import Application
from clouds.models import Account, AccountGrant, Cluster, ServerGroup
from pipelines.models import Execution
from tests.conftest import browser_as

PAGE = "/applications/shop/clusters/"
LIVE = PAGE + "live/"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _engine_in_process(settings: Any) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"


def make_group(cluster: Cluster, sequence: int, region: str, age_minutes: int, **fields: Any) -> ServerGroup:
    group = ServerGroup.objects.create(
        cluster=cluster,
        name=f"{cluster.name}-v{sequence:03d}",
        sequence=sequence,
        region=region,
        artifact=fields.pop("artifact", f"sample:{sequence}.0"),
        **fields,
    )
    ServerGroup.objects.filter(pk=group.pk).update(created_at=timezone.now() - timedelta(minutes=age_minutes))
    return group


@pytest.fixture
def prod(shop: Application, groups: dict[str, Group]) -> Account:
    """aws-prod, where shop-devs may deploy: shop-api in us-east-1 (v001, v002; v000 destroyed), eu-west-1 (v005)."""
    account = Account.objects.create(name="aws-prod", provider="aws", regions=["us-east-1", "eu-west-1"])
    AccountGrant.objects.create(account=account, group=groups["shop-devs"], level="WRITE")
    cluster = Cluster.objects.create(application=shop, account=account, name="shop-api")
    make_group(cluster, 0, "us-east-1", 90, destroyed_at=timezone.now())
    make_group(cluster, 1, "us-east-1", 60, enabled=False, traffic_weight=0)
    instances = [
        {"id": "shop-api-v002-0", "address": "10.0.0.1:80", "health": "UP"},
        {"id": "shop-api-v002-1", "address": "10.0.0.2:80", "health": "DOWN"},
        {"id": "shop-api-v002-2", "address": "10.0.0.3:80", "health": "STARTING"},
    ]
    make_group(
        cluster, 2, "us-east-1", 5, enabled=True, traffic_weight=80, instances=instances, capacity_desired=3,
        capacity_max=4,
    )  # fmt: skip
    counts = {"total": 2, "up": 2, "down": 0, "starting": 0, "unknown": 0, "outOfService": 0}
    make_group(cluster, 5, "eu-west-1", 5, enabled=True, traffic_weight=100, instance_counts=counts)
    return account


@pytest.fixture
def sandbox(shop: Application) -> Account:
    """aws-sandbox, which nobody but admins may deploy to: shop-batch v001 in us-east-1."""
    account = Account.objects.create(name="aws-sandbox", provider="aws", regions=["us-east-1"])
    cluster = Cluster.objects.create(application=shop, account=account, name="shop-batch")
    make_group(cluster, 1, "us-east-1", 10, enabled=True, traffic_weight=100)
    return account


def get(client: Client, url: str = PAGE, **headers: str) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def sections(html: str) -> list[str]:
    return re.findall(r'<section class="cluster-section" aria-label="([^"]+)"', html)


def columns(html: str) -> dict[str, str]:
    """Each server group's column, by name, in page order."""
    parts = re.split(r'(?=<div class="server-group[ "])', html)[1:]
    columns = {}
    for part in parts:
        name = re.search(r'data-name="([^"]+)"', part)
        assert name is not None, part
        columns[name.group(1)] = part
    return columns


def dots(column: str) -> list[str]:
    return re.findall(r'class="dot dot-(\w+)"', column)


def forms(column: str) -> list[str]:
    return re.findall(r'hx-post="/applications/shop/clusters/server-groups/\d+/(\w+)/"', column)


def test_it_groups_clusters_by_account_and_region(prod: Account, sandbox: Account, developer: User) -> None:
    html = get(browser_as(developer))

    assert sections(html) == ["aws-prod eu-west-1", "aws-prod us-east-1", "aws-sandbox us-east-1"]
    assert list(columns(html)) == ["shop-api-v005", "shop-api-v002", "shop-api-v001", "shop-batch-v001"]


def test_it_shows_version_artifact_instances_traffic_and_state(prod: Account, viewer: User) -> None:
    shown = columns(get(browser_as(viewer)))

    newest, older, europe = shown["shop-api-v002"], shown["shop-api-v001"], shown["shop-api-v005"]
    assert "<strong>v002</strong>" in newest
    assert "sample:2.0" in newest
    assert dots(newest) == ["UP", "DOWN", "STARTING"]
    assert 'title="shop-api-v002-1: DOWN"' in newest
    assert dots(europe) == ["UP", "UP"]  # a row with counts only
    assert dots(older) == []
    assert '<progress value="80" max="100"' in newest
    assert "Traffic 80%" in newest
    assert '<progress value="0" max="100"' in older
    assert "state-enabled" in newest
    assert "state-disabled" in older
    assert "Capacity 3" in newest
    assert "max 4" in newest
    assert "shop-api-v000" not in get(browser_as(viewer))


def test_it_offers_operations_only_where_the_user_may_deploy(prod: Account, sandbox: Account, developer: User) -> None:
    html = get(browser_as(developer))
    shown = columns(html)

    assert forms(shown["shop-api-v002"]) == ["disable", "rollback", "resize", "destroy"]
    assert forms(shown["shop-api-v001"]) == ["enable", "resize", "destroy"]  # nothing older to roll back to
    assert "Rollback to shop-api-v001" in shown["shop-api-v002"]
    assert "Type <strong>shop-api-v002</strong> to confirm" in shown["shop-api-v002"]
    assert forms(shown["shop-batch-v001"]) == []
    assert "You need WRITE on account aws-sandbox to change these server groups." in html


def test_it_offers_no_operations_to_a_viewer(prod: Account, viewer: User) -> None:
    html = get(browser_as(viewer))

    assert "/clusters/server-groups/" not in html
    assert "You need WRITE" not in html  # a viewer cannot run anything anyway


def test_it_offers_every_operation_to_an_admin(prod: Account, sandbox: Account, admin: User) -> None:
    assert forms(columns(get(browser_as(admin)))["shop-batch-v001"]) == ["disable", "resize", "destroy"]


@pytest.mark.parametrize(("persona", "code"), [("outsider", 404), ("nobody", 404)])
def test_it_hides_the_page_from_people_who_cannot_read_shop(
    request: pytest.FixtureRequest, prod: Account, persona: str, code: int
) -> None:
    client = browser_as(request.getfixturevalue(persona))

    for url in (PAGE, LIVE):
        response = client.get(url)
        assert response.status_code == code
        assert b"shop-api" not in response.content


def test_it_sends_anonymous_browsers_to_log_in(prod: Account) -> None:
    assert browser_as(None).get(PAGE).status_code == 302


def test_it_links_from_the_application_page(prod: Account, viewer: User) -> None:
    assert f'href="{PAGE}"' in get(browser_as(viewer), "/applications/shop/")


# Operations ----------------------------------------------------------------------------------


def action_url(name: str, operation: str) -> str:
    group = ServerGroup.objects.get(name=name, destroyed_at__isnull=True)
    return f"/applications/shop/clusters/server-groups/{group.pk}/{operation}/"


def test_it_starts_a_resize_and_links_to_its_execution(prod: Account, developer: User) -> None:
    data = {"min": "1", "desired": "2", "max": "4"}

    response = browser_as(developer).post(action_url("shop-api-v002", "resize"), data, headers=HTMX)

    assert response.status_code == 200
    execution = Execution.objects.get()
    assert f'href="/applications/shop/executions/{execution.pk}/"' in response.content.decode()
    assert "Resize shop-api-v002" in response.content.decode()
    stage = execution.stages.get()
    assert (stage.type, stage.config["serverGroupName"]) == ("resizeServerGroup", "shop-api-v002")
    assert stage.config["capacity"] == {"min": 1, "max": 4, "desired": 2}
    assert stage.config["credentials"] == "aws-prod"
    assert stage.config["regions"] == ["us-east-1"]


def test_it_redirects_a_plain_form_to_the_execution(prod: Account, developer: User) -> None:
    response = browser_as(developer).post(action_url("shop-api-v001", "enable"))

    assert response.status_code == 302
    assert response["Location"] == f"/applications/shop/executions/{Execution.objects.get().pk}/"


def test_it_destroys_only_with_the_name_typed(prod: Account, developer: User) -> None:
    client, url = browser_as(developer), action_url("shop-api-v002", "destroy")

    refused = client.post(url, {"confirm": "shop-api-v001"}, headers=HTMX)

    assert refused.status_code == 200
    assert "Type the server group&#x27;s name, shop-api-v002, to confirm the destroy." in refused.content.decode()
    assert not Execution.objects.exists()
    started = client.post(url, {"confirm": "shop-api-v002"}, headers=HTMX)
    assert started.status_code == 200
    assert Execution.objects.get().stages.get().type == "destroyServerGroup"


def test_it_reports_a_bad_capacity_beside_the_form(prod: Account, developer: User) -> None:
    data = {"min": "3", "desired": "2", "max": "4"}

    response = browser_as(developer).post(action_url("shop-api-v002", "resize"), data, headers=HTMX)

    assert "Capacity must satisfy min &lt;= desired &lt;= max." in response.content.decode()
    assert not Execution.objects.exists()


@pytest.mark.parametrize(
    ("persona", "group", "code"),
    [
        ("viewer", "shop-api-v002", 403),
        ("outsider", "shop-api-v002", 404),
        ("developer", "shop-batch-v001", 403),  # no WRITE on aws-sandbox
    ],
)
def test_it_refuses_operations_the_user_may_not_start(
    request: pytest.FixtureRequest, prod: Account, sandbox: Account, persona: str, group: str, code: int
) -> None:
    client = browser_as(request.getfixturevalue(persona))

    response = client.post(action_url(group, "disable"), headers=HTMX)

    assert response.status_code == code
    assert not Execution.objects.exists()


def test_it_finds_no_server_group_of_another_application_under_shop(
    prod: Account, blog: Application, admin: User
) -> None:
    cluster = Cluster.objects.create(application=blog, account=prod, name="blog-web")
    other = make_group(cluster, 1, "us-east-1", 1)

    url = f"/applications/shop/clusters/server-groups/{other.pk}/disable/"
    response = browser_as(admin).post(url, headers=HTMX)

    assert response.status_code == 404
    assert not Execution.objects.exists()


# Live updates ---------------------------------------------------------------------------------


def version_of(html: str) -> str:
    match = re.search(r'data-version="(\w+)"', html)
    assert match
    return match.group(1)


def test_it_polls_a_fragment_that_answers_204_while_nothing_changed(prod: Account, viewer: User) -> None:
    client = browser_as(viewer)
    html = get(client)
    assert f'hx-get="{LIVE}?version={version_of(html)}"' in html
    assert 'hx-trigger="every 3s"' in html

    assert client.get(LIVE, {"version": version_of(html)}, headers=HTMX).status_code == 204
    ServerGroup.objects.filter(name="shop-api-v001").update(enabled=True, traffic_weight=20)
    fragment = get(client, f"{LIVE}?version={version_of(html)}", **HTMX)
    assert fragment.startswith('<div id="clusters-live"')
    assert '<progress value="20" max="100"' in columns(fragment)["shop-api-v001"]
    assert version_of(fragment) != version_of(html)


def test_it_keeps_what_the_user_types_across_polls(prod: Account, developer: User) -> None:
    column = columns(get(browser_as(developer), LIVE, **HTMX))["shop-api-v002"]

    group = ServerGroup.objects.get(name="shop-api-v002")
    for element in (f"resize-{group.pk}", f"destroy-{group.pk}", f"operation-{group.pk}"):
        assert re.search(rf'id="{element}"[^>]*hx-preserve="true"', column), element
    # Into the kept outcome, not over it (the fragment's own outerHTML swap is inherited otherwise).
    targets = re.findall(r'hx-target="([^"]+)" hx-swap="(\w+)"', column)
    assert targets == [(f"#operation-{group.pk}", "innerHTML")] * 4


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        get(client, url)
    return len(captured.captured_queries)


@pytest.mark.parametrize("url", [PAGE, LIVE])
def test_it_costs_the_same_queries_for_2_or_10_server_groups(
    prod: Account, sandbox: Account, developer: User, url: str
) -> None:
    client = browser_as(developer)
    ServerGroup.objects.exclude(name__in=["shop-api-v001", "shop-api-v002"]).delete()
    assert len(columns(get(client, url))) == 2
    few = _queries(client, url)
    worker = Cluster.objects.create(application=prod.clusters.get().application, account=sandbox, name="shop-worker")
    for sequence in range(8):
        make_group(worker, sequence, ["us-east-1", "eu-west-1"][sequence % 2], 100 - sequence, enabled=True)
    many = _queries(client, url)

    assert len(columns(get(client, url))) == 10
    assert many == few
