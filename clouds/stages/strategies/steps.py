"""The stage types and tasks only strategies use: pinning the source, rolling steps, the rollback.

- ``determineSourceServerGroup`` (a task of ``createServerGroup``): checks the strategy fields and
  pins, per region, the group the deploy replaces (the newest enabled one) with its capacity.
- ``moveTraffic`` ("Grow to 50%"): grows the new group to its step's capacity, waits until it is
  UP, then gives it ``trafficShare.new`` % of the traffic and the source ``trafficShare.old`` %,
  and waits until the load balancers route so.
- ``scaleDownSource`` ("Scale down shop-web-v001 to 50%"): resizes the source to what it keeps at
  this step; at 100 % it is also disabled.
- ``rollbackDeploy`` ("Roll back to shop-web-v001"): the source back at its pinned capacity, at
  weight 100 and enabled, healthy, and only then the new group disabled (and destroyed with
  ``destroyLatest``). Its last task writes what happened into the deploy's failure message.

None of them can be written in a pipeline: they exist as steps of a strategy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from clouds import naming
from clouds.providers.base import Provider, ServerGroupState, provider_for
from clouds.stages.common import (
    ProviderTask,
    Refused,
    WaitTask,
    account_for,
    check_application,
    checked_regions,
    key,
    number_field,
    place_of,
    regions_of,
)
from clouds.stages.strategies.fields import options
from clouds.stages.strategies.plans import as_dict, capacity_from, pick_source
from clouds.stages.targets import needed_up
from pipelines.engine.types import StageType, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution
from pipelines.statuses import Status

STEP_ONLY = "{type} runs only as a step of a deploy strategy; it cannot be written in a pipeline."


class StrategyStep(StageType):
    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("type", STEP_ONLY.format(type=self.type))]


@register_stage
class MoveTrafficStage(StrategyStep):
    type = "moveTraffic"
    label = "Move traffic"

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["growServerGroup", "waitForGrownServerGroup", "shiftTraffic", "waitForTrafficShift"]


@register_stage
class ScaleDownSourceStage(StrategyStep):
    type = "scaleDownSource"
    label = "Scale down source"

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["scaleDownSourceServerGroup", "waitForScaledDownSource"]


@register_stage
class RollbackDeployStage(StrategyStep):
    type = "rollbackDeploy"
    label = "Roll back deploy"

    def tasks(self, stage: StageExecution) -> list[str]:
        # The restore and disable tasks are the rollback stages' own (clouds.stages.rollback).
        tasks = ["restoreSourceServerGroup", "waitForRestoredServerGroup", "disableServerGroup"]
        tasks.append("waitForDisabledServerGroup")
        if stage.context.get("destroyLatest"):
            tasks += ["destroyServerGroup", "waitForDestroyedServerGroup"]
        return [*tasks, "reportRollback"]


# Pinning the source ------------------------------------------------------------------------


@register_task
class DetermineSourceServerGroupTask(ProviderTask):
    name = "determineSourceServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        options(context)
        application = str(context.get("application") or ctx.execution.application.name)
        try:
            cluster = naming.format_cluster(
                application, str(context.get("stack") or ""), str(context.get("freeFormDetails") or "")
            )
        except naming.NamingError as exc:
            raise Refused(str(exc)) from None
        check_application(ctx, cluster)
        account = account_for(ctx, _account_name(context))
        provider = provider_for(account)
        sources: dict[str, dict[str, Any]] = {}
        for region in checked_regions(account, regions_of(context)):
            source = pick_source(provider.server_groups(cluster, region))
            if source is not None:
                sources[region] = {"name": source.name, "capacity": as_dict(source.capacity)}
        return TaskResult(Status.SUCCEEDED, context={"sourceServerGroups": sources})


def _account_name(context: Mapping[str, Any]) -> str:
    value = context.get("account") or context.get("credentials")
    if not isinstance(value, str) or not value:
        raise Refused("The cluster deployment names no account.")
    return value


# Helpers -----------------------------------------------------------------------------------


def named(ctx: TaskContext, field: str) -> tuple[Provider, dict[str, str]]:
    """The provider and the ``{region: group}`` the step's ``field`` names."""
    place = place_of(ctx)
    return place.provider, dict(ctx.stage.context.get(field) or {})


def existing(provider: Provider, name: str, region: str) -> ServerGroupState:
    state = provider.server_group(name, region)
    if state is None:
        raise Refused(f"There is no server group {name} in {region} any more.")
    return state


def still_running(ctx: TaskContext) -> None:
    """Refuse to change traffic or capacity for a run that ended while this task was on its way.

    The engine checks before it runs a task; this narrows the window in which a step could undo
    what the clean-up after a cancel (``interrupts``) has just put back.
    """
    ctx.execution.refresh_from_db(fields=["status"])
    if ctx.execution.status != Status.RUNNING:
        raise Refused(f"The execution is {ctx.execution.status}; traffic is left as it is.")


def share(ctx: TaskContext, side: str) -> int:
    value = (ctx.stage.context.get("trafficShare") or {}).get(side)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise Refused(f"trafficShare.{side} must be a whole number from 0 to 100, not {value!r}.")
    return value


# Rolling steps -----------------------------------------------------------------------------


@register_task
class GrowServerGroupTask(ProviderTask):
    name = "growServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = named(ctx, "targets")
        capacities = ctx.stage.context.get("capacity") or {}
        still_running(ctx)
        for region, name in targets.items():
            wanted = capacity_from(capacities.get(region))
            if existing(provider, name, region).capacity != wanted:
                provider.resize(name, region, wanted, idempotency_key=key(ctx, "grow", region))
        return TaskResult.succeeded()


