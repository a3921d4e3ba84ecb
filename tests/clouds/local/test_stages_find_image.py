"""findImageFromCluster tells which artifact a cluster runs; a later deploy uses it through an expression."""

from __future__ import annotations

from collections.abc import Callable

from clouds.models import Account
from pipelines.models import Pipeline
from pipelines.statuses import Status
from tests.clouds.local.stage_helpers import (
    _inline_engine,
    cluster_stage,
    deploy_stage,
    deployer,
    finish,
    groups_of,
    local_account,
    local_home,
    local_runtime,
    save,
    start,
    version_at,
)

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save"]

FOUND = "${#stage('Find')['outputs']['artifact']}"


def test_it_deploys_the_artifact_found_in_another_cluster(save: Callable[..., Pipeline], deployer: Account) -> None:
    assert finish(start(save(deploy_stage("1", "v7"), name="production"))).status == Status.SUCCEEDED
    promote = save(
        cluster_stage("1", "findImageFromCluster", "Find", selectionStrategy="NEWEST", onlyEnabled=True),
        deploy_stage("2", "", "Deploy canary", ("1",), stack="canary", artifact=FOUND, loadBalancers=[]),
        name="promote",
    )
    execution = finish(start(promote))

    assert execution.status == Status.SUCCEEDED, list(execution.stages.values_list("name", "failure_message"))
    find = execution.stages.get(name="Find")
    assert find.outputs["artifact"] == {"name": "sample", "version": "v7"}
    assert find.outputs["deploymentDetails"] == [
        {
            "region": "local",
            "serverGroup": "shop-web-v000",
            "artifact": {"name": "sample", "version": "v7"},
            "imageName": "sample:v7",
            "imageId": "sample:v7",
        }
    ]
    canary = groups_of(deployer, "shop-canary")
    assert [(group.name, str(group.artifact)) for group in canary] == [("shop-canary-v000", "sample:v7")]
    assert version_at(canary[0].instances[0].address) == "v7"
