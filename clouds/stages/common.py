"""What every cluster-stage task shares: reading its fields, the account and who may use it, provider
errors, idempotency keys and waits.

Rules at run time (the save-time checks in ``checks`` and ``permissions`` may not have seen the
values, which can come from expressions):
- the account must exist; a run started by a user needs that user to hold WRITE on it (a run
  started by a trigger runs as the pipeline that its saver, who needed WRITE, wrote);
- a stage acts only on clusters of its own execution's application;
- the region must be one of the account's.
A refusal ends the stage TERMINAL with a sentence naming who and what.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from clouds import naming
from clouds.models import Account
from clouds.providers.base import (
    PermanentProviderError,
    Provider,
    ServerGroupState,
    TransientProviderError,
    provider_for,
)
from pipelines.engine import clock
from pipelines.engine.runner import stage_timeout
from pipelines.engine.types import Task, TaskContext, TaskResult, TransientError
from pipelines.statuses import Status
from spinweb.permissions import Access

POLL = timedelta(seconds=1)
SETTLE = timedelta(seconds=1)
# Stage types whose ``deploy.server.groups`` a cluster-wide child leaves alone (as Orca).
DEPLOY_TYPES = frozenset({"deploy", "createServerGroup"})


class Refused(Exception):
    """The stage cannot do what it says; the message is the stage's failure, a sentence."""


class ProviderTask(Task):
    """A task that talks to a provider: typed provider errors become engine outcomes.

    ``TransientProviderError`` is retried with the engine's backoff; ``PermanentProviderError``
    and ``Refused`` end the stage TERMINAL with their message.
    """

    def run(self, ctx: TaskContext) -> TaskResult:
        try:
            return self.execute(ctx)
        except (Refused, PermanentProviderError) as exc:
            return TaskResult.terminal(str(exc))
        except TransientProviderError as exc:
            raise TransientError(str(exc)) from exc

    def execute(self, ctx: TaskContext) -> TaskResult:
        raise NotImplementedError


class WaitTask(ProviderTask):
    """A task that polls until nothing is missing, failing with what it last saw at the stage's timeout.

    It succeeds only once nothing has been missing for ``SETTLE``: a load balancer takes a newly
    healthy instance (or lets go of a disabled one) a moment after the provider reports it, and
    the next step may take the other group out of traffic. ``readySince`` in the context holds,
    per wait task, when it first saw nothing missing.
    """

    timeout: ClassVar[timedelta] = timedelta(minutes=30)

    def outcome(self, ctx: TaskContext, missing: list[str]) -> TaskResult:
        now = clock.now()
        marks = dict(ctx.stage.context.get("readySince") or {})
        if missing:
            marks.pop(self.name, None)
            return self.waiting(ctx, " ".join(missing), readySince=marks)
        since = datetime.fromisoformat(marks[self.name]) if self.name in marks else now
        rest = SETTLE - (now - since)
        # Settling is a precaution: at the timeout, what was reached counts.
        if rest <= timedelta(0) or now + rest >= self.deadline(ctx):
            return TaskResult.succeeded()
        marks[self.name] = since.isoformat()
        return TaskResult(
            Status.RUNNING, message="Done; checking that it holds.", wake_at=now + rest, context={"readySince": marks}
        )

    def waiting(self, ctx: TaskContext, seen: str, **context: Any) -> TaskResult:
        """Poll again in a second, or fail now when that would come after the timeout."""
        now = clock.now()
        if now + POLL >= self.deadline(ctx):
            limit = stage_timeout(ctx.stage, self.timeout)
            return TaskResult.terminal(f"{seen} Gave up after {_duration(limit)}.")
        return TaskResult(Status.RUNNING, message=seen, wake_at=now + POLL, context=context)

    def deadline(self, ctx: TaskContext) -> datetime:
        return (ctx.task.started_at or clock.now()) + stage_timeout(ctx.stage, self.timeout)


def _duration(limit: timedelta) -> str:
    seconds = limit.total_seconds()
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def key(ctx: TaskContext, *parts: str) -> str:
    """The task's idempotency key for one provider call: the same on every re-run of the task."""
    return ":".join([ctx.idempotency_key, *parts])


# Fields ------------------------------------------------------------------------------------


def regions_of(context: Mapping[str, Any]) -> list[str]:
    """``regions``, ``region``, or the keys of Spinnaker's ``availabilityZones``."""
    value = context.get("regions")
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        return list(dict.fromkeys(value))
    if isinstance(context.get("region"), str) and context["region"]:
        return [context["region"]]
    zones = context.get("availabilityZones")
    if isinstance(zones, dict) and zones:
        return [str(region) for region in zones]
    raise Refused("The stage names no region: give regions (a list) or region.")


