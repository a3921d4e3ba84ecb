"""A deploy task run again after a crash creates no second server group.

A worker that dies after the provider created the group, but before the engine recorded the
task's result, leaves the task to run again with the same task row, hence the same idempotency
key. The re-run must find the group the first run created: one new server group, one set of
processes. Real processes under a temporary supervisor (``tests.clouds.local.fixtures``).
"""

from __future__ import annotations

from collections.abc import Callable

from clouds.models import Account, ServerGroup
from clouds.providers.local.runtime.common import marked_processes
from pipelines.engine.types import TASKS, TaskContext
from pipelines.models import Execution, Pipeline, StageExecution
from tests.clouds.local.conftest import LocalHome, wait_until
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

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save"]


def create_stage(execution: Execution) -> StageExecution:
    """The deploy's createServerGroup stage, once the engine has planned it and made its task due."""
    found = wait_until(
        lambda: execution.stages.filter(type="createServerGroup").first(), 5.0, "the createServerGroup stage"
    )
    assert found is not None
    return found


def instances(home: LocalHome) -> list[int]:
    return sorted(pid for pid, role in marked_processes(home.path).items() if role == "instance")


def test_it_creates_one_server_group_when_the_create_task_runs_again(
    save: Callable[..., Pipeline], deployer: Account, local_runtime: LocalHome
) -> None:
    execution = start(save(deploy_stage("1", "v1", capacity={"min": 2, "max": 2, "desired": 2})))
    stage = create_stage(execution)
    context = TaskContext(execution, stage, stage.tasks.get(name="createServerGroup"))

    first = TASKS["createServerGroup"].run(context)
    wait_until(lambda: len(instances(local_runtime)) == 2, 15.0, "two instances")
    pids = instances(local_runtime)
    again = TASKS["createServerGroup"].run(context)  # the first result was never recorded

    assert first.outputs == again.outputs
    assert first.outputs["deploy.server.groups"] == {"local": ["shop-web-v000"]}
    assert [group.name for group in groups_of(deployer)] == ["shop-web-v000"]
    assert instances(local_runtime) == pids
    finished = finish(execution)  # and the engine runs the same task row a third time
    assert finished.status == "SUCCEEDED", list(finished.stages.values_list("name", "failure_message"))
    assert [group.name for group in groups_of(deployer)] == ["shop-web-v000"]
    assert len(instances(local_runtime)) == 2
    assert list(ServerGroup.objects.filter(destroyed_at__isnull=True).values_list("name", flat=True)) == [
        "shop-web-v000"
    ]
