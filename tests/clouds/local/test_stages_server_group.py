"""Enable, disable, resize and destroy a server group named by target, seen through the load balancer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from clouds.models import Account
from clouds.providers.base import provider_for
from pipelines.models import Pipeline
from pipelines.statuses import Status
from tests.clouds.local.conftest import wait_until
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


def balancer_address(account: Account) -> str:
    balancer = provider_for(account).load_balancer("shop-web", "local")
    assert balancer is not None
    return balancer.address


def versions_seen(address: str, requests: int = 30) -> Counter[str]:
    return Counter(version_at(address) for _ in range(requests))


def operate(save: Callable[..., Pipeline], name: str, kind: str, **fields: Any) -> None:
    """Save and run a one-stage pipeline ``name``; it must succeed."""
    execution = finish(start(save(cluster_stage("1", kind, name, **fields), name=name)))
    assert execution.status == Status.SUCCEEDED, list(execution.stages.values_list("name", "failure_message"))


def test_it_operates_on_the_groups_its_targets_name(save: Callable[..., Pipeline], deployer: Account) -> None:
    setup = finish(start(save(deploy_stage("1", "v1"), deploy_stage("2", "v2", requires=("1",)), name="setup")))
    assert setup.status == Status.SUCCEEDED
    address = balancer_address(deployer)
    wait_until(lambda: set(versions_seen(address)) == {"v1", "v2"}, 10.0, "both versions behind the balancer")

    operate(save, "Disable ancestor", "disableServerGroup", target="ancestor_asg_dynamic")
    assert versions_seen(address) == Counter({"v2": 30})

    operate(
        save,
        "Resize current",
        "resizeServerGroup",
        target="current_asg_dynamic",
        capacity={"min": 2, "max": 2, "desired": 2},
    )
    newest = groups_of(deployer)[0]
    assert (newest.name, newest.up_count, newest.capacity.desired) == ("shop-web-v001", 2, 2)
    assert {version_at(instance.address) for instance in newest.instances} == {"v2"}

    operate(save, "Enable ancestor", "enableServerGroup", target="ancestor_asg_dynamic")
    assert set(versions_seen(address)) == {"v1", "v2"}

    operate(save, "Destroy oldest", "destroyServerGroup", target="oldest_asg_dynamic")
    assert [group.name for group in groups_of(deployer)] == ["shop-web-v001"]
    assert versions_seen(address) == Counter({"v2": 30})
