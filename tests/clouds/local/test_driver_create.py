"""Creating server groups on the local provider: real processes, the next Frigga version, idempotent."""

from __future__ import annotations

import json

from applications.models import Application
from clouds.models import Account, Cluster, LoadBalancer, ServerGroup
from clouds.providers.base import Capacity, Provider, ServerGroupState, provider_for
from tests.clouds.local.conftest import get, wait_until
from tests.clouds.local.fixtures import local_account, local_home, local_runtime, sample_spec

__all__ = ["local_account", "local_home", "local_runtime"]


def healthy(provider: Provider, name: str, up: int) -> ServerGroupState:
    def ready() -> ServerGroupState | None:
        state = provider.server_group(name, "local")
        return state if state is not None and state.up_count == up == len(state.instances) else None

    state = wait_until(ready, 20.0, f"{up} UP instances of {name}")
    assert state is not None
    return state


def answered(url: str) -> bytes | None:
    status, body = get(url)
    return body if status == 200 else None


def test_it_runs_the_artifact_and_answers_through_the_load_balancer(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)

    created = provider.create_server_group(sample_spec(capacity=Capacity(2, 2, 2)), idempotency_key="deploy-1")

    assert (created.name, created.cluster, created.sequence) == ("shop-web-v000", "shop-web", 0)
    assert str(created.artifact) == "sample:v1"
    assert created.load_balancers == ["shop-web"]
    healthy(provider, created.name, 2)
    balancer = provider.load_balancer("shop-web", "local")
    assert balancer is not None
    # The proxy takes an instance a moment after its health check passes.
    body = wait_until(lambda: answered(f"http://{balancer.address}/"), 10.0, "an answer through the load balancer")
    assert body is not None
    answer = json.loads(body)
    assert answer["version"] == "v1"
    assert answer["instance"] in {instance.id for instance in healthy(provider, created.name, 2).instances}


def test_it_gives_each_new_group_the_next_version(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)

    names = [
        provider.create_server_group(sample_spec(load_balancers=[]), idempotency_key=f"deploy-{n}").name
        for n in range(3)
    ]
    provider.destroy("shop-web-v002", "local", idempotency_key="destroy-newest")
    again = provider.create_server_group(sample_spec(load_balancers=[]), idempotency_key="deploy-3")

    assert names == ["shop-web-v000", "shop-web-v001", "shop-web-v002"]
    assert again.name == "shop-web-v002"
    assert [g.name for g in provider.server_groups("shop-web", "local")] == [
        "shop-web-v002",
        "shop-web-v001",
        "shop-web-v000",
    ]


def test_it_returns_the_same_group_for_a_repeated_key(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)
    first = provider.create_server_group(sample_spec(), idempotency_key="deploy-1")
    up = healthy(provider, first.name, 1)

    again = provider_for(local_account).create_server_group(sample_spec(), idempotency_key="deploy-1")

    assert again.name == first.name
    assert [g.name for g in provider.server_groups("shop-web", "local")] == ["shop-web-v000"]
    assert healthy(provider, first.name, 1).instances == up.instances


def test_it_mirrors_the_group_into_the_database(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)
    provider.create_server_group(sample_spec(capacity=Capacity(1, 4, 2)), idempotency_key="deploy-1")
    state = healthy(provider, "shop-web-v000", 2)

    row = ServerGroup.objects.select_related("cluster").get(name="shop-web-v000")
    balancer = LoadBalancer.objects.get(name="shop-web")
    assert row.cluster == Cluster.objects.get(application=shop, account=local_account, name="shop-web")
    assert (row.region, row.sequence, row.artifact) == ("local", 0, "sample:v1")
    assert (row.capacity_min, row.capacity_desired, row.capacity_max) == (1, 2, 4)
    assert (row.enabled, row.traffic_weight, row.health) == (True, 100, "HEALTHY")
    assert row.instance_counts == {"total": 2, "up": 2, "down": 0, "starting": 0, "unknown": 0, "outOfService": 0}
    assert row.instances == [{"id": i.id, "address": i.address, "health": "UP"} for i in state.instances]
    assert list(row.load_balancers.all()) == [balancer]
    state_of_balancer = provider.load_balancer("shop-web", "local")
    assert state_of_balancer is not None
    assert balancer.address == state_of_balancer.address
    assert balancer.address.startswith("127.0.0.1:")
