"""The provider interface every cloud driver implements (Clouddriver's operations, small).

Stages, one-off operations and pages use only what is defined here: ``provider_for(account)``
gives the driver for an account, whose methods create, read, resize, enable, disable, weigh
and destroy server groups and manage load balancers. Drivers register themselves with
``@register_provider(kind)``.

Errors are typed so that callers know what to do: ``TransientProviderError`` means "try again
later" (the engine retries the task), ``PermanentProviderError`` means the operation cannot
succeed as asked (the stage ends TERMINAL with the message).

Every mutating call takes an idempotency key. The first call with a key records a
``ProviderOperation`` row before it acts and its result once it is done; a repeated call with the
same key returns that result without acting again. A call interrupted half-way (a worker killed
between the provider's change and the recorded result) is completed by the repeat, which acts on
the same target: creating a server group reserves its name in the row first, so a retry creates
that same group instead of a second one.
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import import_module
from typing import Any, ClassVar, Literal, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone

from clouds import naming
from clouds.models import Account, ProviderOperation
from clouds.providers import deploy_policy

InstanceHealth = Literal["UP", "DOWN", "STARTING", "UNKNOWN"]


class ProviderError(Exception):
    """Something a cloud provider could not do; ``message`` is a sentence for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientProviderError(ProviderError):
    """The provider cannot be reached or is busy: the same call may succeed later."""


class PermanentProviderError(ProviderError):
    """The call cannot succeed as asked (unknown artifact, bad capacity, no driver, ...)."""


@dataclass(frozen=True)
class Capacity:
    min: int
    max: int
    desired: int

    def check(self) -> None:
        """Raise ``PermanentProviderError`` unless 0 <= min <= desired <= max."""
        if min(self.min, self.max, self.desired) < 0 or not self.min <= self.desired <= self.max:
            raise PermanentProviderError(
                f"Capacity must satisfy 0 <= min <= desired <= max; got min {self.min}, "
                f"desired {self.desired}, max {self.max}."
            )


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class HealthCheck:
    path: str = "/health"
    interval_seconds: float = 1.0
    timeout_seconds: float = 2.0


@dataclass(frozen=True)
class ServerGroupSpec:
    """What to create: the cluster's name parts, the artifact, its size and its settings."""

    application: str
    account: str
    region: str
    artifact: ArtifactRef
    capacity: Capacity
    stack: str = ""
    detail: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    health_check: HealthCheck = field(default_factory=HealthCheck)
    load_balancers: list[str] = field(default_factory=list)
    enabled: bool = True

    @property
    def cluster(self) -> str:
        """The Frigga cluster name; raises ``PermanentProviderError`` for invalid parts."""
        try:
            return naming.format_cluster(self.application, self.stack, self.detail)
        except naming.NamingError as exc:
            raise PermanentProviderError(str(exc)) from None


@dataclass(frozen=True)
class Instance:
    id: str
    address: str
    health: InstanceHealth
    started_at: datetime | None = None
    restarts: int = 0


@dataclass(frozen=True)
class ServerGroupState:
    """A server group as the provider sees it now.

    ``traffic_weight`` (0 to 100) is the weight the group has in its load balancers while it is
    enabled; a disabled group keeps the number but takes no new requests (``effective_weight``).
    """

    name: str
    cluster: str
    region: str
    sequence: int
    created_at: datetime
    artifact: ArtifactRef
    capacity: Capacity
    enabled: bool
    traffic_weight: int
    instances: list[Instance]
    load_balancers: list[str]

    @property
    def up_count(self) -> int:
        return sum(1 for instance in self.instances if instance.health == "UP")

    @property
    def healthy_percent(self) -> float:
        """Share of the desired capacity that is UP (100 when nothing is desired), at most 100."""
        if self.capacity.desired == 0:
            return 100.0
        return min(100.0, 100.0 * self.up_count / self.capacity.desired)

    def has_healthy_percent(self, target: float) -> bool:
        """Whether at least ``target`` % of the desired instances are UP (Orca rounds the count up)."""
        return self.up_count >= math.ceil(self.capacity.desired * target / 100)

    @property
    def effective_weight(self) -> int:
        return self.traffic_weight if self.enabled else 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        for instance in data["instances"]:
            instance["started_at"] = instance["started_at"].isoformat() if instance["started_at"] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServerGroupState:
        instances = [
            Instance(**{**item, "started_at": _parse_time(item["started_at"]) if item["started_at"] else None})
            for item in data["instances"]
        ]
        return cls(
            **{
                **data,
                "created_at": _parse_time(data["created_at"]),
                "artifact": ArtifactRef(**data["artifact"]),
                "capacity": Capacity(**data["capacity"]),
                "instances": instances,
            }
        )


