"""Rollbacks bring the previous group back and make it healthy before the bad one leaves traffic."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from clouds.models import Account
from clouds.providers.base import provider_for
from pipelines.models import Pipeline
from pipelines.statuses import Status
from tests.clouds.local.conftest import get, wait_until
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


class Client:
    """Requests through the load balancer, one after another, until stopped; counts each answer."""

    def __init__(self, address: str) -> None:
        self.address, self.answers, self.stopped = address, Counter[str](), threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stopped.is_set():
            try:
                status, body = get(f"http://{self.address}/", timeout=5)
            except OSError as exc:
                self.answers[f"error {exc}"] += 1
                continue
            self.answers[json.loads(body)["version"] if status == 200 else str(status)] += 1


@pytest.fixture
def client_of() -> Iterator[Callable[[str], Client]]:
    started: list[Client] = []

    def start_client(address: str) -> Client:
        client = Client(address)
        client.thread.start()
        started.append(client)
        return client

    yield start_client
    for client in started:
        client.stopped.set()
        client.thread.join(timeout=10)


def bad_release(save: Callable[..., Pipeline], account: Account) -> str:
    """v000 (version v1) disabled and scaled to zero, v001 (v2) serving alone; the balancer's address."""
    setup = save(
        deploy_stage("1", "v1"),
        deploy_stage("2", "v2", requires=("1",)),
        cluster_stage("3", "disableCluster", "Disable old", ("2",)),
        cluster_stage("4", "scaleDownCluster", "Scale down old", ("3",)),
        name="setup",
    )
    assert finish(start(setup)).status == Status.SUCCEEDED
    balancer = provider_for(account).load_balancer("shop-web", "local")
    assert balancer is not None
    assert [(g.name, g.enabled, len(g.instances)) for g in groups_of(account)] == [
        ("shop-web-v001", True, 1),
        ("shop-web-v000", False, 0),
    ]
    return balancer.address


def test_it_rolls_a_cluster_back_without_a_moment_out_of_service(
    save: Callable[..., Pipeline], deployer: Account, client_of: Callable[[str], Client]
) -> None:
    address = bad_release(save, deployer)
    client = client_of(address)
    wait_until(lambda: client.answers["v2"] >= 5, 10.0, "the client to reach v2")

    execution = finish(start(save(cluster_stage("1", "rollbackCluster", "Rollback"), name="rollback")))

    assert execution.status == Status.SUCCEEDED, execution.stages.get().failure_message
    newest, restored = groups_of(deployer)
    assert (newest.name, newest.enabled, restored.name, restored.enabled) == (
        "shop-web-v001",
        False,
        "shop-web-v000",
        True,
    )
    assert version_at(address) == "v1"
    wait_until(lambda: client.answers["v1"] >= 5, 10.0, "the client to reach v1")
    client.stopped.set()
    client.thread.join(timeout=10)
    assert set(client.answers) == {"v1", "v2"}, client.answers
    tasks = execution.stages.get().tasks
    restored_at = tasks.get(name="waitForRestoredServerGroup").ended_at
    disabling_at = tasks.get(name="disableServerGroup").started_at
    assert restored_at is not None
    assert disabling_at is not None
    assert restored_at <= disabling_at


def test_it_rolls_a_server_group_back_to_the_one_named(save: Callable[..., Pipeline], deployer: Account) -> None:
    bad_release(save, deployer)
    rollback = cluster_stage(
        "1",
        "rollbackServerGroup",
        "Rollback",
        rollbackType="EXPLICIT",
        rollbackContext={"rollbackServerGroupName": "shop-web-v001", "restoreServerGroupName": "shop-web-v000"},
        targetHealthyRollbackPercentage=100,
    )

    execution = finish(start(save(rollback, name="rollback")))

    assert execution.status == Status.SUCCEEDED, execution.stages.get().failure_message
    assert [(g.name, g.enabled, g.up_count) for g in groups_of(deployer)] == [
        ("shop-web-v001", False, 1),
        ("shop-web-v000", True, 1),
    ]


def test_it_refuses_to_roll_back_a_cluster_with_nothing_before_it(
    save: Callable[..., Pipeline], deployer: Account
) -> None:
    assert finish(start(save(deploy_stage("1", "v1"), name="setup"))).status == Status.SUCCEEDED

    execution = finish(start(save(cluster_stage("1", "rollbackCluster", "Rollback"), name="rollback")))

    assert execution.status == Status.TERMINAL
    assert execution.stages.get().failure_message == (
        "Cluster shop-web in local: shop-web-v000 is the only server group here; there is nothing to roll back to."
    )
    assert groups_of(deployer)[0].enabled
