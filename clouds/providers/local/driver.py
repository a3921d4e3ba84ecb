"""The local provider: server groups are real processes on loopback, run by the local supervisor.

The supervisor (``clouds.providers.local.runtime``) keeps processes and load balancers alive
across restarts of Spinweb; this driver translates provider calls into its control API and
mirrors the result into the database.

- A pipeline picks an artifact *by name* from ``Account.artifacts`` and a version; it can set
  only the environment variables that artifact allows. So WRITE on a pipeline never runs a
  command of the pipeline author's choosing.
- One supervisor serves every local account on the host, so names are host-wide: processes
  carry their account and region in ``SPINWEB_ACCOUNT`` / ``SPINWEB_REGION`` and a new server
  group's sequence skips every name in use on the host.
- What the supervisor cannot hold (capacity min/max, the weight of a disabled group) is kept on
  the ServerGroup rows; everything else is read back from the supervisor.
- Operations hold a host-wide file lock (``driver.lock`` in the supervisor's home) while they
  read, change and mirror, so two workers never lose each other's load balancer changes. Take it
  before any database transaction, never inside one.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import transaction

from applications.models import Application
from clouds import naming
from clouds.models import Account, ServerGroup
from clouds.providers.base import (
    ArtifactRef,
    Capacity,
    Instance,
    InstanceHealth,
    LoadBalancerSpec,
    LoadBalancerState,
    PermanentProviderError,
    Provider,
    ServerGroupSpec,
    ServerGroupState,
    TransientProviderError,
    register_provider,
)
from clouds.providers.local.runtime.client import (
    HealthSpec,
    RuntimeInstance,
    RuntimeLoadBalancer,
    RuntimeServerGroup,
    SupervisorClient,
    SupervisorRefused,
    SupervisorUnavailable,
)
from clouds.providers.sync import mirror

SAMPLE_ARTIFACT: dict[str, Any] = {
    "command": ["{python}", "-m", "clouds.providers.local.runtime.sample_app", "--port", "{port}"],
    "env": {"SAMPLE_VERSION": "{version}"},
    "allowedEnvironment": ["SAMPLE_LATENCY_MS", "SAMPLE_ERROR_RATE", "SAMPLE_FAIL_HEALTH"],
    "description": "Spinweb's sample HTTP app: a version can add latency, errors or fail its health check.",
}
"""The "sample" artifact: tests and the demo put ``{"sample": SAMPLE_ARTIFACT}`` on a local account."""

MAX_INSTANCES = 50
"""Largest desired capacity of a local server group: every instance is a process on this host."""

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$")
ACCOUNT_ENV, REGION_ENV = "SPINWEB_ACCOUNT", "SPINWEB_REGION"
ARTIFACT_ENV, VERSION_ENV = "SPINWEB_ARTIFACT", "SPINWEB_ARTIFACT_VERSION"

T = TypeVar("T")


@dataclass(frozen=True)
class Intent:
    """What the rows remember for a group: capacity bounds, whether it is enabled, its weight."""

    min: int | None = None
    max: int | None = None
    enabled: bool | None = None
    weight: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """One read of the supervisor: its server groups and load balancers, as documents."""

    groups: dict[str, RuntimeServerGroup]
    balancers: dict[str, RuntimeLoadBalancer]

    def backends_of(self, name: str) -> dict[str, int]:
        """Weight of ``name`` in each load balancer that has it as a backend."""
        return {lb: doc.backends[name] for lb, doc in self.balancers.items() if name in doc.backends}


def command_for(artifact: dict[str, Any], version: str) -> list[str]:
    return [arg.replace("{python}", sys.executable).replace("{version}", version) for arg in artifact["command"]]


def environment_for(account: Account, spec: ServerGroupSpec, artifact: dict[str, Any]) -> dict[str, str]:
    """The artifact's environment, then what the spec may set, then Spinweb's markers."""
    version = spec.artifact.version
    env = {
        key: value.replace("{python}", sys.executable).replace("{version}", version)
        for key, value in artifact.get("env", {}).items()
    }
    env.update(spec.environment)
    env.update(
        {ACCOUNT_ENV: account.name, REGION_ENV: spec.region, ARTIFACT_ENV: spec.artifact.name, VERSION_ENV: version}
    )
    return env


def check_artifact(account: Account, spec: ServerGroupSpec) -> dict[str, Any]:
    """The account's artifact the spec names; ``PermanentProviderError`` naming what is not allowed."""
    artifacts = account.artifacts or {}
    artifact = artifacts.get(spec.artifact.name)
    if artifact is None:
        known = ", ".join(sorted(artifacts)) or "none"
        raise PermanentProviderError(
            f"Account {account.name!r} has no artifact {spec.artifact.name!r} (it has: {known})."
        )
    if not isinstance(spec.artifact.version, str) or not VERSION_RE.match(spec.artifact.version):
        raise PermanentProviderError(
            f"Artifact version {spec.artifact.version!r} must be 1 to 128 letters, digits and . _ + ~ -."
        )
    allowed = set(artifact.get("allowedEnvironment", []))
    refused = sorted(key for key in spec.environment if key not in allowed)
    if refused:
        allowed_text = ", ".join(sorted(allowed)) or "none"
        raise PermanentProviderError(
            f"Artifact {spec.artifact.name!r} does not allow setting {', '.join(refused)} (it allows: {allowed_text})."
        )
    bad = sorted(key for key, value in spec.environment.items() if not isinstance(value, str))
    if bad:
        raise PermanentProviderError(f"Environment values must be strings: {', '.join(bad)}.")
    return dict(artifact)


