"""Save-time checks shared by the cluster stages: ``[(field path, sentence)]``, paths relative to the stage.

A value written as ``${…}`` is known only when the stage runs, so it passes here; the tasks check
it again (``clouds.stages.common``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clouds import naming
from clouds.stages.targets import TARGETS

Issues = list[tuple[str, str]]


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def text(stage: Mapping[str, Any], key: str, *, required: bool = True, at: str = "") -> Issues:
    value = stage.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, str) or not value.strip():
        return [(at + key, f"{key} must be a non-empty string.")]
    return []


def whole(stage: Mapping[str, Any], key: str, *, low: int = 0, high: int | None = None, at: str = "") -> Issues:
    """An optional whole number within [low, high]."""
    value = stage.get(key)
    if value is None or is_expression(value):
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        return [(at + key, f"{key} must be a whole number of at least {low}{upper}.")]
    return []


def flags(stage: Mapping[str, Any], *keys: str, at: str = "") -> Issues:
    return [
        (at + key, f"{key} must be true or false.")
        for key in keys
        if key in stage and not isinstance(stage[key], bool) and not is_expression(stage[key])
    ]


def account(stage: Mapping[str, Any], key: str = "credentials", *, at: str = "") -> Issues:
    return text(stage, key, at=at)


def regions(stage: Mapping[str, Any], *, at: str = "") -> Issues:
    """``regions`` (a list of names) or ``region`` (one name)."""
    if "regions" in stage:
        value = stage["regions"]
        if is_expression(value):
            return []
        if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
            return [(at + "regions", "regions must be a non-empty list of region names.")]
        return []
    if "region" in stage:
        return text(stage, "region", at=at)
    return [(at + "regions", 'Give the regions to act in (regions: ["local"]) or one region.')]


def cluster(stage: Mapping[str, Any], *, required: bool = True, at: str = "") -> Issues:
    value = stage.get("cluster")
    if value is None and not required:
        return []
    if is_expression(value):
        return []
    if not isinstance(value, str) or not value:
        return [(at + "cluster", "cluster must be a cluster name such as shop-web.")]
    try:
        moniker = naming.parse(value)
    except naming.NamingError as exc:
        return [(at + "cluster", str(exc))]
    if moniker.sequence is not None:
        return [(at + "cluster", f"{value!r} is a server group name; a cluster name has no -vNNN.")]
    return []


def server_group_name(stage: Mapping[str, Any], key: str = "serverGroupName", *, at: str = "") -> Issues:
    value = stage.get(key)
    if is_expression(value):
        return []
    if not isinstance(value, str) or not naming.is_server_group_name(value):
        return [(at + key, f"{key} must be a server group name such as shop-web-v003.")]
    return []


def target(stage: Mapping[str, Any]) -> Issues:
    """Exactly one of ``serverGroupName`` and ``target``; without a name, ``cluster`` is needed."""
    has_name, has_target = bool(stage.get("serverGroupName")), bool(stage.get("target"))
    if has_name and has_target:
        return [("target", "Give serverGroupName or target, not both.")]
    if has_name:
        return server_group_name(stage) + cluster(stage, required=False)
    if not has_target:
        return [("target", f"Give serverGroupName or a target ({', '.join(TARGETS)}).")]
    value = stage["target"]
    issues = cluster(stage)
    if not is_expression(value) and value not in TARGETS:
        issues.append(("target", f"Unknown target {value!r}; use one of {', '.join(TARGETS)}."))
    return issues


def percent(stage: Mapping[str, Any], key: str, *, at: str = "") -> Issues:
    value = stage.get(key)
    if value is None or is_expression(value):
        return []
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        return [(at + key, f"{key} must be a number from 0 to 100.")]
    return []


def capacity(value: Any, at: str, *, partial: bool = False) -> Issues:
    """``{min, max, desired}``, whole numbers with min <= desired <= max (``partial``: keys optional)."""
    if is_expression(value):
        return []
    if not isinstance(value, dict):
        return [(at, "capacity must be an object with min, max and desired.")]
    issues: Issues = []
    numbers: dict[str, int] = {}
    for key in ("min", "max", "desired"):
        item = value.get(key)
        if item is None and partial:
            continue
        if is_expression(item):
            return issues
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            issues.append((f"{at}.{key}", f"capacity.{key} must be a whole number, 0 or more."))
        else:
            numbers[key] = item
    if not issues and len(numbers) == 3 and not numbers["min"] <= numbers["desired"] <= numbers["max"]:
        issues.append((at, "capacity must satisfy min <= desired <= max."))
    return issues


def one_of(stage: Mapping[str, Any], key: str, allowed: tuple[str, ...], *, at: str = "") -> Issues:
    value = stage.get(key)
    if value is None or is_expression(value) or value in allowed:
        return []
    return [(at + key, f"{key} must be one of {', '.join(repr(item) for item in allowed)}, not {value!r}.")]
