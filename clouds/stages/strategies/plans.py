"""The steps of each strategy, as pure functions from a ``createServerGroup`` stage's context to synthetic stages.

The context holds the cluster entry's fields, what ``determineSourceServerGroup`` pinned
(``sourceServerGroups``: ``{region: {"name", "capacity"}}``) and what ``createServerGroup`` made
(``deploy.server.groups``). Every step names its groups and capacities explicitly, so the
execution page shows exactly what each one does and a re-run of a step does the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from clouds.providers.base import Capacity, ServerGroupSpec, ServerGroupState
from clouds.stages.strategies.fields import HIGHLANDER, ROLLING, SWITCHING, Options, options, strategy_of
from clouds.stages.targets import newest_first
from pipelines.engine.types import SyntheticStage

# A rollback may wait for a whole group to come back, whatever short timeout the deploy had.
ROLLBACK_TIMEOUT_MS = 30 * 60 * 1000
DEFAULT_CAPACITY = Capacity(min=1, max=1, desired=1)


@dataclass(frozen=True)
class Source:
    """The group a deploy replaces in one region, and the capacity it had when the deploy began."""

    name: str
    capacity: Capacity


@dataclass(frozen=True)
class Deployment:
    """What one ``createServerGroup`` stage created and what it replaces, region by region."""

    account: str
    cluster: str
    created: dict[str, str]
    sources: dict[str, Source]
    capacity: Capacity

    @property
    def base(self) -> dict[str, Any]:
        """The fields every cluster stage of the strategy shares."""
        return {"credentials": self.account, "cluster": self.cluster, "regions": list(self.created)}

    def created_names(self) -> str:
        return _names(self.created.values())

    def source_names(self) -> str:
        return _names(source.name for source in self.sources.values())


def _names(names: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(names))


def as_dict(capacity: Capacity) -> dict[str, int]:
    return {"min": capacity.min, "max": capacity.max, "desired": capacity.desired}


def capacity_from(value: Any, default: Capacity = DEFAULT_CAPACITY) -> Capacity:
    if not isinstance(value, Mapping):
        return default
    try:
        return Capacity(min=int(value["min"]), max=int(value["max"]), desired=int(value["desired"]))
    except (KeyError, TypeError, ValueError):
        return default


def deployment_of(context: Mapping[str, Any]) -> Deployment | None:
    """The stage's deployment, or None when it created nothing (it failed before)."""
    created = context.get("deploy.server.groups")
    if not isinstance(created, dict) or not created:
        return None
    pinned = context.get("sourceServerGroups") or {}
    sources = {
        region: Source(str(item["name"]), capacity_from(item.get("capacity")))
        for region, item in pinned.items()
        if isinstance(item, dict) and item.get("name") and region in created
    }
    return Deployment(
        account=str(context.get("deploy.account.name") or context.get("account") or context.get("credentials")),
        cluster=str(context.get("deploy.cluster")),
        created={region: str(names[0]) for region, names in created.items() if names},
        sources=sources,
        capacity=capacity_from(context.get("capacity")),
    )


# Before and at creation --------------------------------------------------------------------


def source_tasks(context: Mapping[str, Any]) -> list[str]:
    """Tasks a ``createServerGroup`` stage runs before it creates: pinning the group it replaces."""
    return ["determineSourceServerGroup"] if strategy_of(context) else []


def pick_source(groups: list[ServerGroupState]) -> ServerGroupState | None:
    """The group a new one replaces: the newest that is enabled (Spinnaker's source), if any."""
    return next((group for group in newest_first(groups) if group.enabled), None)


def adjust_spec(context: Mapping[str, Any], spec: ServerGroupSpec) -> ServerGroupSpec:
    """Blue/green strategies create the group out of traffic; rolling also starts it at zero."""
    strategy = strategy_of(context)
    if strategy == ROLLING:
        return replace(spec, enabled=False, capacity=Capacity(min=0, max=spec.capacity.max, desired=0))
    if strategy in SWITCHING:
        return replace(spec, enabled=False)
    return spec