@dataclass(frozen=True)
class LoadBalancerSpec:
    application: str
    account: str
    region: str
    name: str
    port: int | None = None


@dataclass(frozen=True)
class LoadBalancerState:
    """A load balancer: where it listens and the weight of each server group behind it."""

    name: str
    region: str
    address: str
    metrics_url: str
    server_groups: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadBalancerState:
        return cls(**data)


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


RESERVATION_TTL = timedelta(hours=1)
"""How long a creation that never completed keeps its name from others (its own retries keep it)."""


class Provider(ABC):
    """A cloud driver bound to one account.

    Subclasses implement the ``_``-prefixed hooks; the public mutating methods wrap them with
    the idempotency store, so a driver never has to think about repeated calls.
    """

    kind: ClassVar[str] = ""

    def __init__(self, account: Account) -> None:
        self.account = account

    # Reads -----------------------------------------------------------------------------------

    @abstractmethod
    def server_groups(self, cluster: str, region: str) -> list[ServerGroupState]:
        """The cluster's live server groups in ``region``, newest first (destroyed ones left out)."""

    @abstractmethod
    def server_group(self, name: str, region: str) -> ServerGroupState | None:
        """One live server group, or None when there is none by that name."""

    @abstractmethod
    def load_balancer(self, name: str, region: str) -> LoadBalancerState | None:
        """One load balancer, or None."""

    def refresh(self) -> None:  # noqa: B027 (a driver without a mirror has nothing to do)
        """Re-read the provider's state into the account's Cluster/ServerGroup/LoadBalancer rows."""

    # Mutations -------------------------------------------------------------------------------

    def create_server_group(self, spec: ServerGroupSpec, *, idempotency_key: str) -> ServerGroupState:
        """Create the next server group of the spec's cluster (``-v000``, ``-v001``, ... wrapping after 999).

        The chosen name is recorded under the key before anything runs, so a retry with the key
        creates (or finds) that same group.
        """
        self.check_spec(spec)
        operation = _begin(self.account, idempotency_key, "create_server_group", f"{spec.cluster}@{spec.region}")
        if operation.completed_at is None:
            target = f"{spec.cluster}@{spec.region}"
            deploy_policy.require(self, "create_server_group", target, partial(deploy_policy.spec_fields, spec))
            name = self._reserve_name(operation, spec)
            _run(operation, lambda: self._create_server_group(spec, name).to_dict())
        return ServerGroupState.from_dict(_outcome(operation))

    def resize(self, name: str, region: str, capacity: Capacity, *, idempotency_key: str) -> ServerGroupState:
        capacity.check()
        action = partial(self._resize, name, region, capacity)
        return self._once_group(idempotency_key, "resize", name, region, action, capacity=asdict(capacity))

    def enable(self, name: str, region: str, *, idempotency_key: str) -> ServerGroupState:
        """Let the group take traffic in its load balancers, at its weight (100 unless set otherwise)."""
        return self._once_group(idempotency_key, "enable", name, region, partial(self._enable, name, region))

    def disable(self, name: str, region: str, *, idempotency_key: str) -> ServerGroupState:
        """Stop sending new requests to the group; requests in flight finish."""
        return self._once_group(idempotency_key, "disable", name, region, partial(self._disable, name, region))

    def set_traffic_weight(self, name: str, region: str, weight: int, *, idempotency_key: str) -> ServerGroupState:
        """Set the group's weight (0 to 100) in its load balancers; applied at once if it is enabled."""
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise PermanentProviderError(f"A traffic weight is a whole number from 0 to 100, not {weight!r}.")
        action = partial(self._set_traffic_weight, name, region, weight)
        return self._once_group(idempotency_key, "set_traffic_weight", name, region, action, weight=weight)

    def destroy(self, name: str, region: str, *, idempotency_key: str) -> None:
        """Stop the group's instances and remove it from its load balancers; a missing group is fine."""
        self.check_region(region)
        action = _empty_result(partial(self._destroy, name, region))
        self._once(
            idempotency_key, "destroy", f"{name}@{region}", action, deploy_policy.group_fields(self, name, region)
        )

    def upsert_load_balancer(self, spec: LoadBalancerSpec, *, idempotency_key: str) -> LoadBalancerState:
        """Create the load balancer or update its port, keeping the server groups behind it."""
        self.check_load_balancer_spec(spec)
        target = f"{spec.name}@{spec.region}"
        deploy = partial(deploy_policy.balancer_fields, spec.name, spec.region)
        result = self._once(
            idempotency_key, "upsert_load_balancer", target, lambda: self._upsert_load_balancer(spec).to_dict(), deploy
        )
        return LoadBalancerState.from_dict(result)

    def delete_load_balancer(self, name: str, region: str, *, idempotency_key: str) -> None:
        action = _empty_result(partial(self._delete_load_balancer, name, region))
        deploy = partial(deploy_policy.balancer_fields, name, region)
        self._once(idempotency_key, "delete_load_balancer", f"{name}@{region}", action, deploy)

    # Checks shared by drivers ----------------------------------------------------------------

    def check_spec(self, spec: ServerGroupSpec) -> None:
        """Refuse a spec that names another account, an unknown region or a bad capacity."""
        if spec.account != self.account.name:
            raise PermanentProviderError(
                f"The spec is for account {spec.account!r} but this provider serves {self.account.name!r}."
            )
        self.check_region(spec.region)
        spec.capacity.check()
        _ = spec.cluster

    def check_load_balancer_spec(self, spec: LoadBalancerSpec) -> None:
        if spec.account != self.account.name:
            raise PermanentProviderError(
                f"The spec is for account {spec.account!r} but this provider serves {self.account.name!r}."
            )
        self.check_region(spec.region)
        try:
            moniker = naming.parse(spec.name)
        except naming.NamingError as exc:
            raise PermanentProviderError(f"Load balancer name: {exc}") from None
        if moniker.sequence is not None or moniker.app != spec.application:
            raise PermanentProviderError(
                f"Load balancer {spec.name!r} must be named app[-stack[-detail]] after application "
                f"{spec.application!r}, without a -vNNN version."
            )
        if spec.port is not None and not 0 <= spec.port <= 65535:
            raise PermanentProviderError(f"Load balancer port {spec.port} is not a TCP port.")

    def check_region(self, region: str) -> None:
        if region not in self.account.regions:
            regions = ", ".join(self.account.regions)
            raise PermanentProviderError(f"Account {self.account.name!r} has no region {region!r} (it has {regions}).")

    # Hooks for drivers -----------------------------------------------------------------------

    @abstractmethod
    def _create_server_group(self, spec: ServerGroupSpec, name: str) -> ServerGroupState:
        """Create (or find, if it exists from an interrupted earlier try) the group called ``name``."""

    @abstractmethod
    def _resize(self, name: str, region: str, capacity: Capacity) -> ServerGroupState: ...

    @abstractmethod
    def _enable(self, name: str, region: str) -> ServerGroupState: ...

    @abstractmethod
    def _disable(self, name: str, region: str) -> ServerGroupState: ...

    @abstractmethod
    def _set_traffic_weight(self, name: str, region: str, weight: int) -> ServerGroupState: ...

    @abstractmethod
    def _destroy(self, name: str, region: str) -> None: ...

    @abstractmethod
    def _upsert_load_balancer(self, spec: LoadBalancerSpec) -> LoadBalancerState: ...

    @abstractmethod
    def _delete_load_balancer(self, name: str, region: str) -> None: ...

    @abstractmethod
    def _names_in_use(self, cluster: str, region: str) -> dict[str, datetime]:
        """Server group names of ``cluster`` that a new group must not take, with their creation times.

        The newest by creation time that belongs to this account and region decides the next
        sequence; every name returned is skipped.
        """

    @contextlib.contextmanager
    def _naming_lock(self) -> Iterator[None]:
        """Held while a new name is chosen and reserved; drivers add a lock that spans processes."""
        with transaction.atomic():
            Account.objects.select_for_update().filter(pk=self.account.pk).first()
            yield

    # Idempotency -----------------------------------------------------------------------------

    def _reserve_name(self, operation: ProviderOperation, spec: ServerGroupSpec) -> str:
        """The name recorded on the operation, or a new one chosen and recorded under the naming lock.

        The lock makes two creations in one cluster choose different names; recording the name
        before the driver acts makes a retry reuse it.
        """
        with self._naming_lock():
            operation.refresh_from_db()
            if operation.request.get("name"):
                return str(operation.request["name"])
            name = next_server_group_name(spec.cluster, self._names_in_use(spec.cluster, spec.region), self._reserved())
            operation.request = {"name": name}
            operation.save(update_fields=["request"])
        return name

    def _reserved(self) -> set[str]:
        """Names reserved by creations of this account still under way (not yet completed)."""
        pending = ProviderOperation.objects.filter(
            account=self.account,
            operation="create_server_group",
            completed_at__isnull=True,
            created_at__gte=timezone.now() - RESERVATION_TTL,
        ).values_list("request", flat=True)
        return {str(request["name"]) for request in pending if request.get("name")}

    def _once_group(
        self,
        key: str,
        operation: str,
        name: str,
        region: str,
        action: Callable[[], ServerGroupState],
        **fields: Any,
    ) -> ServerGroupState:
        self.check_region(region)
        deploy = deploy_policy.group_fields(self, name, region, **fields)
        result = self._once(key, operation, f"{name}@{region}", lambda: action().to_dict(), deploy)
        return ServerGroupState.from_dict(result)

    def _once(
        self,
        key: str,
        operation_name: str,
        target: str,
        action: Callable[[], dict[str, Any]],
        deploy: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """Run ``action`` unless the key already completed; the first outcome is the answer to every repeat.

        The deployment policies decide before the first run acts; a denial is not recorded on the
        operation, so a repeat after the policies change may act.
        """
        operation = _begin(self.account, key, operation_name, target)
        if operation.completed_at is None:
            deploy_policy.require(self, operation_name, target, deploy)
            _run(operation, action)
        return _outcome(operation)


def next_server_group_name(cluster: str, in_use: dict[str, datetime], reserved: set[str]) -> str:
    """The next Frigga name of ``cluster``: after the newest group's sequence, skipping taken ones.

    ``in_use`` maps existing names (names of other clusters are ignored) to creation times;
    ``reserved`` names, of creations still under way, count as newer than all of them. Raise
    ``PermanentProviderError`` when all 1000 sequences are taken.
    """
    dated: dict[int, datetime] = {}
    for name, created in in_use.items():
        if (existing := _sequence_in(name, cluster)) is not None:
            dated[existing] = created
    pending = {number for name in reserved if (number := _sequence_in(name, cluster)) is not None}
    taken = set(dated) | pending
    if pending:
        sequence = naming.next_sequence(pending)
    elif dated:
        sequence = naming.next_sequence_after(max(dated, key=lambda s: dated[s]))
    else:
        sequence = 0
    for _ in range(naming.SEQUENCE_SPACE):
        if sequence not in taken:
            moniker = naming.parse(cluster).with_sequence(sequence)
            return moniker.server_group
        sequence = naming.next_sequence_after(sequence)
    raise PermanentProviderError(f"Cluster {cluster!r} has a server group for every sequence from v000 to v999.")


def _sequence_in(name: str, cluster: str) -> int | None:
    """The sequence of ``name`` if it is a server group of ``cluster`` with a sequence a new group could get."""
    try:
        moniker = naming.parse(name)
    except naming.NamingError:
        return None
    if moniker.cluster != cluster or moniker.sequence is None or moniker.sequence > naming.MAX_SEQUENCE:
        return None
    return moniker.sequence


def _begin(account: Account, key: str, operation_name: str, target: str) -> ProviderOperation:
    """The operation row for ``key``, created on first use; refuse a key reused for something else."""
    if not key or len(key) > 255:
        raise PermanentProviderError("Every provider operation needs an idempotency key of 1 to 255 characters.")
    try:
        with transaction.atomic():
            operation, _ = ProviderOperation.objects.get_or_create(
                account=account, key=key, defaults={"operation": operation_name, "target": target}
            )
    except IntegrityError:
        # Another process created it between our read and our insert.
        operation = ProviderOperation.objects.get(account=account, key=key)
    if (operation.operation, operation.target) != (operation_name, target):
        raise PermanentProviderError(
            f"Idempotency key {key!r} was already used for {operation.operation} of {operation.target}, "
            f"not {operation_name} of {target}."
        )
    return operation


def _run(operation: ProviderOperation, action: Callable[[], dict[str, Any]]) -> None:
    """Run ``action`` and record its result, or its permanent failure, on the operation.

    A transient failure is not recorded: the repeat that follows acts again.
    """
    try:
        result = action()
    except PermanentProviderError as exc:
        result = {"error": exc.message}
    operation.result = result
    operation.completed_at = timezone.now()
    operation.save(update_fields=["result", "completed_at"])


def _outcome(operation: ProviderOperation) -> dict[str, Any]:
    result = dict(operation.result or {})
    if "error" in result:
        raise PermanentProviderError(str(result["error"]))
    return result


def _empty_result(action: Callable[[], None]) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        action()
        return {}

    return run


# Registry ----------------------------------------------------------------------------------

_PROVIDERS: dict[str, type[Provider]] = {}
# Drivers are imported on first use, so importing this module never starts anything.
_DRIVER_MODULES = {"local": "clouds.providers.local.driver"}

P = TypeVar("P", bound=type[Provider])


def register_provider(kind: str) -> Callable[[P], P]:
    """Class decorator: the driver for accounts whose ``provider`` is ``kind``."""

    def decorate(cls: P) -> P:
        cls.kind = kind
        _PROVIDERS[kind] = cls
        return cls

    return decorate


def provider_for(account: Account) -> Provider:
    """The driver for ``account``; ``PermanentProviderError`` for a kind that has none yet."""
    kind = str(account.provider)
    if kind not in _PROVIDERS and kind in _DRIVER_MODULES:
        import_module(_DRIVER_MODULES[kind])
    if kind not in _PROVIDERS:
        raise PermanentProviderError(
            f"Account {account.name!r} is a {kind} account and Spinweb has no {kind} driver yet; "
            "only local accounts can be deployed to."
        )
    return _PROVIDERS[kind](account)


def refresh(account: Account) -> None:
    """Mirror the account's provider state into its rows; nothing for kinds without a driver."""
    with contextlib.suppress(PermanentProviderError):
        provider_for(account).refresh()
