"""disableCluster, scaleDownCluster and shrinkCluster on a cluster of three live versions."""

from __future__ import annotations

from collections.abc import Callable

from clouds.models import Account
from pipelines.models import Execution, Pipeline
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
)

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save"]


def three_versions(save: Callable[..., Pipeline]) -> None:
    """shop-web-v000, v001 and v002 (versions v1, v2, v3), all enabled and UP."""
    stages = [
        deploy_stage("1", "v1"),
        deploy_stage("2", "v2", requires=("1",)),
        deploy_stage("3", "v3", requires=("2",)),
    ]
    assert finish(start(save(*stages, name="setup"))).status == Status.SUCCEEDED


def state(account: Account) -> list[tuple[str, bool, int]]:
    """(name, enabled, instances) of each group, oldest first."""
    return [(group.name, group.enabled, len(group.instances)) for group in reversed(groups_of(account))]


def succeeded(execution: Execution) -> Execution:
    assert execution.status == Status.SUCCEEDED, list(execution.stages.values_list("name", "failure_message"))
    return execution


def test_it_disables_all_but_the_newest_group(save: Callable[..., Pipeline], deployer: Account) -> None:
    three_versions(save)

    execution = succeeded(finish(start(save(cluster_stage("1", "disableCluster", "Disable"), name="disable"))))

    assert state(deployer) == [("shop-web-v000", False, 1), ("shop-web-v001", False, 1), ("shop-web-v002", True, 1)]
    assert execution.stages.get().context["affected"] == {"local": ["shop-web-v001", "shop-web-v000"]}


def test_it_scales_down_and_shrinks_to_the_size_asked(save: Callable[..., Pipeline], deployer: Account) -> None:
    three_versions(save)
    cleanup = save(
        cluster_stage("1", "disableCluster", "Disable"),
        cluster_stage("2", "scaleDownCluster", "Scale down", ("1",), remainingFullSizeServerGroups=1),
        cluster_stage("3", "shrinkCluster", "Shrink", ("2",), shrinkToSize=2),
        name="cleanup",
    )

    succeeded(finish(start(cleanup)))

    assert state(deployer) == [("shop-web-v001", False, 0), ("shop-web-v002", True, 1)]
