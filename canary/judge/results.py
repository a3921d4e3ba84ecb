"""What the judge returns: per-metric results, group scores and the overall verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from canary.judge.stats import SummaryStats, summary

PASS, HIGH, LOW = "Pass", "High", "Low"
NODATA, NODATA_FAIL_METRIC, ERROR = "Nodata", "NodataFailMetric", "Error"
MARGINAL, FAIL = "Marginal", "Fail"
NAN = float("nan")
EMPTY_STATS = summary(np.zeros(0))


def json_number(value: float) -> float | None:
    """JSON has no NaN or infinity; an undefined figure is reported as null."""
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class MetricResult:
    """One metric's classification, with the evidence behind it."""

    name: str
    classification: str
    reason: str
    critical: bool = False
    groups: tuple[str, ...] = ()
    muted: bool = False
    estimate: float = NAN
    ci_lower: float = NAN
    ci_upper: float = NAN
    effect_size: float = NAN
    deviation: float = NAN  # Kayenta's resultMetadata.ratio: mean(experiment) / mean(control)
    control_stats: SummaryStats = EMPTY_STATS
    experiment_stats: SummaryStats = EMPTY_STATS

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classification": self.classification,
            "reason": self.reason,
            "critical": self.critical,
            "estimate": json_number(self.estimate),
            "ciLower": json_number(self.ci_lower),
            "ciUpper": json_number(self.ci_upper),
            "effectSize": json_number(self.effect_size),
            "controlStats": _stats_dict(self.control_stats),
            "experimentStats": _stats_dict(self.experiment_stats),
            "deviation": json_number(self.deviation),
            "groups": list(self.groups),
            "muted": self.muted,
        }


def _stats_dict(stats: SummaryStats) -> dict[str, float | int | None]:
    return {key: value if isinstance(value, int) else json_number(value) for key, value in stats.as_dict().items()}


@dataclass(frozen=True)
class GroupScore:
    name: str
    score: float
    no_data: bool
    classification: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score, "classification": self.classification}


@dataclass(frozen=True)
class JudgeResult:
    """The overall verdict: ``score`` 0-100, Pass / Marginal / Fail and why."""

    judge_name: str
    score: float
    classification: str
    reason: str
    group_scores: tuple[GroupScore, ...] = ()
    metrics: tuple[MetricResult, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge_name,
            "score": self.score,
            "classification": self.classification,
            "reason": self.reason,
            "groupScores": [group.as_dict() for group in self.group_scores],
            "metrics": [metric.as_dict() for metric in self.metrics],
        }
