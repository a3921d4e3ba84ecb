"""A one-off resize through the REST API resizes a real server group of the local provider.

The orchestration runs on the engine in this process; the server group is real processes under
a temporary supervisor (``tests.clouds.local.fixtures``).
"""

from __future__ import annotations

from django.contrib.auth.models import User

from applications.models import Application
from clouds.models import Account, ServerGroup
from clouds.providers.base import Capacity, provider_for
from pipelines.models import Execution
from pipelines.statuses import Status
from tests.clouds.local.conftest import wait_until
from tests.clouds.local.fixtures import sample_spec
from tests.clouds.local.stage_helpers import (
    _inline_engine,
    deployer,
    finish,
    local_account,
    local_home,
    local_runtime,
)
from tests.conftest import api_as

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime"]


def up_count(account: Account, name: str) -> int:
    state = provider_for(account).server_group(name, "local")
    return state.up_count if state is not None else 0


def test_it_resizes_a_running_server_group(shop: Application, deployer: Account, developer: User) -> None:
    provider = provider_for(deployer)
    created = provider.create_server_group(sample_spec(), idempotency_key="test-create")
    wait_until(lambda: up_count(deployer, created.name) == 1, 15.0, "one instance UP")
    group = ServerGroup.objects.get(name=created.name, destroyed_at__isnull=True)

    capacity = {"min": 1, "max": 3, "desired": 3}
    response = api_as(developer).post(
        f"/api/v1/server-groups/{group.pk}/resize/", {"capacity": capacity}, format="json"
    )

    assert response.status_code == 202, response.content
    execution = finish(Execution.objects.get(pk=response.json()["execution"]))
    assert execution.status == Status.SUCCEEDED, list(execution.stages.values_list("name", "failure_message"))
    state = provider.server_group(created.name, "local")
    assert state is not None
    assert state.capacity == Capacity(1, 3, 3)
    assert state.up_count == 3
    group.refresh_from_db()
    assert (group.capacity_min, group.capacity_desired, group.capacity_max) == (1, 3, 3)
    assert [instance["health"] for instance in group.instances] == ["UP", "UP", "UP"]
