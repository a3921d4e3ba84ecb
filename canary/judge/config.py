"""The subset of Kayenta's canary-config JSON the judge reads, parsed and checked.

Kayenta reads these keys leniently (an unknown ``direction`` silently becomes ``either``, a
misspelt ``nanStrategy`` becomes ``remove``). Here a value Kayenta would not recognise is an
error naming its JSON path, so a typo cannot quietly change what a verdict means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CONF_LEVEL = 0.98  # hard-coded in NetflixACAJudge
DEFAULT_TOLERANCE = 0.25  # hard-coded in NetflixACAJudge
DEFAULT_OUTLIER_FACTOR = 3.0
DIRECTIONS = ("increase", "decrease", "either")
NAN_STRATEGIES = {"remove": "remove", "replace": "replace", "none": "remove"}
OUTLIER_STRATEGIES = ("remove", "keep")
MEASURES = {"meanratio": "meanRatio", "cles": "cles"}


class JudgeInputError(ValueError):
    """Bad judge input; ``path`` is the JSON path of the offending value."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class EffectSize:
    measure: str = "meanRatio"
    allowed_increase: float = 1.0
    allowed_decrease: float = 1.0
    critical_increase: float = 1.0
    critical_decrease: float = 1.0


@dataclass(frozen=True)
class MetricConfig:
    name: str
    groups: tuple[str, ...] = ()
    direction: str = "either"
    nan_strategy: str = "remove"
    critical: bool = False
    must_have_data: bool = False
    muted: bool = False
    effect_size: EffectSize = field(default_factory=EffectSize)
    remove_outliers: bool = False
    outlier_factor: float = DEFAULT_OUTLIER_FACTOR


@dataclass(frozen=True)
class JudgeConfig:
    metrics: tuple[MetricConfig, ...]
    group_weights: dict[str, float]
    conf_level: float = DEFAULT_CONF_LEVEL
    tolerance: float = DEFAULT_TOLERANCE
    judge_name: str | None = None

    def metric(self, name: str) -> MetricConfig | None:
        return next((metric for metric in self.metrics if metric.name == name), None)


def _object(value: Any, path: str, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise JudgeInputError(path, "must be a JSON object.")
    return value


def _number(value: Any, path: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise JudgeInputError(path, "must be a finite number.")
    return float(value)


def _boolean(value: Any, path: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise JudgeInputError(path, "must be true or false.")
    return value


def _choice(value: Any, path: str, choices: dict[str, str], default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or value.lower() not in choices:
        raise JudgeInputError(path, f"must be one of {', '.join(sorted(set(choices)))}.")
    return choices[value.lower()]


def _effect_size(block: dict[str, Any], path: str) -> EffectSize:
    measure = _choice(block.get("measure"), f"{path}.measure", MEASURES, "meanRatio")
    default = 0.5 if measure == "cles" else 1.0
    keys = ("allowedIncrease", "allowedDecrease", "criticalIncrease", "criticalDecrease")
    values = [_number(block.get(key), f"{path}.{key}", default) for key in keys]
    return EffectSize(measure, *values)


def _groups(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(group, str) and group for group in value):
        raise JudgeInputError(path, "must be a list of group names.")
    return tuple(value)


def parse_metric(document: Any, path: str) -> MetricConfig:
    metric = _object(document, path, required=True)
    name = metric.get("name")
    if not isinstance(name, str) or not name:
        raise JudgeInputError(f"{path}.name", "is required and must be a non-empty string.")
    analysis = _object(metric.get("analysisConfigurations"), f"{path}.analysisConfigurations")
    canary_path = f"{path}.analysisConfigurations.canary"
    canary = _object(analysis.get("canary"), canary_path)
    outliers = _object(canary.get("outliers"), f"{canary_path}.outliers")
    factor = _number(outliers.get("outlierFactor"), f"{canary_path}.outliers.outlierFactor", DEFAULT_OUTLIER_FACTOR)
    strategy = _choice(
        outliers.get("strategy"), f"{canary_path}.outliers.strategy", {"remove": "remove", "keep": "keep"}, "keep"
    )
    return MetricConfig(
        name=name,
        groups=_groups(metric.get("groups"), f"{path}.groups"),
        direction=_choice(canary.get("direction"), f"{canary_path}.direction", {d: d for d in DIRECTIONS}, "either"),
        nan_strategy=_choice(canary.get("nanStrategy"), f"{canary_path}.nanStrategy", NAN_STRATEGIES, "remove"),
        critical=_boolean(canary.get("critical"), f"{canary_path}.critical"),
        must_have_data=_boolean(canary.get("mustHaveData"), f"{canary_path}.mustHaveData"),
        muted=_boolean(canary.get("muted"), f"{canary_path}.muted"),
        effect_size=_effect_size(
            _object(canary.get("effectSize"), f"{canary_path}.effectSize"), f"{canary_path}.effectSize"
        ),
        remove_outliers=strategy == "remove",
        outlier_factor=factor,
    )


def _group_weights(document: dict[str, Any], path: str) -> dict[str, float]:
    classifier = _object(document.get("classifier"), f"{path}.classifier")
    weights = _object(classifier.get("groupWeights"), f"{path}.classifier.groupWeights")
    return {group: _number(weight, f"{path}.classifier.groupWeights.{group}", 0.0) for group, weight in weights.items()}


def _judge_settings(document: dict[str, Any], path: str) -> tuple[str | None, float, float]:
    judge = _object(document.get("judge"), f"{path}.judge")
    name = judge.get("name")
    if name is not None and not isinstance(name, str):
        raise JudgeInputError(f"{path}.judge.name", "must be a string.")
    settings_path = f"{path}.judge.judgeConfigurations"
    settings = _object(judge.get("judgeConfigurations"), settings_path)
    conf_level = _number(settings.get("confLevel"), f"{settings_path}.confLevel", DEFAULT_CONF_LEVEL)
    if not 0.0 < conf_level < 1.0:
        raise JudgeInputError(f"{settings_path}.confLevel", "must be between 0 and 1, exclusive.")
    tolerance = _number(settings.get("tolerance"), f"{settings_path}.tolerance", DEFAULT_TOLERANCE)
    if tolerance < 0:
        raise JudgeInputError(f"{settings_path}.tolerance", "must not be negative.")
    return name, conf_level, tolerance


def parse_canary_config(document: Any, path: str = "canaryConfig") -> JudgeConfig:
    """Parse a Kayenta canary config; raises ``JudgeInputError`` naming the first bad value."""
    config = _object(document, path, required=True)
    raw_metrics = config.get("metrics")
    if not isinstance(raw_metrics, list) or not raw_metrics:
        raise JudgeInputError(f"{path}.metrics", "must be a non-empty list of metrics.")
    metrics = tuple(parse_metric(metric, f"{path}.metrics[{index}]") for index, metric in enumerate(raw_metrics))
    seen: set[str] = set()
    for index, metric in enumerate(metrics):
        if metric.name in seen:
            raise JudgeInputError(f"{path}.metrics[{index}].name", f"duplicates the metric name {metric.name!r}.")
        seen.add(metric.name)
    judge_name, conf_level, tolerance = _judge_settings(config, path)
    return JudgeConfig(metrics, _group_weights(config, path), conf_level, tolerance, judge_name)
