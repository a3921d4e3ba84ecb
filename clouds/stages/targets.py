"""The decisions of the cluster stages, as pure functions over one cluster's server groups in one region.

Which group a ``target`` names, which groups ``disableCluster``, ``scaleDownCluster`` and
``shrinkCluster`` act on, what a rollback restores, which group ``findImageFromCluster`` reads, and
the capacity a resize asks for. The rules are Spinnaker's (Orca's cluster-wide tasks, Clouddriver's
target resolution), with one difference: a group is *active* when it is enabled, i.e. in its load
balancers. (Spinnaker also counts a disabled group with instances "Up" in discovery as active; a
local or Kubernetes instance stays healthy after its group leaves the load balancer, so health
cannot tell.)

Every function takes the groups in any order and sorts them itself, newest first by creation time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clouds.providers.base import Capacity, ServerGroupState

CURRENT = "current_asg_dynamic"
ANCESTOR = "ancestor_asg_dynamic"
OLDEST = "oldest_asg_dynamic"
# The static spellings Deck also writes; here they resolve when the stage runs, like the dynamic ones.
TARGETS: Mapping[str, str] = {
    CURRENT: CURRENT,
    ANCESTOR: ANCESTOR,
    OLDEST: OLDEST,
    "current_asg": CURRENT,
    "ancestor_asg": ANCESTOR,
}
SELECTION_STRATEGIES = ("NEWEST", "LARGEST", "OLDEST", "FAIL")
RESIZE_ACTIONS = ("scale_exact", "scale_up", "scale_down")


class SelectionError(ValueError):
    """The groups present do not allow what the stage asks; the message is a sentence for the user."""


def newest_first(groups: Iterable[ServerGroupState]) -> list[ServerGroupState]:
    return sorted(groups, key=lambda group: group.created_at, reverse=True)


def is_active(group: ServerGroupState) -> bool:
    return group.enabled


def describe(groups: Iterable[ServerGroupState]) -> str:
    names = [group.name for group in newest_first(groups)]
    return ", ".join(names) if names else "none"


# Targets -----------------------------------------------------------------------------------


def resolve_target(groups: list[ServerGroupState], target: str) -> ServerGroupState:
    """The group ``target`` names: the newest, the one before it, or the oldest."""
    kind = TARGETS.get(target)
    if kind is None:
        raise SelectionError(f"Unknown target {target!r}; use one of {', '.join(TARGETS)}.")
    ordered = newest_first(groups)
    if not ordered:
        raise SelectionError(f"There is no server group for target {target}: the cluster is empty here.")
    if kind == CURRENT:
        return ordered[0]
    if kind == OLDEST:
        return ordered[-1]
    if len(ordered) < 2:
        raise SelectionError(
            f"There is no server group for target {target}: only {ordered[0].name} exists, with nothing before it."
        )
    return ordered[1]


# Cluster-wide selections -------------------------------------------------------------------


def preserved(groups: list[ServerGroupState], deployed: Iterable[str]) -> set[str]:
    """Names a cluster-wide stage leaves alone: what the enclosing deploy created, and anything newer.

    As Orca: a strategy's cleanup never touches the group it just deployed, nor a group another
    deploy created meanwhile.
    """
    names = set(deployed)
    mine = [group for group in groups if group.name in names]
    if not mine:
        return set()
    oldest = min(group.created_at for group in mine)
    return {group.name for group in groups if group.name in names or group.created_at > oldest}


def _priority(groups: list[ServerGroupState], *, active_first: bool, larger_first: bool) -> list[ServerGroupState]:
    """Groups in the order to keep them: (active), (more instances), newer."""
    ordered = newest_first(groups)
    if larger_first:
        ordered.sort(key=lambda group: len(group.instances), reverse=True)
    if active_first:
        ordered.sort(key=is_active, reverse=True)
    return ordered


def to_disable(
    groups: list[ServerGroupState],
    *,
    remaining: int = 1,
    prefer_larger: bool = False,
    keep: Iterable[str] = (),
) -> list[ServerGroupState]:
    """``disableCluster``: disable active groups until ``remaining`` are left (kept ones count)."""
    kept = set(keep)
    candidates = [group for group in groups if group.name not in kept]
    drop = max(0, remaining - (len(groups) - len(candidates)))
    active = [group for group in candidates if is_active(group)]
    return _priority(active, active_first=False, larger_first=prefer_larger)[drop:]


def to_scale_down(
    groups: list[ServerGroupState],
    *,
    remaining: int = 1,
    allow_active: bool = False,
    prefer_larger: bool = False,
    keep: Iterable[str] = (),
) -> list[ServerGroupState]:
    """``scaleDownCluster``: groups to resize to 0, leaving ``remaining`` at full size.

    Groups already at zero are left out: there is nothing to do to them.
    """
    chosen = _beyond(groups, remaining, allow_active=allow_active, larger_first=prefer_larger, keep=keep)
    return [group for group in chosen if group.capacity.desired or group.capacity.max or group.instances]


def to_shrink(
    groups: list[ServerGroupState],
    *,
    shrink_to: int = 1,
    allow_delete_active: bool = False,
    retain_larger: bool = False,
    keep: Iterable[str] = (),
) -> list[ServerGroupState]:
    """``shrinkCluster``: groups to destroy so that ``shrink_to`` remain."""
    return _beyond(groups, shrink_to, allow_active=allow_delete_active, larger_first=retain_larger, keep=keep)


def _beyond(
    groups: list[ServerGroupState], count: int, *, allow_active: bool, larger_first: bool, keep: Iterable[str]
) -> list[ServerGroupState]:
    """The groups past the first ``count`` to retain; groups not eligible count as retained."""
    kept = set(keep)
    candidates = [group for group in groups if group.name not in kept and (allow_active or not is_active(group))]
    drop = max(0, count - (len(groups) - len(candidates)))
    return _priority(candidates, active_first=allow_active, larger_first=larger_first)[drop:]


# Rollback ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollbackPlan:
    """Roll back from ``rollback`` (the bad group) to ``restore`` (the one to bring back)."""

    rollback: ServerGroupState
    restore: ServerGroupState

    @property
    def restore_capacity(self) -> Capacity:
        """The restored group's capacity: at least what the rolled-back group ran, as Spinnaker."""
        old, bad = self.restore.capacity, self.rollback.capacity
        if old.desired >= bad.desired:
            return old
        return Capacity(min=max(old.min, bad.min), max=max(old.max, bad.desired), desired=bad.desired)


