"""canary.runs: intervals planned, metrics fetched over HTTP (moto's CloudWatch), judged, stored, replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from pytest_django.fixtures import Settings

from applications.models import Application
from canary import actions, runs
from canary.judge import JudgeInputError
from canary.judge.request import judge_request
from canary.models import CanaryConfig, CanaryRun
from spinweb.models import AuditEvent
from tests.canary.cloudwatch import put
from tests.http_server import closed_port

pytestmark = pytest.mark.django_db

CONTROL, EXPERIMENT = "shop-baseline-v000", "shop-canary-v000"
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def config_document(**canary: Any) -> dict[str, Any]:
    return {
        "name": "cpu-check",
        "applications": ["shop"],
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [
            {
                "name": "cpu",
                "groups": ["system"],
                "scopeName": "default",
                "query": {"type": "cloudwatch", "namespace": "AWS/EC2", "metricName": "CPUUtilization"},
                "analysisConfigurations": {"canary": {"direction": "increase", **canary}},
            }
        ],
        "classifier": {"groupWeights": {"system": 100}},
    }


def make_run(document: dict[str, Any], step: int = 60, location: str = "us-east-1") -> CanaryRun:
    application = Application.objects.create(name="shop")
    config = CanaryConfig.objects.create(application=application, name=document["name"], document=document)
    scope = {
        "scopeName": "default",
        "controlScope": CONTROL,
        "controlLocation": location,
        "experimentScope": EXPERIMENT,
        "experimentLocation": location,
        "step": step,
    }
    plan = runs.make_plan(lifetime_minutes=59, started=START)
    return runs.start_run(
        application=application,
        execution=None,
        stage=None,
        config=config,
        thresholds={"marginal": 50, "pass": 75},
        scopes=[scope],
        plan=plan,
    )


def values(mean: float, seed: int, size: int = 60) -> list[float]:
    return [float(value) for value in np.random.default_rng(seed).normal(mean, 1.0, size)]


def window(minutes: int = 59) -> runs.Window:
    return runs.Window(START, START + timedelta(minutes=minutes), START, START + timedelta(minutes=minutes))


def test_it_plans_growing_sliding_and_offset_windows() -> None:
    growing = runs.make_plan(lifetime_minutes=60, interval_minutes=20, begin_after_minutes=5, started=START)
    sliding = runs.make_plan(lifetime_minutes=60, interval_minutes=20, lookback_minutes=10, started=START)
    offset = runs.make_plan(lifetime_minutes=30, baseline_offset_minutes=60, started=START)

    assert [(w.experiment_start, w.experiment_end) for w in runs.windows(growing)] == [
        (START + timedelta(minutes=5), START + timedelta(minutes=25)),
        (START + timedelta(minutes=5), START + timedelta(minutes=45)),
        (START + timedelta(minutes=5), START + timedelta(minutes=65)),
    ]
    assert [(w.experiment_start, w.experiment_end) for w in runs.windows(sliding)][1] == (
        START + timedelta(minutes=30),
        START + timedelta(minutes=40),
    )
    (only,) = runs.windows(offset)
    assert only.control_start == START - timedelta(minutes=60)
    assert only.experiment_end - only.experiment_start == timedelta(minutes=30)


def test_it_judges_a_healthy_canary_a_pass_and_keeps_the_raw_series(moto: str) -> None:
    put(moto, START, values(10, seed=1), group=CONTROL)
    put(moto, START, values(10, seed=2), group=EXPERIMENT)
    run = make_run(config_document())

    judgment = runs.judge_interval(run, 1, window())

    assert judgment.classification == "Pass"
    assert judgment.score == 100.0
    stored = judgment.data["metrics"]["cpu"]
    assert len(stored["control"]["values"]) == 60
    assert stored["experiment"]["scope"] == EXPERIMENT
    assert "CPUUtilization" in stored["experiment"]["query"]
    assert judgment.warnings == []
    assert runs.judge_interval(run, 1, window()).pk == judgment.pk  # a re-run finds the stored one


def test_it_fails_a_canary_whose_metric_rose_and_replay_with_a_looser_config_passes_it(moto: str) -> None:
    put(moto, START, values(10, seed=1), group=CONTROL)
    put(moto, START, values(12, seed=2), group=EXPERIMENT)
    run = make_run(config_document())

    judgment = runs.judge_interval(run, 1, window())
    assert judgment.classification == "Fail"
    assert judgment.result["metrics"][0]["classification"] == "High"

    looser = config_document(direction="decrease")
    replayed = actions.replay_interval(
        None, judgment, config_document=looser, thresholds=None, label="edited", source="cli"
    )

    assert replayed.classification == "Pass"
    assert replayed.thresholds == {"marginal": 50, "pass": 75}
    assert judgment.replays.count() == 1
    event = AuditEvent.objects.get(action="judge")
    assert (event.source, event.detail) == ("cli", "Replayed interval 1: Pass (100)")


def test_it_warns_when_a_metric_has_fewer_than_50_points(moto: str) -> None:
    put(moto, START, values(10, seed=1, size=20), group=CONTROL)
    put(moto, START, values(10, seed=2, size=20), group=EXPERIMENT)
    run = make_run(config_document())

    judgment = runs.judge_interval(run, 1, window(19))

    assert judgment.warnings == [
        "Metric 'cpu' has 20 control points, fewer than 50: the verdict on it is weak.",
        "Metric 'cpu' has 20 experiment points, fewer than 50: the verdict on it is weak.",
    ]


def test_it_makes_an_unreachable_source_an_error_interval_never_a_pass(settings: Settings, credentials: None) -> None:
    with closed_port() as port:
        settings.SPINWEB_CLOUDWATCH_ENDPOINT = f"http://127.0.0.1:{port}"
        run = make_run(config_document())
        judgment = runs.judge_interval(run, 1, window())

    assert judgment.classification == "Error"
    assert judgment.score is None
    assert "metric 'cpu', control (shop-baseline-v000)" in judgment.error
    with pytest.raises(JudgeInputError, match="no data to replay"):
        actions.replay_interval(
            None, judgment, config_document=config_document(), thresholds=None, label="x", source="cli"
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"query": {"type": "graphite", "metricName": "x"}}, "unknown metric source 'graphite'"),
        ({"scopeName": "canary-only"}, "names scope 'canary-only', which the stage's scopes do not define"),
    ],
)
def test_it_makes_a_config_it_cannot_fetch_an_error_interval(change: dict[str, Any], message: str) -> None:
    document = config_document()
    document["metrics"][0].update(change)
    run = make_run(document)

    judgment = runs.judge_interval(run, 1, window())

    assert judgment.classification == "Error"
    assert message in judgment.error


def test_it_exports_the_judge_input_that_gives_the_stored_verdict_again(moto: str) -> None:
    put(moto, START, values(10, seed=1), group=CONTROL)
    put(moto, START, values(11, seed=2), group=EXPERIMENT)
    run = make_run(config_document())
    judgment = runs.judge_interval(run, 1, window())

    again = judge_request(runs.request_document(judgment)).as_dict()

    assert again == judgment.result


def test_it_finishes_a_run_once() -> None:
    run = make_run(config_document())

    runs.finish_run(run, CanaryRun.State.FAILED, score=10.0, classification="Fail", message="interval 1 failed")
    runs.finish_run(run, CanaryRun.State.CANCELED)

    run.refresh_from_db()
    assert (run.state, run.score, run.message) == ("FAILED", 10.0, "interval 1 failed")