# After the new group is healthy ------------------------------------------------------------


def after_plan(context: Mapping[str, Any]) -> list[SyntheticStage]:
    """The strategy's steps once ``createServerGroup`` succeeded (none for ``""``)."""
    deployment = deployment_of(context)
    if deployment is None or not strategy_of(context):
        return []
    chosen = options(context)
    if chosen.strategy == ROLLING:
        return rolling_plan(deployment, chosen)
    steps = switch_steps(deployment, chosen)
    if chosen.strategy == HIGHLANDER:
        return [*steps, destroy_older(deployment)]
    return steps + cleanup_steps(deployment, chosen)


def switch_steps(deployment: Deployment, chosen: Options) -> list[SyntheticStage]:
    """Blue/green: the new group takes traffic, then (after the delay) the older ones leave it."""
    steps = [
        SyntheticStage(
            "enableServerGroup",
            f"Enable {name}",
            {
                **deployment.base,
                "regions": regions,
                "serverGroupName": name,
                "targetHealthyDeployPercentage": chosen.healthy_percent,
            },
        )
        for name, regions in _by_name(deployment.created).items()
    ]
    if chosen.delay_before_disable:
        steps.append(SyntheticStage("wait", "Wait before disable", {"waitTime": chosen.delay_before_disable}))
    disable = {**deployment.base, "remainingEnabledServerGroups": 1, "preferLargerOverNewer": False}
    return [*steps, SyntheticStage("disableCluster", "Disable older server groups", disable)]


def _by_name(created: Mapping[str, str]) -> dict[str, list[str]]:
    """Regions per new group name (a cluster may be at another sequence in another region)."""
    grouped: dict[str, list[str]] = {}
    for region, name in created.items():
        grouped.setdefault(name, []).append(region)
    return grouped


def cleanup_steps(deployment: Deployment, chosen: Options) -> list[SyntheticStage]:
    """Keep ``maxRemainingAsgs`` groups, then optionally scale the older ones down."""
    shrink = {
        **deployment.base,
        "shrinkToSize": chosen.max_remaining,
        "allowDeleteActive": False,
        "retainLargerOverNewer": False,
    }
    steps = [SyntheticStage("shrinkCluster", f"Keep the {chosen.max_remaining} newest server groups", shrink)]
    if not chosen.scale_down:
        return steps
    if chosen.delay_before_scale_down:
        steps.append(SyntheticStage("wait", "Wait before scale down", {"waitTime": chosen.delay_before_scale_down}))
    scale = {
        **deployment.base,
        "remainingFullSizeServerGroups": 1,
        "allowScaleDownActive": False,
        "preferLargerOverNewer": False,
    }
    return [*steps, SyntheticStage("scaleDownCluster", "Scale down older server groups", scale)]


def destroy_older(deployment: Deployment) -> SyntheticStage:
    """Highlander: once the new group serves alone, every older group goes."""
    shrink = {**deployment.base, "shrinkToSize": 1, "allowDeleteActive": True, "retainLargerOverNewer": False}
    return SyntheticStage("shrinkCluster", "Destroy older server groups", shrink)


# Rolling red/black -------------------------------------------------------------------------


def rolling_plan(deployment: Deployment, chosen: Options) -> list[SyntheticStage]:
    """Per percentage: grow and move traffic, validate, then scale the source down by as much."""
    steps: list[SyntheticStage] = []
    for percent in chosen.percentages:
        steps.append(grow_step(deployment, percent, chosen.healthy_percent))
        steps += validation_steps(percent, chosen)
        if deployment.sources:
            steps.append(source_step(deployment, percent))
    return steps + cleanup_steps(deployment, replace(chosen, scale_down=False))


def base_capacity(deployment: Deployment, region: str) -> Capacity:
    """What 100 % is in a region: the source's capacity (Spinnaker's), or the deploy's without one
    (or when the source runs nothing)."""
    source = deployment.sources.get(region)
    return source.capacity if source is not None and source.capacity.desired else deployment.capacity