def plan_rollback(groups: list[ServerGroupState], rollback: str, restore: str | None = None) -> RollbackPlan:
    """``restore`` given: that group (EXPLICIT). Without: the newest group older than ``rollback``."""
    by_name = {group.name: group for group in groups}
    bad = by_name.get(rollback)
    if bad is None:
        raise SelectionError(f"There is no server group {rollback} to roll back (present: {describe(groups)}).")
    if restore is not None:
        if restore == rollback:
            raise SelectionError(f"{rollback} cannot be rolled back to itself.")
        if restore not in by_name:
            raise SelectionError(f"There is no server group {restore} to restore (present: {describe(groups)}).")
        return RollbackPlan(bad, by_name[restore])
    older = [group for group in newest_first(groups) if group.created_at < bad.created_at]
    if not older:
        raise SelectionError(f"{rollback} is the oldest server group of its cluster here; there is nothing to restore.")
    return RollbackPlan(bad, older[0])


def plan_cluster_rollback(groups: list[ServerGroupState]) -> RollbackPlan:
    """``rollbackCluster``: from the newest group back to the one before it."""
    ordered = newest_first(groups)
    if not ordered:
        raise SelectionError("The cluster has no server group here; there is nothing to roll back.")
    if len(ordered) < 2:
        raise SelectionError(f"{ordered[0].name} is the only server group here; there is nothing to roll back to.")
    return RollbackPlan(ordered[0], ordered[1])


# Finding an image --------------------------------------------------------------------------


def select_image_source(groups: list[ServerGroupState], strategy: str, *, only_enabled: bool) -> ServerGroupState:
    """The group whose artifact ``findImageFromCluster`` reports."""
    pool = [group for group in groups if group.enabled] if only_enabled else list(groups)
    what = "enabled server group" if only_enabled else "server group"
    if not pool:
        raise SelectionError(f"There is no {what} here to take an artifact from.")
    ordered = newest_first(pool)
    if strategy == "NEWEST":
        return ordered[0]
    if strategy == "OLDEST":
        return ordered[-1]
    if strategy == "LARGEST":
        return max(ordered, key=lambda group: len(group.instances))  # first (newest) wins ties
    if strategy == "FAIL":
        if len(ordered) > 1:
            raise SelectionError(f"selectionStrategy FAIL: more than one {what} found ({describe(ordered)}).")
        return ordered[0]
    raise SelectionError(f"Unknown selectionStrategy {strategy!r}; use one of {', '.join(SELECTION_STRATEGIES)}.")


# Resizing ----------------------------------------------------------------------------------


def resized_capacity(current: Capacity, request: Mapping[str, Any]) -> Capacity:
    """The capacity a ``resizeServerGroup`` stage asks for, given the group's current one.

    ``scale_exact`` (the default) takes ``capacity``, keeping current values for keys not given;
    ``scale_up`` / ``scale_down`` change ``desired`` by ``scaleNum`` instances or ``scalePct``
    percent of the current desired (rounded up), widening max or min when needed.
    """
    action = request.get("action") or "scale_exact"
    if action == "scale_exact":
        given = request.get("capacity") or {}
        wanted = Capacity(
            min=int(given.get("min", current.min)),
            max=int(given.get("max", current.max)),
            desired=int(given.get("desired", current.desired)),
        )
    elif action in ("scale_up", "scale_down"):
        step = _step(current, request)
        if action == "scale_up":
            desired = current.desired + step
            wanted = Capacity(min=current.min, max=max(current.max, desired), desired=desired)
        else:
            desired = max(0, current.desired - step)
            wanted = Capacity(min=min(current.min, desired), max=current.max, desired=desired)
    else:
        raise SelectionError(f"Unknown resize action {action!r}; use one of {', '.join(RESIZE_ACTIONS)}.")
    if not 0 <= wanted.min <= wanted.desired <= wanted.max:
        raise SelectionError(
            f"The capacity must satisfy 0 <= min <= desired <= max; "
            f"this resize gives min {wanted.min}, desired {wanted.desired}, max {wanted.max}."
        )
    return wanted


def _step(current: Capacity, request: Mapping[str, Any]) -> int:
    if request.get("scalePct") not in (None, ""):
        return math.ceil(current.desired * float(request["scalePct"]) / 100)
    if request.get("scaleNum") not in (None, ""):
        return int(request["scaleNum"])
    raise SelectionError("scale_up and scale_down need scaleNum (instances) or scalePct (percent).")


def needed_up(desired: int, percent: float) -> int:
    """Instances that must be UP for ``percent`` of ``desired`` to count as healthy (rounded up)."""
    return math.ceil(desired * percent / 100)
