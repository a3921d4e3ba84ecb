"""NetflixACAJudge-v1.0: Kayenta's default judge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from canary.judge.classify import Settings, classify_metric
from canary.judge.config import JudgeConfig, JudgeInputError
from canary.judge.mannwhitney import FloatArray
from canary.judge.results import JudgeResult, MetricResult
from canary.judge.scoring import Thresholds, score

EMPTY: FloatArray = np.zeros(0, dtype=np.float64)


@dataclass(frozen=True)
class MetricSetPair:
    """One metric's raw control and experiment values (NaN where a point is missing)."""

    name: str
    control: FloatArray
    experiment: FloatArray


class NetflixACAJudge:
    name = "NetflixACAJudge-v1.0"

    def judge(self, config: JudgeConfig, thresholds: Thresholds, pairs: Sequence[MetricSetPair]) -> JudgeResult:
        """Classify every pair, score the groups and grade the canary.

        A pair naming a metric the config lacks is an error (Kayenta throws too); a config metric
        with no pair is judged on empty series, which is Nodata under ``nanStrategy: remove``."""
        settings = Settings(conf_level=config.conf_level, tolerance=config.tolerance)
        supplied = {pair.name for pair in pairs}
        for pair in pairs:
            if config.metric(pair.name) is None:
                raise JudgeInputError(f"metrics.{pair.name}", "no metric of this name in canaryConfig.metrics.")
        results: list[MetricResult] = []
        for metric in config.metrics:
            for pair in (p for p in pairs if p.name == metric.name):
                results.append(classify_metric(metric, pair.control, pair.experiment, settings))
            if metric.name not in supplied:
                results.append(classify_metric(metric, EMPTY, EMPTY, settings))
        verdict = score(results, config.group_weights, thresholds)
        return JudgeResult(
            judge_name=self.name,
            score=verdict.score,
            classification=verdict.classification,
            reason=verdict.reason,
            group_scores=verdict.groups,
            metrics=tuple(results),
        )
