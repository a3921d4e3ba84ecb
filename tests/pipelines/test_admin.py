"""Pipelines, versions and executions in the Django admin: read, diff, restore; never edited there."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User

from pipelines.models import Execution, Pipeline, PipelineVersion
from tests.conftest import browser_as
from tests.pipelines.conftest import stage


def test_it_shows_what_changed_in_a_version(save: Callable[..., Pipeline], admin: User) -> None:
    save(stage("1", "wait", "Soak", waitTime=5))
    save(stage("1", "wait", "Soak", waitTime=50))
    second = PipelineVersion.objects.get(version=2)
    page = browser_as(admin).get(f"/admin/pipelines/pipelineversion/{second.pk}/change/").content.decode()
    assert "-      &quot;waitTime&quot;: 5\n" in page
    assert "+      &quot;waitTime&quot;: 50\n" in page


def test_it_restores_a_version_from_the_admin(save: Callable[..., Pipeline], admin: User) -> None:
    save(stage("1", "wait", "Soak", waitTime=5))
    pipeline = save(stage("1", "wait", "Soak", waitTime=50))
    first = PipelineVersion.objects.get(version=1)
    response = browser_as(admin).post(
        "/admin/pipelines/pipelineversion/", {"action": "restore", "_selected_action": [first.pk]}
    )
    assert response.status_code == 302
    pipeline.refresh_from_db()
    assert pipeline.version == 3
    assert pipeline.config["stages"][0]["waitTime"] == 5


def test_it_keeps_executions_read_only(
    save: Callable[..., Pipeline], run: Callable[..., Execution], admin: User
) -> None:
    execution = run(save(stage("1", "manualJudgment", "Approve")))
    client = browser_as(admin)
    assert client.get(f"/admin/pipelines/execution/{execution.pk}/change/").status_code == 200
    assert client.get("/admin/pipelines/execution/add/").status_code == 403
    assert client.post(f"/admin/pipelines/execution/{execution.pk}/delete/", {"post": "yes"}).status_code == 403
