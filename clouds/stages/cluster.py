"""``disableCluster``, ``scaleDownCluster``, ``shrinkCluster``: act on all but the groups to keep.

Fields, as Spinnaker's: ``credentials``, ``cluster``, ``regions`` / ``region``, and
- ``disableCluster``: ``remainingEnabledServerGroups`` (1), ``preferLargerOverNewer`` (false);
- ``scaleDownCluster``: ``remainingFullSizeServerGroups`` (1), ``allowScaleDownActive`` (false),
  ``preferLargerOverNewer`` (false); chosen groups are resized to 0;
- ``shrinkCluster``: ``shrinkToSize`` (1), ``allowDeleteActive`` (false), ``retainLargerOverNewer``
  (false); chosen groups are destroyed.
Run under a deploy (as a strategy's step), the groups that deploy created, and any newer, are
left alone and count as kept. Which groups are chosen is ``clouds.stages.targets``. Each stage then
waits until the chosen groups are out of traffic, at zero, or gone; ``affected`` in the context
(``{region: [names]}``) says which they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from clouds.providers.base import Capacity, Provider, ServerGroupState
from clouds.stages import checks
from clouds.stages.common import (
    Place,
    ProviderTask,
    Refused,
    WaitTask,
    deployed_by_ancestors,
    flag_field,
    key,
    live_states,
    place_of,
)
from clouds.stages.targets import preserved, to_disable, to_scale_down, to_shrink
from pipelines.engine.types import StageType, TaskContext, TaskResult, register_stage, register_task
from pipelines.models import StageExecution
from pipelines.statuses import Status

ZERO = Capacity(min=0, max=0, desired=0)


def cluster_stage_issues(stage: Mapping[str, Any]) -> list[tuple[str, str]]:
    return checks.account(stage) + checks.cluster(stage) + checks.regions(stage)


@register_stage
class DisableClusterStage(StageType):
    type = "disableCluster"
    label = "Disable cluster"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = cluster_stage_issues(stage) + checks.whole(stage, "remainingEnabledServerGroups")
        return issues + checks.flags(stage, "preferLargerOverNewer")

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["disableCluster", "waitForClusterDisable"]


@register_stage
class ScaleDownClusterStage(StageType):
    type = "scaleDownCluster"
    label = "Scale down cluster"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = cluster_stage_issues(stage) + checks.whole(stage, "remainingFullSizeServerGroups")
        return issues + checks.flags(stage, "allowScaleDownActive", "preferLargerOverNewer")

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["scaleDownCluster", "waitForScaleDownCluster"]


@register_stage
class ShrinkClusterStage(StageType):
    type = "shrinkCluster"
    label = "Shrink cluster"

    def check(self, stage: Mapping[str, Any]) -> list[tuple[str, str]]:
        issues = cluster_stage_issues(stage) + checks.whole(stage, "shrinkToSize")
        return issues + checks.flags(stage, "allowDeleteActive", "retainLargerOverNewer")

    def tasks(self, stage: StageExecution) -> list[str]:
        return ["shrinkCluster", "waitForClusterShrink"]


def _whole(context: Mapping[str, Any], field: str, default: int) -> int:
    value = context.get(field, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Refused(f"{field} must be a whole number, not {value!r}.") from None
    if number < 0:
        raise Refused(f"{field} must be 0 or more, not {number}.")
    return number


class ClusterWideTask(ProviderTask):
    """Choose groups per region (``choose``), act on each (``act``), record them as ``affected``."""

    timeout: ClassVar[timedelta] = timedelta(minutes=5)
    operation: ClassVar[str]

    def choose(self, context: Mapping[str, Any], groups: list[ServerGroupState], keep: set[str]) -> list[Any]:
        raise NotImplementedError

    def act(self, provider: Provider, group: ServerGroupState, idempotency_key: str) -> None:
        raise NotImplementedError

    def execute(self, ctx: TaskContext) -> TaskResult:
        place = place_of(ctx)
        deployed = deployed_by_ancestors(ctx, place.account.name)
        affected = {region: self._in_region(ctx, place, region, deployed.get(region, [])) for region in place.regions}
        facts = {"affected": affected, "deploy.account.name": place.account.name}
        return TaskResult(Status.SUCCEEDED, context=facts)

    def _in_region(self, ctx: TaskContext, place: Place, region: str, deployed: list[str]) -> list[str]:
        provider = place.provider
        groups = provider.server_groups(place.cluster, region)
        chosen = self.choose(ctx.stage.context, groups, preserved(groups, deployed))
        for group in chosen:
            self.act(provider, group, key(ctx, self.operation, region, group.name))
        return [group.name for group in chosen]


@register_task
class DisableClusterTask(ClusterWideTask):
    name = "disableCluster"
    operation = "disable"

    def choose(self, context: Mapping[str, Any], groups: list[ServerGroupState], keep: set[str]) -> list[Any]:
        return to_disable(
            groups,
            remaining=_whole(context, "remainingEnabledServerGroups", 1),
            prefer_larger=flag_field(context, "preferLargerOverNewer", False),
            keep=keep,
        )

    def act(self, provider: Provider, group: ServerGroupState, idempotency_key: str) -> None:
        provider.disable(group.name, group.region, idempotency_key=idempotency_key)


@register_task
class ScaleDownClusterTask(ClusterWideTask):
    name = "scaleDownCluster"
    operation = "scaledown"

    def choose(self, context: Mapping[str, Any], groups: list[ServerGroupState], keep: set[str]) -> list[Any]:
        return to_scale_down(
            groups,
            remaining=_whole(context, "remainingFullSizeServerGroups", 1),
            allow_active=flag_field(context, "allowScaleDownActive", False),
            prefer_larger=flag_field(context, "preferLargerOverNewer", False),
            keep=keep,
        )

    def act(self, provider: Provider, group: ServerGroupState, idempotency_key: str) -> None:
        provider.resize(group.name, group.region, ZERO, idempotency_key=idempotency_key)


@register_task
class ShrinkClusterTask(ClusterWideTask):
    name = "shrinkCluster"
    operation = "shrink"

    def choose(self, context: Mapping[str, Any], groups: list[ServerGroupState], keep: set[str]) -> list[Any]:
        return to_shrink(
            groups,
            shrink_to=_whole(context, "shrinkToSize", 1),
            allow_delete_active=flag_field(context, "allowDeleteActive", False),
            retain_larger=flag_field(context, "retainLargerOverNewer", False),
            keep=keep,
        )

    def act(self, provider: Provider, group: ServerGroupState, idempotency_key: str) -> None:
        provider.destroy(group.name, group.region, idempotency_key=idempotency_key)


class ClusterWaitTask(WaitTask):
    """Wait until every affected group is as wanted; ``gap`` says what is still missing ("" when nothing)."""

    def gap(self, state: ServerGroupState | None, name: str) -> str:
        raise NotImplementedError

    def execute(self, ctx: TaskContext) -> TaskResult:
        place = place_of(ctx)
        affected: dict[str, list[str]] = ctx.stage.context.get("affected") or {}
        states = live_states(place.provider, place.cluster, affected)
        gaps = [self.gap(state, name) for (_region, name), state in states.items()]
        gaps = [gap for gap in gaps if gap]
        return self.outcome(ctx, gaps)


@register_task
class WaitForClusterDisableTask(ClusterWaitTask):
    name = "waitForClusterDisable"

    def gap(self, state: ServerGroupState | None, name: str) -> str:
        return f"{name} is still taking traffic." if state is not None and state.effective_weight > 0 else ""


@register_task
class WaitForScaleDownClusterTask(ClusterWaitTask):
    name = "waitForScaleDownCluster"

    def gap(self, state: ServerGroupState | None, name: str) -> str:
        return f"{name} still has {len(state.instances)} instances." if state is not None and state.instances else ""


@register_task
class WaitForClusterShrinkTask(ClusterWaitTask):
    name = "waitForClusterShrink"

    def gap(self, state: ServerGroupState | None, name: str) -> str:
        return f"{name} is still being destroyed." if state is not None else ""
