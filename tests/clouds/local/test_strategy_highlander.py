"""Highlander: once the new version serves, every older server group is destroyed, enabled or not."""

from __future__ import annotations

from collections.abc import Callable

from clouds.models import Account
from pipelines.models import Pipeline
from pipelines.statuses import Status
from tests.clouds.local.stage_helpers import (
    _inline_engine,
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
from tests.clouds.local.strategy_helpers import Traffic, balancer_address, strategy_steps, traffic

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save", "traffic"]


def test_it_leaves_only_the_new_server_group(
    save: Callable[..., Pipeline], deployer: Account, traffic: Callable[[str], Traffic]
) -> None:
    setup = save(deploy_stage("1", "v1"), deploy_stage("2", "v2", requires=("1",)), name="two versions at once")
    assert finish(start(setup)).status == Status.SUCCEEDED
    assert [g.enabled for g in groups_of(deployer)] == [True, True]
    client = traffic(balancer_address(deployer))

    execution = finish(start(save(deploy_stage("1", "v3", strategy="highlander"), name="highlander")))

    assert execution.status == Status.SUCCEEDED
    assert [(g.name, g.enabled) for g in groups_of(deployer)] == [("shop-web-v002", True)]
    assert strategy_steps(execution) == [
        ("Enable shop-web-v002", Status.SUCCEEDED),
        ("Disable older server groups", Status.SUCCEEDED),
        ("Destroy older server groups", Status.SUCCEEDED),
    ]
    client.wait_for_only("v3")
    assert client.failures() == {}
