"""``manage.py canary runs | report | replay``: what an operator reads, and the JSON scripts read."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from applications.models import Application
from canary.models import CanaryConfig, CanaryReplay, CanaryRun
from tests.canary.run_samples import WEAK, save_configs, shop_run, strict_document
from tests.conftest import api_as


@pytest.fixture
def configs(developer: User, shop: Application) -> tuple[CanaryConfig, CanaryConfig]:
    return save_configs(developer)


@pytest.fixture
def run(shop: Application, configs: tuple[CanaryConfig, CanaryConfig]) -> CanaryRun:
    return shop_run(shop, configs[0])


def canary(*args: str) -> str:
    out = StringIO()
    call_command("canary", *args, stdout=out)
    return out.getvalue()


def canary_json(*args: str) -> Any:
    return json.loads(canary(*args, "--json"))


def failure(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        call_command("canary", *args, stdout=StringIO(), stderr=StringIO())
    return caught.value


def test_it_lists_runs_as_a_table_and_as_json(
    run: CanaryRun, blog: Application, configs: tuple[CanaryConfig, ...]
) -> None:
    other = shop_run(blog, configs[0], state=CanaryRun.State.SUCCEEDED)
    header, *rows = canary("runs").splitlines()
    assert header.split() == ["RUN", "APPLICATION", "CONFIG", "STATE", "SCORE", "RESULT", "STARTED"]
    assert len(rows) == 2
    shop_rows = canary("runs", "--application", "shop").splitlines()[1:]
    assert [row.split()[:7] for row in shop_rows] == [
        [str(run.pk), "shop", "web-latency", "v1", "FAILED", "0.0", "Fail"]
    ]
    listed = canary_json("runs", "--state", "SUCCEEDED")
    assert [row["id"] for row in listed] == [str(other.pk)]
    assert canary("runs", "--application", "nothing-here") == "No canary runs.\n"


def test_it_reports_a_run_interval_by_interval(run: CanaryRun) -> None:
    text = canary("report", str(run.pk))
    assert f"Canary run {run.pk} of shop, config web-latency v1" in text
    assert "State FAILED, score 0.0 Fail (marginal 50, pass 75)" in text
    assert "Intervals judged: 2 of 2" in text
    lines = text.splitlines()
    first = next(line for line in lines if line.startswith("1 "))
    assert first.split()[:3] == ["1", "100.0", "Pass"]
    assert "2026-03-01 12:00:00 to 2026-03-01 13:00:00" in first
    second = next(line for line in lines if line.startswith("2 "))
    assert "Canary Failed: critical metric 'errors' is High" in second


def test_it_reports_one_interval_with_its_evidence(run: CanaryRun) -> None:
    text = canary("report", str(run.pk), "--interval", "2")
    assert "Interval 2 of canary run" in text
    assert "score 0.0, Fail" in text
    assert "Control window:    2026-03-01 12:00:00 to 2026-03-01 14:00:00" in text
    assert "Group scores:" in text
    metric_rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  errors")}
    assert metric_rows["errors"][1:3] == ["(critical)", "High"]
    assert (
        'Query errors control (shop-web-baseline-v000@local, 61 points): avg(errors{job="shop-web-baseline-v000"})'
        in text
    )
    assert f"Warning: {WEAK}" in text


def test_it_prints_the_api_documents_as_json(run: CanaryRun, viewer: User) -> None:
    client = api_as(viewer)
    assert canary_json("report", str(run.pk)) == client.get(f"/api/v1/canary-runs/{run.pk}/").json()
    interval = client.get(f"/api/v1/canary-runs/{run.pk}/intervals/1/").json()
    assert canary_json("report", str(run.pk), "--interval", "1") == interval
    assert canary_json("runs") == client.get("/api/v1/canary-runs/").json()["results"]


def test_it_replays_exactly_as_the_api_does(
    run: CanaryRun, developer: User, configs: tuple[CanaryConfig, CanaryConfig]
) -> None:
    strict = configs[1]
    url = f"/api/v1/canary-runs/{run.pk}/intervals/1/replay/"
    body = {"canaryConfigId": str(strict.pk), "scoreThresholds": {"marginal": 55, "pass": 80}}
    from_api = api_as(developer).post(url, body, format="json").json()
    from_cli = canary_json(
        "replay",
        str(run.pk),
        "--interval",
        "1",
        "--config-id",
        str(strict.pk),
        "--thresholds",
        "55,80",
        "--user",
        "developer",
    )
    assert (from_cli["score"], from_cli["classification"]) == (60.0, "Marginal")
    volatile = {"id", "createdAt"}
    assert {k: v for k, v in from_cli.items() if k not in volatile} == {
        k: v for k, v in from_api.items() if k not in volatile
    }


def test_it_replays_a_config_file_and_says_what_changed(run: CanaryRun, tmp_path: Path) -> None:
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(strict_document()))
    text = canary("replay", str(run.pk), "--interval", "1", "--config", str(path))
    lines = text.splitlines()
    assert lines[0].startswith("Replay ")
    assert lines[0].endswith(
        "of interval 1 with edited web-latency-strict (marginal 50, pass 75): score 60.0, Marginal"
    )
    assert "Judged when run: score 100.0, Pass" in lines
    assert "  p99: Pass -> High" in lines
    assert "  errors: Pass" in lines
    replay = CanaryReplay.objects.get()
    assert (replay.created_by, replay.classification) == (None, "Marginal")


def test_it_replays_the_run_config_with_new_thresholds_by_name(run: CanaryRun) -> None:
    replay = canary_json("replay", str(run.pk), "--interval", "2", "--config-id", "web-latency", "--thresholds", "0,0")
    assert replay["config"] == "web-latency v1"
    assert (replay["score"], replay["classification"]) == (0.0, "Fail")  # a critical failure ignores thresholds


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--thresholds", "fifty"], 2, "--thresholds: give two numbers"),
        (["--thresholds", "90,80"], 2, "scoreThresholds.marginal: must not be above scoreThresholds.pass."),
        (["--thresholds", "50,175"], 2, "scoreThresholds.pass: must be a number from 0 to 100."),
        (["--config-id", "nope"], 2, "canaryConfigId: there is no canary config 'nope'"),
        (["--user", "ghost"], 2, "No user named 'ghost'."),
    ],
)
def test_it_exits_naming_what_is_wrong(run: CanaryRun, args: list[str], code: int, words: str) -> None:
    error = failure("replay", str(run.pk), "--interval", "1", *args)
    assert error.returncode == code
    assert words in str(error)
    assert not CanaryReplay.objects.exists()


def test_it_names_the_bad_field_of_a_config_file(run: CanaryRun, tmp_path: Path) -> None:
    document = strict_document()
    document["metrics"][0]["analysisConfigurations"]["canary"]["critical"] = "yes"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    error = failure("replay", str(run.pk), "--interval", "1", "--config", str(path))
    assert (error.returncode, str(error)) == (
        2,
        "canaryConfig.metrics[0].analysisConfigurations.canary.critical: must be true or false.",
    )
    path.write_text("{not json")
    assert "is not JSON: Expecting property name" in str(
        failure("replay", str(run.pk), "--interval", "1", "--config", str(path))
    )


def test_it_says_when_a_run_or_interval_is_missing(run: CanaryRun) -> None:
    assert str(failure("report", "nope")) == "No canary run 'nope'."
    assert failure("report", "00000000-0000-0000-0000-000000000000").returncode == 3
    missing = failure("report", str(run.pk), "--interval", "7")
    assert (missing.returncode, str(missing)) == (3, f"Canary run {run.pk} has no judged interval 7 (judged: 1, 2).")
    assert failure("replay", str(run.pk), "--interval", "7").returncode == 3


def test_it_judges_the_interval_input_to_the_stored_result(run: CanaryRun, viewer: User, tmp_path: Path) -> None:
    for index in (1, 2):
        document = api_as(viewer).get(f"/api/v1/canary-runs/{run.pk}/intervals/{index}/input/").json()
        path = tmp_path / f"interval-{index}.json"
        path.write_text(json.dumps(document))
        judged = json.loads(canary("judge", "--input", str(path)))
        assert judged["classification"] == ("Pass", "Fail")[index - 1]
        assert judged == run.judgments.get(index=index).result
