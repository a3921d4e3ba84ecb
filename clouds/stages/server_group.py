"""``enableServerGroup``, ``disableServerGroup``, ``resizeServerGroup``, ``destroyServerGroup``.

Fields, as Spinnaker's: ``credentials`` (the account), ``cluster``, ``regions`` or ``region``, and
either ``serverGroupName`` or ``target`` (``current_asg_dynamic``: the newest group,
``ancestor_asg_dynamic``: the one before it, ``oldest_asg_dynamic``: the oldest), resolved once
when the stage runs, in each region. The first task records what it resolved in the context as
``targets`` (``{region: name}``) and ``deploy.server.groups``; the later tasks act on exactly those.

Enable waits until the group takes traffic with ``targetHealthyDeployPercentage`` (100) of its
instances UP; disable waits until it is out of its load balancers (requests in flight finish);
resize (``capacity`` with ``action`` ``scale_exact``, or ``scale_up`` / ``scale_down`` by
``scaleNum`` or ``scalePct``) waits until exactly the new desired count runs, all UP; destroy
first disables the group, then destroys it and waits until it is gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from clouds.providers.base import Provider, ServerGroupState
from clouds.stages import checks
from clouds.stages.common import (
    Place,
    ProviderTask,
    Refused,
    WaitTask,
    key,
    number_field,
    place_of,
)
from clouds.stages.deploy import health_summary
from clouds.stages.targets import RESIZE_ACTIONS, SelectionError, resized_capacity, resolve_target
from pipelines.engine.types import StageType, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution
from pipelines.statuses import Status


def target_stage_issues(stage: Mapping[str, Any]) -> list[tuple[str, str]]:
    return checks.account(stage) + checks.regions(stage) + checks.target(stage)


@register_stage
class EnableServerGroupStage(StageType):
    type = "enableServerGroup"
    label = "Enable server group"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        return target_stage_issues(stage) + checks.percent(stage, "targetHealthyDeployPercentage")

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["determineTargetServerGroup", "enableServerGroup", "waitForEnabledServerGroup"]


@register_stage
class DisableServerGroupStage(StageType):
    type = "disableServerGroup"
    label = "Disable server group"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        return target_stage_issues(stage)

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["determineTargetServerGroup", "disableServerGroup", "waitForDisabledServerGroup"]


@register_stage
class ResizeServerGroupStage(StageType):
    type = "resizeServerGroup"
    label = "Resize server group"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = target_stage_issues(stage) + checks.one_of(stage, "action", RESIZE_ACTIONS)
        action = stage.get("action") or "scale_exact"
        if action == "scale_exact":
            if "capacity" not in stage:
                return [*issues, ("capacity", "A resize needs capacity ({min, max, desired}).")]
            return issues + checks.capacity(stage["capacity"], "capacity", partial=True)
        if stage.get("scaleNum") is None and stage.get("scalePct") is None:
            issues.append(("scaleNum", f"{action} needs scaleNum (instances) or scalePct (percent)."))
        return issues + checks.whole(stage, "scaleNum") + checks.percent(stage, "scalePct")

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["determineTargetServerGroup", "resizeServerGroup", "waitForCapacityMatch"]


@register_stage
class DestroyServerGroupStage(StageType):
    type = "destroyServerGroup"
    label = "Destroy server group"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        return target_stage_issues(stage)

    def tasks(self, stage: StageExecution) -> list[str]:
        return [
            "determineTargetServerGroup",
            "disableServerGroup",
            "waitForDisabledServerGroup",
            "destroyServerGroup",
            "waitForDestroyedServerGroup",
        ]


# Resolving the target ----------------------------------------------------------------------


@register_task
class DetermineTargetServerGroupTask(ProviderTask):
    name = "determineTargetServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        place = place_of(ctx)
        context = ctx.stage.context
        targets = {region: _resolve(place, region, context).name for region in place.regions}
        facts = {"targets": targets, "deploy.server.groups": {region: [name] for region, name in targets.items()}}
        return TaskResult(Status.SUCCEEDED, context={**facts, "deploy.account.name": place.account.name})


def _resolve(place: Place, region: str, context: Mapping[str, Any]) -> ServerGroupState:
    groups = place.provider.server_groups(place.cluster, region)
    name = context.get("serverGroupName")
    if name:
        found = next((group for group in groups if group.name == name), None)
        if found is None:
            raise Refused(f"There is no server group {name} in cluster {place.cluster} in {region}.")
        return found
    try:
        return resolve_target(groups, str(context.get("target")))
    except SelectionError as exc:
        raise Refused(f"Cluster {place.cluster} in {region}: {exc}") from None


def targets_of(ctx: TaskContext, field: str = "targets") -> tuple[Provider, dict[str, str]]:
    """The provider and the ``{region: name}`` a previous task of the stage resolved."""
    place = place_of(ctx)
    return place.provider, dict(ctx.stage.context.get(field) or {})


# Acting ------------------------------------------------------------------------------------


@register_task
class EnableServerGroupTask(ProviderTask):
    name = "enableServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = targets_of(ctx)
        for region, name in targets.items():
            provider.enable(name, region, idempotency_key=key(ctx, "enable", region))
        return TaskResult.succeeded()


@register_task
class DisableServerGroupTask(ProviderTask):
    name = "disableServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = targets_of(ctx)
        for region, name in targets.items():
            provider.disable(name, region, idempotency_key=key(ctx, "disable", region))
        return TaskResult.succeeded()


@register_task
class ResizeServerGroupTask(ProviderTask):
    name = "resizeServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = targets_of(ctx)
        wanted: dict[str, dict[str, int]] = {}
        for region, name in targets.items():
            state = _existing(provider, name, region)
            try:
                capacity = resized_capacity(state.capacity, ctx.stage.context)
            except SelectionError as exc:
                raise Refused(f"{name}: {exc}") from None
            done = provider.resize(name, region, capacity, idempotency_key=key(ctx, "resize", region))
            wanted[region] = {"min": done.capacity.min, "max": done.capacity.max, "desired": done.capacity.desired}
        return TaskResult(Status.SUCCEEDED, context={"resizedCapacity": wanted})


@register_task
class DestroyServerGroupTask(ProviderTask):
    name = "destroyServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = targets_of(ctx)
        for region, name in targets.items():
            provider.destroy(name, region, idempotency_key=key(ctx, "destroy", region))
        return TaskResult.succeeded()


def _existing(provider: Provider, name: str, region: str) -> ServerGroupState:
    state = provider.server_group(name, region)
    if state is None:
        raise Refused(f"There is no server group {name} in {region} any more.")
    return state


# Waiting -----------------------------------------------------------------------------------


@register_task
class WaitForEnabledServerGroupTask(WaitTask):
    """Enabled, and enough instances UP to take traffic (the load balancer sends only to UP ones)."""

    name = "waitForEnabledServerGroup"
    # Rollback reuses this wait for the group it restores, with its own fields.
    field = "targets"
    percent_field = "targetHealthyDeployPercentage"

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = targets_of(ctx, self.field)
        percent = number_field(ctx.stage.context, self.percent_field, 100)
        pending = [_enabled_gap(_existing(provider, name, region), percent) for region, name in targets.items()]
        pending = [gap for gap in pending if gap]
        return self.outcome(ctx, pending)


def _enabled_gap(state: ServerGroupState, percent: float) -> str:
    if not state.enabled or state.effective_weight == 0:
        return f"{state.name} is not taking traffic yet."
    if not state.has_healthy_percent(percent):
        return health_summary(state, percent)
    return ""


@register_task
class WaitForDisabledServerGroupTask(WaitTask):
    name = "waitForDisabledServerGroup"

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = targets_of(ctx)
        pending = [
            f"{name} is still taking traffic."
            for region, name in targets.items()
            if _existing(provider, name, region).effective_weight > 0
        ]
        return self.outcome(ctx, pending)


@register_task
class WaitForCapacityMatchTask(WaitTask):
    name = "waitForCapacityMatch"

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = targets_of(ctx)
        pending = [_capacity_gap(_existing(provider, name, region)) for region, name in targets.items()]
        pending = [gap for gap in pending if gap]
        return self.outcome(ctx, pending)


def _capacity_gap(state: ServerGroupState) -> str:
    desired = state.capacity.desired
    if len(state.instances) == desired and state.up_count == desired:
        return ""
    return f"{state.name} has {len(state.instances)} instances, {state.up_count} UP; waiting for {desired}, all UP."


@register_task
class WaitForDestroyedServerGroupTask(WaitTask):
    name = "waitForDestroyedServerGroup"

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, targets = targets_of(ctx)
        pending = [
            f"{name} is still being destroyed."
            for region, name in targets.items()
            if provider.server_group(name, region) is not None
        ]
        return self.outcome(ctx, pending)
