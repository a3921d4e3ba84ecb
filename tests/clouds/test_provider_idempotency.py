"""Every mutating provider call is idempotent by key: a repeat returns what the first call produced.

The base class gives every driver this behaviour; a small in-memory cloud stands in for one here
(the local driver's own test repeats the important cases against real processes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clouds.models import Account, ProviderOperation
from clouds.providers.base import (
    ArtifactRef,
    Capacity,
    LoadBalancerSpec,
    LoadBalancerState,
    PermanentProviderError,
    Provider,
    ServerGroupSpec,
    ServerGroupState,
    TransientProviderError,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


class MemoryCloud(Provider):
    """Server groups in a dict; ``fail_next`` makes the next change raise after (or instead of) acting."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.groups: dict[str, ServerGroupState] = {}
        self.calls: list[str] = []
        self.fail_next: Exception | None = None
        self.fail_after_acting = False

    def _fail(self) -> None:
        error, self.fail_next = self.fail_next, None
        if error is not None:
            raise error

    def server_groups(self, cluster: str, region: str) -> list[ServerGroupState]:
        return sorted((g for g in self.groups.values() if g.cluster == cluster), key=lambda g: g.created_at)[::-1]

    def server_group(self, name: str, region: str) -> ServerGroupState | None:
        return self.groups.get(name)

    def load_balancer(self, name: str, region: str) -> LoadBalancerState | None:
        return None

    def _names_in_use(self, cluster: str, region: str) -> dict[str, datetime]:
        return {name: group.created_at for name, group in self.groups.items()}

    def _create_server_group(self, spec: ServerGroupSpec, name: str) -> ServerGroupState:
        self.calls.append(f"create {name}")
        if not self.fail_after_acting:
            self._fail()
        if name not in self.groups:
            self.groups[name] = ServerGroupState(
                name=name,
                cluster=spec.cluster,
                region=spec.region,
                sequence=int(name[-3:]),
                created_at=T0 + timedelta(minutes=len(self.groups)),
                artifact=spec.artifact,
                capacity=spec.capacity,
                enabled=spec.enabled,
                traffic_weight=100,
                instances=[],
                load_balancers=list(spec.load_balancers),
            )
        self._fail()
        return self.groups[name]

    def _resize(self, name: str, region: str, capacity: Capacity) -> ServerGroupState:
        self.calls.append(f"resize {name} {capacity.desired}")
        self._fail()
        if name not in self.groups:
            raise PermanentProviderError(f"There is no server group {name}.")
        self.groups[name] = ServerGroupState(**{**vars(self.groups[name]), "capacity": capacity})
        return self.groups[name]

    def _enable(self, name: str, region: str) -> ServerGroupState:
        raise NotImplementedError

    def _disable(self, name: str, region: str) -> ServerGroupState:
        raise NotImplementedError

    def _set_traffic_weight(self, name: str, region: str, weight: int) -> ServerGroupState:
        raise NotImplementedError

    def _destroy(self, name: str, region: str) -> None:
        self.calls.append(f"destroy {name}")
        self.groups.pop(name, None)

    def _upsert_load_balancer(self, spec: LoadBalancerSpec) -> LoadBalancerState:
        raise NotImplementedError

    def _delete_load_balancer(self, name: str, region: str) -> None:
        raise NotImplementedError


@pytest.fixture
def cloud(local_account: Account) -> MemoryCloud:
    return MemoryCloud(local_account)


def spec(desired: int = 2) -> ServerGroupSpec:
    return ServerGroupSpec(
        application="shop",
        account="local",
        region="local",
        stack="web",
        artifact=ArtifactRef("sample", "v1"),
        capacity=Capacity(1, 3, desired),
    )


def test_it_returns_the_first_result_for_a_repeated_create(cloud: MemoryCloud) -> None:
    first = cloud.create_server_group(spec(), idempotency_key="run-1/create")
    again = cloud.create_server_group(spec(), idempotency_key="run-1/create")

    assert first.name == again.name == "shop-web-v000"
    assert again == first
    assert cloud.calls == ["create shop-web-v000"]


