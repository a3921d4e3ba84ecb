"""``manage.py pipeline`` and ``manage.py execution``: the names and flags scripts rely on."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from applications.models import Application
from pipelines.models import Execution, Pipeline
from tests.pipelines.conftest import stage


def write(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(document))
    return str(path)


def call(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_saves_from_a_file_and_prints_the_id(tmp_path: Path, shop: Application) -> None:
    document = {"application": "shop", "name": "release", "stages": [stage("1", "wait", "Soak", waitTime=0)]}
    out, _ = call("pipeline", "save", "-f", write(tmp_path, document))
    assert Pipeline.objects.get(pk=out.strip()).name == "release"
    again, _ = call("pipeline", "save", "-f", write(tmp_path, {**document, "description": "v2"}))
    assert again == out
    assert Pipeline.objects.get().version == 2


def test_it_exits_2_with_the_errors_on_invalid_input(tmp_path: Path, shop: Application) -> None:
    document = {"application": "shop", "name": "bad", "stages": [stage("1", "nope", "X")]}
    err = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("pipeline", "save", "-f", write(tmp_path, document), stderr=err)
    assert caught.value.returncode == 2
    assert "stages[0].type: Unknown stage type 'nope'." in err.getvalue()
    assert not Pipeline.objects.exists()


def test_it_runs_waits_and_prints_json(tmp_path: Path, shop: Application, settings: Any) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"  # tasks run below, in this process
    document = {
        "application": "shop",
        "name": "release",
        "stages": [stage("1", "evaluateVariables", "Vars", variables=[{"key": "env", "value": "${parameters.env}"}])],
    }
    call("pipeline", "save", "-f", write(tmp_path, document))
    out, _ = call("pipeline", "run", "shop", "release", "--param", "env=prod", "--json")
    execution = json.loads(out)
    assert execution["status"] == "RUNNING"
    assert execution["parameters"] == {"env": "prod"}
    from pipelines.engine.runner import run_due_tasks

    run_due_tasks()
    shown, _ = call("execution", "get", execution["id"], "--json")
    document = json.loads(shown)
    assert document["status"] == "SUCCEEDED"
    [row] = document["stages"]
    assert {k: row[k] for k in ("name", "refId", "type", "status", "parentStageId")} == {
        "name": "Vars",
        "refId": "1",
        "type": "evaluateVariables",
        "status": "SUCCEEDED",
        "parentStageId": None,
    }
    assert row["outputs"] == {"env": "prod"}


def test_it_judges_from_the_command_line(tmp_path: Path, shop: Application, settings: Any) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"
    call(
        "pipeline",
        "save",
        "-f",
        write(tmp_path, {"application": "shop", "name": "gate", "stages": [stage("1", "manualJudgment", "Approve")]}),
    )
    out, _ = call("pipeline", "run", "shop", "gate", "--json")
    execution_id = json.loads(out)["id"]
    from pipelines.engine.runner import run_due_tasks

    run_due_tasks()
    call("execution", "judge", execution_id, "Approve", "stop", "--input", "")
    run_due_tasks()
    assert Execution.objects.get(pk=execution_id).status == "TERMINAL"


def test_it_exits_2_for_unknown_pipelines_and_bad_params(shop: Application) -> None:
    with pytest.raises(CommandError, match="No pipeline 'nope'") as caught:
        call("pipeline", "run", "shop", "nope")
    assert caught.value.returncode == 2
    with pytest.raises(CommandError, match="No execution") as missing:
        call("execution", "get", "not-an-id")
    assert missing.value.returncode == 2


def test_it_waits_and_exits_0_only_when_the_run_succeeded(tmp_path: Path, shop: Application, settings: Any) -> None:
    settings.SPINWEB_ENGINE_DISPATCH = "none"
    skipped = stage("1", "wait", "Never", waitTime=0, stageEnabled={"type": "expression", "expression": "false"})
    call("pipeline", "save", "-f", write(tmp_path, {"application": "shop", "name": "noop", "stages": [skipped]}))
    out, _ = call("pipeline", "run", "shop", "noop", "--wait")
    assert out.strip().endswith("SUCCEEDED")
    gate = {"application": "shop", "name": "gate", "stages": [stage("1", "manualJudgment", "Approve")]}
    call("pipeline", "save", "-f", write(tmp_path, gate))
    with pytest.raises(CommandError, match=r"still RUNNING after 0\.3 s") as caught:
        call("pipeline", "run", "shop", "gate", "--wait", "--timeout", "0.3")
    assert caught.value.returncode == 1
