"""A blue/green deploy that fails rolls back (rollback.onFailure): the old version keeps serving everything."""

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
from tests.clouds.local.strategy_helpers import Traffic, balancer_address, capacity, strategy_steps, traffic

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save", "traffic"]


def test_it_rolls_back_a_deploy_that_never_becomes_healthy(
    save: Callable[..., Pipeline], deployer: Account, traffic: Callable[[str], Traffic]
) -> None:
    assert finish(start(save(deploy_stage("1", "v1", capacity=capacity(3)), name="setup"))).status == "SUCCEEDED"
    client = traffic(balancer_address(deployer))
    unhealthy = deploy_stage(
        "1",
        "v2",
        capacity=capacity(3),
        strategy="redblack",
        environment={"SAMPLE_FAIL_HEALTH": "1"},
        rollback={"onFailure": True, "destroyLatest": True},
        stageTimeoutMs=3000,
    )

    execution = finish(start(save(unhealthy, name="bad release")), timeout=40)

    assert execution.status == Status.TERMINAL
    message = execution.stages.get(name="Deploy v2").failure_message
    assert message.startswith("shop-web-v001 is not healthy yet: 0 of 3 instances UP, 3 needed"), message
    assert message.endswith(
        "Gave up after 3 s. Rolled back: shop-web-v000 serves all traffic again; shop-web-v001 disabled and destroyed."
    ), message
    assert strategy_steps(execution) == [("Roll back to shop-web-v000", Status.SUCCEEDED)]
    assert [(g.name, g.enabled, g.effective_weight, g.up_count) for g in groups_of(deployer)] == [
        ("shop-web-v000", True, 100, 3)
    ]
    assert client.split(100) == {"v1": 100.0}
    assert client.failures() == {}
