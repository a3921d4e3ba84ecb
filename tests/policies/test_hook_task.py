"""The task hook (``spinnaker.execution.tasks.before.<task>``): asked once per task, before it first
runs; a denied task ends TERMINAL with the messages and fails its stage and run."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline
from pipelines.statuses import Status
from policies.models import DecisionResult, PolicyDecision
from tests.pipelines.conftest import Clock, _inline_engine, fake_clock, stage, statuses
from tests.policies.hook_helpers import enable

__all__ = ["_inline_engine", "fake_clock"]

NO_VARIABLES = """
package spinnaker.execution.tasks.before.evaluateVariables
import rego.v1

deny contains msg if {
    input.user.username == "developer"
    msg := sprintf("%s may not evaluate variables in stage %s.", [input.user.username, input.stage.name])
}
"""

WATCH_WAITS = """
package spinnaker.execution.tasks.before.wait
import rego.v1

deny contains msg if {
    input.task.name == "wait"
    msg := sprintf("Task %s of %s was seen.", [input.task.name, input.stage.name])
}
"""


@pytest.fixture
def developer_runs(admin: User, developer: User, shop: Application) -> User:
    return developer


def save(*stages: dict[str, Any]) -> Pipeline:
    developer = User.objects.get(username="developer")
    document = {"application": "shop", "name": "deploy", "stages": list(stages)}
    return actions.save_pipeline(developer, document, source="api")


def start(pipeline: Pipeline) -> Execution:
    return actions.start_execution(User.objects.get(username="developer"), pipeline, source="api")


def test_it_ends_a_denied_task_and_its_stage_terminal_with_the_message(developer_runs: User) -> None:
    pipeline = save(
        stage("1", "evaluateVariables", "Set", variables=[{"key": "a", "value": 1}]),
        stage("2", "wait", "Soak", requires=("1",), waitTime=0),
    )
    enable("no-variables", NO_VARIABLES)
    execution = start(pipeline)
    run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == Status.TERMINAL
    assert statuses(execution) == {"Set": Status.TERMINAL, "Soak": Status.NOT_STARTED}
    message = "Denied by policy no-variables: developer may not evaluate variables in stage Set."
    task = execution.stages.get(name="Set").tasks.get()
    assert (task.status, task.message) == (Status.TERMINAL, message)
    assert execution.stages.get(name="Set").failure_message == message
    assert "a" not in execution.stages.get(name="Set").outputs


def test_it_asks_once_per_task_however_often_the_task_runs(developer_runs: User, fake_clock: Clock) -> None:
    pipeline = save(stage("1", "wait", "Pause", waitTime=30))
    enable("watch-waits", WATCH_WAITS, mode="warn")
    execution = start(pipeline)
    run_due_tasks()
    task = execution.stages.get().tasks.get()
    assert (task.status, task.attempts) == (Status.RUNNING, 1)
    fake_clock.advance(31)
    run_due_tasks()
    execution.refresh_from_db()
    task.refresh_from_db()
    assert (execution.status, task.attempts) == (Status.SUCCEEDED, 2)
    logged = PolicyDecision.objects.get(hook="task")
    assert (logged.result, logged.package) == (DecisionResult.WARN, "spinnaker.execution.tasks.before.wait")
    assert logged.stage_id == execution.stages.get().pk
