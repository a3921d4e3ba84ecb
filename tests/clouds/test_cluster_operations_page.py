"""Cluster operations on the clusters page: deploy a version, disable, scale down, shrink, roll
back a cluster and find its image, each starting an orchestration of one cluster stage.

The forms show only to people who may use them (EXECUTE on shop and WRITE on the account; READ
on the account is enough to find the image); the stage JSON each starts is what a pipeline would
carry; shrinking needs the cluster's name typed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from clouds.models import Account, AccountGrant, Cluster, LoadBalancer, ServerGroup
from clouds.providers.local.driver import SAMPLE_ARTIFACT
from pipelines.models import Execution
from tests.conftest import browser_as

PAGE = "/applications/shop/clusters/"
HTMX = {"HX-Request": "true"}
WHERE = {"cloudProvider": "local", "credentials": "local", "regions": ["local"], "cluster": "shop-web"}


@pytest.fixture(autouse=True)
def _engine_in_process(settings: Any) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"


@pytest.fixture
def cluster(shop_cluster: Cluster, groups: dict[str, Group]) -> Cluster:
    """shop-web: v002 (older) and v003 (newest, behind load balancer shop-web, 2 instances of
    sample:v3); the local account declares the sample artifact and shop-devs may deploy to it."""
    account = shop_cluster.account
    Account.objects.filter(pk=account.pk).update(artifacts={"sample": SAMPLE_ARTIFACT})
    AccountGrant.objects.create(account=account, group=groups["shop-devs"], level="WRITE")
    newest = ServerGroup.objects.get(name="shop-web-v003")
    ServerGroup.objects.filter(pk=newest.pk).update(
        artifact="sample:v3", capacity_min=1, capacity_desired=2, capacity_max=3
    )
    older = ServerGroup.objects.create(cluster=shop_cluster, name="shop-web-v002", sequence=2, region="local")
    ServerGroup.objects.filter(pk=older.pk).update(created_at=newest.created_at - timedelta(hours=1))
    return shop_cluster


def url(cluster: Cluster, operation: str, region: str = "local") -> str:
    return f"/applications/shop/clusters/{cluster.pk}/{region}/{operation}/"


def cluster_forms(html: str) -> list[str]:
    return re.findall(r'hx-post="/applications/shop/clusters/\d+/local/([\w-]+)/"', html)


def started(user: User, cluster: Cluster, operation: str, **data: str) -> dict[str, Any]:
    """The one stage of the orchestration the form started; the answer links to it."""
    response = browser_as(user).post(url(cluster, operation), data, headers=HTMX)
    assert response.status_code == 200
    execution = Execution.objects.get()
    assert f'href="/applications/shop/executions/{execution.pk}/"' in response.content.decode()
    assert execution.started_by == user
    stage = execution.stages.get(parent=None)
    assert stage.config == execution.config["stages"][0]
    return dict(stage.config)


def refusal(user: User, cluster: Cluster, operation: str, **data: str) -> str:
    response = browser_as(user).post(url(cluster, operation), data, headers=HTMX)
    assert response.status_code == 200
    assert not Execution.objects.exists()
    return response.content.decode()


# What the page offers --------------------------------------------------------------------------


def test_it_offers_every_cluster_operation_to_a_deployer(cluster: Cluster, developer: User) -> None:
    html = browser_as(developer).get(PAGE).content.decode()

    assert cluster_forms(html) == ["deploy", "disable", "scale-down", "shrink", "rollback", "find-image"]
    assert "Deploy version…" in html
    assert "<option selected>sample</option>" in html
    assert 'placeholder="v3"' in html
    assert '<option value="rollingredblack">' in html
    assert "Type <strong>shop-web</strong> to confirm" in html
    for element in ("deploy", "disable-cluster", "scale-down", "shrink", "cluster-operation"):
        assert re.search(rf'id="{element}-{cluster.pk}-local"[^>]*hx-preserve="true"', html), element


def test_it_offers_no_rollback_without_an_older_group(cluster: Cluster, developer: User) -> None:
    ServerGroup.objects.filter(name="shop-web-v002").delete()

    forms = cluster_forms(browser_as(developer).get(PAGE).content.decode())

    assert forms == ["deploy", "disable", "scale-down", "shrink", "find-image"]


def test_it_offers_no_deploy_when_the_account_declares_no_artifact(cluster: Cluster, developer: User) -> None:
    Account.objects.filter(pk=cluster.account_id).update(artifacts={})

    assert "deploy" not in cluster_forms(browser_as(developer).get(PAGE).content.decode())


def test_it_offers_a_reader_of_the_account_only_find_image(
    shop_cluster: Cluster, developer: User, groups: dict[str, Group]
) -> None:
    AccountGrant.objects.create(account=shop_cluster.account, group=groups["shop-devs"], level="READ")

    assert cluster_forms(browser_as(developer).get(PAGE).content.decode()) == ["find-image"]


def test_it_offers_nothing_to_a_viewer(cluster: Cluster, viewer: User) -> None:
    assert cluster_forms(browser_as(viewer).get(PAGE).content.decode()) == []


# The stages they start -------------------------------------------------------------------------


def test_it_deploys_a_version_as_the_next_group_of_the_cluster(cluster: Cluster, developer: User) -> None:
    balancer = LoadBalancer.objects.get(name="shop-web")
    data = {"artifact": "sample", "version": "v4", "min": "1", "desired": "2", "max": "3", "strategy": "redblack"}

    stage = started(developer, cluster, "deploy", **data)

    assert stage == {
        "refId": "1",
        "requisiteStageRefIds": [],
        "type": "deploy",
        "name": "Deploy sample:v4 to shop-web",
        "clusters": [
            {
                "account": "local",
                "application": "shop",
                "stack": "web",
                "freeFormDetails": "",
                "region": "local",
                "artifact": {"name": "sample", "version": "v4"},
                "capacity": {"min": 1, "max": 3, "desired": 2},
                "loadBalancers": [balancer.name],
                "strategy": "redblack",
            }
        ],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"artifact": "rm-rf", "version": "v4"}, "Pick an artifact account local declares (sample)."),
        ({"artifact": "sample", "version": ""}, "Give a version of letters, digits"),
        ({"artifact": "sample", "version": "v4; rm -rf /"}, "Give a version of letters, digits"),
        ({"artifact": "sample", "version": "v4", "strategy": "yolo"}, "Unknown strategy &#x27;yolo&#x27;"),
        ({"artifact": "sample", "version": "v4", "desired": "9"}, "Capacity must satisfy min &lt;= desired &lt;= max."),
    ],
)
def test_it_says_what_is_wrong_with_a_deploy(
    cluster: Cluster, developer: User, data: dict[str, str], message: str
) -> None:
    form = {"min": "1", "desired": "1", "max": "1", "strategy": "", **data}

    assert message in refusal(developer, cluster, "deploy", **form)


@pytest.mark.parametrize(
    ("operation", "data", "expected"),
    [
        (
            "disable",
            {"remaining": "2"},
            {"type": "disableCluster", "name": "Disable cluster shop-web", "remainingEnabledServerGroups": 2,
             "preferLargerOverNewer": False},
        ),
        (
            "scale-down",
            {"remaining": "1", "allow_active": "on"},
            {"type": "scaleDownCluster", "name": "Scale down cluster shop-web", "remainingFullSizeServerGroups": 1,
             "allowScaleDownActive": True, "preferLargerOverNewer": False},
        ),
        (
            "shrink",
            {"remaining": "1", "confirm": "shop-web"},
            {"type": "shrinkCluster", "name": "Shrink cluster shop-web", "shrinkToSize": 1, "allowDeleteActive": False,
             "retainLargerOverNewer": False},
        ),
        (
            "rollback",
            {},
            {"type": "rollbackCluster", "name": "Rollback cluster shop-web", "targetHealthyRollbackPercentage": 100},
        ),
        (
            "find-image",
            {},
            {"type": "findImageFromCluster", "name": "Find image in shop-web", "selectionStrategy": "NEWEST",
             "onlyEnabled": True},
        ),
    ],
)  # fmt: skip
def test_it_starts_the_cluster_stage(
    cluster: Cluster, developer: User, operation: str, data: dict[str, str], expected: dict[str, Any]
) -> None:
    stage = started(developer, cluster, operation, **data)

    assert stage == {"refId": "1", "requisiteStageRefIds": [], **WHERE, **expected}


def test_it_redirects_a_plain_form_to_the_execution(cluster: Cluster, developer: User) -> None:
    response = browser_as(developer).post(url(cluster, "rollback"))

    assert response.status_code == 302
    assert response["Location"] == f"/applications/shop/executions/{Execution.objects.get().pk}/"


@pytest.mark.parametrize("confirm", ["", "shop", "shop-web-v003", "yes", "Shop-Web"])
def test_it_shrinks_only_with_the_cluster_name_typed(cluster: Cluster, developer: User, confirm: str) -> None:
    html = refusal(developer, cluster, "shrink", remaining="1", confirm=confirm)

    assert "Type the cluster&#x27;s name, shop-web, to confirm the shrink" in html


def test_it_refuses_a_region_the_account_does_not_have(cluster: Cluster, developer: User) -> None:
    response = browser_as(developer).post(url(cluster, "disable", "us-east-1"), headers=HTMX)

    assert "Account local has no region &#x27;us-east-1&#x27; (it has local)." in response.content.decode()
    assert not Execution.objects.exists()


# Who may start them --------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "code"), [("viewer", 403), ("outsider", 404), ("nobody", 404)])
def test_it_refuses_people_who_may_not_run_shop(
    request: pytest.FixtureRequest, cluster: Cluster, persona: str, code: int
) -> None:
    client = browser_as(request.getfixturevalue(persona))

    for operation in ("disable", "find-image"):
        assert client.post(url(cluster, operation), headers=HTMX).status_code == code
    assert not Execution.objects.exists()


def test_it_needs_write_on_the_account_to_change_the_cluster(
    shop_cluster: Cluster, developer: User, groups: dict[str, Group]
) -> None:
    AccountGrant.objects.create(account=shop_cluster.account, group=groups["shop-devs"], level="READ")
    client = browser_as(developer)

    refused = client.post(url(shop_cluster, "disable"), headers=HTMX)
    assert refused.status_code == 403
    assert not Execution.objects.exists()
    assert client.post(url(shop_cluster, "find-image"), headers=HTMX).status_code == 200
    assert Execution.objects.get().stages.get().type == "findImageFromCluster"


def test_it_needs_read_on_the_account_to_find_the_image(shop_cluster: Cluster, developer: User) -> None:
    response = browser_as(developer).post(url(shop_cluster, "find-image"), headers=HTMX)

    assert response.status_code == 403
    assert not Execution.objects.exists()


def test_it_finds_no_cluster_of_another_application_under_shop(
    cluster: Cluster, blog: Application, admin: User
) -> None:
    other = Cluster.objects.create(application=blog, account=cluster.account, name="blog-web")

    response = browser_as(admin).post(url(other, "disable"), headers=HTMX)

    assert response.status_code == 404
    assert not Execution.objects.exists()


def test_it_knows_no_other_operation(cluster: Cluster, admin: User) -> None:
    assert browser_as(admin).post(url(cluster, "destroy"), headers=HTMX).status_code == 404
    assert not Execution.objects.exists()