def test_it_creates_the_next_version_for_a_new_key(cloud: MemoryCloud) -> None:
    cloud.create_server_group(spec(), idempotency_key="run-1/create")
    second = cloud.create_server_group(spec(), idempotency_key="run-2/create")

    assert second.name == "shop-web-v001"


def test_it_finishes_an_interrupted_create_under_the_same_name(cloud: MemoryCloud) -> None:
    cloud.fail_next, cloud.fail_after_acting = TransientProviderError("The worker died."), True
    with pytest.raises(TransientProviderError):
        cloud.create_server_group(spec(), idempotency_key="run-1/create")

    retried = cloud.create_server_group(spec(), idempotency_key="run-1/create")

    assert retried.name == "shop-web-v000"
    assert list(cloud.groups) == ["shop-web-v000"]
    assert cloud.calls == ["create shop-web-v000", "create shop-web-v000"]


def test_it_does_not_give_a_reserved_name_to_another_creation(cloud: MemoryCloud) -> None:
    cloud.fail_next = TransientProviderError("The cloud is busy.")
    with pytest.raises(TransientProviderError):
        cloud.create_server_group(spec(), idempotency_key="run-1/create")

    other = cloud.create_server_group(spec(), idempotency_key="run-2/create")
    first = cloud.create_server_group(spec(), idempotency_key="run-1/create")

    assert (first.name, other.name) == ("shop-web-v000", "shop-web-v001")


def test_it_repeats_a_permanent_failure_without_acting_again(cloud: MemoryCloud) -> None:
    for _ in range(2):
        with pytest.raises(PermanentProviderError, match="no server group shop-web-v009"):
            cloud.resize("shop-web-v009", "local", Capacity(1, 1, 1), idempotency_key="resize-1")

    assert cloud.calls == ["resize shop-web-v009 1"]


def test_it_acts_again_after_a_transient_failure(cloud: MemoryCloud) -> None:
    cloud.create_server_group(spec(), idempotency_key="create")
    cloud.fail_next = TransientProviderError("The cloud is busy.")
    with pytest.raises(TransientProviderError):
        cloud.resize("shop-web-v000", "local", Capacity(1, 3, 3), idempotency_key="resize-1")

    resized = cloud.resize("shop-web-v000", "local", Capacity(1, 3, 3), idempotency_key="resize-1")

    assert resized.capacity.desired == 3
    assert ProviderOperation.objects.get(key="resize-1").result == resized.to_dict()


def test_it_returns_the_recorded_result_even_after_the_group_changed(cloud: MemoryCloud) -> None:
    cloud.create_server_group(spec(), idempotency_key="create")
    cloud.resize("shop-web-v000", "local", Capacity(1, 3, 3), idempotency_key="resize-to-3")
    cloud.resize("shop-web-v000", "local", Capacity(1, 3, 1), idempotency_key="resize-to-1")

    repeated = cloud.resize("shop-web-v000", "local", Capacity(1, 3, 3), idempotency_key="resize-to-3")

    assert repeated.capacity.desired == 3
    assert cloud.groups["shop-web-v000"].capacity.desired == 1


def test_it_refuses_a_key_reused_for_another_operation(cloud: MemoryCloud) -> None:
    cloud.create_server_group(spec(), idempotency_key="key-1")

    with pytest.raises(PermanentProviderError, match="already used for create_server_group"):
        cloud.destroy("shop-web-v000", "local", idempotency_key="key-1")

    assert "shop-web-v000" in cloud.groups


def test_it_refuses_a_spec_for_a_region_the_account_lacks(cloud: MemoryCloud) -> None:
    bad = ServerGroupSpec(
        application="shop",
        account="local",
        region="mars",
        artifact=ArtifactRef("sample", "v1"),
        capacity=Capacity(1, 1, 1),
    )

    with pytest.raises(PermanentProviderError, match="no region 'mars'"):
        cloud.create_server_group(bad, idempotency_key="create")

    assert not ProviderOperation.objects.exists()


def test_it_refuses_a_capacity_out_of_order(cloud: MemoryCloud) -> None:
    with pytest.raises(PermanentProviderError, match="min <= desired <= max"):
        cloud.create_server_group(spec(desired=5), idempotency_key="create")
