"""Cleaning a series before it is judged: NaN strategy and outlier removal, as Kayenta does it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def remove_nans(values: FloatArray) -> FloatArray:
    return values[~np.isnan(values)]


def replace_nans(values: FloatArray, value: float = 0.0) -> FloatArray:
    return np.where(np.isnan(values), value, values)


def percentile_r7(values: FloatArray, percentiles: list[float]) -> list[float]:
    """R's type-7 quantiles (linear interpolation between order statistics), ``percentiles`` in 0-100."""
    if values.size == 0:
        return [float("nan")] * len(percentiles)
    return [float(p) for p in np.percentile(values, percentiles, method="linear")]


def iqr_outliers(values: FloatArray, factor: float = 3.0, reduce_sensitivity: bool = True) -> BoolArray:
    """Kayenta's IQRDetector: outside the Tukey fences ``Q1 - k*IQR`` / ``Q3 + k*IQR``.

    With ``reduce_sensitivity`` the fences are widened to at least the 1st / 99th percentiles, so
    a narrow distribution does not lose its tails."""
    if values.size == 0:
        return np.zeros(0, dtype=np.bool_)
    q1, q3 = percentile_r7(values, [25, 75])
    lower, upper = q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)
    if reduce_sensitivity:
        p1, p99 = percentile_r7(values, [1, 99])
        lower, upper = min(p1, lower), max(p99, upper)
    return np.asarray((values < lower) | (values > upper), dtype=np.bool_)


def ksigma_outliers(values: FloatArray, k: float = 3.0) -> BoolArray:
    """Kayenta's KSigmaDetector: further than ``k`` sample standard deviations from the mean."""
    if values.size < 2:
        return np.zeros(values.size, dtype=np.bool_)
    return np.asarray(np.abs(values - values.mean()) > k * values.std(ddof=1), dtype=np.bool_)


def remove_outliers(values: FloatArray, outliers: BoolArray) -> FloatArray:
    return values[~outliers]


def clean(values: FloatArray, nan_strategy: str, remove_outlier_values: bool, outlier_factor: float) -> FloatArray:
    """NaN strategy first, then (optionally) IQR outlier removal, as NetflixACAJudge.transformMetric."""
    values = remove_nans(values) if nan_strategy == "remove" else replace_nans(values)
    if remove_outlier_values and np.isfinite(values).all():
        values = remove_outliers(values, iqr_outliers(values, outlier_factor, reduce_sensitivity=True))
    return values
