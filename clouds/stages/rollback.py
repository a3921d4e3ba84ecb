"""``rollbackServerGroup`` and ``rollbackCluster``: bring the previous group back, then take the bad one out.

Order matters and is kept by the task list: the group to restore is resized (to at least the bad
group's capacity) and enabled, and the stage waits until ``targetHealthyRollbackPercentage``
(100) of it is UP and taking traffic; only then is the bad group disabled. At no moment is the
cluster without a healthy group in its load balancers.

- ``rollbackServerGroup``: ``credentials``, ``region`` (one), ``rollbackType`` and
  ``rollbackContext``. ``EXPLICIT`` rolls back from ``rollbackContext.rollbackServerGroupName`` to
  ``rollbackContext.restoreServerGroupName``. ``PREVIOUS_IMAGE`` restores the newest group older
  than the one rolled back; unlike Spinnaker, which can deploy that image again from its
  records, the older group must still exist (a destroyed one cannot be brought back).
- ``rollbackCluster``: ``credentials``, ``cluster``, ``regions``: in each region, from the newest
  group back to the one before it.
The plan is fixed by the first task and kept in the context: ``targets`` (``{region: bad}``),
``restoreTargets`` (``{region: restored}``) and ``restoreCapacity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from clouds import naming
from clouds.providers.base import Capacity, Provider
from clouds.stages import checks
from clouds.stages.common import Place, ProviderTask, Refused, key, mapping_field, number_field, place_of
from clouds.stages.server_group import WaitForEnabledServerGroupTask, targets_of
from clouds.stages.targets import RollbackPlan, SelectionError, plan_cluster_rollback, plan_rollback
from pipelines.engine.types import StageType, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution
from pipelines.statuses import Status

ROLLBACK_TYPES = ("EXPLICIT", "PREVIOUS_IMAGE")
RESTORE_THEN_DISABLE = [
    "restoreServerGroup",
    "waitForRestoredServerGroup",
    "disableServerGroup",
    "waitForDisabledServerGroup",
]


@register_stage
class RollbackServerGroupStage(StageType):
    type = "rollbackServerGroup"
    label = "Rollback server group"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = checks.account(stage) + checks.regions(stage) + checks.cluster(stage, required=False)
        issues += checks.one_of(stage, "rollbackType", ROLLBACK_TYPES)
        issues += checks.percent(stage, "targetHealthyRollbackPercentage")
        context = stage.get("rollbackContext")
        if checks.is_expression(context):
            return issues
        if not isinstance(context, dict):
            return [*issues, ("rollbackContext", "rollbackContext must be an object naming rollbackServerGroupName.")]
        issues += checks.server_group_name(context, "rollbackServerGroupName", at="rollbackContext.")
        if (stage.get("rollbackType") or "EXPLICIT") == "EXPLICIT":
            issues += checks.server_group_name(context, "restoreServerGroupName", at="rollbackContext.")
        return issues + checks.percent(context, "targetHealthyRollbackPercentage", at="rollbackContext.")

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["planRollback", *RESTORE_THEN_DISABLE]


@register_stage
class RollbackClusterStage(StageType):
    type = "rollbackCluster"
    label = "Rollback cluster"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = checks.account(stage) + checks.cluster(stage) + checks.regions(stage)
        return issues + checks.percent(stage, "targetHealthyRollbackPercentage")

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["determineRollbackCandidates", *RESTORE_THEN_DISABLE]


# Planning ----------------------------------------------------------------------------------


def _percent(context: Mapping[str, Any]) -> float:
    inner = mapping_field(context.get("rollbackContext"))
    if "targetHealthyRollbackPercentage" in inner:
        return number_field(inner, "targetHealthyRollbackPercentage", 100)
    return number_field(context, "targetHealthyRollbackPercentage", 100)


def _planned(place: Place, plans: dict[str, RollbackPlan], percent: float) -> TaskResult:
    facts = {
        "cluster": place.cluster,
        "targets": {region: plan.rollback.name for region, plan in plans.items()},
        "restoreTargets": {region: plan.restore.name for region, plan in plans.items()},
        "restoreCapacity": {region: _as_dict(plan.restore_capacity) for region, plan in plans.items()},
        "targetHealthyRollbackPercentage": percent,
        "deploy.account.name": place.account.name,
    }
    return TaskResult(Status.SUCCEEDED, context=facts)


def _as_dict(capacity: Capacity) -> dict[str, int]:
    return {"min": capacity.min, "max": capacity.max, "desired": capacity.desired}


@register_task
class PlanRollbackTask(ProviderTask):
    name = "planRollback"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        context = ctx.stage.context
        inner = mapping_field(context.get("rollbackContext"))
        bad = inner.get("rollbackServerGroupName")
        if not isinstance(bad, str) or not naming.is_server_group_name(bad):
            raise Refused(f"rollbackContext.rollbackServerGroupName must name a server group, not {bad!r}.")
        kind = context.get("rollbackType") or "EXPLICIT"
        restore = inner.get("restoreServerGroupName") if kind == "EXPLICIT" else None
        if kind == "EXPLICIT" and not isinstance(restore, str):
            raise Refused("An EXPLICIT rollback needs rollbackContext.restoreServerGroupName.")
        place = place_of(ctx, cluster=context.get("cluster") or naming.parse(bad).cluster)
        if len(place.regions) != 1:
            raise Refused(f"rollbackServerGroup acts in one region, not {', '.join(place.regions)}.")
        region = place.regions[0]
        try:
            plan = plan_rollback(place.provider.server_groups(place.cluster, region), bad, restore)
        except SelectionError as exc:
            raise Refused(f"Cluster {place.cluster} in {region}: {exc}") from None
        return _planned(place, {region: plan}, _percent(context))


@register_task
class DetermineRollbackCandidatesTask(ProviderTask):
    name = "determineRollbackCandidates"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        place = place_of(ctx)
        plans = {}
        for region in place.regions:
            try:
                plans[region] = plan_cluster_rollback(place.provider.server_groups(place.cluster, region))
            except SelectionError as exc:
                raise Refused(f"Cluster {place.cluster} in {region}: {exc}") from None
        return _planned(place, plans, _percent(ctx.stage.context))


# Restoring ---------------------------------------------------------------------------------


@register_task
class RestoreServerGroupTask(ProviderTask):
    """Resize the group to restore to its planned capacity, then enable it."""

    name = "restoreServerGroup"
    timeout = timedelta(minutes=5)

    def execute(self, ctx: TaskContext) -> TaskResult:
        provider, restores = targets_of(ctx, "restoreTargets")
        capacities = ctx.stage.context.get("restoreCapacity") or {}
        for region, name in restores.items():
            _restore(ctx, provider, name, region, Capacity(**capacities[region]))
        return TaskResult.succeeded()


def _restore(ctx: TaskContext, provider: Provider, name: str, region: str, capacity: Capacity) -> None:
    state = provider.server_group(name, region)
    if state is None:
        raise Refused(f"{name} in {region}, the group to restore, no longer exists.")
    if state.capacity != capacity:
        provider.resize(name, region, capacity, idempotency_key=key(ctx, "resize", region))
    provider.enable(name, region, idempotency_key=key(ctx, "enable", region))


@register_task
class WaitForRestoredServerGroupTask(WaitForEnabledServerGroupTask):
    name = "waitForRestoredServerGroup"
    field = "restoreTargets"
    percent_field = "targetHealthyRollbackPercentage"