def share_of(capacity: Capacity, percent: int) -> Capacity:
    """``percent`` of a capacity, rounded up (so a step never leaves the new group empty)."""
    desired = math.ceil(capacity.desired * percent / 100)
    return Capacity(min=min(capacity.min, desired), max=max(capacity.max, desired), desired=desired)


def rest_of(capacity: Capacity, percent: int) -> Capacity:
    """What the source keeps once the new group has ``percent`` of it: together they stay whole."""
    desired = capacity.desired - share_of(capacity, percent).desired
    return Capacity(min=min(capacity.min, desired), max=capacity.max, desired=desired)


def traffic_share(deployment: Deployment, percent: int) -> dict[str, int]:
    return {"new": percent, "old": 100 - percent} if deployment.sources else {"new": 100, "old": 0}


def grow_step(deployment: Deployment, percent: int, healthy: float) -> SyntheticStage:
    capacities = {
        region: as_dict(share_of(base_capacity(deployment, region), percent)) for region in deployment.created
    }
    context = {
        **deployment.base,
        "targets": dict(deployment.created),
        "sourceTargets": {region: source.name for region, source in deployment.sources.items()},
        "targetPercentage": percent,
        "trafficShare": traffic_share(deployment, percent),
        "capacity": capacities,
        "targetHealthyDeployPercentage": healthy,
    }
    return SyntheticStage("moveTraffic", f"Grow to {percent}%", context)


def validation_steps(percent: int, chosen: Options) -> list[SyntheticStage]:
    """What runs between moving traffic and cleaning up: a wait, a validation pipeline, a judgment."""
    steps = []
    if chosen.delay_before_cleanup:
        steps.append(SyntheticStage("wait", f"Wait at {percent}%", {"waitTime": chosen.delay_before_cleanup}))
    if chosen.validation is not None:
        run: dict[str, Any] = {
            "pipeline": chosen.validation.pipeline_id,
            "pipelineParameters": chosen.validation.parameters,
            "waitForCompletion": True,
        }
        if chosen.validation.application:
            run["application"] = chosen.validation.application
        steps.append(SyntheticStage("pipeline", f"Validate at {percent}%", run))
    if chosen.judgment is not None:
        steps.append(SyntheticStage("manualJudgment", f"Judge at {percent}%", dict(chosen.judgment)))
    return steps


def source_step(deployment: Deployment, percent: int) -> SyntheticStage:
    capacities = {region: as_dict(rest_of(source.capacity, percent)) for region, source in deployment.sources.items()}
    name = deployment.source_names()
    title = f"Disable and scale down {name}" if percent == 100 else f"Scale down {name} to {100 - percent}%"
    context = {
        **deployment.base,
        "regions": list(deployment.sources),
        "sourceTargets": {region: source.name for region, source in deployment.sources.items()},
        "targetPercentage": percent,
        "trafficShare": traffic_share(deployment, percent),
        "capacity": capacities,
    }
    return SyntheticStage("scaleDownSource", title, context)


# On failure --------------------------------------------------------------------------------


def failure_plan(context: Mapping[str, Any], reason: str) -> list[SyntheticStage]:
    """The rollback a failed deploy runs: the source back at full capacity and traffic, the new group out."""
    deployment = deployment_of(context)
    if deployment is None or not strategy_of(context):
        return []
    chosen = options(context)
    if not chosen.rolls_back:
        return []
    restored = deployment.source_names()
    if restored:
        title = f"Roll back to {restored}"
    else:
        title = f"{'Destroy' if chosen.destroy_latest else 'Disable'} {deployment.created_names()}"
    rollback = {
        **deployment.base,
        "targets": dict(deployment.created),
        "restoreTargets": {region: source.name for region, source in deployment.sources.items()},
        "restoreCapacity": {region: as_dict(source.capacity) for region, source in deployment.sources.items()},
        "targetHealthyRollbackPercentage": 100,
        "destroyLatest": chosen.destroy_latest,
        "reason": reason,
        "stageTimeoutMs": ROLLBACK_TIMEOUT_MS,
    }
    return [SyntheticStage("rollbackDeploy", title, rollback)]
