"""Canary runs as the stage stores them, with real series judged by the real judge.

``shop_run`` is a SUCCEEDED-looking run of the sample config with two intervals: interval 1
passes (p99 4 % slower, inside the allowed 10 %), interval 2 fails (the critical ``errors``
metric rose, on 40 points: a warning). ``strict`` is the same config allowing only 1 % on p99: replayed with it,
interval 1 scores 60, Marginal.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User

from applications.models import Application
from canary import actions, runs
from canary.judge.request import judge_request
from canary.models import CanaryConfig, CanaryJudgment, CanaryRun
from spinweb.models import AuditSource
from tests.canary.config_samples import sample
from tests.canary.helpers import normal

STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
THRESHOLDS = {"marginal": 50, "pass": 75}
WEAK = "Metric 'errors' has 40 experiment points, fewer than 50: the verdict on it is weak."
SCOPES = [
    {
        "scopeName": "default",
        "controlScope": "shop-web-baseline-v000",
        "controlLocation": "local",
        "experimentScope": "shop-web-canary-v000",
        "experimentLocation": "local",
        "step": 60,
    }
]


def strict_document() -> dict[str, Any]:
    document = sample(id=None, name="web-latency-strict")
    document["metrics"][1]["analysisConfigurations"]["canary"]["effectSize"]["allowedIncrease"] = 1.01
    return document


def save_configs(user: User) -> tuple[CanaryConfig, CanaryConfig]:
    """The sample config (as run) and its strict variant, both saved in ``shop``."""
    config = actions.save_config(user, sample(), source=AuditSource.API)
    strict = actions.save_config(user, strict_document(), source=AuditSource.API)
    return config, strict


def _side(values: list[Any], start: datetime, scope: str, query: str) -> dict[str, Any]:
    stamps = [(start + timedelta(minutes=minute)).isoformat() for minute in range(len(values))]
    return {"values": values, "timestamps": stamps, "query": query, "reason": "", "scope": scope, "location": "local"}


def interval_data(start: datetime, errors_rise: bool) -> dict[str, Any]:
    control_errors: list[Any] = [0.0, 1.0, "NaN", *([0.0, 1.0] * 29)]
    experiment_errors: list[Any] = [value + 5 for value in control_errors[3:43]] if errors_rise else control_errors[:]
    sides = {
        "errors": (control_errors, experiment_errors),
        "p99": (normal(100.0, seed=1), normal(104.0, seed=2)),
    }
    metrics: dict[str, Any] = {}
    for name, (control, experiment) in sides.items():
        metrics[name] = {
            "control": _side(control, start, "shop-web-baseline-v000", f'avg({name}{{job="shop-web-baseline-v000"}})'),
            "experiment": _side(
                experiment, start, "shop-web-canary-v000", f'avg({name}{{job="shop-web-canary-v000"}})'
            ),
        }
    return {"metrics": metrics}


def shop_run(application: Application, config: CanaryConfig, *, state: str = CanaryRun.State.FAILED) -> CanaryRun:
    plan = runs.make_plan(lifetime_minutes=120, interval_minutes=60, started=STARTED)
    run = CanaryRun.objects.create(
        application=application,
        config=config,
        config_name=config.name,
        config_version=config.version,
        config_document=copy.deepcopy(config.document),
        thresholds=THRESHOLDS,
        scopes=SCOPES,
        plan=plan,
        state=state,
    )
    for index, window in enumerate(runs.windows(plan), start=1):
        data = interval_data(window.experiment_start, errors_rise=index == 2)
        result = judge_request(runs.request_document_of(run.config_document, THRESHOLDS, data)).as_dict()
        CanaryJudgment.objects.create(
            run=run,
            index=index,
            control_start=window.control_start,
            control_end=window.control_end,
            experiment_start=window.experiment_start,
            experiment_end=window.experiment_end,
            score=result["score"],
            classification=result["classification"],
            reason=result["reason"],
            result=result,
            data=data,
            warnings=[] if index == 1 else [WEAK],
        )
    last = result
    runs.finish_run(run, state, score=last["score"], classification=last["classification"], message="sample run")
    return run


def error_interval(run: CanaryRun, index: int) -> CanaryJudgment:
    """An interval whose source failed: no data, classification Error."""
    window = runs.windows(run.plan)[0]
    message = "metric 'errors', control (shop-web-baseline-v000): Prometheus is unreachable"
    return CanaryJudgment.objects.create(
        run=run,
        index=index,
        control_start=window.control_start,
        control_end=window.control_end,
        experiment_start=window.experiment_start,
        experiment_end=window.experiment_end,
        classification="Error",
        reason=message,
        error=message,
        data={"metrics": {}},
    )
