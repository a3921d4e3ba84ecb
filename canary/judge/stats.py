"""Descriptive statistics and effect sizes reported with each metric."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SummaryStats:
    """Kayenta's DescriptiveStatistics.summary: all zeros for an empty series, sample std."""

    count: int
    mean: float
    std: float
    min: float
    max: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summary(values: FloatArray) -> SummaryStats:
    if values.size == 0:
        return SummaryStats(count=0, mean=0.0, std=0.0, min=0.0, max=0.0)
    with np.errstate(invalid="ignore", over="ignore"):  # +Inf/-Inf data: NaN or Inf figures, reported as null
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        mean = float(values.mean())
    return SummaryStats(count=int(values.size), mean=mean, std=std, min=float(values.min()), max=float(values.max()))


def mean_ratio(control: FloatArray, experiment: FloatArray) -> float:
    """mean(experiment) / mean(control); NaN when either mean is zero (Kayenta's EffectSizes.meanRatio)."""
    control_mean, experiment_mean = float(control.mean()), float(experiment.mean())
    if control_mean == 0.0 or experiment_mean == 0.0:
        return float("nan")
    return experiment_mean / control_mean


def cles(control: FloatArray, experiment: FloatArray) -> float:
    """Common-language effect size: P(experiment > control) + P(tie)/2, from the rank-sum U.

    U is counted with binary searches over the sorted control (ties count one half), which is the
    experiment rank sum minus m(m+1)/2 without building the pooled ranking."""
    n, m = control.size, experiment.size
    ordered = np.sort(control)
    below = np.searchsorted(ordered, experiment, side="left")
    at_or_below = np.searchsorted(ordered, experiment, side="right")
    twice_u = int(below.sum()) + int(at_or_below.sum())
    return twice_u / (2.0 * n * m)
