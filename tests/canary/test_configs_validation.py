"""Checking a canary config: every problem at once, each named by its JSON path."""

from __future__ import annotations

from typing import Any

from canary.configs import config_issues
from tests.canary.config_samples import sample


def paths(document: Any) -> dict[str, str]:
    return {issue.path: issue.message for issue in config_issues(document)}


def test_it_accepts_a_kayenta_config() -> None:
    assert config_issues(sample()) == []


def test_it_reports_every_problem_at_once_with_its_path() -> None:
    document = sample()
    document["metrics"][0]["query"]["type"] = "atlas"
    del document["metrics"][1]["scopeName"]
    document["metrics"][1]["analysisConfigurations"]["canary"]["direction"] = "up"
    document["classifier"]["groupWeights"]["latency"] = "forty"
    document["judge"]["judgeConfigurations"] = {"confLevel": 2}
    found = paths(document)
    assert "'atlas' is not a known metric source" in found["metrics[0].query.type"]
    assert "prometheus" in found["metrics[0].query.type"]
    assert "is required" in found["metrics[1].scopeName"]
    assert "must be one of" in found["metrics[1].analysisConfigurations.canary.direction"]
    assert found["classifier.groupWeights.latency"] == "must be a number from 0 to 100."
    assert "between 0 and 1" in found["judge.judgeConfigurations.confLevel"]


def test_it_requires_name_applications_and_metrics() -> None:
    found = paths({"metrics": []})
    assert set(found) == {"name", "applications", "metrics"}


def test_it_refuses_a_document_that_is_not_an_object() -> None:
    assert paths(["metrics"]) == {"": "The canary config must be a JSON object."}


def test_it_requires_groups_and_a_query_on_each_metric() -> None:
    document = sample()
    document["metrics"][0]["groups"] = []
    del document["metrics"][1]["query"]
    found = paths(document)
    assert found["metrics[0].groups"] == "must be a non-empty list of group names."
    assert "is required" in found["metrics[1].query"]


def test_it_wants_weights_that_add_up_to_100_for_every_group() -> None:
    assert (
        "add up to 90"
        in paths(sample(classifier={"groupWeights": {"errors": 50, "latency": 40}}))["classifier.groupWeights"]
    )
    found = paths(sample(classifier={"groupWeights": {"errors": 100, "cpu": 0}}))
    assert found["classifier.groupWeights.cpu"] == "names no group of any metric."
    assert found["classifier.groupWeights"] == "has no weight for the group 'latency'."
    assert paths(sample(classifier={"groupWeights": {"errors": True, "latency": 40}})) == {
        "classifier.groupWeights.errors": "must be a number from 0 to 100."
    }


def test_it_accepts_a_config_without_weights() -> None:
    assert paths(sample(classifier={})) == {}


def test_it_checks_templates_and_the_templates_metrics_name() -> None:
    document = sample(templates={"web": 3})
    found = paths(document)
    assert found["templates.web"] == "must be a string."
    assert "names no entry of templates: 'web'" in found["metrics[0].query.customFilterTemplate"]


def test_it_refuses_duplicate_metric_names_and_unknown_judges() -> None:
    document = sample(judge={"name": "dredd-v1.0"})
    document["metrics"][1]["name"] = "errors"
    found = paths(document)
    assert found["metrics[1].name"] == "duplicates the metric name 'errors'."
    assert "NetflixACAJudge-v1.0" in found["judge.name"]


def test_it_names_non_numeric_effect_sizes() -> None:
    document = sample()
    document["metrics"][1]["analysisConfigurations"]["canary"]["effectSize"]["allowedIncrease"] = "1.1"
    found = paths(document)
    assert found == {"metrics[1].analysisConfigurations.canary.effectSize.allowedIncrease": "must be a finite number."}
