"""The rank-sum interval is computed from sorted counts, equals the pooled ranking, and never
builds the n x m matrix of pairwise differences."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from canary.judge.mannwhitney import AllTiedError, ShiftedRankSum, confidence_interval


def average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    ranks = np.empty(values.size)
    start = 0
    while start < values.size:
        end = start
        while end + 1 < values.size and ordered[end + 1] == ordered[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def pooled_wdiff(x: np.ndarray, y: np.ndarray, mu: float, zq: float) -> float:
    """R's wdiff written out with a full pooled ranking, as the reference."""
    ranks = average_ranks(np.concatenate((x - mu, y)))
    nx, ny = float(x.size), float(y.size)
    dz = ranks[: x.size].sum() - nx * (nx + 1) / 2 - nx * ny / 2
    _, ties = np.unique(ranks, return_counts=True)
    sigma = np.sqrt((nx * ny / 12) * ((nx + ny + 1) - (ties**3 - ties).sum() / ((nx + ny) * (nx + ny - 1))))
    return float((dz - np.sign(dz) * 0.5) / sigma - zq)


@pytest.mark.parametrize("seed", range(6))
def test_it_equals_the_pooled_ranking_with_heavy_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, 40).astype(float) / 2
    y = rng.integers(0, 6, 35).astype(float) / 2
    wdiff = ShiftedRankSum(x, y)
    for mu in (-2.5, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0):
        assert wdiff(mu, 1.7) == pytest.approx(pooled_wdiff(x, y, mu, 1.7), abs=1e-12)


def test_it_brackets_a_known_shift() -> None:
    rng = np.random.default_rng(3)
    control = rng.normal(100, 5, 2000)
    interval = confidence_interval(control + 10, control, 0.98)
    assert interval.lower < 10 < interval.upper
    assert interval.estimate == pytest.approx(10, abs=0.05)


def test_it_refuses_when_everything_is_tied() -> None:
    with pytest.raises(AllTiedError, match="all observations are tied"):
        ShiftedRankSum(np.ones(4), np.ones(4))(0.0, 0.0)


def test_it_never_builds_the_pairwise_matrix() -> None:
    rng = np.random.default_rng(5)
    control, experiment = rng.normal(0, 1, 20_000), rng.normal(0.1, 1, 20_000)
    tracemalloc.start()
    try:
        confidence_interval(experiment, control, 0.98)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 20,000 x 20,000 differences would take 3.2 GB; a few copies of the samples take well under 5 MB.
    assert peak < 5_000_000