def cluster_of(context: Mapping[str, Any]) -> str:
    """``cluster``, Spinnaker's ``moniker.cluster``, or the cluster of ``serverGroupName``."""
    moniker = mapping_field(context.get("moniker"))
    for value in (context.get("cluster"), moniker.get("cluster")):
        if isinstance(value, str) and value:
            return value
    name = context.get("serverGroupName")
    if isinstance(name, str) and naming.is_server_group_name(name):
        return naming.parse(name).cluster
    raise Refused("The stage names no cluster: give cluster (such as shop-web).")


def mapping_field(value: Any) -> Mapping[str, Any]:
    """``value`` if it is an object, else an empty one (for optional nested fields)."""
    return value if isinstance(value, dict) else {}


def text_field(context: Mapping[str, Any], key: str) -> str:
    value = context.get(key)
    if not isinstance(value, str) or not value:
        raise Refused(f"{key} must be a non-empty string, not {value!r}.")
    return value


def number_field(context: Mapping[str, Any], key: str, default: float) -> float:
    value = context.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Refused(f"{key} must be a number, not {value!r}.") from None


def flag_field(context: Mapping[str, Any], key: str, default: bool) -> bool:
    value = context.get(key, default)
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise Refused(f"{key} must be true or false, not {value!r}.")
    return value


# Accounts and clusters ---------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where a stage acts: an account the run may deploy to, a cluster of its application, regions."""

    account: Account
    cluster: str
    regions: list[str]

    @property
    def provider(self) -> Provider:
        return provider_for(self.account)


def place_of(ctx: TaskContext, *, cluster: str | None = None) -> Place:
    """The stage's account (``credentials``), cluster and regions, once every run-time rule is checked."""
    context = ctx.stage.context
    cluster = cluster or cluster_of(context)
    check_application(ctx, cluster)
    account = account_for(ctx, text_field(context, "credentials"))
    return Place(account, cluster, checked_regions(account, regions_of(context)))


def account_for(ctx: TaskContext, name: str, need: Access = Access.WRITE) -> Account:
    """The account, if the user who started the run holds ``need`` on it (runs by triggers: any)."""
    account = Account.objects.prefetch_related("grants").filter(name=name).first()
    if account is None:
        raise Refused(f"There is no account named {name!r}.")
    user = ctx.execution.started_by
    if user is not None and need.value not in account.levels_for(user):
        verb = "deploy to" if need == Access.WRITE else "read"
        raise Refused(f"The user {user.get_username()} may not {verb} account {name}: {need.value} on it is needed.")
    return account


def check_application(ctx: TaskContext, cluster: str) -> None:
    try:
        app = naming.parse(cluster).app
    except naming.NamingError as exc:
        raise Refused(str(exc)) from None
    mine = ctx.execution.application.name
    if app != mine:
        raise Refused(f"Cluster {cluster} belongs to application {app}; a run of {mine} may only change {mine}'s.")


def checked_regions(account: Account, regions: list[str]) -> list[str]:
    unknown = [region for region in regions if region not in account.regions]
    if unknown:
        known = ", ".join(account.regions)
        raise Refused(f"Account {account.name} has no region {', '.join(unknown)} (its regions: {known}).")
    return regions


def live_states(
    provider: Provider, cluster: str, wanted: Mapping[str, list[str]]
) -> dict[tuple[str, str], ServerGroupState | None]:
    """The state of each named group of ``cluster`` (None: gone), read once per region."""
    states: dict[tuple[str, str], ServerGroupState | None] = {}
    for region, names in wanted.items():
        live = {group.name: group for group in provider.server_groups(cluster, region)}
        states.update({(region, name): live.get(name) for name in names})
    return states


def deployed_by_ancestors(ctx: TaskContext, account: str) -> dict[str, list[str]]:
    """``deploy.server.groups`` of the deploy stages this stage runs under, for ``account``."""
    rows = {pk: (parent, kind, context) for pk, parent, kind, context in _stage_rows(ctx)}
    found: dict[str, list[str]] = {}
    current = rows.get(ctx.stage.pk, (None, "", {}))[0]
    while current is not None and current in rows:
        parent, kind, context = rows[current]
        if kind in DEPLOY_TYPES and context.get("deploy.account.name") == account:
            for region, names in (context.get("deploy.server.groups") or {}).items():
                found.setdefault(region, []).extend(names)
        current = parent
    return found


def _stage_rows(ctx: TaskContext) -> list[tuple[Any, Any, str, dict[str, Any]]]:
    return list(ctx.execution.stages.values_list("pk", "parent_id", "type", "context"))
