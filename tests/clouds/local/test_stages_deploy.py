"""The deploy stage on the local provider: each run adds the next version of the cluster, running its artifact."""

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

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save"]

VERSION = [{"name": "version", "required": True}]


def test_it_deploys_each_run_as_the_next_server_group(save: Callable[..., Pipeline], deployer: Account) -> None:
    pipeline = save(deploy_stage("1", "${parameters['version']}", "Deploy"), parameterConfig=VERSION)

    first = finish(start(pipeline, version="v1"))
    second = finish(start(pipeline, version="v2"))

    assert (first.status, second.status) == (Status.SUCCEEDED, Status.SUCCEEDED)
    newest, oldest = groups_of(deployer)
    assert [(g.name, str(g.artifact), g.enabled) for g in (oldest, newest)] == [
        ("shop-web-v000", "sample:v1", True),
        ("shop-web-v001", "sample:v2", True),
    ]
    assert version_at(oldest.instances[0].address) == "v1"
    assert version_at(newest.instances[0].address) == "v2"
    created = second.stages.get(type="createServerGroup")
    assert created.outputs["deploy.server.groups"] == {"local": ["shop-web-v001"]}
    assert created.outputs["serverGroupName"] == "shop-web-v001"
    assert [task.name for task in created.tasks.all()] == ["createServerGroup", "waitForUpInstances"]


def test_it_fails_a_deploy_whose_instances_never_become_healthy(
    save: Callable[..., Pipeline], deployer: Account
) -> None:
    unhealthy = deploy_stage("1", "v1", "Deploy", environment={"SAMPLE_FAIL_HEALTH": "1"})
    pipeline = save({**unhealthy, "stageTimeoutMs": 4000})

    execution = finish(start(pipeline), timeout=30)

    assert execution.status == Status.TERMINAL
    message = execution.stages.get(name="Deploy").failure_message
    assert message.startswith("shop-web-v000 is not healthy yet: 0 of 1 instances UP, 1 needed (shop-web-v000-0 "), (
        message
    )
    assert message.endswith("Gave up after 4 s."), message
    assert groups_of(deployer)[0].up_count == 0


def test_it_refuses_an_environment_variable_the_artifact_does_not_allow(
    save: Callable[..., Pipeline], deployer: Account
) -> None:
    pipeline = save(deploy_stage("1", "v1", "Deploy", environment={"LD_PRELOAD": "/tmp/evil.so"}))

    execution = finish(start(pipeline))

    assert execution.status == Status.TERMINAL
    assert "does not allow setting LD_PRELOAD" in execution.stages.get(name="Deploy").failure_message
    assert groups_of(deployer) == []
