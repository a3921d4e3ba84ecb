"""The ``canary judge`` document: a canary config, score thresholds and raw metric values.

{"canaryConfig": {...}, "scoreThresholds": {"marginal": M, "pass": P},
 "metrics": {"<metric name>": {"control": [1.0, "NaN", ...], "experiment": [...]}}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from canary.judge import judge_for
from canary.judge.config import JudgeConfig, JudgeInputError, parse_canary_config
from canary.judge.mannwhitney import FloatArray
from canary.judge.netflix import MetricSetPair
from canary.judge.results import JudgeResult
from canary.judge.scoring import Thresholds

# Prometheus writes these; Kayenta's converter maps them to NaN and the infinities.
SPECIAL_VALUES = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "infinity": math.inf, "-inf": -math.inf}
SPECIAL_VALUES["-infinity"] = -math.inf


@dataclass(frozen=True)
class JudgeRequest:
    config: JudgeConfig
    thresholds: Thresholds
    pairs: tuple[MetricSetPair, ...]


def _threshold(block: dict[str, Any], key: str, default: float) -> float:
    value = block.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise JudgeInputError(f"scoreThresholds.{key}", "must be a number from 0 to 100.")
    return float(value)


def parse_thresholds(value: Any) -> Thresholds:
    if value is None:
        return Thresholds()
    if not isinstance(value, dict):
        raise JudgeInputError("scoreThresholds", "must be a JSON object with marginal and pass.")
    thresholds = Thresholds(marginal=_threshold(value, "marginal", 50.0), passing=_threshold(value, "pass", 75.0))
    if thresholds.marginal > thresholds.passing:
        raise JudgeInputError("scoreThresholds.marginal", "must not be above scoreThresholds.pass.")
    return thresholds


def parse_values(value: Any, path: str) -> FloatArray:
    """A list of numbers, "NaN" or "+Inf"/"-Inf"; anything else is an error naming its index."""
    if not isinstance(value, list):
        raise JudgeInputError(path, 'must be a list of numbers or "NaN".')
    if all(type(item) is float or type(item) is int for item in value):
        return np.asarray(value, dtype=np.float64)
    numbers = []
    for index, item in enumerate(value):
        if isinstance(item, str) and item.strip().lower() in SPECIAL_VALUES:
            numbers.append(SPECIAL_VALUES[item.strip().lower()])
        elif isinstance(item, int | float) and not isinstance(item, bool):
            numbers.append(float(item))
        else:
            raise JudgeInputError(f"{path}[{index}]", f'must be a number or "NaN", not {item!r}.')
    return np.asarray(numbers, dtype=np.float64)


def parse_pairs(value: Any, config: JudgeConfig) -> tuple[MetricSetPair, ...]:
    if not isinstance(value, dict):
        raise JudgeInputError("metrics", "must be a JSON object keyed by metric name.")
    pairs = []
    for name, series in value.items():
        path = f"metrics.{name}"
        if config.metric(name) is None:
            raise JudgeInputError(path, "no metric of this name in canaryConfig.metrics.")
        if not isinstance(series, dict):
            raise JudgeInputError(path, "must be a JSON object with control and experiment.")
        for side in ("control", "experiment"):
            if side not in series:
                raise JudgeInputError(f"{path}.{side}", "is required.")
        control = parse_values(series["control"], f"{path}.control")
        experiment = parse_values(series["experiment"], f"{path}.experiment")
        pairs.append(MetricSetPair(name, control, experiment))
    return tuple(pairs)


def parse_request(document: Any) -> JudgeRequest:
    """Parse and check a whole request; raises ``JudgeInputError`` naming the first bad field."""
    if not isinstance(document, dict):
        raise JudgeInputError("(document)", "must be a JSON object with canaryConfig and metrics.")
    if "canaryConfig" not in document:
        raise JudgeInputError("canaryConfig", "is required.")
    config = parse_canary_config(document["canaryConfig"])
    return JudgeRequest(
        config, parse_thresholds(document.get("scoreThresholds")), parse_pairs(document.get("metrics"), config)
    )


def judge_request(document: Any) -> JudgeResult:
    request = parse_request(document)
    return judge_for(request.config.judge_name).judge(request.config, request.thresholds, request.pairs)
