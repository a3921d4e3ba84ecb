"""Mann-Whitney confidence interval and shift estimate, as Kayenta computes them.

Kayenta hand-ports R's ``wilcox.test(x, y, conf.int=TRUE, exact=FALSE, correct=TRUE)``: the
interval ends and the estimate are the roots of ``wdiff(mu)`` (the continuity- and tie-corrected
normal score of the rank sum of ``x - mu`` against ``y``), found with R's ``zeroin``. Because
``wdiff`` is a step function, the root Brent stops at depends on the path it takes, so the solver
below repeats R's steps exactly rather than using a library root finder.

Each ``wdiff`` evaluation counts pairwise differences below and at a shift with binary searches
over the sorted samples (O((n + m) log m)); no n x m matrix of differences is ever built.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DOUBLE_EPSILON = 2.220446049250313e-16  # R's DBL_EPSILON, as in Kayenta's solver
BRENT_TOLERANCE = 1e-4
BRENT_MAX_ITERATIONS = 1000
SMALLEST_DOUBLE = 5e-324  # Precision.equals(fb, 0): within one ulp of zero


class AllTiedError(ArithmeticError):
    """Every observation is tied, so the normal approximation has no variance."""


@dataclass(frozen=True)
class MannWhitneyResult:
    lower: float
    upper: float
    estimate: float


def _tie_term(sorted_values: FloatArray) -> int:
    """sum(t**3 - t) over the groups of equal values of a sorted array."""
    if sorted_values.size < 2:
        return 0
    starts = np.flatnonzero(np.diff(sorted_values) != 0) + 1
    if starts.size == sorted_values.size - 1:
        return 0
    sizes = np.diff(np.concatenate(([0], starts, [sorted_values.size]))).astype(np.int64)
    return int((sizes**3 - sizes).sum())


def _run_sizes(sorted_values: FloatArray) -> npt.NDArray[np.int64]:
    """For each element of a sorted array, the size of its group of equal values."""
    starts = np.concatenate(([0], np.flatnonzero(np.diff(sorted_values) != 0) + 1))
    sizes = np.diff(np.concatenate((starts, [sorted_values.size])))
    return np.repeat(sizes, sizes).astype(np.int64)


class ShiftedRankSum:
    """``wdiff(mu, zq)`` for experiment ``x`` against control ``y``.

    The rank sum of ``x - mu`` in the pooled sample equals ``nx(nx+1)/2`` plus, for each
    ``x_i - mu``, the number of ``y`` below it and half the number equal to it, so two binary
    searches per shift replace the pooled ranking. The tie correction of the pooled sample is
    the ties within ``x - mu`` plus those within ``y`` plus the cross terms ``3a^2 b + 3a b^2``
    of values present in both.
    """

    def __init__(self, experiment: FloatArray, control: FloatArray) -> None:
        self.x = np.sort(np.asarray(experiment, dtype=np.float64))
        self.y = np.sort(np.asarray(control, dtype=np.float64))
        self.nx = float(self.x.size)
        self.ny = float(self.y.size)
        self.y_ties = _tie_term(self.y)
        self._cache: dict[float, tuple[float, int]] = {}

    def rank_statistic(self, mu: float) -> tuple[float, int]:
        """(dz, pooled tie term) at shift ``mu``: dz is the centred rank sum of ``x - mu``.

        Cached by ``mu``: the interval ends and the estimate start from the same two endpoints."""
        cached = self._cache.get(mu)
        if cached is None:
            cached = self._cache[mu] = self._rank_statistic(mu)
        return cached

    def _rank_statistic(self, mu: float) -> tuple[float, int]:
        shifted = self.x - mu  # the same IEEE subtraction as Kayenta's x.map(_ - mu)
        below = np.searchsorted(self.y, shifted, side="left")
        twice_count = 2 * int(below.sum())
        ties = _tie_term(shifted) + self.y_ties
        # Only values that land exactly on a control value need the second search.
        hit = self.y[np.minimum(below, self.y.size - 1)] == shifted
        if hit.any():
            b = (np.searchsorted(self.y, shifted[hit], side="right") - below[hit]).astype(np.int64)
            a = _run_sizes(shifted)[hit]
            twice_count += int(b.sum())
            ties += int((3 * a * b + 3 * b * b).sum())
        return twice_count / 2 - self.nx * self.ny / 2, ties

    def __call__(self, mu: float, quantile: float) -> float:
        dz, ties = self.rank_statistic(mu)
        nx, ny = self.nx, self.ny
        correction = math.copysign(0.5, dz) if dz != 0 else 0.0
        sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1) - ties / ((nx + ny) * (nx + ny - 1))))
        if sigma == 0:
            raise AllTiedError("cannot compute confidence interval when all observations are tied")
        return (dz - correction) / sigma - quantile


def zeroin(ax: float, bx: float, fa: float, fb: float, f: Callable[[float], float]) -> float:
    """R's ``zeroin`` (Brent 1973) with tol 1e-4 and 1000 iterations, step for step."""
    a, b, c, fc = ax, bx, ax, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(BRENT_MAX_ITERATIONS + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * DOUBLE_EPSILON * abs(b) + BRENT_TOLERANCE / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or abs(fb) <= SMALLEST_DOUBLE:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            new_step = _interpolated_step(a, b, c, fa, fb, fc, prev_step, tol_act, new_step)
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _interpolated_step(
    a: float, b: float, c: float, fa: float, fb: float, fc: float, prev_step: float, tol_act: float, bisect: float
) -> float:
    cb = c - b
    if a == c:  # two distinct points: secant
        t1 = fb / fa
        p = cb * t1
        q = 1.0 - t1
    else:  # inverse quadratic interpolation
        q = fa / fc
        t1 = fb / fc
        t2 = fb / fa
        p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
        q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
    if p > 0.0:
        q = -q
    else:
        p = -p
    if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
        return p / q
    return bisect


def normal_quantile(p: float) -> float:
    return NormalDist().inv_cdf(p)


def confidence_interval(experiment: FloatArray, control: FloatArray, conf_level: float) -> MannWhitneyResult:
    """Kayenta's ``calculateConfidenceInterval``: bounds of the shift experiment - control and its
    Hodges-Lehmann-type estimate. Raises ``AllTiedError`` when the pooled sample has no spread."""
    wdiff = ShiftedRankSum(experiment, control)
    mu_min = float(wdiff.x[0] - wdiff.y[-1])
    mu_max = float(wdiff.x[-1] - wdiff.y[0])

    def root(zq: float) -> float:
        f_lower = wdiff(mu_min, zq)
        f_upper = wdiff(mu_max, zq)
        if f_lower <= 0:
            return mu_min
        if f_upper >= 0:
            return mu_max
        return zeroin(mu_min, mu_max, f_lower, f_upper, lambda mu: wdiff(mu, zq))

    z = normal_quantile((1.0 - conf_level) / 2)
    lower, upper = root(-z), root(z)
    estimate = zeroin(mu_min, mu_max, wdiff(mu_min, 0.0), wdiff(mu_max, 0.0), lambda mu: wdiff(mu, 0.0))
    return MannWhitneyResult(lower=lower, upper=upper, estimate=estimate)
