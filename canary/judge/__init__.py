"""Canary judges, looked up by name. Pure numpy: importable without Django.

judge = judge_for(config.judge_name or DEFAULT_JUDGE)
result = judge.judge(config, Thresholds(marginal=50, passing=75), pairs)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from canary.judge.config import JudgeConfig, JudgeInputError, parse_canary_config
from canary.judge.netflix import MetricSetPair, NetflixACAJudge
from canary.judge.results import JudgeResult, MetricResult
from canary.judge.scoring import Thresholds

DEFAULT_JUDGE = "NetflixACAJudge-v1.0"


class Judge(Protocol):
    name: str

    def judge(self, config: JudgeConfig, thresholds: Thresholds, pairs: Sequence[MetricSetPair]) -> JudgeResult: ...


_JUDGES: dict[str, Judge] = {}


def register(judge: Judge) -> Judge:
    _JUDGES[judge.name] = judge
    return judge


def judge_names() -> list[str]:
    return sorted(_JUDGES)


def judge_for(name: str | None = None) -> Judge:
    """The judge registered under ``name`` (the default judge when ``name`` is empty)."""
    judge = _JUDGES.get(name or DEFAULT_JUDGE)
    if judge is None:
        known = ", ".join(judge_names())
        raise JudgeInputError("canaryConfig.judge.name", f"unknown judge {name!r}; known judges: {known}.")
    return judge


register(NetflixACAJudge())

__all__ = [
    "DEFAULT_JUDGE",
    "Judge",
    "JudgeConfig",
    "JudgeInputError",
    "JudgeResult",
    "MetricResult",
    "MetricSetPair",
    "Thresholds",
    "judge_for",
    "judge_names",
    "parse_canary_config",
    "register",
]
