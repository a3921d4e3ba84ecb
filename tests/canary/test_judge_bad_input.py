"""Bad data becomes a classification with a reason, bad config an error naming the field:
never a crash, never a silent Pass."""

from __future__ import annotations

from typing import Any

import pytest

from canary.judge import JudgeInputError
from canary.judge.request import judge_request
from tests.canary.helpers import metric, normal, request


def judged(series: dict[str, Any], **settings: Any) -> dict[str, Any]:
    result = judge_request(request([metric("latency", **settings)], {"latency": series})).as_dict()
    return result


def only_metric(result: dict[str, Any]) -> dict[str, Any]:
    [item] = result["metrics"]
    return item


def test_it_calls_an_empty_series_nodata_and_fails_the_canary() -> None:
    result = judged({"control": normal(10), "experiment": []})
    assert only_metric(result)["classification"] == "Nodata"
    assert only_metric(result)["reason"] == "No Canary data."
    assert (result["score"], result["classification"]) == (0.0, "Fail")
    assert "50% or more metrics returned NODATA" in result["reason"]


def test_it_fails_a_metric_that_must_have_data() -> None:
    result = judged({"control": [], "experiment": normal(10)}, mustHaveData=True)
    assert only_metric(result)["classification"] == "NodataFailMetric"
    assert result["classification"] == "Fail"


def test_it_treats_an_all_nan_series_as_no_data() -> None:
    result = judged({"control": normal(10), "experiment": ["NaN", "NaN", "NaN"]})
    assert only_metric(result)["classification"] == "Nodata"
    assert only_metric(result)["experimentStats"]["count"] == 0


def test_it_explains_a_pass_for_missing_data_under_replace() -> None:
    result = judged({"control": normal(10), "experiment": ["NaN"] * 0}, nanStrategy="replace")
    assert only_metric(result)["classification"] == "Pass"
    assert "'replace' missing data counts as zeros" in only_metric(result)["reason"]


@pytest.mark.parametrize("infinity", ["+Inf", "-Inf", "Infinity"])
def test_it_calls_infinite_values_an_error(infinity: str) -> None:
    result = judged({"control": normal(10), "experiment": [*normal(10, seed=2), infinity]})
    assert only_metric(result)["classification"] == "Error"
    assert "infinite values" in only_metric(result)["reason"]
    assert result["classification"] == "Fail"


def test_it_fails_the_canary_when_a_critical_metric_errors() -> None:
    document = request(
        [metric("latency", critical=True), metric("errors")],
        {
            "latency": {"control": normal(10), "experiment": ["-Inf", 1.0]},
            "errors": {"control": [1.0, 2.0], "experiment": [1.0, 2.0]},
        },
    )
    result = judge_request(document).as_dict()
    assert result["metrics"][0]["critical"] is True
    assert (result["score"], result["classification"]) == (0.0, "Fail")
    assert result["reason"].startswith("Canary Failed: critical metric 'latency' is Error")


def test_it_passes_identical_constant_series_with_a_reason() -> None:
    result = judged({"control": [3.0] * 20, "experiment": [3.0] * 20})
    assert only_metric(result)["classification"] == "Pass"
    assert only_metric(result)["reason"] == "The Canary and Baseline data are identical."


def test_it_judges_different_constant_series_replayably() -> None:
    first = judged({"control": [3.0] * 20, "experiment": [5.0] * 20})
    again = judged({"control": [3.0] * 20, "experiment": [5.0] * 20})
    assert only_metric(first)["classification"] == "High"
    assert first == again


def test_it_reports_an_undefined_ratio_for_a_zero_mean() -> None:
    result = judged({"control": [0.0] * 10, "experiment": [54.9, 54.5, 55.1, 55.6, 57.4] * 2})
    assert only_metric(result)["classification"] == "High"
    assert only_metric(result)["deviation"] is None
    assert only_metric(result)["effectSize"] is None


def test_it_counts_a_configured_metric_without_data_as_nodata() -> None:
    document = request(
        [metric("latency"), metric("errors")], {"latency": {"control": normal(10), "experiment": normal(10)}}
    )
    result = judge_request(document).as_dict()
    assert [item["classification"] for item in result["metrics"]] == ["Pass", "Nodata"]
    assert result["classification"] == "Fail"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            request([metric("latency")], {"cpu": {"control": [1.0], "experiment": [1.0]}}),
            "metrics.cpu: no metric of this name",
        ),
        (
            request([metric("latency")], {"latency": {"control": [1.0, "abc"], "experiment": []}}),
            "metrics.latency.control[1]: must be a number",
        ),
        (
            request([metric("latency")], {"latency": {"control": [True], "experiment": []}}),
            "metrics.latency.control[0]",
        ),
        (request([metric("latency")], {"latency": {"control": []}}), "metrics.latency.experiment: is required"),
        (
            request([metric("latency", direction="up")], {}),
            "canaryConfig.metrics[0].analysisConfigurations.canary.direction: must be one of",
        ),
        (request([metric("latency", critical="yes")], {}), "canary.critical: must be true or false"),
        (
            request([metric("latency", effectSize={"allowedIncrease": "1.2"})], {}),
            "effectSize.allowedIncrease: must be a finite number",
        ),
        (
            request([metric("latency")], {}, weights={"main": "sixty"}),
            "canaryConfig.classifier.groupWeights.main: must be a finite number",
        ),
        (request([{"groups": ["x"]}], {}), "canaryConfig.metrics[0].name: is required"),
        (request([], {}), "canaryConfig.metrics: must be a non-empty list"),
        (
            {**request([metric("latency")], {}), "scoreThresholds": {"marginal": 90, "pass": 75}},
            "scoreThresholds.marginal: must not be above",
        ),
        (
            {**request([metric("latency")], {}), "scoreThresholds": {"pass": "high"}},
            "scoreThresholds.pass: must be a number",
        ),
        ({"metrics": {}}, "canaryConfig: is required"),
    ],
)
def test_it_names_the_field_of_bad_input(document: dict[str, Any], message: str) -> None:
    with pytest.raises(JudgeInputError) as caught:
        judge_request(document)
    assert message in str(caught.value)
