"""Pipeline-completion triggers: when a run of ``build`` ends, the pipelines following it with
that status (successful, failed, canceled) start, carrying a summary of the parent run."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline, TriggerEvaluation, TriggerEvent
from tests.pipelines.conftest import stage

Capture = Callable[..., AbstractContextManager[list[Callable[[], None]]]]


@pytest.fixture
def settle(django_capture_on_commit_callbacks: Capture) -> Callable[[Callable[[], Any]], None]:
    """Do something, then run due tasks and commit callbacks (runs' ends) until nothing is left."""

    def settle(action: Callable[[], Any]) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            action()
        for _ in range(50):
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                ran = run_due_tasks()
            if not ran and not callbacks:
                return
        raise AssertionError("The engine kept finding work after 50 rounds.")

    return settle


@pytest.fixture
def build(developer: User, shop: Application) -> Pipeline:
    stages = [
        stage("1", "evaluateVariables", "Version", variables=[{"key": "version", "value": "1.4.2"}]),
        stage("2", "manualJudgment", "Approve", ("1",)),
    ]
    document = {"application": "shop", "name": "build", "stages": stages}
    return actions.save_pipeline(developer, document, source="api")


@pytest.fixture
def follower(developer: User, build: Pipeline) -> Callable[..., Pipeline]:
    def follower(name: str, *statuses: str, **fields: Any) -> Pipeline:
        trigger = {"type": "pipeline", "application": "shop", "pipeline": str(build.pk), "status": list(statuses)}
        document = {"application": "shop", "name": name, "stages": [], "triggers": [trigger], **fields}
        return actions.save_pipeline(developer, document, source="api")

    return follower


def end_build(build: Pipeline, developer: User, settle: Callable[[Callable[[], Any]], None], ending: str) -> Execution:
    parent = actions.start_execution(developer, build, source="api")
    settle(lambda: None)
    if ending == "canceled":
        settle(lambda: actions.cancel(developer, parent, reason="not today", source="api"))
    else:
        decision = "continue" if ending == "successful" else "stop"
        settle(lambda: actions.judge(developer, parent, "Approve", decision, source="api"))
    parent.refresh_from_db()
    return parent


@pytest.mark.parametrize(
    ("ending", "status"), [("successful", "SUCCEEDED"), ("failed", "TERMINAL"), ("canceled", "CANCELED")]
)
def test_it_starts_only_the_pipelines_that_follow_how_the_run_ended(
    build: Pipeline,
    follower: Callable[..., Pipeline],
    developer: User,
    settle: Callable[[Callable[[], Any]], None],
    ending: str,
    status: str,
) -> None:
    followers = {name: follower(f"on-{name}", name) for name in ("successful", "failed", "canceled")}
    parent = end_build(build, developer, settle, ending)
    assert parent.status == status
    started = set(Execution.objects.filter(trigger_type="pipeline").values_list("pipeline__name", flat=True))
    assert started == {f"on-{ending}"}
    skipped = TriggerEvaluation.objects.filter(outcome="skipped").values_list("pipeline_name", "reason")
    assert {name for name, _ in skipped} == {p.name for key, p in followers.items() if key != ending}
    assert all(f"shop/build ended {ending}; this trigger follows" in reason for _, reason in skipped)


def test_it_gives_the_child_a_summary_of_the_parent_run(
    build: Pipeline, follower: Callable[..., Pipeline], developer: User, settle: Callable[[Callable[[], Any]], None]
) -> None:
    follower("deploy", "successful", "failed")
    parent = end_build(build, developer, settle, "successful")
    child = Execution.objects.get(trigger_type="pipeline")
    trigger = child.trigger
    assert trigger["parentPipelineId"] == str(build.pk)
    assert trigger["parentPipelineApplication"] == "shop"
    assert trigger["parentPipelineName"] == "build"
    assert trigger["parentStatus"] == "SUCCEEDED"
    summary = trigger["parentExecution"]
    assert (summary["id"], summary["application"], summary["name"]) == (str(parent.pk), "shop", "build")
    assert (summary["status"], summary["pipelineConfigId"]) == ("SUCCEEDED", str(build.pk))
    assert summary["trigger"]["user"] == "developer"
    version = next(s for s in summary["stages"] if s["refId"] == "1")
    assert version["outputs"] == {"version": "1.4.2"}
    assert trigger["user"] == "developer"


def test_it_records_a_disabled_follower_without_starting_it(
    build: Pipeline, follower: Callable[..., Pipeline], developer: User, settle: Callable[[Callable[[], Any]], None]
) -> None:
    follower("deploy", "successful", disabled=True)
    end_build(build, developer, settle, "successful")
    assert not Execution.objects.filter(trigger_type="pipeline").exists()
    assert TriggerEvaluation.objects.get().reason == "The pipeline is disabled."


def test_it_records_nothing_when_no_pipeline_follows(
    build: Pipeline, developer: User, settle: Callable[[Callable[[], Any]], None]
) -> None:
    end_build(build, developer, settle, "successful")
    assert not TriggerEvent.objects.exists()


def test_it_refuses_to_follow_a_pipeline_the_saver_cannot_read(
    developer: User, admin: User, shop: Application, blog: Application
) -> None:
    # The follower would receive the followed run's stage outputs: following needs READ on it.
    hidden = actions.save_pipeline(admin, {"application": "blog", "name": "secret-build", "stages": []}, source="api")
    trigger = {"type": "pipeline", "application": "blog", "pipeline": str(hidden.pk), "status": ["successful"]}
    document = {"application": "shop", "name": "spy", "stages": [], "triggers": [trigger]}

    with pytest.raises(actions.PipelineInvalid) as refused:
        actions.save_pipeline(developer, document, source="api")

    assert [(issue.path, issue.message) for issue in refused.value.issues] == [
        ("triggers[0].pipeline", f"There is no pipeline {str(hidden.pk)!r} in application 'blog'.")
    ]
    assert not Pipeline.objects.filter(name="spy").exists()
