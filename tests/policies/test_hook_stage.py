"""The stage hook (``spinnaker.execution.stages.before.<type>``): every stage, synthetic ones included,
asks the policies once its expressions are evaluated; a denied stage ends TERMINAL with the
messages, the run ends TERMINAL and nothing downstream starts."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from applications.models import Application
from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline
from pipelines.statuses import Status
from policies.models import PolicyDecision
from tests.conftest import browser_as
from tests.pipelines.conftest import _inline_engine, stage, statuses
from tests.policies.hook_helpers import enable

__all__ = ["_inline_engine"]

SHORT_WAITS = """
package spinnaker.execution.stages.before.wait
import rego.v1

deny contains msg if {
    input.stage.context.waitTime > 60
    msg := sprintf("%s would wait %d seconds; the limit is 60.", [input.stage.name, input.stage.context.waitTime])
}
"""

NO_PRECONDITION_CHECKS = """
package spinnaker.execution.stages.before.checkPrecondition
import rego.v1

deny contains msg if {
    input.stage.syntheticStageOwner == "STAGE_BEFORE"
    msg := sprintf("%s may not run in %s.", [input.stage.name, input.pipeline.name])
}
"""


@pytest.fixture
def developer_runs(admin: User, developer: User, shop: Application) -> User:
    return developer


def save(*stages: dict[str, Any], name: str = "deploy", **fields: Any) -> Pipeline:
    developer = User.objects.get(username="developer")
    document = {"application": "shop", "name": name, "stages": list(stages), **fields}
    return actions.save_pipeline(developer, document, source="api")


def run(pipeline: Pipeline, **parameters: Any) -> Execution:
    developer = User.objects.get(username="developer")
    execution = actions.start_execution(developer, pipeline, parameters=parameters, source="api")
    run_due_tasks()
    execution.refresh_from_db()
    return execution


def test_it_ends_a_denied_stage_and_its_run_terminal_with_the_message(developer_runs: User) -> None:
    pipeline = save(
        stage("1", "wait", "Pause", waitTime="${parameters.seconds}"),
        stage("2", "wait", "Soak", requires=("1",), waitTime=0),
        parameterConfig=[{"name": "seconds", "default": "5"}],
    )
    enable("short-waits", SHORT_WAITS)
    execution = run(pipeline, seconds=120)
    assert execution.status == Status.TERMINAL
    assert statuses(execution) == {"Pause": Status.TERMINAL, "Soak": Status.NOT_STARTED}
    paused = execution.stages.get(name="Pause")
    assert paused.failure_message == "Denied by policy short-waits: Pause would wait 120 seconds; the limit is 60."
    assert not paused.tasks.exists()  # nothing was planned
    url = f"/applications/shop/executions/{execution.pk}/stages/{paused.pk}/"
    page = browser_as(User.objects.get(username="developer")).get(url)
    assert "Pause would wait 120 seconds; the limit is 60." in page.content.decode()


def test_it_lets_allowed_stages_run(developer_runs: User) -> None:
    pipeline = save(stage("1", "wait", "Pause", waitTime=0), stage("2", "wait", "Soak", requires=("1",), waitTime=0))
    enable("short-waits", SHORT_WAITS)
    execution = run(pipeline)
    assert execution.status == Status.SUCCEEDED
    assert PolicyDecision.objects.filter(hook="stage", package="spinnaker.execution.stages.before.wait").count() == 2


def test_it_records_the_warnings_of_a_warn_mode_policy_on_the_stage(developer_runs: User) -> None:
    pipeline = save(stage("1", "wait", "Pause", waitTime="${parameters.seconds}"))
    enable("short-waits", SHORT_WAITS, mode="warn")
    developer = User.objects.get(username="developer")
    execution = actions.start_execution(developer, pipeline, parameters={"seconds": 90}, source="api")
    paused = execution.stages.get(name="Pause")
    assert paused.status == Status.RUNNING
    assert paused.context["policyWarnings"] == [
        "Policy short-waits (warn only): Pause would wait 90 seconds; the limit is 60."
    ]


def test_it_gates_synthetic_stages_too(developer_runs: User) -> None:
    checks = [{"type": "expression", "context": {"expression": "${true}"}}]
    pipeline = save(
        stage("1", "checkPreconditions", "Preflight", preconditions=checks),
        stage("2", "wait", "Soak", requires=("1",), waitTime=0),
    )
    enable("no-precondition-checks", NO_PRECONDITION_CHECKS)
    execution = run(pipeline)
    assert execution.status == Status.TERMINAL
    message = "Denied by policy no-precondition-checks: Check precondition 1 may not run in deploy."
    child = execution.stages.get(name="Check precondition 1")
    assert (child.status, child.failure_message, child.is_synthetic) == (Status.TERMINAL, message, True)
    parent = execution.stages.get(name="Preflight")
    assert (parent.status, parent.failure_message) == (Status.TERMINAL, message)
    assert execution.stages.get(name="Soak").status == Status.NOT_STARTED


def test_it_logs_nothing_for_stages_no_policy_covers(developer_runs: User) -> None:
    pipeline = save(stage("1", "evaluateVariables", "Set", variables=[{"key": "a", "value": 1}]))
    enable("short-waits", SHORT_WAITS)
    assert run(pipeline).status == Status.SUCCEEDED
    assert not PolicyDecision.objects.filter(hook="stage").exists()
