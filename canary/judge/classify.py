"""Classifying one metric: clean both series, then Kayenta's Mann-Whitney classifier."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from canary.judge.config import MetricConfig
from canary.judge.mannwhitney import FloatArray, confidence_interval
from canary.judge.preprocess import clean
from canary.judge.results import ERROR, HIGH, LOW, NAN, NODATA, NODATA_FAIL_METRIC, PASS, MetricResult
from canary.judge.stats import cles, mean_ratio, summary

JITTER_SCALE = 1e-5  # Kayenta: N(0, (value * 1e-5)^2) added to a constant series


@dataclass(frozen=True)
class Settings:
    """The judge-wide figures Kayenta hard-codes (0.98 / 0.25) unless judgeConfigurations says otherwise."""

    conf_level: float
    tolerance: float


Classifier = Callable[[FloatArray, FloatArray, MetricConfig, Settings], MetricResult]


def classify_metric(
    metric: MetricConfig,
    control: FloatArray,
    experiment: FloatArray,
    settings: Settings,
    classifier: Classifier | None = None,
) -> MetricResult:
    """Clean, describe and classify one control/experiment pair; never raises on bad numbers."""
    control = clean(control, metric.nan_strategy, metric.remove_outliers, metric.outlier_factor)
    experiment = clean(experiment, metric.nan_strategy, metric.remove_outliers, metric.outlier_factor)
    result = _classify_clean(metric, control, experiment, settings, classifier or mann_whitney)
    return replace(
        result,
        groups=metric.groups,
        muted=metric.muted,
        control_stats=summary(control),
        experiment_stats=summary(experiment),
    )


def _classify_clean(
    metric: MetricConfig, control: FloatArray, experiment: FloatArray, settings: Settings, classifier: Classifier
) -> MetricResult:
    if experiment.size == 0 or control.size == 0:
        return no_data(metric, control, experiment)
    for label, values in (("Canary", experiment), ("Baseline", control)):
        if not np.isfinite(values).all():
            reason = f"Metric Classification Failed: the {label} data contains infinite values (+Inf/-Inf)."
            return MetricResult(metric.name, ERROR, reason, critical=metric.critical)
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            return classifier(control, experiment, metric, settings)
    except (ArithmeticError, ValueError) as exc:
        # Kayenta drops the critical flag of a metric that errors; we keep it, so a critical
        # metric that cannot be judged fails the canary instead of silently leaving the score.
        return MetricResult(metric.name, ERROR, f"Metric Classification Failed: {exc}.", critical=metric.critical)


def no_data(metric: MetricConfig, control: FloatArray, experiment: FloatArray) -> MetricResult:
    """Kayenta's rule for a side with no values left after NaN handling."""
    side = (
        "Canary and Baseline"
        if experiment.size == 0 and control.size == 0
        else ("Canary" if experiment.size == 0 else "Baseline")
    )
    if metric.nan_strategy == "replace":
        reason = f"No {side} data; with nanStrategy 'replace' missing data counts as zeros, so the metric passes."
        return MetricResult(metric.name, PASS, reason, deviation=1.0)
    if metric.must_have_data and not metric.critical:
        return MetricResult(
            metric.name, NODATA_FAIL_METRIC, f"No {side} data, and the metric must have data.", deviation=1.0
        )
    return MetricResult(metric.name, NODATA, f"No {side} data.", critical=metric.critical, deviation=0.0)


def jitter(values: FloatArray, seed_material: bytes) -> FloatArray:
    """Kayenta breaks a constant series with unseeded noise; seeding from the data makes a
    verdict replayable. A zero-valued series stays exactly constant, as in Kayenta."""
    seed = int.from_bytes(hashlib.sha256(seed_material).digest()[:8], "big")
    noise = np.random.default_rng(seed).normal(0.0, abs(float(values[0])) * JITTER_SCALE, values.size)
    return values + noise


def _shortcut(control: FloatArray, experiment: FloatArray) -> MetricResult | None:
    if experiment.size == control.size and np.array_equal(np.sort(experiment), np.sort(control)):
        return MetricResult("", PASS, "The Canary and Baseline data are identical.", deviation=1.0, effect_size=NAN)
    if experiment.min() == experiment.max() == control.min() == control.max():
        return MetricResult("", PASS, f"Every Canary and Baseline value is {experiment[0]:g}.", deviation=1.0)
    return None


