"""Every test vector taken from Kayenta's own unit tests passes, at the tolerance it states."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from canary.judge.classify import Settings, classify_metric, mann_whitney, mean_inequality
from canary.judge.config import EffectSize, MetricConfig
from canary.judge.mannwhitney import FloatArray, ShiftedRankSum, confidence_interval, normal_quantile
from canary.judge.preprocess import iqr_outliers, ksigma_outliers, percentile_r7, remove_nans, replace_nans
from canary.judge.results import MetricResult
from canary.judge.scoring import Thresholds, score
from canary.judge.stats import cles, mean_ratio, summary

# A copy of ../shared/canary/kayenta-vectors.json, so the suite runs wherever the repository does.
VECTORS_FILE = Path(__file__).with_name("kayenta_vectors.json")
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())


def values(raw: list[Any]) -> FloatArray:
    return np.array([math.nan if item == "NaN" else item for item in raw], dtype=np.float64)


def near(actual: float, expected: Any, tolerance: float) -> bool:
    if expected == "NaN":
        return math.isnan(actual)
    return abs(actual - expected) <= tolerance


def metric_config(config: dict[str, Any]) -> MetricConfig:
    decrease, increase = config.get("effectSizeThresholds", [1.0, 1.0])
    critical_decrease, critical_increase = config.get("criticalThresholds", [1.0, 1.0])
    effect = EffectSize(
        config.get("effectSizeMeasure", "meanRatio"), increase, decrease, critical_increase, critical_decrease
    )
    return MetricConfig(
        name="metric",
        direction=config["direction"],
        nan_strategy=config["nanStrategy"],
        critical=config["critical"],
        must_have_data=config["mustHaveData"],
        effect_size=effect,
    )


def check_metric_classification(vector: dict[str, Any]) -> None:
    config, expected = vector["config"], vector["expected"]
    classifier = mean_inequality if config["classifier"] == "MeanInequalityClassifier" else mann_whitney
    settings = Settings(conf_level=config.get("confLevel", 0.98), tolerance=config.get("tolerance", 0.25))
    result = classify_metric(
        metric_config(config), values(vector["control"]), values(vector["experiment"]), settings, classifier
    )
    assert result.classification == expected["classification"], result.reason
    if "critical" in expected:
        assert result.critical is expected["critical"]
    if "deviation" in expected:
        assert near(result.deviation, expected["deviation"], 0.0)


def check_mann_whitney_ci(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    interval = confidence_interval(
        values(vector["experiment"]), values(vector["control"]), vector["config"]["confLevel"]
    )
    assert near(interval.lower, expected["ci_low"], expected["abs_tol"])
    assert near(interval.upper, expected["ci_high"], expected["abs_tol"])
    assert near(interval.estimate, expected["estimate"], expected.get("estimate_abs_tol", expected["abs_tol"]))


def check_wilcoxon_diff(vector: dict[str, Any]) -> None:
    wdiff = ShiftedRankSum(values(vector["experiment"]), values(vector["control"]))
    actual = wdiff(vector["config"]["mu"], vector["config"]["zq"])
    assert near(actual, vector["expected"]["value"], vector["expected"]["abs_tol"])


def check_normal_quantile(vector: dict[str, Any]) -> None:
    assert near(normal_quantile(vector["config"]["p"]), vector["expected"]["value"], vector["expected"]["abs_tol"])


def check_effect_size(vector: dict[str, Any]) -> None:
    measure = cles if vector["kind"] == "cles" else mean_ratio
    actual = measure(values(vector["control"]), values(vector["experiment"]))
    assert near(actual, vector["expected"]["value"], vector["expected"]["abs_tol"])


def check_summary_stats(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    stats = summary(values(vector["experiment"]))
    assert stats.count == expected["count"]
    for key in ("min", "max", "mean", "std"):
        assert near(getattr(stats, key), expected[key], expected["abs_tol"]), key
    assert summary(values(vector["control"])).as_dict() == {"count": 0, "mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0}


def check_percentile(vector: dict[str, Any]) -> None:
    actual = percentile_r7(values(vector["experiment"]), vector["config"]["percentiles"])
    for got, want in zip(actual, vector["expected"]["values"], strict=True):
        assert near(got, want, vector["expected"]["abs_tol"])


def outliers(vector: dict[str, Any]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    config, data = vector["config"], values(vector["experiment"])
    if config["detector"] == "ksigma":
        return ksigma_outliers(data, config["k"])
    return iqr_outliers(data, config["factor"], config["reduceSensitivity"])


def check_outlier_detection(vector: dict[str, Any]) -> None:
    assert outliers(vector).tolist() == vector["expected"]["outliers"]


def check_remove_outliers(vector: dict[str, Any]) -> None:
    kept = values(vector["experiment"])[~outliers(vector)]
    assert kept.tolist() == vector["expected"]["values"]


def check_transform(vector: dict[str, Any]) -> None:
    data = values(vector["experiment"])
    cleaned = (
        remove_nans(data)
        if vector["kind"] == "transform_remove_nans"
        else replace_nans(data, vector["config"]["value"])
    )
    assert cleaned.tolist() == vector["expected"]["values"]


def check_weighted_sum(vector: dict[str, Any]) -> None:
    config, expected = vector["config"], vector["expected"]
    results = [
        MetricResult(item["name"], item["classification"], "", critical=item["critical"], groups=tuple(item["groups"]))
        for item in config["metricResults"]
    ]
    verdict = score(results, config["groupWeights"], Thresholds())
    assert verdict.score == pytest.approx(expected["summaryScore"], abs=1e-9)
    if "groupScoresSorted" in expected:
        assert sorted(group.score for group in verdict.groups) == expected["groupScoresSorted"]


CHECKS = {
    "metric_classification": check_metric_classification,
    "mann_whitney_ci": check_mann_whitney_ci,
    "wilcoxon_diff": check_wilcoxon_diff,
    "normal_quantile": check_normal_quantile,
    "cles": check_effect_size,
    "mean_ratio": check_effect_size,
    "summary_stats": check_summary_stats,
    "percentile_r7": check_percentile,
    "outlier_detection": check_outlier_detection,
    "transform_remove_outliers": check_remove_outliers,
    "transform_remove_nans": check_transform,
    "transform_replace_nans": check_transform,
    "weighted_sum_score": check_weighted_sum,
}


def test_it_knows_every_kind_of_vector() -> None:
    assert len(VECTORS) == 55
    assert {vector["kind"] for vector in VECTORS} <= set(CHECKS)


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_it_matches_kayentas_unit_test(vector: dict[str, Any]) -> None:
    CHECKS[vector["kind"]](vector)
