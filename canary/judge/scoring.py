"""Group scores, the weighted summary score and Pass / Marginal / Fail, as Kayenta's
WeightedSumScorer and ThresholdScoreClassifier compute them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from canary.judge.results import (
    ERROR,
    FAIL,
    HIGH,
    LOW,
    MARGINAL,
    NODATA,
    NODATA_FAIL_METRIC,
    PASS,
    GroupScore,
    MetricResult,
)

NODATA_THRESHOLD = 50.0  # percent of metrics with Nodata at which the canary fails


@dataclass(frozen=True)
class Thresholds:
    """Orca's defaults: pass 75, marginal 50."""

    marginal: float = 50.0
    passing: float = 75.0


@dataclass(frozen=True)
class Score:
    score: float
    classification: str
    reason: str
    groups: tuple[GroupScore, ...]


def round_half_up(value: float, places: int = 2) -> float:
    """commons-math MathUtils.round: BigDecimal of the shortest decimal form, HALF_UP."""
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _grade(score: float, thresholds: Thresholds) -> str:
    if score >= thresholds.passing:
        return PASS
    return MARGINAL if score >= thresholds.marginal else FAIL


def group_scores(results: Sequence[MetricResult], thresholds: Thresholds) -> tuple[GroupScore, ...]:
    """100 * Pass / (Pass + High + Low + NodataFailMetric + Error) per group; Nodata is left out.

    Kayenta leaves Error out too, so a group whose only metric errors counts as "no data" (100)
    and the canary can pass without having judged anything; here an Error counts against its
    group. A metric in two groups counts in both; groups keep the order they first appear in."""
    labels: dict[str, list[str]] = {}
    for result in results:
        for group in result.groups:
            labels.setdefault(group, []).append(result.classification)
    scores = []
    for name, classes in labels.items():
        counted = [label for label in classes if label in (PASS, HIGH, LOW, NODATA_FAIL_METRIC, ERROR)]
        if not counted:
            scores.append(GroupScore(name, 0.0, no_data=True, classification=NODATA))
            continue
        score = counted.count(PASS) / len(counted) * 100
        scores.append(GroupScore(name, score, no_data=False, classification=_grade(score, thresholds)))
    return tuple(scores)


def weighted_sum(groups: Sequence[GroupScore], weights: dict[str, float]) -> float:
    """Groups without a weight share what the configured weights leave of 100; a group with no
    data counts as 100. Weight given to a group with no results is lost (as in Kayenta)."""
    unweighted = {group.name for group in groups} - set(weights)
    default_weight = (100 - sum(weights.values())) / len(unweighted) if unweighted else 0.0
    total = 0.0
    for group in groups:
        effective = 100.0 if group.no_data else group.score
        total += effective * (weights.get(group.name, default_weight) / 100)
    return round_half_up(total)


def score(results: Sequence[MetricResult], weights: dict[str, float], thresholds: Thresholds) -> Score:
    """The canary's score: 0 on a critical failure or when half the metrics have no data."""
    judged = [result for result in results if not result.muted]
    groups = group_scores(judged, thresholds)
    failures = [result for result in judged if result.critical and result.classification != PASS]
    if failures:
        first = failures[0]
        return Score(
            0.0,
            FAIL,
            f"Canary Failed: critical metric {first.name!r} is {first.classification}: {first.reason}",
            groups,
        )
    nodata = sum(result.classification == NODATA for result in judged)
    if judged and nodata / len(judged) * 100 >= NODATA_THRESHOLD:
        return Score(0.0, FAIL, f"Canary Failed: {NODATA_THRESHOLD:g}% or more metrics returned NODATA.", groups)
    if not groups:
        return Score(0.0, FAIL, "Canary Failed: no metric in any group could be judged.", groups)
    total = weighted_sum(groups, weights)
    return Score(total, _grade(total, thresholds), _reason(total, thresholds), groups)


def _reason(total: float, thresholds: Thresholds) -> str:
    if total >= thresholds.passing:
        return f"Score {total:g} is at or above the pass threshold {thresholds.passing:g}."
    if total >= thresholds.marginal:
        return (
            f"Score {total:g} is below the pass threshold {thresholds.passing:g} "
            f"but at or above the marginal threshold {thresholds.marginal:g}."
        )
    return f"Score {total:g} is below the marginal threshold {thresholds.marginal:g}."
