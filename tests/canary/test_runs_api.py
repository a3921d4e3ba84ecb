"""/api/v1/canary-runs/: runs, their intervals with the raw evidence, the judge input, replays."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application
from canary import actions
from canary.models import CanaryConfig, CanaryReplay, CanaryRun
from spinweb.models import AuditSource
from tests.canary.config_samples import sample
from tests.canary.run_samples import WEAK, error_interval, save_configs, shop_run, strict_document
from tests.conftest import api_as

URL = "/api/v1/canary-runs/"


@pytest.fixture
def configs(developer: User, shop: Application) -> tuple[CanaryConfig, CanaryConfig]:
    return save_configs(developer)


@pytest.fixture
def run(shop: Application, configs: tuple[CanaryConfig, CanaryConfig]) -> CanaryRun:
    return shop_run(shop, configs[0])


def interval_url(run: CanaryRun, index: int, tail: str = "") -> str:
    return f"{URL}{run.pk}/intervals/{index}/{tail}"


def test_it_lists_the_runs_a_user_can_read(
    run: CanaryRun, viewer: User, outsider: User, admin: User, blog: Application, configs: tuple[CanaryConfig, ...]
) -> None:
    other = shop_run(blog, configs[0], state=CanaryRun.State.SUCCEEDED)
    listed = api_as(viewer).get(URL).json()["results"]
    assert [row["id"] for row in listed] == [str(run.pk)]
    row = listed[0]
    assert (row["application"], row["canaryConfigName"], row["canaryConfigVersion"]) == ("shop", "web-latency", 1)
    assert (row["state"], row["score"], row["classification"]) == ("FAILED", 0.0, "Fail")
    assert row["scoreThresholds"] == {"marginal": 50, "pass": 75}
    assert row["reportUrl"] == f"/applications/shop/canary-runs/{run.pk}/"
    assert [row["id"] for row in api_as(outsider).get(URL).json()["results"]] == [str(other.pk)]
    filtered = api_as(admin).get(URL, {"application": "blog"}).json()["results"]
    assert [row["id"] for row in filtered] == [str(other.pk)]
    by_state = api_as(admin).get(URL, {"state": ["FAILED", "CANCELED"]}).json()["results"]
    assert [row["id"] for row in by_state] == [str(run.pk)]


def test_it_lists_runs_in_a_fixed_number_of_queries(
    shop: Application, configs: tuple[CanaryConfig, ...], developer: User
) -> None:
    for _ in range(3):
        shop_run(shop, configs[0])
    client = api_as(developer)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    shop_run(shop, configs[0])
    with CaptureQueriesContext(connection) as more:
        assert len(client.get(URL).json()["results"]) == 4
    assert len(more) == len(few)


def test_it_shows_a_run_with_its_intervals(run: CanaryRun, viewer: User) -> None:
    shown = api_as(viewer).get(f"{URL}{run.pk}/").json()
    assert shown["plan"]["intervals"] == 2
    assert shown["scopes"][0]["experimentScope"] == "shop-web-canary-v000"
    assert shown["canaryConfig"]["name"] == "web-latency"
    assert [(i["index"], i["score"], i["classification"]) for i in shown["intervals"]] == [
        (1, 100.0, "Pass"),
        (2, 0.0, "Fail"),
    ]
    second = shown["intervals"][1]
    assert second["reason"].startswith("Canary Failed: critical metric 'errors' is High")
    assert second["windows"]["experiment"] == {"start": "2026-03-01T12:00:00+00:00", "end": "2026-03-01T14:00:00+00:00"}
    assert second["warnings"] == [WEAK]
    assert "data" not in second


def test_it_shows_an_interval_with_its_evidence(run: CanaryRun, viewer: User) -> None:
    shown = api_as(viewer).get(interval_url(run, 2)).json()
    assert (shown["runId"], shown["index"], shown["classification"]) == (str(run.pk), 2, "Fail")
    assert shown["reportUrl"] == f"/applications/shop/canary-runs/{run.pk}/intervals/2/"
    assert shown["result"]["groupScores"] == [
        {"name": "errors", "score": 0.0, "classification": "Fail"},
        {"name": "latency", "score": 100.0, "classification": "Pass"},
    ]
    errors = shown["result"]["metrics"][0]
    assert (errors["name"], errors["classification"], errors["critical"]) == ("errors", "High", True)
    assert errors["experimentStats"]["count"] == 40
    control = shown["data"]["metrics"]["errors"]["control"]
    assert control["values"][:4] == [0.0, 1.0, "NaN", 0.0]
    assert control["query"] == 'avg(errors{job="shop-web-baseline-v000"})'
    assert (control["scope"], control["location"]) == ("shop-web-baseline-v000", "local")
    assert shown["replays"] == []


def test_it_hides_runs_from_those_who_cannot_read(run: CanaryRun, outsider: User, viewer: User) -> None:
    for url in [f"{URL}{run.pk}/", interval_url(run, 1), interval_url(run, 1, "input/")]:
        assert api_as(outsider).get(url).status_code == 404, url
    assert api_as(outsider).post(interval_url(run, 1, "replay/"), {}, format="json").status_code == 404
    assert api_as(None).get(URL).status_code == 401
    assert api_as(viewer).get(f"{URL}not-a-uuid/").status_code == 404
    assert api_as(viewer).get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404
    missing = api_as(viewer).get(interval_url(run, 9))
    assert missing.status_code == 404
    assert "no judged interval 9" in missing.json()["detail"]


def test_it_gives_the_judge_input_that_reproduces_the_stored_result(
    run: CanaryRun, viewer: User, tmp_path: Path
) -> None:
    document = api_as(viewer).get(interval_url(run, 2, "input/")).json()
    assert set(document) == {"canaryConfig", "scoreThresholds", "metrics"}
    assert document["metrics"]["errors"]["control"][:3] == [0.0, 1.0, "NaN"]
    path = tmp_path / "input.json"
    path.write_text(json.dumps(document))
    out = StringIO()
    call_command("canary", "judge", "--input", str(path), stdout=out)
    assert json.loads(out.getvalue()) == run.judgments.get(index=2).result


def test_it_replays_with_a_stricter_saved_config(
    run: CanaryRun, developer: User, configs: tuple[CanaryConfig, CanaryConfig]
) -> None:
    strict = configs[1]
    by_id = api_as(developer).post(interval_url(run, 1, "replay/"), {"canaryConfigId": str(strict.pk)}, format="json")
    assert by_id.status_code == 201, by_id.content
    replay = by_id.json()
    assert (replay["score"], replay["classification"]) == (60.0, "Marginal")
    assert replay["config"] == "web-latency-strict v1"
    assert replay["scoreThresholds"] == {"marginal": 50, "pass": 75}
    assert [m["classification"] for m in replay["result"]["metrics"]] == ["Pass", "High"]
    assert replay["createdBy"] == "developer"
    by_name = api_as(developer).post(interval_url(run, 1, "replay/"), {"canaryConfigId": strict.name}, format="json")
    assert by_name.json()["result"] == replay["result"]
    shown = api_as(developer).get(interval_url(run, 1)).json()
    assert (shown["score"], shown["classification"]) == (100.0, "Pass")  # the stored verdict stays
    assert len(shown["replays"]) == 2
    assert {r["classification"] for r in shown["replays"]} == {"Marginal"}


def test_it_replays_an_edited_config_with_other_thresholds(run: CanaryRun, developer: User) -> None:
    body = {"canaryConfig": strict_document(), "scoreThresholds": {"marginal": 40, "pass": 60}}
    replay = api_as(developer).post(interval_url(run, 1, "replay/"), body, format="json").json()
    assert (replay["score"], replay["classification"]) == (60.0, "Pass")
    assert replay["config"] == "edited web-latency-strict"
    assert replay["scoreThresholds"] == {"marginal": 40, "pass": 60}
    assert (
        replay["canaryConfig"]["metrics"][1]["analysisConfigurations"]["canary"]["effectSize"]["allowedIncrease"]
        == 1.01
    )


def test_it_replays_the_run_config_with_new_thresholds_alone(run: CanaryRun, developer: User) -> None:
    body = {"scoreThresholds": {"pass": 100}}
    replay = api_as(developer).post(interval_url(run, 1, "replay/"), body, format="json").json()
    assert replay["config"] == "web-latency v1 (as run)"
    assert replay["scoreThresholds"] == {"marginal": 50, "pass": 100}
    assert (replay["score"], replay["classification"]) == (100.0, "Pass")


def test_it_refuses_replays_without_write(run: CanaryRun, viewer: User) -> None:
    refused = api_as(viewer).post(interval_url(run, 1, "replay/"), {}, format="json")
    assert refused.status_code == 403
    assert "WRITE" in refused.json()["detail"]
    assert not CanaryReplay.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"canaryConfig": "strict"}, "canaryConfig", "must be a JSON object"),
        ({"canaryConfig": {"metrics": []}}, "canaryConfig.metrics", "non-empty list"),
        (
            {
                "canaryConfig": sample(
                    metrics=[{"name": "p99", "analysisConfigurations": {"canary": {"direction": "up"}}}]
                )
            },
            "canaryConfig.metrics[0].analysisConfigurations.canary.direction",
            "must be one of",
        ),
        ({"scoreThresholds": {"marginal": 90, "pass": 80}}, "scoreThresholds.marginal", "not be above"),
        ({"scoreThresholds": {"pass": "high"}}, "scoreThresholds.pass", "number from 0 to 100"),
        ({"scoreThresholds": [50, 75]}, "scoreThresholds", "JSON object"),
        ({"canaryConfigId": "no-such-config"}, "canaryConfigId", "no canary config 'no-such-config'"),
        ({"canaryConfigId": "web-latency", "canaryConfig": sample()}, "canaryConfigId", "not both"),
    ],
)
def test_it_answers_bad_replay_input_naming_the_field(
    run: CanaryRun, developer: User, body: object, field: str, words: str
) -> None:
    response = api_as(developer).post(interval_url(run, 1, "replay/"), body, format="json")
    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert words in error["message"]
    assert response.json()["detail"].startswith(f"Invalid replay. {field}: ")
    assert not CanaryReplay.objects.exists()


def test_it_does_not_replay_with_a_config_the_user_cannot_read(
    run: CanaryRun, developer: User, admin: User, blog: Application
) -> None:
    hidden = actions.save_config(admin, sample(id=None, applications=["blog"]), source=AuditSource.API)
    response = api_as(developer).post(
        interval_url(run, 1, "replay/"), {"canaryConfigId": str(hidden.pk)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "canaryConfigId"


def test_it_cannot_replay_an_interval_that_has_no_data(run: CanaryRun, developer: User) -> None:
    error_interval(run, 3)
    response = api_as(developer).post(interval_url(run, 3, "replay/"), {}, format="json")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "interval"
    assert "Prometheus is unreachable" in error["message"]
    shown = api_as(developer).get(interval_url(run, 3)).json()
    assert (shown["classification"], shown["score"], shown["result"]) == ("Error", None, {})
    assert "Prometheus is unreachable" in shown["error"]


def test_it_documents_the_run_endpoints(developer: User) -> None:
    paths = api_as(developer).get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    assert set(paths["/api/v1/canary-runs/"]) == {"get"}
    assert set(paths["/api/v1/canary-runs/{id}/intervals/{index}/"]) == {"get"}
    assert set(paths["/api/v1/canary-runs/{id}/intervals/{index}/input/"]) == {"get"}
    assert set(paths["/api/v1/canary-runs/{id}/intervals/{index}/replay/"]) == {"post"}
