"""Request documents for the judge tests."""

from __future__ import annotations

from typing import Any

import numpy as np

RNG_SEED = 11


def canary(**settings: Any) -> dict[str, Any]:
    return {"analysisConfigurations": {"canary": settings}}


def metric(name: str, groups: list[str] | None = None, **settings: Any) -> dict[str, Any]:
    return {"name": name, "groups": groups if groups is not None else ["main"], **canary(**settings)}


def normal(mean: float, size: int = 60, seed: int = RNG_SEED) -> list[float]:
    return [float(value) for value in np.random.default_rng(seed).normal(mean, 1.0, size)]


def request(
    metrics: list[dict[str, Any]], data: dict[str, Any], weights: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {"name": "cfg", "metrics": metrics, "classifier": {"groupWeights": weights or {}}}
    return {"canaryConfig": config, "scoreThresholds": {"marginal": 50, "pass": 75}, "metrics": data, **extra}
