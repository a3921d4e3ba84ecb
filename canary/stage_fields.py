"""The ``kayentaCanary`` stage's fields: checked at save time, parsed when the stage runs.

Fields follow Orca's: the analysis settings sit in ``canaryConfig`` (or at the stage's top level,
as the issue lists them; the block wins), the optional ``deployments`` block says what to deploy.
One reader does both jobs: at save time a value written as ``${…}`` passes (it is known only when
the stage runs); at run time the same reader turns the evaluated values into ``CanarySettings``
and ``CanaryDeployments``, or raises ``FieldsInvalid`` naming every bad field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils.dateparse import parse_duration

from clouds import naming
from clouds.stages import checks

Issues = list[tuple[str, str]]
BLOCK = "canaryConfig"
MINUTE_FIELDS = (
    "beginCanaryAnalysisAfterMins",
    "canaryAnalysisIntervalMins",
    "lookbackMins",
    "baselineAnalysisOffsetInMins",
)
DEFAULT_THRESHOLDS = {"marginal": 50.0, "pass": 75.0}
DEFAULT_STEP_SECONDS = 60
DEFAULT_TRAFFIC_PERCENT = 10.0
ENTRY_TEXT = ("account", "region", "stack", "freeFormDetails", "healthCheckPath")


class FieldsInvalid(Exception):
    """Run-time field problems; the message lists them, each naming its field."""

    def __init__(self, issues: Issues) -> None:
        super().__init__(" ".join(f"{path}: {message}" for path, message in issues))
        self.issues = issues


@dataclass(frozen=True)
class CanarySettings:
    """What to judge and when: the config reference, scopes, windows (minutes) and thresholds."""

    config_ref: str
    scopes: list[dict[str, Any]]
    lifetime_minutes: float
    interval_minutes: float
    begin_after_minutes: float
    lookback_minutes: float
    baseline_offset_minutes: float
    thresholds: dict[str, float]


@dataclass(frozen=True)
class CanaryDeployments:
    """The ``deployments`` block: where production runs and the baseline/canary cluster entries."""

    baseline: dict[str, Any]
    control: dict[str, Any]
    experiment: dict[str, Any]
    traffic_percent: float
    delay_before_cleanup: timedelta


def check(stage: Mapping[str, Any]) -> Issues:
    """Save-time issues of a ``kayentaCanary`` stage, each ``(field path, sentence)``."""
    reader = _Reader(stage, lenient=True)
    reader.settings()
    reader.deployments()
    return reader.issues


def settings_of(stage: Mapping[str, Any]) -> CanarySettings:
    """The evaluated stage's analysis settings; raises ``FieldsInvalid``."""
    reader = _Reader(stage, lenient=False)
    parsed = reader.settings()
    if reader.issues:
        raise FieldsInvalid(reader.issues)
    return parsed


def deployments_of(stage: Mapping[str, Any]) -> CanaryDeployments | None:
    """The evaluated stage's ``deployments`` (None without them); raises ``FieldsInvalid``."""
    reader = _Reader(stage, lenient=False)
    parsed = reader.deployments()
    if reader.issues:
        raise FieldsInvalid(reader.issues)
    return parsed


def has_deployments(stage: Mapping[str, Any]) -> bool:
    return stage.get("deployments") is not None


