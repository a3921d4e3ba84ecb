"""Canary run reports: the runs list, a run's intervals, one interval's evidence and charts, replay."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application
from canary import charts, runs
from canary.judge.request import judge_request
from canary.models import CanaryConfig, CanaryJudgment, CanaryReplay, CanaryRun
from pipelines.models import Execution
from tests.canary.config_samples import sample
from tests.canary.helpers import normal
from tests.conftest import browser_as

T0 = datetime.fromisoformat("2026-03-01T12:00:00+00:00")
SCOPES = [
    {
        "scopeName": "default",
        "controlScope": "shop-web-baseline-v001",
        "controlLocation": "local",
        "experimentScope": "shop-web-canary-v002",
        "experimentLocation": "local",
        "step": 60,
    }
]
PLAN = runs.make_plan(lifetime_minutes=120, interval_minutes=60, baseline_offset_minutes=30, started=T0)
DASH = "\u2013"  # between a window's start and end
QUERY = 'sum(rate(http_errors_total{job="shop-web-canary-v002"}[1m]))'


def side(values: list[Any], start: datetime, query: str = QUERY, scope: str = "shop-web-canary-v002") -> dict[str, Any]:
    stamps = [(start + timedelta(minutes=i)).isoformat() for i in range(len(values))]
    return {"values": values, "timestamps": stamps, "query": query, "reason": "", "scope": scope, "location": "local"}


def interval_data() -> dict[str, Any]:
    """Errors clearly up in the canary (a critical Fail); p99 alike but on 30 points with two gaps."""
    control_start, experiment_start = T0 - timedelta(minutes=30), T0
    p99: list[Any] = normal(10.0, 30, seed=3)
    p99[4] = "NaN"
    return {
        "metrics": {
            "errors": {
                "control": side(normal(1.0, 60), control_start, scope="shop-web-baseline-v001"),
                "experiment": side(normal(5.0, 60, seed=5), experiment_start),
            },
            "p99": {
                "control": side(normal(10.0, 30), control_start, "latency_p99 baseline", "shop-web-baseline-v001"),
                "experiment": side(p99, experiment_start, "latency_p99 canary"),
            },
        }
    }


def make_run(application: Application, **fields: Any) -> CanaryRun:
    values: dict[str, Any] = {
        "application": application,
        "config_name": "web-latency",
        "config_version": 3,
        "config_document": sample(),
        "thresholds": {"marginal": 50, "pass": 75},
        "scopes": SCOPES,
        "plan": PLAN,
    }
    return CanaryRun.objects.create(**(values | fields))


def judge(run: CanaryRun, index: int = 1, data: dict[str, Any] | None = None, **fields: Any) -> CanaryJudgment:
    window = runs.windows(run.plan)[index - 1]
    data = data if data is not None else interval_data()
    result = judge_request(runs.request_document_of(run.config_document, run.thresholds, data)).as_dict()
    values: dict[str, Any] = {
        "score": result["score"],
        "classification": result["classification"],
        "reason": result["reason"],
        "result": result,
        "data": data,
        "warnings": ["Metric 'p99' has 29 experiment points, fewer than 50: the verdict on it is weak."],
    }
    return CanaryJudgment.objects.create(
        run=run,
        index=index,
        control_start=window.control_start,
        control_end=window.control_end,
        experiment_start=window.experiment_start,
        experiment_end=window.experiment_end,
        **(values | fields),
    )


def page_of(user: User, url: str) -> str:
    response = browser_as(user).get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def run_url(run: CanaryRun, tail: str = "") -> str:
    return f"/applications/{run.application.name}/canary-runs/{run.pk}/{tail}"


def text_of(page: str, element_id: str) -> str:
    """The visible text of the element with ``element_id`` (tags dropped, spaces collapsed)."""
    match = re.search(rf'<(\w+)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no #{element_id} in the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(2))).split())


def test_it_shows_a_run_with_its_plan_deployments_and_intervals(viewer: User, shop: Application) -> None:
    execution = Execution.objects.create(application=shop, name="release", config={}, status="TERMINAL")
    deployments = {
        "control": {
            "account": "local",
            "region": "local",
            "serverGroup": "shop-web-baseline-v001",
            "artifact": {"name": "shop", "version": "1.4"},
        },
        "experiment": {
            "account": "local",
            "region": "local",
            "serverGroup": "shop-web-canary-v002",
            "artifact": {"name": "shop", "version": "1.5"},
        },
        "trafficWeight": 11,
        "cleanedUp": True,
    }
    run = make_run(shop, execution=execution, deployments=deployments, state="FAILED", classification="Fail")
    run.message = "Canary interval 1 of 2 scored 30.0, at or below marginal 50"
    run.save()
    judgment = judge(run)
    page = page_of(viewer, run_url(run))
    assert "Canary run of web-latency v3" in page
    assert text_of(page, "run-state") == "Failed"
    assert "Canary interval 1 of 2 scored 30.0, at or below marginal 50" in page
    assert f'href="/applications/shop/executions/{execution.pk}/"' in page
    assert "Lifetime</dt><dd>120 min" in page
    assert "60 min (2 intervals)" in page
    assert "Baseline offset</dt><dd>30 min" in page
    assert "shop-web-canary-v002" in page
    assert "<code>shop:1.4</code>" in page
    assert "<code>shop:1.5</code>" in page
    assert "Traffic weight 11 each" in page
    row = text_of(page, "interval-1")
    assert (
        f"Interval 1 2026-03-01 12:00:00 {DASH} 13:00:00 2026-03-01 11:30:00 {DASH} 12:30:00 {judgment.score:.1f}"
        in row
    )
    assert f"{judgment.classification} ⚠ 1" in row
    assert f'href="{run_url(run, "intervals/1/")}"' in page


def test_it_lists_the_applications_runs_by_state_in_a_fixed_number_of_queries(
    viewer: User, shop: Application, blog: Application
) -> None:
    judge(make_run(shop, state="SUCCEEDED", score=91.5, classification="Pass"))
    make_run(blog, config_name="blog-config")
    with CaptureQueriesContext(connection) as one:
        page_of(viewer, "/applications/shop/canary-runs/")
    for _ in range(4):
        make_run(shop)
    with CaptureQueriesContext(connection) as five:
        page = page_of(viewer, "/applications/shop/canary-runs/")
    assert len(five) == len(one)
    assert page.count("web-latency v3") == 5
    assert "blog-config" not in page
    assert "91.5" in page
    assert "1 of 2" in page
    succeeded = page_of(viewer, "/applications/shop/canary-runs/?state=SUCCEEDED")
    assert succeeded.count("web-latency v3") == 1
    assert 'href="/applications/shop/canary-runs/"' in page_of(viewer, "/applications/shop/")


def test_it_shows_an_intervals_scores_metrics_queries_and_warnings(viewer: User, shop: Application) -> None:
    run = make_run(shop)
    judgment = judge(run)
    page = page_of(viewer, run_url(run, "intervals/1/"))
    metrics = {metric["name"]: metric for metric in judgment.result["metrics"]}
    assert metrics["errors"]["classification"] == "High"
    assert text_of(page, "judgment-score") == f"Score {judgment.score:.1f}"
    assert text_of(page, "judgment-classification") == judgment.classification
    assert judgment.reason == text_of(page, "judgment-reason")
    errors_row = text_of(page, "metric-row-1")
    assert errors_row.startswith("errors errors High")
    assert f"{metrics['errors']['estimate']:.3f} [{metrics['errors']['ciLower']:.3f}," in errors_row
    assert f"60 / {metrics['errors']['controlStats']['mean']:.3f}" in errors_row
    group_scores = [group["name"] for group in judgment.result["groupScores"]]
    assert group_scores
    assert all(f"<td>{name}</td>" in page for name in group_scores)
    assert "sum(rate(http_errors_total{job=&quot;shop-web-canary-v002&quot;}[1m]))" in page
    assert "latency_p99 baseline" in page
    assert "latency_p99 canary" in page
    assert "30 (1 missing)" in page
    assert "⚠ 1 warning" in page
    assert "Metric &#x27;p99&#x27; has 29 experiment points, fewer than 50" in page
    assert f"2026-03-01 11:30:00</time> {DASH} <time" in page  # the control window, offset by 30 minutes


def test_it_draws_a_path_per_series_with_missing_values_as_gaps(viewer: User, shop: Application) -> None:
    run = make_run(shop)
    judge(run)
    page = page_of(viewer, run_url(run, "intervals/1/"))
    charts_of_p99 = page.split('id="metric-2"', 1)[1]
    time_chart = charts_of_p99.split("</svg>", 1)[0]
    paths = dict(re.findall(r'<path class="series series-(\w+)" d="([^"]+)"', time_chart))
    assert set(paths) == {"control", "experiment"}
    assert paths["control"].count("M") == 1
    assert paths["experiment"].count("M") == 2  # the NaN at point 5 breaks the canary's line
    assert "<title id=" in time_chart
    assert "p99: control and experiment over time" in time_chart
    assert "Experiment (canary): 30 points from 2026-03-01T12:00:00+00:00, 1 missing (shown as gaps)" in time_chart
    assert "12:10:00" in time_chart
    assert "11:40:00" in time_chart
    distribution = charts_of_p99.split("</svg>", 2)[1]
    assert distribution.count('class="series series-') == 2
    assert distribution.count('class="median"') == 2
    assert "median " in distribution


def test_it_draws_a_lone_point_between_gaps_as_a_dot() -> None:
    scale = charts.Scale(0, 10, 0, 100)
    assert charts.line_path([(0, 1.0), (1, None), (2, 3.0), (3, float("nan")), (4, 2.0), (5, 2.0)], scale, scale) == (
        "M0.0,10.0 h0 M20.0,30.0 h0 M40.0,20.0 L50.0,20.0"
    )


def test_it_shows_the_error_of_an_interval_that_could_not_be_judged(viewer: User, shop: Application) -> None:
    run = make_run(shop, state="FAILED", classification="Error")
    message = "metric 'errors', control (shop-web-baseline-v001): Prometheus at 127.0.0.1:9 is unreachable"
    judge(run, data={"metrics": {}}, classification="Error", score=None, reason=message, error=message, result={})
    assert "Error" in text_of(page_of(viewer, run_url(run)), "interval-1")
    page = page_of(viewer, run_url(run, "intervals/1/"))
    assert text_of(page, "judgment-error") == f"This interval could not be judged {message}"
    assert "No score" in page
    assert "This interval has no stored data to replay." in page  # WRITE is not enough: nothing to judge


@pytest.mark.parametrize("user_name", ["outsider", "nobody"])
def test_it_hides_runs_from_people_without_read(
    user_name: str, request: pytest.FixtureRequest, shop: Application
) -> None:
    run = make_run(shop)
    judge(run)
    client = browser_as(request.getfixturevalue(user_name))
    for url in ("/applications/shop/canary-runs/", run_url(run), run_url(run, "intervals/1/")):
        assert client.get(url).status_code == 404, url
    assert client.post(run_url(run, "intervals/1/replay/"), {"config": "run"}).status_code == 404


def test_it_does_not_show_a_run_under_another_application(admin: User, shop: Application, blog: Application) -> None:
    run = make_run(blog)
    judge(run)
    client = browser_as(admin)
    assert client.get(f"/applications/shop/canary-runs/{run.pk}/").status_code == 404
    assert client.get(f"/applications/blog/canary-runs/{run.pk}/intervals/2/").status_code == 404


def test_it_lets_only_writers_replay(viewer: User, shop: Application) -> None:
    run = make_run(shop)
    judge(run)
    page = page_of(viewer, run_url(run, "intervals/1/"))
    assert "Replaying needs WRITE permission on shop." in page
    assert "<textarea" not in page
    form = {"config": "run", "marginal": "10", "passing": "20"}
    assert browser_as(viewer).post(run_url(run, "intervals/1/replay/"), form).status_code == 403
    assert not CanaryReplay.objects.exists()


def test_it_replays_with_other_thresholds_and_shows_it_next_to_the_original(developer: User, shop: Application) -> None:
    document = sample()
    document["metrics"][0]["analysisConfigurations"]["canary"]["critical"] = False
    run = make_run(shop, config_document=document)
    judgment = judge(run)
    assert (judgment.score, judgment.classification) == (40.0, "Fail")  # only the latency group (40 %) passes
    client = browser_as(developer)
    form = {"config": "run", "document": "", "marginal": "10", "passing": "30"}
    response = client.post(run_url(run, "intervals/1/replay/"), form, follow=True)
    replay = CanaryReplay.objects.get()
    assert (replay.judgment, replay.thresholds, replay.created_by) == (
        judgment,
        {"marginal": 10, "pass": 30},
        developer,
    )
    assert replay.config_label == "web-latency v3 (as run)"
    page = response.content.decode()
    assert response.redirect_chain[-1][0].endswith(f"?replay={replay.pk}#replay-result")
    assert text_of(page, "replay-score") == "40.0"
    assert text_of(page, "replay-classification") == "Pass"
    assert "<th>Thresholds (marginal / pass)</th><td>50 / 75</td><td>10 / 30</td>" in page
    assert text_of(page, "replay-changes") == "No metric changed its classification."
    assert f'id="replay-{replay.pk}"' in page  # listed with the past replays


def test_it_replays_with_pasted_json_and_lists_the_metrics_that_changed(developer: User, shop: Application) -> None:
    run = make_run(shop)
    judge(run)
    pasted = sample()
    pasted["metrics"][0]["analysisConfigurations"]["canary"]["direction"] = "decrease"
    form = {"config": "run", "document": json.dumps(pasted), "marginal": "50", "passing": "75"}
    page = browser_as(developer).post(run_url(run, "intervals/1/replay/"), form, follow=True).content.decode()
    replay = CanaryReplay.objects.get()
    assert replay.config_label == "edited (pasted JSON)"
    assert replay.config_document["metrics"][0]["analysisConfigurations"]["canary"]["direction"] == "decrease"
    assert text_of(page, "replay-changes") == "errors : High → Pass"


def test_it_replays_with_another_config_of_the_application(developer: User, shop: Application) -> None:
    run = make_run(shop)
    judge(run)
    document = sample()
    document["metrics"] = document["metrics"][1:]  # p99 only
    config = CanaryConfig.objects.create(application=shop, name="latency-only", document=document, version=2)
    form = {"config": str(config.pk), "marginal": "50", "passing": "75"}
    page = browser_as(developer).post(run_url(run, "intervals/1/replay/"), form, follow=True).content.decode()
    assert CanaryReplay.objects.get().config_label == "latency-only v2"
    assert "errors : High → —" in text_of(page, "replay-changes")


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"document": '{"name": "x",\n  oops}'}, "document", "Line 2, column 3: Expecting property name"),
        ({"document": "[1, 2]"}, "document", "A canary config must be a JSON object."),
        ({"document": '{"name": "x", "metrics": []}'}, "document", "canaryConfig.metrics: must be a non-empty list"),
        ({"marginal": "80", "passing": "75"}, "marginal", "scoreThresholds.marginal: must not be above"),
        ({"marginal": "lots"}, "marginal", "Enter a number."),
    ],
)
def test_it_names_the_field_of_bad_replay_input_and_stores_nothing(
    developer: User, shop: Application, form: dict[str, str], field: str, message: str
) -> None:
    run = make_run(shop)
    judge(run)
    data = {"config": "run", "marginal": "50", "passing": "75"} | form
    response = browser_as(developer).post(run_url(run, "intervals/1/replay/"), data)
    assert response.status_code == 400
    errors = re.findall(r'data-field="(\w+)" role="alert">([^<]*)</small>', response.content.decode())
    assert len(errors) == 1
    assert errors[0][0] == field
    assert message in errors[0][1].replace("&quot;", '"')
    assert not CanaryReplay.objects.exists()
