"""``manage.py canary judge --input FILE``: the JSON in and out that scripts rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.canary.helpers import metric, normal, request

ROOT = Path(__file__).resolve().parents[2]
METRIC_KEYS = {
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


def write(tmp_path: Path, document: Any) -> str:
    path = tmp_path / "judge.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def judge(path: str) -> dict[str, Any]:
    out = StringIO()
    call_command("canary", "judge", "--input", path, stdout=out)
    parsed: dict[str, Any] = json.loads(out.getvalue())
    return parsed


def failure(path: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        call_command("canary", "judge", "--input", path, stdout=StringIO(), stderr=StringIO())
    return caught.value


def test_it_prints_the_verdict_as_json(tmp_path: Path) -> None:
    document = request(
        [metric("latency", ["perf"], direction="increase"), metric("errors", ["errors"], nanStrategy="replace")],
        {
            "latency": {"control": normal(100), "experiment": normal(130, seed=3)},
            "errors": {"control": [0, 1, "NaN", 0], "experiment": [0, 1, 0, "NaN"]},
        },
        weights={"perf": 70, "errors": 30},
    )
    result = judge(write(tmp_path, document))
    assert (result["score"], result["classification"]) == (30.0, "Fail")
    assert result["reason"] == "Score 30 is below the marginal threshold 50."
    assert result["groupScores"] == [
        {"name": "perf", "score": 0.0, "classification": "Fail"},
        {"name": "errors", "score": 100.0, "classification": "Pass"},
    ]
    latency, errors = result["metrics"]
    assert set(latency) >= METRIC_KEYS
    assert (latency["name"], latency["classification"], latency["critical"]) == ("latency", "High", False)
    assert latency["ciLower"] > 0
    assert latency["estimate"] == pytest.approx(30, abs=1)
    assert latency["experimentStats"]["count"] == 60
    assert (errors["classification"], errors["reason"]) == ("Pass", "The Canary and Baseline data are identical.")


def test_it_exits_2_naming_the_field(tmp_path: Path) -> None:
    document = request([metric("latency", nanStrategy="drop")], {})
    error = failure(write(tmp_path, document))
    assert error.returncode == 2
    assert str(error) == (
        "canaryConfig.metrics[0].analysisConfigurations.canary.nanStrategy: must be one of none, remove, replace."
    )


def test_it_exits_2_for_an_unknown_metric(tmp_path: Path) -> None:
    error = failure(write(tmp_path, request([metric("latency")], {"cpu": {"control": [], "experiment": []}})))
    assert (error.returncode, str(error)) == (2, "metrics.cpu: no metric of this name in canaryConfig.metrics.")


def test_it_exits_2_for_a_file_that_is_not_json(tmp_path: Path) -> None:
    error = failure(write(tmp_path, "{nope"))
    assert error.returncode == 2
    assert "is not JSON" in str(error)
    assert "line 1" in str(error)


def test_it_exits_2_for_a_missing_file(tmp_path: Path) -> None:
    error = failure(str(tmp_path / "absent.json"))
    assert error.returncode == 2
    assert str(error).startswith(f"Cannot read {tmp_path / 'absent.json'}")


def test_it_reads_standard_input_from_the_command_line() -> None:
    document = request([metric("latency")], {"latency": {"control": normal(10), "experiment": normal(10, seed=4)}})
    done = subprocess.run(
        [sys.executable, "manage.py", "canary", "judge", "--input", "-"],
        cwd=ROOT,
        input=json.dumps(document),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["classification"] == "Pass"
    bad = subprocess.run(
        [sys.executable, "manage.py", "canary", "judge", "--input", "-"],
        cwd=ROOT,
        input=json.dumps({"metrics": {}}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "canaryConfig: is required." in bad.stderr
