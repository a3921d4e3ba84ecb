"""Resizing and destroying local server groups: processes start and stop, rows follow."""

from __future__ import annotations

from applications.models import Application
from clouds.models import Account, ServerGroup
from clouds.providers.base import Capacity, LoadBalancerSpec, ServerGroupState, provider_for
from clouds.providers.local.runtime.common import is_alive
from tests.clouds.local.conftest import LocalHome, wait_until
from tests.clouds.local.fixtures import local_account, local_home, local_runtime, sample_spec

__all__ = ["local_account", "local_home", "local_runtime"]


def group_with(account: Account, name: str, up: int) -> ServerGroupState:
    provider = provider_for(account)

    def ready() -> ServerGroupState | None:
        state = provider.server_group(name, "local")
        return state if state is not None and state.up_count == up == len(state.instances) else None

    state = wait_until(ready, 20.0, f"{up} UP instances of {name}")
    assert state is not None
    return state


def pids(local_runtime: LocalHome, name: str) -> list[int]:
    group = local_runtime.client().state().server_groups[name]
    return [instance.pid for instance in group.instances if instance.pid is not None]


def test_it_grows_and_shrinks_a_group(shop: Application, local_account: Account, local_runtime: LocalHome) -> None:
    provider = provider_for(local_account)
    provider.create_server_group(sample_spec(capacity=Capacity(1, 1, 1)), idempotency_key="deploy")
    group_with(local_account, "shop-web-v000", 1)

    grown = provider.resize("shop-web-v000", "local", Capacity(2, 5, 3), idempotency_key="grow")

    assert grown.capacity == Capacity(2, 5, 3)
    group_with(local_account, "shop-web-v000", 3)
    row = ServerGroup.objects.get(name="shop-web-v000")
    assert (row.capacity_min, row.capacity_desired, row.capacity_max, row.health) == (2, 3, 5, "HEALTHY")
    before = pids(local_runtime, "shop-web-v000")

    provider.resize("shop-web-v000", "local", Capacity(0, 5, 1), idempotency_key="shrink")

    state = group_with(local_account, "shop-web-v000", 1)
    assert state.capacity == Capacity(0, 5, 1)
    assert [i.id for i in state.instances] == ["shop-web-v000-0"]
    wait_until(lambda: not any(is_alive(pid, None) for pid in before[1:]), 15.0, "surplus instances to stop")


def test_it_destroys_a_group_and_stops_its_processes(
    shop: Application, local_account: Account, local_runtime: LocalHome
) -> None:
    provider = provider_for(local_account)
    provider.create_server_group(sample_spec(capacity=Capacity(2, 2, 2)), idempotency_key="deploy")
    group_with(local_account, "shop-web-v000", 2)
    running = pids(local_runtime, "shop-web-v000")

    provider.destroy("shop-web-v000", "local", idempotency_key="destroy")
    provider.destroy("shop-web-v000", "local", idempotency_key="destroy")

    assert provider.server_group("shop-web-v000", "local") is None
    assert provider.server_groups("shop-web", "local") == []
    wait_until(lambda: not any(is_alive(pid, None) for pid in running), 15.0, "the instances to stop")
    balancer = provider.load_balancer("shop-web", "local")
    assert balancer is not None
    assert balancer.server_groups == {}
    row = ServerGroup.objects.get(name="shop-web-v000")
    assert row.destroyed_at is not None
    assert (row.enabled, row.instances, row.instance_counts["total"]) == (False, [], 0)
    assert not row.load_balancers.exists()


def test_it_accepts_destroying_a_group_that_is_already_gone(shop: Application, local_account: Account) -> None:
    provider_for(local_account).destroy("shop-web-v007", "local", idempotency_key="destroy")


def test_it_keeps_a_load_balancer_port_and_its_groups_on_upsert(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)
    provider.create_server_group(sample_spec(), idempotency_key="deploy")
    first = provider.load_balancer("shop-web", "local")
    assert first is not None

    again = provider.upsert_load_balancer(LoadBalancerSpec("shop", "local", "local", "shop-web"), idempotency_key="lb")

    assert again.address == first.address
    assert again.server_groups == {"shop-web-v000": 100}
    provider.delete_load_balancer("shop-web", "local", idempotency_key="lb-delete")
    assert provider.load_balancer("shop-web", "local") is None
    assert not local_account.load_balancers.exists()
    group = provider.server_group("shop-web-v000", "local")
    assert group is not None
    assert group.load_balancers == []
