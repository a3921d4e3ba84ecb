"""Group scores, weights, critical metrics and thresholds give Pass / Marginal / Fail with a reason."""

from __future__ import annotations

from typing import Any

from canary.judge.request import judge_request
from tests.canary.helpers import metric, normal, request

SAME = {"control": normal(100), "experiment": normal(100, seed=5)}
HIGHER = {"control": normal(100), "experiment": normal(150, seed=5)}


def verdict(metrics: list[dict[str, Any]], data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return judge_request(request(metrics, data, **extra)).as_dict()


def test_it_passes_a_canary_like_its_baseline() -> None:
    result = verdict([metric("latency")], {"latency": SAME})
    assert (result["score"], result["classification"]) == (100.0, "Pass")
    assert result["reason"] == "Score 100 is at or above the pass threshold 75."
    [item] = result["metrics"]
    assert item["ciLower"] < item["estimate"] < item["ciUpper"]
    assert set(item) >= {
        "name",
        "classification",
        "reason",
        "critical",
        "estimate",
        "ciLower",
        "ciUpper",
        "effectSize",
        "controlStats",
        "experimentStats",
    }
    assert item["controlStats"]["count"] == 60


def test_it_weights_groups_and_grades_marginal() -> None:
    metrics = [metric("latency", ["perf"]), metric("errors", ["errors"])]
    result = verdict(metrics, {"latency": HIGHER, "errors": SAME}, weights={"perf": 40, "errors": 60})
    assert [(g["name"], g["score"]) for g in result["groupScores"]] == [("perf", 0.0), ("errors", 100.0)]
    assert (result["score"], result["classification"]) == (60.0, "Marginal")
    assert "below the pass threshold 75 but at or above the marginal threshold 50" in result["reason"]


def test_it_respects_the_direction() -> None:
    result = verdict([metric("throughput", direction="decrease")], {"throughput": HIGHER})
    assert result["metrics"][0]["classification"] == "Pass"
    assert result["classification"] == "Pass"


def test_it_fails_on_a_critical_metric_whatever_the_score() -> None:
    metrics = [metric("latency", critical=True)] + [metric(f"ok{i}") for i in range(9)]
    data = {"latency": HIGHER, **{f"ok{i}": SAME for i in range(9)}}
    result = verdict(metrics, data)
    assert (result["score"], result["classification"]) == (0.0, "Fail")
    assert result["reason"].startswith("Canary Failed: critical metric 'latency' is High")


def test_it_leaves_muted_metrics_out_of_the_score() -> None:
    result = verdict([metric("latency", muted=True), metric("errors")], {"latency": HIGHER, "errors": SAME})
    assert result["metrics"][0]["classification"] == "High"
    assert result["classification"] == "Pass"


def test_it_lets_judge_configurations_override_kayentas_constants() -> None:
    # A small shift: invisible at Kayenta's 98% / 0.25 band, High at 50% with no band.
    data = {"latency": {"control": normal(100, 400), "experiment": normal(100.2, 400, seed=5)}}
    strict = verdict([metric("latency")], data)
    loose = request([metric("latency")], data)
    loose["canaryConfig"]["judge"] = {
        "name": "NetflixACAJudge-v1.0",
        "judgeConfigurations": {"confLevel": 0.5, "tolerance": 0.0},
    }
    assert strict["metrics"][0]["classification"] == "Pass"
    assert judge_request(loose).as_dict()["metrics"][0]["classification"] == "High"