class _Reader:
    """Reads fields, collecting issues; ``lenient`` lets ``${…}`` values through (save time)."""

    def __init__(self, stage: Mapping[str, Any], *, lenient: bool) -> None:
        self.stage = stage
        self.lenient = lenient
        self.issues: Issues = []
        block = stage.get(BLOCK)
        if block is not None and not isinstance(block, dict) and not self.skip(block):
            self.issues.append((BLOCK, "canaryConfig must be an object."))
        self.block: Mapping[str, Any] = block if isinstance(block, dict) else {}

    def skip(self, value: Any) -> bool:
        return self.lenient and checks.is_expression(value)

    def add(self, path: str, message: str) -> None:
        self.issues.append((path, message))

    def field(self, name: str) -> tuple[str, Any]:
        """``(path, value)``: from the ``canaryConfig`` block, else the top level."""
        if name in self.block:
            return f"{BLOCK}.{name}", self.block[name]
        if name in self.stage:
            return name, self.stage[name]
        return f"{BLOCK}.{name}", None

    # Analysis settings ------------------------------------------------------------------------

    def settings(self) -> CanarySettings:
        lifetime = self.lifetime()
        minutes = {name: self.minutes(name) for name in MINUTE_FIELDS}
        interval_path, interval_value = self.field("canaryAnalysisIntervalMins")
        interval = minutes["canaryAnalysisIntervalMins"]
        if interval_value is None or interval is None:
            interval = lifetime
        elif interval == 0:
            self.add(interval_path, "canaryAnalysisIntervalMins must be greater than 0 (or left out: one interval).")
        elif lifetime and interval > lifetime + 1e-9:
            self.add(interval_path, f"canaryAnalysisIntervalMins ({interval:g}) is longer than the lifetime.")
        return CanarySettings(
            config_ref=self.config_ref(),
            scopes=self.scopes(),
            lifetime_minutes=lifetime,
            interval_minutes=interval or lifetime or 1.0,
            begin_after_minutes=minutes["beginCanaryAnalysisAfterMins"] or 0.0,
            lookback_minutes=minutes["lookbackMins"] or 0.0,
            baseline_offset_minutes=minutes["baselineAnalysisOffsetInMins"] or 0.0,
            thresholds=self.thresholds(),
        )

    def config_ref(self) -> str:
        path, value = self.field("canaryConfigId")
        if self.skip(value):
            return ""
        if not isinstance(value, str) or not value.strip():
            self.add(path, "canaryConfigId is required: the id or the name of a canary config.")
            return ""
        return value.strip()

    def lifetime(self) -> float:
        path, value = self.field("lifetimeDuration")
        if value is None and self.field("lifetimeHours")[1] is not None:
            hours_path, hours = self.field("lifetimeHours")
            number = self.number(hours_path, hours, "lifetimeHours must be a number of hours greater than 0.")
            if number is not None and number <= 0:
                self.add(hours_path, "lifetimeHours must be a number of hours greater than 0.")
            return (number or 0.0) * 60
        if self.skip(value):
            return 0.0
        duration = iso_duration(value)
        if duration is None or duration <= timedelta(0):
            self.add(path, "lifetimeDuration must be an ISO-8601 duration greater than zero, such as PT1H or PT30M.")
            return 0.0
        return duration.total_seconds() / 60

    def minutes(self, name: str) -> float | None:
        path, value = self.field(name)
        if value is None:
            return None
        number = self.number(path, value, f"{name} must be a number of minutes, 0 or more.")
        if number is not None and number < 0:
            self.add(path, f"{name} must be a number of minutes, 0 or more.")
            return None
        return number

    def number(self, path: str, value: Any, message: str) -> float | None:
        """A finite number or numeric string; None (with an issue unless it is an expression) else."""
        if self.skip(value):
            return None
        parsed = as_number(value)
        if parsed is None:
            self.add(path, message)
        return parsed

    def thresholds(self) -> dict[str, float]:
        path, value = self.field("scoreThresholds")
        if value is None or self.skip(value):
            return dict(DEFAULT_THRESHOLDS)
        if not isinstance(value, dict):
            self.add(path, 'scoreThresholds must be an object such as {"marginal": 50, "pass": 75}.')
            return dict(DEFAULT_THRESHOLDS)
        found: dict[str, float] = {}
        for key, default in DEFAULT_THRESHOLDS.items():
            item = value.get(key, default)
            number = self.number(f"{path}.{key}", item, f"scoreThresholds.{key} must be a number from 0 to 100.")
            if number is not None and not 0 <= number <= 100:
                self.add(f"{path}.{key}", f"scoreThresholds.{key} must be a number from 0 to 100.")
                number = None
            found[key] = default if number is None else number
        if found["marginal"] > found["pass"]:
            self.add(f"{path}.marginal", "scoreThresholds.marginal must not be above scoreThresholds.pass.")
        return found

    def scopes(self) -> list[dict[str, Any]]:
        path, value = self.field("scopes")
        deployed = has_deployments(self.stage)
        if self.skip(value):
            return []
        if value is None and deployed:
            return [{"scopeName": "default"}]
        if not isinstance(value, list) or not value:
            self.add(path, "scopes must be a non-empty list of scopes (scopeName, controlScope, experimentScope).")
            return []
        return [scope for index, item in enumerate(value) if (scope := self.scope(f"{path}[{index}]", item, deployed))]

    def scope(self, path: str, item: Any, deployed: bool) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            self.add(path, "Each scope must be an object.")
            return None
        required = ["scopeName"] if deployed else ["scopeName", "controlScope", "experimentScope"]
        for key in ("scopeName", "controlScope", "experimentScope", "controlLocation", "experimentLocation"):
            value = item.get(key)
            if (value is None and key not in required) or self.skip(value):
                continue
            if not isinstance(value, str) or not value.strip():
                hint = (
                    " (or give deployments, which fill it in)" if key.endswith("Scope") and key != "scopeName" else ""
                )
                self.add(f"{path}.{key}", f"{key} must be a non-empty string{hint}.")
        step = item.get("step", DEFAULT_STEP_SECONDS)
        if not self.skip(step) and (isinstance(step, bool) or not isinstance(step, int) or step < 1):
            self.add(f"{path}.step", "step must be a whole number of seconds, at least 1.")
        return {**item, "step": step if isinstance(step, int) and not isinstance(step, bool) else DEFAULT_STEP_SECONDS}

    # Deployments ------------------------------------------------------------------------------

    def deployments(self) -> CanaryDeployments | None:
        value = self.stage.get("deployments")
        if value is None or self.skip(value):
            return None
        if not isinstance(value, dict):
            self.add("deployments", "deployments must be an object with baseline and serverGroupPairs.")
            return None
        baseline = self.baseline(value.get("baseline"))
        control, experiment = self.pair(value.get("serverGroupPairs"))
        percent = self.traffic_percent(value.get("trafficPercent", DEFAULT_TRAFFIC_PERCENT))
        delay = self.delay(value.get("delayBeforeCleanup", "PT0S"))
        return CanaryDeployments(baseline, control, experiment, percent, delay)

    def baseline(self, value: Any) -> dict[str, Any]:
        path = "deployments.baseline"
        if not isinstance(value, dict):
            self.add(path, 'baseline must be an object such as {"account": "local", "cluster": "shop-web"}.')
            return {}
        for key in ("account", "cluster"):
            if not self.skip(value.get(key)) and not _text(value.get(key)):
                self.add(f"{path}.{key}", f"baseline.{key} must be a non-empty string.")
        if "region" in value and not self.skip(value["region"]) and not _text(value["region"]):
            self.add(f"{path}.region", "baseline.region must be a non-empty string.")
        if _text(value.get("cluster")):
            self.issues += checks.cluster(value, at=f"{path}.")
        return value

    def pair(self, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        path = "deployments.serverGroupPairs"
        if not isinstance(value, list) or len(value) != 1:
            self.add(path, "serverGroupPairs must be a list of exactly one {control, experiment} pair.")
            return {}, {}
        pair = value[0]
        if not isinstance(pair, dict):
            self.add(f"{path}[0]", "The pair must be an object with control and experiment.")
            return {}, {}
        control = self.entry(f"{path}[0].control", pair.get("control"))
        experiment = self.entry(f"{path}[0].experiment", pair.get("experiment"))
        artifact = experiment.get("artifact")
        if not self.skip(artifact) and not _artifact(artifact):
            message = 'experiment.artifact must be {"name": ..., "version": ...}: the version the canary runs.'
            self.add(f"{path}[0].experiment.artifact", message)
        return control, experiment

    def entry(self, path: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.add(path, "Give a cluster entry (account, stack, freeFormDetails, region, capacity).")
            return {}
        for key in ENTRY_TEXT:
            item = value.get(key)
            if item is not None and not self.skip(item) and not isinstance(item, str):
                self.add(f"{path}.{key}", f"{key} must be a string.")
        for key, validate in (("stack", naming.validate_stack), ("freeFormDetails", naming.validate_detail)):
            item = value.get(key)
            if isinstance(item, str) and not self.skip(item):
                try:
                    validate(item)
                except naming.NamingError as exc:
                    self.add(f"{path}.{key}", str(exc))
        if "capacity" in value:
            self.issues += checks.capacity(value["capacity"], f"{path}.capacity")
        self.issues += self.string_map(f"{path}.environment", value.get("environment"))
        balancers = value.get("loadBalancers")
        if balancers is not None and not self.skip(balancers) and not _text_list(balancers):
            self.add(f"{path}.loadBalancers", "loadBalancers must be a list of load balancer names.")
        return value

    def string_map(self, path: str, value: Any) -> Issues:
        if value is None or self.skip(value):
            return []
        if not isinstance(value, dict):
            return [(path, "environment must be an object of names to string values.")]
        return [
            (f"{path}.{name}", f"The value of environment variable {name} must be a string or a number.")
            for name, item in value.items()
            if isinstance(item, bool) or not isinstance(item, (str, int, float))
        ]

    def traffic_percent(self, value: Any) -> float:
        path, message = "deployments.trafficPercent", "trafficPercent must be a number above 0 and below 50."
        number = self.number(path, value, message)
        if number is not None and not 0 < number < 50:
            self.add(path, message)
            return DEFAULT_TRAFFIC_PERCENT
        return DEFAULT_TRAFFIC_PERCENT if number is None else number

    def delay(self, value: Any) -> timedelta:
        if self.skip(value):
            return timedelta(0)
        duration = iso_duration(value)
        if duration is None or duration < timedelta(0):
            self.add("deployments.delayBeforeCleanup", "delayBeforeCleanup must be an ISO-8601 duration such as PT5M.")
            return timedelta(0)
        return duration


def iso_duration(value: Any) -> timedelta | None:
    """An ISO-8601 duration (``PT1H``, ``PT0.5M``); None for anything else."""
    if not isinstance(value, str) or not value.strip().upper().startswith("P"):
        return None
    return parse_duration(value.strip().upper())


def as_number(value: Any) -> float | None:
    """A finite number, or a string holding one; None otherwise (booleans are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _text_list(value: Any) -> bool:
    return isinstance(value, list) and all(_text(item) for item in value)


def _artifact(value: Any) -> bool:
    return isinstance(value, dict) and all(_text(value.get(part)) for part in ("name", "version"))