# The lock is re-entrant inside a process (a flock taken twice by one process through two
# descriptors would wait for itself) and exclusive between processes.
_thread_lock = threading.RLock()
_lock_depth = 0


@contextlib.contextmanager
def host_lock(home: Path) -> Iterator[None]:
    """Serialise the driver's read-change-mirror sequences on this host."""
    global _lock_depth
    with _thread_lock:
        if _lock_depth:
            _lock_depth += 1
            try:
                yield
            finally:
                _lock_depth -= 1
            return
        home.mkdir(parents=True, exist_ok=True)
        with open(home / "driver.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            _lock_depth = 1
            try:
                yield
            finally:
                _lock_depth = 0
                fcntl.flock(handle, fcntl.LOCK_UN)


_started: set[Path] = set()


@register_provider("local")
class LocalProvider(Provider):
    """Server groups and load balancers run by the local supervisor of ``SPINWEB_LOCAL_HOME``."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.home = Path(settings.SPINWEB_LOCAL_HOME)
        low, high = settings.SPINWEB_LOCAL_PORTS
        try:
            self.client = SupervisorClient(self.home, (int(low), int(high)))
        except ValueError as exc:
            raise PermanentProviderError(f"SPINWEB_LOCAL_HOME cannot be used: {exc}.") from None

    # Talking to the supervisor ---------------------------------------------------------------

    def _call(self, action: Callable[[SupervisorClient], T]) -> T:
        """Run ``action`` on the client, starting the supervisor first (once per process) or again if it died."""
        try:
            if self.home not in _started:
                self.client.ensure_running()
                _started.add(self.home)
            try:
                return action(self.client)
            except SupervisorUnavailable:
                self.client.ensure_running()
                return action(self.client)
        except SupervisorUnavailable as exc:
            raise TransientProviderError(f"The local supervisor in {self.home} is not answering: {exc}") from exc
        except SupervisorRefused as exc:
            raise PermanentProviderError(f"The local supervisor refused: {exc}") from exc

    def _snapshot(self) -> Snapshot:
        state = self._call(lambda client: client.state())
        return Snapshot(dict(state.server_groups), dict(state.load_balancers))

    # Reads -----------------------------------------------------------------------------------

    def server_groups(self, cluster: str, region: str) -> list[ServerGroupState]:
        states = [s for s in self._sync() if s.cluster == cluster and s.region == region]
        return sorted(states, key=lambda state: state.created_at, reverse=True)

    def server_group(self, name: str, region: str) -> ServerGroupState | None:
        return next((s for s in self._sync() if s.name == name and s.region == region), None)

    def load_balancer(self, name: str, region: str) -> LoadBalancerState | None:
        snapshot = self._snapshot()
        if name not in snapshot.balancers or not self._owns_balancer(name, region):
            return None
        return self._balancer_state(snapshot.balancers[name], region)

    def refresh(self) -> None:
        """Mirror the supervisor's state; a supervisor that is not running is not started just to look."""
        if self.client.is_running():
            self._sync()

    def _sync(self, intents: dict[str, Intent] | None = None) -> list[ServerGroupState]:
        """Read the supervisor, mirror the account's part into the rows, return the account's groups."""
        with host_lock(self.home):
            snapshot = self._snapshot()
            states = self._states(snapshot, intents or {})
            mirror(self.account, states, self._balancer_states(snapshot))
        return states

    def _states(self, snapshot: Snapshot, intents: dict[str, Intent]) -> list[ServerGroupState]:
        rows = {
            (row.region, row.name): row
            for row in ServerGroup.objects.filter(cluster__account=self.account, destroyed_at__isnull=True)
        }
        states = []
        for name, doc in snapshot.groups.items():
            if doc.env.get(ACCOUNT_ENV) != self.account.name:
                continue
            region = doc.env.get(REGION_ENV, "")
            intent = _intent_of(rows.get((region, name)), intents.get(name))
            states.append(_group_state(doc, snapshot.backends_of(name), intent))
        return states

    def _balancer_states(self, snapshot: Snapshot) -> list[LoadBalancerState]:
        owned = self._owned_balancers()
        return [
            self._balancer_state(doc, region)
            for name, doc in snapshot.balancers.items()
            for region in owned.get(name, [])
        ]

    def _owned_balancers(self) -> dict[str, list[str]]:
        owned: dict[str, list[str]] = {}
        for name, region in self.account.load_balancers.values_list("name", "region"):
            owned.setdefault(name, []).append(region)
        return owned

    def _owns_balancer(self, name: str, region: str) -> bool:
        return region in self._owned_balancers().get(name, [])

    def _balancer_state(self, doc: RuntimeLoadBalancer, region: str) -> LoadBalancerState:
        return LoadBalancerState(
            name=doc.name, region=region, address=doc.address, metrics_url=doc.metrics_url, server_groups=doc.backends
        )

    # Server groups ---------------------------------------------------------------------------

    def check_spec(self, spec: ServerGroupSpec) -> None:
        super().check_spec(spec)
        check_artifact(self.account, spec)
        if spec.capacity.max > MAX_INSTANCES:
            raise PermanentProviderError(f"A local server group runs at most {MAX_INSTANCES} instances.")
        check = spec.health_check
        if not check.path.startswith("/"):
            raise PermanentProviderError(f"Health check path {check.path!r} must start with '/'.")
        if not all(0.05 <= seconds <= 60 for seconds in (check.interval_seconds, check.timeout_seconds)):
            raise PermanentProviderError("Health check interval and timeout must be from 0.05 to 60 seconds.")
        if not Application.objects.filter(name=spec.application).exists():
            raise PermanentProviderError(f"There is no application {spec.application!r}.")
        for name in spec.load_balancers:
            self.check_load_balancer_spec(LoadBalancerSpec(spec.application, spec.account, spec.region, name))
            self._check_balancer_owner(name, spec.region)

    @contextlib.contextmanager
    def _naming_lock(self) -> Iterator[None]:
        with host_lock(self.home), super()._naming_lock():
            yield

    def _names_in_use(self, cluster: str, region: str) -> dict[str, datetime]:
        # Every group on the host counts as taken; only this account's groups in the region date the newest.
        taken: dict[str, datetime] = {}
        for name, doc in self._snapshot().groups.items():
            ours = doc.env.get(ACCOUNT_ENV) == self.account.name and doc.env.get(REGION_ENV) == region
            taken[name] = doc.created_at if ours else datetime.min.replace(tzinfo=UTC)
        return taken

    def _create_server_group(self, spec: ServerGroupSpec, name: str) -> ServerGroupState:
        artifact = check_artifact(self.account, spec)
        check = spec.health_check
        health = HealthSpec(check.path, check.interval_seconds, check.timeout_seconds)
        with host_lock(self.home):
            existing = self._snapshot().groups.get(name)
            if existing is not None and existing.env.get(ACCOUNT_ENV) != self.account.name:
                raise PermanentProviderError(f"Server group {name!r} already runs on this host for another account.")
            command, env = command_for(artifact, spec.artifact.version), environment_for(self.account, spec, artifact)
            self._call(
                lambda c: c.put_server_group(
                    name, command=command, env=env, desired=spec.capacity.desired, health=health
                )
            )
            for balancer in spec.load_balancers:
                self._add_backend(spec, balancer, name)
            intent = Intent(spec.capacity.min, spec.capacity.max, spec.enabled, 100)
            return self._state_after(name, spec.region, intent)

    def _add_backend(self, spec: ServerGroupSpec, balancer: str, group: str) -> None:
        lb_spec = LoadBalancerSpec(spec.application, spec.account, spec.region, balancer)
        current = self._upsert_load_balancer(lb_spec)
        backends = {**current.server_groups, group: 100 if spec.enabled else 0}
        self._put_balancer(balancer, backends)

    def _resize(self, name: str, region: str, capacity: Capacity) -> ServerGroupState:
        if capacity.desired > MAX_INSTANCES or capacity.max > MAX_INSTANCES:
            raise PermanentProviderError(f"A local server group runs at most {MAX_INSTANCES} instances.")
        with host_lock(self.home):
            doc = self._own_group(self._snapshot(), name, region)
            self._call(
                lambda c: c.put_server_group(
                    name, command=doc.command, env=doc.env, health=doc.health, desired=capacity.desired
                )
            )
            return self._state_after(name, region, Intent(min=capacity.min, max=capacity.max))

    def _enable(self, name: str, region: str) -> ServerGroupState:
        with host_lock(self.home):
            state = self._require(name, region)
            weight = state.traffic_weight or 100
            self._set_backend_weight(name, region, weight)
            return self._state_after(name, region, Intent(enabled=True, weight=weight))

    def _disable(self, name: str, region: str) -> ServerGroupState:
        with host_lock(self.home):
            self._require(name, region)
            self._set_backend_weight(name, region, 0)
            return self._state_after(name, region, Intent(enabled=False))

    def _set_traffic_weight(self, name: str, region: str, weight: int) -> ServerGroupState:
        with host_lock(self.home):
            state = self._require(name, region)
            if state.enabled:
                self._set_backend_weight(name, region, weight)
            return self._state_after(name, region, Intent(weight=weight))

    def _destroy(self, name: str, region: str) -> None:
        with host_lock(self.home):
            snapshot = self._snapshot()
            if name in snapshot.groups:
                self._own_group(snapshot, name, region)
                self._call(lambda c: c.delete_server_group(name))
            self._sync()

    def _set_backend_weight(self, name: str, region: str, weight: int) -> None:
        snapshot = self._snapshot()
        for balancer in snapshot.backends_of(name):
            if self._owns_balancer(balancer, region):
                self._put_balancer(balancer, {**snapshot.balancers[balancer].backends, name: weight})

    def _require(self, name: str, region: str) -> ServerGroupState:
        state = next((s for s in self._sync() if s.name == name and s.region == region), None)
        if state is None:
            raise PermanentProviderError(f"Account {self.account.name!r} has no server group {name!r} in {region!r}.")
        return state

    def _own_group(self, snapshot: Snapshot, name: str, region: str) -> RuntimeServerGroup:
        doc = snapshot.groups.get(name)
        if doc is None or doc.env.get(ACCOUNT_ENV) != self.account.name or doc.env.get(REGION_ENV) != region:
            raise PermanentProviderError(f"Account {self.account.name!r} has no server group {name!r} in {region!r}.")
        return doc

    def _state_after(self, name: str, region: str, intent: Intent) -> ServerGroupState:
        state = next((s for s in self._sync({name: intent}) if s.name == name and s.region == region), None)
        if state is None:
            raise TransientProviderError(f"Server group {name!r} is not in the local supervisor's state yet.")
        return state

    # Load balancers --------------------------------------------------------------------------

    def _upsert_load_balancer(self, spec: LoadBalancerSpec) -> LoadBalancerState:
        with host_lock(self.home):
            self._check_balancer_owner(spec.name, spec.region)
            application = Application.objects.filter(name=spec.application).first()
            if application is None:
                raise PermanentProviderError(f"There is no application {spec.application!r}.")
            existing = self._snapshot().balancers.get(spec.name)
            doc = self._put_balancer(spec.name, dict(existing.backends) if existing else {}, spec.port)
            state = self._balancer_state(doc, spec.region)
            with transaction.atomic():
                self.account.load_balancers.update_or_create(
                    region=spec.region, name=spec.name, defaults={"application": application, "address": state.address}
                )
            self._sync()
            return state

    def _put_balancer(self, name: str, backends: dict[str, int], port: int | None = None) -> RuntimeLoadBalancer:
        """Set the balancer's backends; port None keeps the port it has (or lets the supervisor pick one)."""
        return self._call(lambda c: c.put_load_balancer(name, port or 0, backends))

    def _check_balancer_owner(self, name: str, region: str) -> None:
        other = Account.objects.filter(load_balancers__name=name).exclude(pk=self.account.pk).first()
        if other is not None:
            raise PermanentProviderError(
                f"Load balancer {name!r} already belongs to account {other.name!r} on this host."
            )

    def _delete_load_balancer(self, name: str, region: str) -> None:
        with host_lock(self.home):
            snapshot = self._snapshot()
            if name in snapshot.balancers and self._owns_balancer(name, region):
                self._call(lambda c: c.delete_load_balancer(name))
            with transaction.atomic():
                self.account.load_balancers.filter(name=name, region=region).delete()
            self._sync()


def refresh(account: Account) -> None:
    """Re-read the supervisor's state into ``account``'s rows (the clusters page calls this)."""
    LocalProvider(account).refresh()


def _intent_of(row: ServerGroup | None, override: Intent | None) -> Intent:
    base = Intent(row.capacity_min, row.capacity_max, row.enabled, row.traffic_weight) if row else Intent()
    if override is None:
        return base
    return replace(base, **{key: value for key, value in vars(override).items() if value is not None})


def _group_state(doc: RuntimeServerGroup, backends: dict[str, int], intent: Intent) -> ServerGroupState:
    moniker = naming.parse(doc.name)
    desired = doc.desired
    enabled, weight = _traffic(backends, intent)
    env = doc.env
    return ServerGroupState(
        name=doc.name,
        cluster=moniker.cluster,
        region=env.get(REGION_ENV, ""),
        sequence=moniker.sequence if moniker.sequence is not None else 0,
        created_at=doc.created_at,
        artifact=ArtifactRef(env.get(ARTIFACT_ENV, ""), env.get(VERSION_ENV, "")),
        capacity=Capacity(
            min=min(intent.min if intent.min is not None else desired, desired),
            max=max(intent.max if intent.max is not None else desired, desired),
            desired=desired,
        ),
        enabled=enabled,
        traffic_weight=weight,
        instances=[_instance(item) for item in doc.instances],
        load_balancers=sorted(backends),
    )


def _traffic(backends: dict[str, int], intent: Intent) -> tuple[bool, int]:
    """Enabled and weight: what the rows remember, unless the load balancers say otherwise."""
    remembered_enabled = intent.enabled if intent.enabled is not None else True
    remembered_weight = intent.weight if intent.weight is not None else 100
    if not backends:
        return remembered_enabled, remembered_weight
    observed = max(backends.values())
    if observed == (remembered_weight if remembered_enabled else 0):
        return remembered_enabled, remembered_weight
    return observed > 0, observed or remembered_weight


def _instance(item: RuntimeInstance) -> Instance:
    health: InstanceHealth = "UNKNOWN"
    if item.health in ("UP", "DOWN", "STARTING"):
        health = cast(InstanceHealth, item.health)
    return Instance(id=item.id, address=item.address, health=health, started_at=item.started_at, restarts=item.restarts)
