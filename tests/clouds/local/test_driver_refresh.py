"""Refreshing an account's rows from the local supervisor: what changed outside Spinweb shows up."""

from __future__ import annotations

import os
import signal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application
from clouds.models import Account, ServerGroup
from clouds.providers.base import Capacity, ServerGroupState, provider_for
from clouds.providers.local.driver import refresh
from clouds.providers.local.runtime.common import is_alive
from tests.clouds.local.conftest import LocalHome, wait_until
from tests.clouds.local.fixtures import local_account, local_home, local_runtime, sample_spec

__all__ = ["local_account", "local_home", "local_runtime"]


def deployed(account: Account, desired: int = 1) -> ServerGroupState:
    provider = provider_for(account)
    provider.create_server_group(sample_spec(capacity=Capacity(desired, desired, desired)), idempotency_key="deploy")

    def ready() -> ServerGroupState | None:
        state = provider.server_group("shop-web-v000", "local")
        return state if state is not None and state.up_count == desired else None

    state = wait_until(ready, 20.0, "the group to be UP")
    assert state is not None
    return state


def row() -> ServerGroup:
    return ServerGroup.objects.get(name="shop-web-v000")


def test_it_shows_a_killed_instance_replaced(
    shop: Application, local_account: Account, local_runtime: LocalHome
) -> None:
    deployed(local_account)
    victim = local_runtime.client().state().server_groups["shop-web-v000"].instances[0]
    assert victim.pid is not None

    os.kill(victim.pid, signal.SIGKILL)

    def replaced() -> bool:
        refresh(local_account)
        current = row()
        return current.health == "HEALTHY" and local_runtime.client().state().server_groups["shop-web-v000"].instances[
            0
        ].pid not in (None, victim.pid)

    wait_until(replaced, 20.0, "a new UP instance")
    state = provider_for(local_account).server_group("shop-web-v000", "local")
    assert state is not None
    assert state.instances[0].restarts == victim.restarts + 1
    assert row().instances == [{"id": victim.id, "address": state.instances[0].address, "health": "UP"}]


def test_it_marks_a_group_deleted_outside_spinweb_destroyed(
    shop: Application, local_account: Account, local_runtime: LocalHome
) -> None:
    deployed(local_account)

    local_runtime.client().delete_server_group("shop-web-v000")
    refresh(local_account)

    assert row().destroyed_at is not None
    assert list(ServerGroup.objects.active()) == []


def test_it_starts_the_supervisor_again_and_finds_the_same_instances(
    shop: Application, local_account: Account, local_runtime: LocalHome
) -> None:
    before = deployed(local_account, desired=2)
    pids = [i.pid for i in local_runtime.client().state().server_groups["shop-web-v000"].instances]
    supervisor_pid = local_runtime.client().state().supervisor_pid
    assert supervisor_pid is not None
    os.kill(supervisor_pid, signal.SIGKILL)
    wait_until(lambda: not is_alive(supervisor_pid, None), 10.0, "the supervisor to die")

    after = provider_for(local_account).server_group("shop-web-v000", "local")

    assert after is not None
    assert [(i.id, i.address) for i in after.instances] == [(i.id, i.address) for i in before.instances]
    state = local_runtime.client().state()
    assert state.supervisor_pid != supervisor_pid
    assert [i.pid for i in state.server_groups["shop-web-v000"].instances] == pids
    assert row().capacity_desired == 2


def test_it_refreshes_with_the_same_number_of_queries_for_more_groups(
    shop: Application, local_account: Account
) -> None:
    provider = provider_for(local_account)
    empty = Capacity(0, 0, 0)

    def queries_for_refresh() -> int:
        refresh(local_account)  # the first refresh after a change writes rows; count a steady one
        with CaptureQueriesContext(connection) as captured:
            refresh(local_account)
        return len(captured)

    provider.create_server_group(sample_spec(capacity=empty), idempotency_key="deploy-0")
    one = queries_for_refresh()
    for n in range(1, 4):
        provider.create_server_group(sample_spec(capacity=empty), idempotency_key=f"deploy-{n}")
    four = queries_for_refresh()

    assert ServerGroup.objects.active().count() == 4
    assert four == one
