"""Blue/green (redblack): the new version takes traffic once healthy, the old leaves, two groups are kept."""

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
    version_at,
)
from tests.clouds.local.strategy_helpers import Traffic, balancer_address, capacity, strategy_steps, traffic

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save", "traffic"]


def test_it_switches_to_the_new_version_without_a_failed_request(
    save: Callable[..., Pipeline], deployer: Account, traffic: Callable[[str], Traffic]
) -> None:
    setup = save(deploy_stage("1", "v1", capacity=capacity(3)), name="setup")
    assert finish(start(setup)).status == Status.SUCCEEDED
    address = balancer_address(deployer)
    client = traffic(address)
    bluegreen = save(deploy_stage("1", "v2", capacity=capacity(3), strategy="redblack"), name="blue/green")

    execution = finish(start(bluegreen))

    assert execution.status == Status.SUCCEEDED, execution.stages.values_list("name", "failure_message")
    client.wait_for_only("v2")
    assert client.failures() == {}
    assert client.counts()["v1"] > 0
    assert [(g.name, g.enabled, g.up_count) for g in groups_of(deployer)] == [
        ("shop-web-v001", True, 3),
        ("shop-web-v000", False, 3),
    ]
    assert version_at(address) == "v2"
    assert strategy_steps(execution) == [
        ("Enable shop-web-v001", Status.SUCCEEDED),
        ("Disable older server groups", Status.SUCCEEDED),
        ("Keep the 2 newest server groups", Status.SUCCEEDED),
    ]
    created = execution.stages.get(type="createServerGroup")
    assert created.context["sourceServerGroups"] == {
        "local": {"name": "shop-web-v000", "capacity": {"min": 3, "max": 3, "desired": 3}}
    }


def test_it_keeps_max_remaining_asgs_groups(save: Callable[..., Pipeline], deployer: Account) -> None:
    pipeline = save(
        deploy_stage("1", "v1"),
        deploy_stage("2", "v2", requires=("1",)),
        deploy_stage("3", "v3", requires=("2",), strategy="redblack", maxRemainingAsgs=2),
    )

    execution = finish(start(pipeline))

    assert execution.status == Status.SUCCEEDED
    assert [(g.name, str(g.artifact), g.enabled) for g in groups_of(deployer)] == [
        ("shop-web-v002", "sample:v3", True),
        ("shop-web-v001", "sample:v2", False),
    ]
    assert version_at(balancer_address(deployer)) == "v3"
