"""Pipelines over REST: save with validation, versions, diff, restore, run; executions and actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline, PipelineVersion
from tests.conftest import api_as
from tests.pipelines.conftest import stage

URL = "/api/v1/pipelines/"


def document(**fields: Any) -> dict[str, Any]:
    return {
        "application": "shop",
        "name": "release",
        "stages": [stage("1", "manualJudgment", "Approve"), stage("2", "wait", "Soak", ("1",), waitTime=5)],
        **fields,
    }


@pytest.fixture
def saved(developer: User, shop: Application) -> dict[str, Any]:
    response = api_as(developer).post(URL, document(), format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def test_it_saves_a_pipeline_and_keeps_unknown_keys(developer: User, shop: Application) -> None:
    response = api_as(developer).post(URL, document(spelEvaluator="v4", customThing={"a": 1}), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["customThing"] == {"a": 1}
    assert body["limitConcurrent"] is True
    assert body["version"] == 1
    assert Pipeline.objects.get(pk=body["id"]).name == "release"


def test_it_refuses_an_invalid_pipeline_with_every_problem_and_saves_nothing(
    developer: User, shop: Application
) -> None:
    bad = {
        "application": "shop",
        "name": "broken",
        "stages": [
            stage("1", "wait", "A", ("2",), waitTime=-1),
            stage("2", "wiat", "B", ("1",)),
            stage("3", "wait", "C", ("9",), waitTime=1, note="${parameters['x'"),
        ],
    }
    response = api_as(developer).post(URL, bad, format="json")
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"stages[0].waitTime", "stages[1].type", "stages[2].requisiteStageRefIds[0]", "stages[2].note"} <= fields
    assert any("cycle" in error["message"] for error in response.json()["errors"])
    assert not Pipeline.objects.exists()


def test_it_needs_write_to_save(viewer: User, shop: Application) -> None:
    assert api_as(viewer).post(URL, document(), format="json").status_code == 403
    assert not Pipeline.objects.exists()


def test_it_keeps_versions_and_diffs_and_restores_them(developer: User, saved: dict[str, Any]) -> None:
    client = api_as(developer)
    changed = {**saved, "description": "now with words"}
    assert client.put(f"{URL}{saved['id']}/", changed, format="json").status_code == 200
    versions = client.get(f"{URL}{saved['id']}/versions/").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["savedBy"] == "developer"
    diff = client.get(f"{URL}{saved['id']}/diff/?from=1&to=2").json()["diff"]
    assert '+  "description": "now with words"' in diff
    restored = client.post(f"{URL}{saved['id']}/restore/", {"version": 1}, format="json").json()
    assert restored["version"] == 3
    assert restored["description"] == ""
    assert PipelineVersion.objects.filter(pipeline_id=saved["id"]).count() == 3


def test_it_validates_without_saving(developer: User, shop: Application) -> None:
    response = api_as(developer).post(f"{URL}validate/", document(name=""), format="json")
    assert response.json()["valid"] is False
    assert response.json()["errors"][0]["field"] == "name"
    assert not Pipeline.objects.exists()


def test_it_runs_with_parameters_and_shows_the_execution(
    developer: User, saved: dict[str, Any], viewer: User, settings: Any
) -> None:
    response = api_as(developer).post(f"{URL}{saved['id']}/run/", {"parameters": {"env": "prod"}}, format="json")
    assert response.status_code == 201
    execution = response.json()
    assert execution["status"] == "RUNNING"
    assert execution["parameters"] == {"env": "prod"}
    detail = api_as(viewer).get(f"/api/v1/executions/{execution['id']}/").json()
    assert [s["name"] for s in detail["stages"]] == ["Approve", "Soak"]
    assert detail["stages"][0]["status"] == "RUNNING"


def test_it_refuses_a_run_without_a_required_parameter(developer: User, shop: Application) -> None:
    created = api_as(developer).post(URL, document(parameterConfig=[{"name": "env", "required": True}]), format="json")
    response = api_as(developer).post(f"{URL}{created.json()['id']}/run/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "parameters.env"
    assert not Execution.objects.exists()


def test_it_needs_execute_to_run_and_act(viewer: User, developer: User, saved: dict[str, Any]) -> None:
    assert api_as(viewer).post(f"{URL}{saved['id']}/run/", {}, format="json").status_code == 403
    execution = api_as(developer).post(f"{URL}{saved['id']}/run/", {}, format="json").json()
    for verb, body in [("cancel", {}), ("pause", {}), ("judge", {"stage": "Approve", "judgment": "continue"})]:
        response = api_as(viewer).post(f"/api/v1/executions/{execution['id']}/{verb}/", body, format="json")
        assert response.status_code == 403, verb
    assert Execution.objects.get(pk=execution["id"]).status == "RUNNING"


def test_it_judges_and_cancels_through_the_api(developer: User, saved: dict[str, Any]) -> None:
    client = api_as(developer)
    execution = client.post(f"{URL}{saved['id']}/run/", {}, format="json").json()
    url = f"/api/v1/executions/{execution['id']}/"
    judged = client.post(f"{url}judge/", {"stage": "Approve", "judgment": "continue"}, format="json")
    assert judged.status_code == 200
    run_due_tasks()
    assert client.get(url).json()["stages"][1]["status"] == "RUNNING"
    canceled = client.post(f"{url}cancel/", {"reason": "enough"}, format="json").json()
    assert canceled["status"] == "CANCELED"
    assert canceled["cancellationReason"] == "enough"
    again = client.post(f"{url}cancel/", {}, format="json")
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]


def test_it_lists_executions_by_status(developer: User, saved: dict[str, Any], outsider: User) -> None:
    client = api_as(developer)
    client.post(f"{URL}{saved['id']}/run/", {}, format="json")
    assert client.get("/api/v1/executions/?status=RUNNING").json()["count"] == 1
    assert client.get("/api/v1/executions/?status=SUCCEEDED").json()["count"] == 0
    assert api_as(outsider).get("/api/v1/executions/").json()["count"] == 0


def test_it_refuses_renaming_onto_another_pipelines_name(developer: User, saved: dict[str, Any]) -> None:
    api_as(developer).post(URL, document(name="hotfix"), format="json")

    response = api_as(developer).put(f"{URL}{saved['id']}/", {**saved, "name": "hotfix"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "name", "message": "shop already has a pipeline named 'hotfix'."}]
    assert Pipeline.objects.get(pk=saved["id"]).name == "release"
