"""Enable, disable and traffic weights on the local provider, seen by requests through the load balancer."""

from __future__ import annotations

import json
from collections import Counter

from applications.models import Application
from clouds.models import Account, ServerGroup
from clouds.providers.base import ArtifactRef, Provider, provider_for
from tests.clouds.local.conftest import get, wait_until
from tests.clouds.local.fixtures import local_account, local_home, local_runtime, sample_spec

__all__ = ["local_account", "local_home", "local_runtime"]


def versions_seen(address: str, requests: int = 60) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(requests):
        status, body = get(f"http://{address}/")
        seen[json.loads(body)["version"] if status == 200 else str(status)] += 1
    return seen


def deploy_two(provider: Provider, *, enabled: bool = True) -> str:
    """v000 runs version v1 and v001 version v2, both UP; answers the load balancer's address."""
    provider.create_server_group(sample_spec(), idempotency_key="deploy-v1")
    second = sample_spec(artifact=ArtifactRef("sample", "v2"), enabled=enabled)
    provider.create_server_group(second, idempotency_key="deploy-v2")
    wait_until(lambda: all(g.up_count == 1 for g in provider.server_groups("shop-web", "local")), 20.0, "both UP")
    balancer = provider.load_balancer("shop-web", "local")
    assert balancer is not None
    # The supervisor hands an instance to the proxy a moment after its health check passes.
    wait_until(lambda: "v1" in versions_seen(balancer.address, 10), 10.0, "the proxy to route to v000")
    return balancer.address


def test_it_sends_no_new_requests_to_a_disabled_group(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)
    address = deploy_two(provider)
    wait_until(lambda: set(versions_seen(address, 20)) == {"v1", "v2"}, 10.0, "both versions answering")
    balancer = provider.load_balancer("shop-web", "local")
    assert balancer is not None
    assert balancer.server_groups == {
        "shop-web-v000": 100,
        "shop-web-v001": 100,
    }

    disabled = provider.disable("shop-web-v000", "local", idempotency_key="disable-v000")

    assert (disabled.enabled, disabled.effective_weight) == (False, 0)
    assert versions_seen(address) == Counter({"v2": 60})
    row = ServerGroup.objects.get(name="shop-web-v000")
    assert row.enabled is False
    assert row.instance_counts["outOfService"] == 1


def test_it_enables_a_group_again_at_its_weight(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)
    address = deploy_two(provider)
    provider.disable("shop-web-v001", "local", idempotency_key="disable-v001")
    provider.set_traffic_weight("shop-web-v001", "local", 30, idempotency_key="weigh-v001")
    assert versions_seen(address) == Counter({"v1": 60})

    enabled = provider.enable("shop-web-v001", "local", idempotency_key="enable-v001")

    assert (enabled.enabled, enabled.traffic_weight) == (True, 30)
    balancer = provider.load_balancer("shop-web", "local")
    assert balancer is not None
    assert balancer.server_groups == {"shop-web-v000": 100, "shop-web-v001": 30}
    assert set(versions_seen(address)) == {"v1", "v2"}


def test_it_moves_traffic_by_weight(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)
    address = deploy_two(provider)

    provider.set_traffic_weight("shop-web-v000", "local", 0, idempotency_key="weigh-v000")

    assert versions_seen(address) == Counter({"v2": 60})
    groups = {g.name: g for g in provider.server_groups("shop-web", "local")}
    assert (groups["shop-web-v000"].enabled, groups["shop-web-v000"].traffic_weight) == (True, 0)
    assert ServerGroup.objects.get(name="shop-web-v000").traffic_weight == 0


def test_it_creates_a_disabled_group_out_of_traffic(shop: Application, local_account: Account) -> None:
    provider = provider_for(local_account)

    address = deploy_two(provider, enabled=False)

    balancer = provider.load_balancer("shop-web", "local")
    assert balancer is not None
    assert balancer.server_groups == {"shop-web-v000": 100, "shop-web-v001": 0}
    assert versions_seen(address) == Counter({"v1": 60})
    assert ServerGroup.objects.get(name="shop-web-v001").enabled is False