@register_task
class WaitForGrownServerGroupTask(WaitTask):
    name = "waitForGrownServerGroup"

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = named(ctx, "targets")
        percent = number_field(ctx.stage.context, "targetHealthyDeployPercentage", 100)
        gaps = [_grown_gap(existing(provider, name, region), percent) for region, name in targets.items()]
        return self.outcome(ctx, [gap for gap in gaps if gap])


def _grown_gap(state: ServerGroupState, percent: float) -> str:
    needed = needed_up(state.capacity.desired, percent)
    if state.up_count >= needed:
        return ""
    return f"{state.name} has {state.up_count} of {state.capacity.desired} instances UP; {needed} needed."


@register_task
class ShiftTrafficTask(ProviderTask):
    """New group first, then the source: the total weight never drops to zero on the way."""

    name = "shiftTraffic"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = named(ctx, "targets")
        sources = dict(ctx.stage.context.get("sourceTargets") or {})
        new, old = share(ctx, "new"), share(ctx, "old")
        still_running(ctx)
        for region, name in targets.items():
            provider.set_traffic_weight(name, region, new, idempotency_key=key(ctx, "weight", region, name))
            provider.enable(name, region, idempotency_key=key(ctx, "enable", region, name))
            if region in sources:
                source = sources[region]
                provider.set_traffic_weight(source, region, old, idempotency_key=key(ctx, "weight", region, source))
        return TaskResult.succeeded()


@register_task
class WaitForTrafficShiftTask(WaitTask):
    name = "waitForTrafficShift"

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = named(ctx, "targets")
        sources = dict(ctx.stage.context.get("sourceTargets") or {})
        wanted = {name: share(ctx, "new") for name in targets.values()}
        wanted.update({name: share(ctx, "old") for name in sources.values()})
        regions = {**{name: region for region, name in targets.items()}, **{n: r for r, n in sources.items()}}
        gaps = []
        for name, weight in wanted.items():
            state = provider.server_group(name, regions[name])
            if state is not None and state.effective_weight != weight:
                gaps.append(f"{name} takes weight {state.effective_weight}, not yet {weight}.")
        return self.outcome(ctx, gaps)


@register_task
class ScaleDownSourceServerGroupTask(ProviderTask):
    name = "scaleDownSourceServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, sources = named(ctx, "sourceTargets")
        capacities = ctx.stage.context.get("capacity") or {}
        still_running(ctx)
        for region, name in sources.items():
            state = existing(provider, name, region)
            wanted = capacity_from(capacities.get(region))
            if wanted.desired == 0 and state.enabled:
                provider.disable(name, region, idempotency_key=key(ctx, "disable", region))
            if state.capacity != wanted:
                provider.resize(name, region, wanted, idempotency_key=key(ctx, "resize", region))
        return TaskResult.succeeded()


@register_task
class WaitForScaledDownSourceTask(WaitTask):
    name = "waitForScaledDownSource"

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, sources = named(ctx, "sourceTargets")
        gaps = [_scaled_gap(existing(provider, name, region)) for region, name in sources.items()]
        return self.outcome(ctx, [gap for gap in gaps if gap])


def _scaled_gap(state: ServerGroupState) -> str:
    desired = state.capacity.desired
    if len(state.instances) == desired == state.up_count and (desired or state.effective_weight == 0):
        return ""
    return f"{state.name} has {len(state.instances)} instances, {state.up_count} UP; waiting for {desired}, all UP."


# Rollback ----------------------------------------------------------------------------------


@register_task
class RestoreSourceServerGroupTask(ProviderTask):
    """The source at its pinned capacity, weight 100 and enabled; the new group is left to the next tasks."""

    name = "restoreSourceServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, restores = named(ctx, "restoreTargets")
        capacities = ctx.stage.context.get("restoreCapacity") or {}
        for region, name in restores.items():
            restore(provider, existing(provider, name, region), capacities.get(region), key(ctx, region))
        return TaskResult.succeeded()


def restore(provider: Provider, state: ServerGroupState, capacity: Any, idempotency_key: str) -> None:
    """Give ``state``'s group its capacity back (when known) and all of its weight, enabled."""
    wanted = capacity_from(capacity, state.capacity)
    if state.capacity != wanted:
        provider.resize(state.name, state.region, wanted, idempotency_key=f"{idempotency_key}:resize")
    if state.traffic_weight != 100:
        provider.set_traffic_weight(state.name, state.region, 100, idempotency_key=f"{idempotency_key}:weight")
    provider.enable(state.name, state.region, idempotency_key=f"{idempotency_key}:enable")


@register_task
class ReportRollbackTask(ProviderTask):
    """Say on the deploy what failed and what the rollback did (the deploy's failure message)."""

    name = "reportRollback"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        message = f"{context.get('reason') or 'The deploy failed.'} {rollback_summary(context)}"
        if ctx.stage.parent_id is not None:
            StageExecution.objects.filter(pk=ctx.stage.parent_id).update(failure_message=message)
        return TaskResult(Status.SUCCEEDED, context={"rollbackSummary": message})


def rollback_summary(context: Mapping[str, Any]) -> str:
    latest = ", ".join(dict.fromkeys((context.get("targets") or {}).values()))
    restored = ", ".join(dict.fromkeys((context.get("restoreTargets") or {}).values()))
    done = "disabled and destroyed" if context.get("destroyLatest") else "disabled"
    if not restored:
        return f"Rolled back: {latest} {done}; there was no earlier server group to restore."
    return f"Rolled back: {restored} serves all traffic again; {latest} {done}."
