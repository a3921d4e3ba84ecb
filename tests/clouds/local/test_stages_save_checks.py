"""Saving a pipeline with cluster stages: each wrong field is named by its JSON path."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from clouds.models import Account, AccountGrant
from tests.conftest import api_as, message_for
from tests.pipelines.conftest import stage

URL = "/api/v1/pipelines/"


@pytest.fixture
def sandbox(groups: dict[str, Group]) -> Account:
    account = Account.objects.create(name="sandbox", provider="local", regions=["local"])
    AccountGrant.objects.create(account=account, group=groups["shop-devs"], level="WRITE")
    return account


def entry(**fields: Any) -> dict[str, Any]:
    """A deploy cluster entry; a field given as None is left out."""
    defaults = {
        "account": "sandbox",
        "application": "shop",
        "stack": "web",
        "region": "local",
        "artifact": {"name": "sample", "version": "v1"},
        "capacity": {"min": 1, "max": 1, "desired": 1},
    }
    return {key: value for key, value in {**defaults, **fields}.items() if value is not None}


def target_stage(kind: str, **fields: Any) -> dict[str, Any]:
    defaults = {"credentials": "sandbox", "cluster": "shop-web", "regions": ["local"]}
    return stage("1", kind, **{key: value for key, value in {**defaults, **fields}.items() if value is not None})


def save(user: User, *stages: dict[str, Any]) -> Any:
    document = {"application": "shop", "name": "release", "stages": list(stages)}
    return api_as(user).post(URL, document, format="json")


VALID = [
    stage("1", "deploy", clusters=[entry()]),
    stage("1", "deploy", clusters=[entry(availabilityZones={"local": []}, region=None)]),
    stage("1", "deploy", clusters=[entry(artifact="${#stage('Find')['outputs']['artifact']}")]),
    target_stage("disableServerGroup", target="ancestor_asg_dynamic"),
    target_stage("enableServerGroup", serverGroupName="shop-web-v001"),
    target_stage("resizeServerGroup", target="current_asg_dynamic", capacity={"desired": 2}),
    target_stage("resizeServerGroup", target="current_asg_dynamic", action="scale_up", scalePct=50),
    target_stage("destroyServerGroup", target="oldest_asg_dynamic"),
    target_stage("disableCluster", remainingEnabledServerGroups=1, preferLargerOverNewer=False),
    target_stage("scaleDownCluster", remainingFullSizeServerGroups=1, allowScaleDownActive=False),
    target_stage("shrinkCluster", shrinkToSize=2, allowDeleteActive=False, retainLargerOverNewer=True),
    target_stage("rollbackCluster", targetHealthyRollbackPercentage=100),
    target_stage(
        "rollbackServerGroup",
        rollbackType="EXPLICIT",
        rollbackContext={"rollbackServerGroupName": "shop-web-v001", "restoreServerGroupName": "shop-web-v000"},
    ),
    target_stage("findImageFromCluster", selectionStrategy="LARGEST", onlyEnabled=True),
]


@pytest.mark.parametrize("item", VALID, ids=lambda item: str(item["type"]))
def test_it_saves_well_formed_cluster_stages(developer: User, shop: Application, sandbox: Account, item: Any) -> None:
    response = save(developer, item)
    assert response.status_code == 201, response.content


INVALID = [
    (stage("1", "deploy"), "stages[0].clusters", "non-empty list"),
    (stage("1", "deploy", clusters=[entry(account=None)]), "stages[0].clusters[0].account", "non-empty string"),
    (stage("1", "deploy", clusters=[entry(region=None)]), "stages[0].clusters[0].regions", "Give the regions"),
    (stage("1", "deploy", clusters=[entry(artifact={"name": "sample"})]), "stages[0].clusters[0].artifact.version", ""),
    (
        stage("1", "deploy", clusters=[entry(capacity={"min": 2, "max": 3, "desired": 1})]),
        "stages[0].clusters[0].capacity",
        "min <= desired <= max",
    ),
    (stage("1", "deploy", clusters=[entry(stack="web-1")]), "stages[0].clusters[0].stack", "Stack 'web-1'"),
    (stage("1", "deploy", clusters=[entry(strategy="canary")]), "stages[0].clusters[0].strategy", "'redblack'"),
    (
        stage("1", "deploy", clusters=[entry(environment={"SAMPLE_LATENCY_MS": True})]),
        "stages[0].clusters[0].environment.SAMPLE_LATENCY_MS",
        "string or a number",
    ),
    (
        stage("1", "deploy", clusters=[entry(targetHealthyDeployPercentage=150)]),
        "stages[0].clusters[0].targetHealthyDeployPercentage",
        "from 0 to 100",
    ),
    (target_stage("disableServerGroup"), "stages[0].target", "Give serverGroupName or a target"),
    (target_stage("disableServerGroup", target="newest"), "stages[0].target", "Unknown target 'newest'"),
    (
        target_stage("enableServerGroup", target="current_asg_dynamic", serverGroupName="shop-web-v001"),
        "stages[0].target",
        "not both",
    ),
    (target_stage("destroyServerGroup", serverGroupName="shop-web"), "stages[0].serverGroupName", "shop-web-v003"),
    (target_stage("resizeServerGroup", target="current_asg_dynamic"), "stages[0].capacity", "needs capacity"),
    (
        target_stage("resizeServerGroup", target="current_asg_dynamic", action="scale_down"),
        "stages[0].scaleNum",
        "scaleNum",
    ),
    (target_stage("disableCluster", cluster="shop-web-v002"), "stages[0].cluster", "is a server group name"),
    (target_stage("shrinkCluster", shrinkToSize=-1), "stages[0].shrinkToSize", "at least 0"),
    (target_stage("scaleDownCluster", allowScaleDownActive="yes"), "stages[0].allowScaleDownActive", "true or false"),
    (target_stage("disableCluster", credentials=None), "stages[0].credentials", "non-empty"),
    (target_stage("disableCluster", regions=[]), "stages[0].regions", "non-empty list"),
    (
        target_stage("rollbackServerGroup", rollbackContext={"rollbackServerGroupName": "shop-web-v001"}),
        "stages[0].rollbackContext.restoreServerGroupName",
        "server group name",
    ),
    (target_stage("findImageFromCluster", selectionStrategy="BIGGEST"), "stages[0].selectionStrategy", "'LARGEST'"),
]


@pytest.mark.parametrize(("item", "path", "fragment"), INVALID, ids=[path for _, path, _ in INVALID])
def test_it_names_the_field_at_fault(
    developer: User, shop: Application, sandbox: Account, item: dict[str, Any], path: str, fragment: str
) -> None:
    response = save(developer, item)
    assert response.status_code == 400, response.content
    assert fragment in message_for(response.json(), path)