def mann_whitney(control: FloatArray, experiment: FloatArray, metric: MetricConfig, settings: Settings) -> MetricResult:
    """Kayenta's MannWhitneyClassifier: a shift is High/Low when the confidence interval clears a
    band of ``tolerance * |estimate|`` and the effect size clears the allowed threshold."""
    shortcut = _shortcut(control, experiment)
    if shortcut is not None:
        return replace(shortcut, name=metric.name)
    if experiment.min() == experiment.max() and control.min() == control.max():
        seed = experiment.tobytes() + b"|" + control.tobytes()
        experiment, control = jitter(experiment, b"experiment" + seed), jitter(control, b"control" + seed)
    interval = confidence_interval(experiment, control, settings.conf_level)
    deviation = mean_ratio(control, experiment)
    effect = cles(control, experiment) if metric.effect_size.measure == "cles" else deviation
    band = settings.tolerance * abs(interval.estimate)
    label, reason = _label(metric, settings, interval.lower, interval.upper, band, effect)
    return MetricResult(
        metric.name,
        label,
        reason,
        critical=_is_critical(metric, label, effect),
        estimate=interval.estimate,
        ci_lower=interval.lower,
        ci_upper=interval.upper,
        effect_size=effect,
        deviation=deviation,
    )


def _label(
    metric: MetricConfig, settings: Settings, lower: float, upper: float, band: float, effect: float
) -> tuple[str, str]:
    size = metric.effect_size
    unknown_effect = bool(np.isnan(effect))
    above = metric.direction in ("increase", "either") and lower > band
    below = metric.direction in ("decrease", "either") and upper < -band
    interval = f"the {settings.conf_level:.0%} interval [{lower:.6g}, {upper:.6g}] of the shift Canary - Baseline"
    if above and (unknown_effect or effect >= size.allowed_increase):
        return HIGH, f"The Canary is higher than the Baseline: {interval} lies above the tolerance band +{band:.6g}."
    if below and (unknown_effect or effect <= size.allowed_decrease):
        return LOW, f"The Canary is lower than the Baseline: {interval} lies below the tolerance band -{band:.6g}."
    if above:
        return PASS, (
            f"The Canary is higher, but its {size.measure} {effect:.6g} is below the allowed increase "
            f"{size.allowed_increase:g}."
        )
    if below:
        return PASS, (
            f"The Canary is lower, but its {size.measure} {effect:.6g} is above the allowed decrease "
            f"{size.allowed_decrease:g}."
        )
    words = _direction_words(metric.direction)
    return PASS, f"No significant {words}: {interval} does not clear the tolerance band ±{band:.6g}."


def _direction_words(direction: str) -> str:
    return {"increase": "increase", "decrease": "decrease"}.get(direction, "difference")


def _is_critical(metric: MetricConfig, label: str, effect: float) -> bool:
    if not metric.critical:
        return False
    unknown_effect = bool(np.isnan(effect))
    if label == HIGH:
        return unknown_effect or effect >= metric.effect_size.critical_increase
    if label == LOW:
        return unknown_effect or effect <= metric.effect_size.critical_decrease
    return False


def mean_inequality(
    control: FloatArray, experiment: FloatArray, metric: MetricConfig, settings: Settings
) -> MetricResult:
    """Kayenta's MeanInequalityClassifier (a benchmarking baseline): compares means only."""
    experiment_mean, control_mean = float(experiment.mean()), float(control.mean())
    ratio = experiment_mean / control_mean if control_mean != 0 else NAN
    if metric.direction in ("increase", "either") and experiment_mean > control_mean:
        return MetricResult(
            metric.name, HIGH, "The Canary mean was greater than the Baseline mean.", metric.critical, deviation=ratio
        )
    if metric.direction in ("decrease", "either") and experiment_mean < control_mean:
        return MetricResult(
            metric.name, LOW, "The Canary mean was less than the Baseline mean.", metric.critical, deviation=ratio
        )
    return MetricResult(
        metric.name, PASS, "The Canary and Baseline means do not differ in the judged direction.", deviation=1.0
    )
