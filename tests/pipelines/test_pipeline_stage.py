"""The ``pipeline`` stage: start another pipeline as a child, wait for it, carry its outcome.

Parent and child run in the same in-process engine. The engine announces a run's end after
commit, and that announcement wakes a waiting parent, so ``drain`` runs due tasks and then the
commit callbacks, until neither is left.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application, ApplicationGrant
from pipelines import actions
from pipelines.engine.runner import run_due_tasks, run_one_task
from pipelines.engine.types import TASKS, TaskContext
from pipelines.models import Execution, Pipeline, StageExecution
from pipelines.validation import Issue
from tests.conftest import grant
from tests.pipelines.conftest import Clock, stage

Capture = Callable[..., AbstractContextManager[list[Callable[[], None]]]]


@pytest.fixture
def drain(django_capture_on_commit_callbacks: Capture) -> Callable[[], None]:
    def drain() -> None:
        for _ in range(50):
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                ran = run_due_tasks()
            if not ran and not callbacks:
                return
        raise AssertionError("The engine kept finding work after 50 rounds.")

    return drain


@pytest.fixture
def start(developer: User) -> Callable[..., Execution]:
    def start(pipeline: Pipeline, actor: User | None = developer, **parameters: Any) -> Execution:
        return actions.start_execution(actor, pipeline, parameters=parameters, source="api")

    return start


@pytest.fixture
def publish(blog: Application, admin: User) -> Pipeline:
    """A pipeline of the blog application, which the developer cannot even see."""
    document = {"application": "blog", "name": "publish", "stages": [stage("1", "wait", "Pause", waitTime=0)]}
    return actions.save_pipeline(admin, document, source="api")


def runs(child: Pipeline, **fields: Any) -> dict[str, Any]:
    return stage("1", "pipeline", "Run child", pipeline=str(child.id), **fields)


def parent_stage(execution: Execution) -> StageExecution:
    return execution.stages.get(ref_id="1")


def children(child: Pipeline) -> list[Execution]:
    return list(Execution.objects.filter(pipeline=child).order_by("created_at"))


def refreshed(execution: Execution) -> Execution:
    execution.refresh_from_db()
    return execution


# Waiting and outcomes ----------------------------------------------------------------------


def test_it_waits_for_the_child_and_links_parent_and_child(
    save: Callable[..., Pipeline],
    start: Callable[..., Execution],
    drain: Callable[[], None],
    fake_clock: Clock,
    developer: User,
) -> None:
    child = save(stage("1", "wait", "Pause", waitTime=5), name="child")
    parent = start(save(runs(child), name="parent"))
    drain()
    [run] = children(child)
    assert (refreshed(parent).status, parent_stage(parent).status, run.status) == ("RUNNING", "RUNNING", "RUNNING")
    fake_clock.advance(5)  # less than the parent's 10 s poll: only the child's end can wake it
    drain()
    assert (refreshed(run).status, refreshed(parent).status) == ("SUCCEEDED", "SUCCEEDED")
    row = parent_stage(parent)
    assert row.context["executionId"] == str(run.id)
    assert (row.context["executionName"], row.context["application"], row.context["pipeline"]) == (
        "child",
        "shop",
        str(child.id),
    )
    assert row.outputs == {"status": "SUCCEEDED", "executionId": str(run.id)}
    assert run.trigger["type"] == "pipeline"
    assert run.trigger["parentExecution"] == {
        "id": str(parent.id),
        "application": "shop",
        "name": "parent",
        "pipelineConfigId": str(parent.pipeline_id),
    }
    assert run.trigger["parentPipelineStageId"] == str(row.id)
    assert (run.started_by, run.trigger["user"]) == (developer, "developer")


def test_it_looks_again_after_ten_seconds_when_no_wake_up_comes(
    save: Callable[..., Pipeline], start: Callable[..., Execution], fake_clock: Clock
) -> None:
    child = save(stage("1", "wait", "Pause", waitTime=5), name="child")
    parent = start(save(runs(child), name="parent"))
    run_due_tasks()  # commit callbacks never run here: the end of the child wakes nobody
    fake_clock.advance(5)
    run_due_tasks()
    assert (children(child)[0].status, refreshed(parent).status) == ("SUCCEEDED", "RUNNING")
    fake_clock.advance(5)
    run_due_tasks()
    assert refreshed(parent).status == "SUCCEEDED"


def test_it_passes_parameters_evaluated_in_the_parent(
    save: Callable[..., Pipeline], start: Callable[..., Execution], drain: Callable[[], None]
) -> None:
    child = save(stage("1", "wait", "Pause", waitTime=0), name="child", parameterConfig=[{"name": "target"}])
    body = runs(child, pipelineParameters={"target": "${parameters.env}", "fixed": "yes"})
    parent = start(save(body, name="parent", parameterConfig=[{"name": "env"}]), env="prod")
    drain()
    assert children(child)[0].parameters == {"target": "prod", "fixed": "yes"}
    assert refreshed(parent).status == "SUCCEEDED"


def test_it_fails_the_parent_with_the_failure_of_the_child(
    save: Callable[..., Pipeline], start: Callable[..., Execution], drain: Callable[[], None]
) -> None:
    check = stage("1", "checkPreconditions", "Check", preconditions=[{"context": {"expression": "1 > 2"}}])
    child = save(check, name="child")
    parent = start(save(runs(child), name="parent"))
    drain()
    [run] = children(child)
    assert run.status == "TERMINAL"
    assert refreshed(parent).status == "TERMINAL"
    row = parent_stage(parent)
    assert row.status == "TERMINAL"
    assert (
        row.failure_message
        == f"Child pipeline shop/child ({run.id}) ended TERMINAL: The precondition '1 > 2' is false."
    )
    assert row.outputs["status"] == "TERMINAL"


def test_it_succeeds_at_once_when_told_not_to_wait(
    save: Callable[..., Pipeline], start: Callable[..., Execution], drain: Callable[[], None]
) -> None:
    child = save(stage("1", "manualJudgment", "Approve"), name="child")
    parent = start(save(runs(child, waitForCompletion=False), name="parent"))
    drain()
    assert refreshed(parent).status == "SUCCEEDED"
    assert children(child)[0].status == "RUNNING"
    assert parent_stage(parent).context["executionId"] == str(children(child)[0].id)


def test_it_waits_while_the_child_is_buffered_behind_another_run(
    save: Callable[..., Pipeline], start: Callable[..., Execution], drain: Callable[[], None], fake_clock: Clock
) -> None:
    child = save(stage("1", "wait", "Pause", waitTime=30), name="child")
    first = start(child)
    parent = start(save(runs(child), name="parent"))
    drain()
    assert [run.status for run in children(child)] == ["RUNNING", "BUFFERED"]
    fake_clock.advance(20)
    drain()
    assert (parent_stage(parent).status, children(child)[1].status) == ("RUNNING", "BUFFERED")
    fake_clock.advance(10)  # the first run ends; the buffered one starts its 30 s wait
    drain()
    assert (refreshed(first).status, children(child)[1].status, refreshed(parent).status) == (
        "SUCCEEDED",
        "RUNNING",
        "RUNNING",
    )
    fake_clock.advance(30)
    drain()
    assert refreshed(parent).status == "SUCCEEDED"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"disabled": True}, "The pipeline child is disabled."),
        (
            {"parameterConfig": [{"name": "target", "required": True}]},
            "The parameter 'target' is required and has no default.",
        ),
    ],
)
def test_it_fails_the_stage_when_the_child_refuses_to_start(
    save: Callable[..., Pipeline],
    start: Callable[..., Execution],
    drain: Callable[[], None],
    fields: dict[str, Any],
    reason: str,
) -> None:
    child = save(stage("1", "wait", "Pause", waitTime=0), name="child", **fields)
    parent = start(save(runs(child), name="parent"))
    drain()
    assert refreshed(parent).status == "TERMINAL"
    assert parent_stage(parent).failure_message == f"The pipeline shop/child was not started: {reason}"
    assert children(child) == []


# Cancel ------------------------------------------------------------------------------------


def test_it_cancels_the_child_when_the_parent_is_canceled(
    save: Callable[..., Pipeline],
    start: Callable[..., Execution],
    drain: Callable[[], None],
    developer: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    child = save(stage("1", "manualJudgment", "Approve"), name="child")
    parent = start(save(runs(child), name="parent"))
    drain()
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel(developer, parent, source="api")
    [run] = children(child)
    assert run.status == "CANCELED"
    assert run.cancellation_reason == f"The parent execution shop/parent ({parent.id}) was canceled."


def test_it_cancels_the_child_when_the_parent_is_canceled_before_the_wait_began(
    save: Callable[..., Pipeline],
    start: Callable[..., Execution],
    developer: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    child = save(stage("1", "manualJudgment", "Approve"), name="child")
    parent = start(save(runs(child), name="parent"))
    run_one_task(str(parent_stage(parent).tasks.get(name="startPipeline").id))
    assert parent_stage(parent).tasks.get(name="monitorPipeline").status == "NOT_STARTED"
    with django_capture_on_commit_callbacks(execute=True):  # no task of the stage is running now
        actions.cancel(developer, parent, source="api")
    assert children(child)[0].status == "CANCELED"


def test_it_fails_the_stage_when_the_child_is_canceled(
    save: Callable[..., Pipeline],
    start: Callable[..., Execution],
    drain: Callable[[], None],
    developer: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    child = save(stage("1", "manualJudgment", "Approve"), name="child")
    parent = start(save(runs(child), name="parent"))
    drain()
    [run] = children(child)
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel(developer, run, reason="not today", source="api")
    drain()
    assert refreshed(parent).status == "TERMINAL"
    message = parent_stage(parent).failure_message
    assert message == f"Child pipeline shop/child ({run.id}) ended CANCELED: canceled by developer (not today)"


# Permissions -------------------------------------------------------------------------------


def test_it_saves_a_stage_only_for_a_pipeline_the_saver_may_run(
    save: Callable[..., Pipeline], publish: Pipeline, blog: Application, groups: dict[str, Group]
) -> None:
    body = runs(publish, application="blog")
    with pytest.raises(actions.PipelineInvalid) as hidden:
        save(body, name="parent")
    assert hidden.value.issues == [
        Issue("stages[0].pipeline", f"There is no pipeline '{publish.id}' in application 'blog'.")
    ]
    grant(blog, groups["shop-devs"], "READ")
    with pytest.raises(actions.PipelineInvalid) as seen:
        save(body, name="parent")
    assert seen.value.issues == [Issue("stages[0].pipeline", "You may not run pipelines of application blog.")]
    grant(blog, groups["shop-devs"], "EXECUTE")
    assert save(body, name="parent").config["stages"][0]["pipeline"] == str(publish.id)


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({}, "pipeline", "pipeline is required: the id of the pipeline to run."),
        ({"pipeline": "deploy"}, "pipeline", "pipeline must be a pipeline id (a UUID), not 'deploy'."),
        (
            {"pipeline": "5d0f3a4e-2b53-4c5e-9d3b-0c6f9e1f7a10"},
            "pipeline",
            "There is no pipeline '5d0f3a4e-2b53-4c5e-9d3b-0c6f9e1f7a10' in application 'shop'.",
        ),
        (
            {"pipeline": "${trigger.parameters.child}", "pipelineParameters": ["a"]},
            "pipelineParameters",
            "pipelineParameters must be an object of parameter values.",
        ),
        (
            {"pipeline": "${trigger.parameters.child}", "waitForCompletion": "no"},
            "waitForCompletion",
            "waitForCompletion must be true or false.",
        ),
    ],
)
def test_it_names_the_field_at_fault_when_saving(
    save: Callable[..., Pipeline], fields: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(actions.PipelineInvalid) as invalid:
        save(stage("1", "pipeline", "Run child", **fields), name="parent")
    assert invalid.value.issues == [Issue(f"stages[0].{path}", message)]


def test_it_refuses_at_run_time_when_the_starter_lost_execute(
    save: Callable[..., Pipeline],
    start: Callable[..., Execution],
    drain: Callable[[], None],
    publish: Pipeline,
    blog: Application,
    groups: dict[str, Group],
) -> None:
    grant(blog, groups["shop-devs"], "EXECUTE")
    parent_pipeline = save(runs(publish, application="blog"), name="parent")
    ApplicationGrant.objects.filter(application=blog, group=groups["shop-devs"]).delete()
    parent = start(parent_pipeline)
    drain()
    assert refreshed(parent).status == "TERMINAL"
    assert parent_stage(parent).failure_message == (
        "The user developer may not run pipelines of application blog, so blog/publish was not started."
    )
    assert children(publish) == []


def test_it_lets_a_run_without_a_user_start_children_of_its_own_application_only(
    save: Callable[..., Pipeline],
    start: Callable[..., Execution],
    drain: Callable[[], None],
    publish: Pipeline,
    blog: Application,
    groups: dict[str, Group],
) -> None:
    child = save(stage("1", "wait", "Pause", waitTime=0), name="child")
    own = start(save(runs(child), name="same"), actor=None)
    grant(blog, groups["shop-devs"], "EXECUTE")
    other = start(save(runs(publish, application="blog"), name="other"), actor=None)
    drain()
    assert refreshed(own).status == "SUCCEEDED"
    assert (children(child)[0].started_by, children(child)[0].trigger["user"]) == (None, "system")
    assert refreshed(other).status == "TERMINAL"
    assert parent_stage(other).failure_message == (
        "A run started by a trigger may only start pipelines of its own application (shop), "
        "so blog/publish was not started."
    )
    assert children(publish) == []


# Exactly once ------------------------------------------------------------------------------


def test_it_starts_one_child_when_the_start_task_runs_again_after_a_crash(
    save: Callable[..., Pipeline], start: Callable[..., Execution], drain: Callable[[], None]
) -> None:
    child = save(stage("1", "wait", "Pause", waitTime=0), name="child")
    parent = start(save(runs(child), name="parent"))
    row = parent_stage(parent)
    context = TaskContext(parent, row, row.tasks.get(name="startPipeline"))
    first = TASKS["startPipeline"].run(context)
    again = TASKS["startPipeline"].run(context)  # its first result was never recorded
    assert first.context["executionId"] == again.context["executionId"]
    drain()  # and the engine runs the same task row a third time
    assert [str(run.id) for run in children(child)] == [first.context["executionId"]]
    assert refreshed(parent).status == "SUCCEEDED"


def test_it_starts_a_new_child_when_the_stage_is_restarted(
    save: Callable[..., Pipeline], start: Callable[..., Execution], drain: Callable[[], None], developer: User
) -> None:
    child = save(stage("1", "wait", "Pause", waitTime=0), name="child")
    parent = start(save(runs(child), name="parent"))
    drain()
    actions.restart_stage(developer, parent, "1", source="api")
    drain()
    first, second = children(child)
    assert (first.status, second.status, refreshed(parent).status) == ("SUCCEEDED", "SUCCEEDED", "SUCCEEDED")
    assert parent_stage(parent).context["executionId"] == str(second.id)
