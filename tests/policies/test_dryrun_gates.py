"""Dry run of a whole pipeline: every gate a manual run would pass, synthetic stages and tasks
included, decided now, with nothing written but the decision log."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from applications.models import Application
from clouds.models import Account
from pipelines import actions
from pipelines.models import Execution, Pipeline, StageExecution, TaskExecution
from policies.dryrun import DryRunRow, dry_run
from policies.models import PolicyDecision
from tests.pipelines.conftest import stage
from tests.policies.conftest import MakePolicy

PROD_CREATE = """
package spinnaker.execution.stages.before.createServerGroup
import rego.v1

deny contains msg if {
    data.spinweb.accounts[input.stage.context.account].environment == "prod"
    msg := concat("", [input.stage.name, " would deploy to prod as ", input.user.username])
}
"""

LONG_WAITS = """
package spinnaker.execution.stages.before.wait
import rego.v1

deny contains msg if {
    to_number(input.stage.context.waitTime) > 10
    msg := concat("", [input.stage.name, " waits ", input.stage.context.waitTime, " seconds"])
}
"""

NOT_DEVELOPER = """
package spinnaker.execution.pipelines.before
import rego.v1

deny contains "developers may not start this pipeline" if input.user.username == "developer"
"""

CREATE_TASK = """
package spinnaker.execution.tasks.before.createServerGroup
import rego.v1

deny contains msg if {
    msg := concat("", ["task of ", input.stage.refId, " in ", input.pipeline.application])
}
"""

ECHO_WAIT = """
package spinnaker.execution.stages.before.wait
import rego.v1

deny contains input.stage.context.waitTime if true
"""


@pytest.fixture
def deploy_pipeline(admin: User, developer: User, shop: Application) -> Pipeline:
    Account.objects.create(name="prod", provider="local", regions=["local"], environment="prod")
    cluster = {
        "account": "prod",
        "application": "shop",
        "stack": "web",
        "region": "local",
        "strategy": "redblack",
        "capacity": {"min": 1, "max": 1, "desired": 1},
        "artifact": {"name": "shop", "version": "1.4.2"},
    }
    document = {
        "application": "shop",
        "name": "release",
        "parameterConfig": [{"name": "soak", "default": "30"}],
        "stages": [
            stage("1", "wait", "Bake", waitTime="${parameters.soak}"),
            stage("2", "deploy", "Deploy", requires=("1",), clusters=[cluster]),
        ],
    }
    return actions.save_pipeline(None, document, source="api")


def gates(rows: list[DryRunRow]) -> list[tuple[str, str, str, str]]:
    return [(row.kind, row.ref_id, row.type, row.outcome) for row in rows]


def test_it_lists_every_stage_synthetic_stage_and_task_gate(deploy_pipeline: Pipeline, make_policy: MakePolicy) -> None:
    make_policy(PROD_CREATE, name="no-prod-creates")
    make_policy(LONG_WAITS, name="short-waits", mode="warn")
    make_policy(CREATE_TASK, name="create-task")
    developer = User.objects.get(username="developer")
    report = dry_run(deploy_pipeline, parameters={}, user=developer, acting=developer)
    assert gates(report.rows) == [
        ("stage", "1", "wait", "warned"),
        ("task", "1", "wait", "not covered"),
        ("stage", "2", "deploy", "not covered"),
        ("stage", "2<1", "createServerGroup", "denied"),
        ("task", "2<1", "determineSourceServerGroup", "not covered"),
        ("task", "2<1", "createServerGroup", "denied"),
        ("task", "2<1", "waitForUpInstances", "not covered"),
        ("stage", "2<1>1", "enableServerGroup", "not covered"),
        ("task", "2<1>1", "determineTargetServerGroup", "not covered"),
        ("task", "2<1>1", "enableServerGroup", "not covered"),
        ("task", "2<1>1", "waitForEnabledServerGroup", "not covered"),
        ("stage", "2<1>2", "disableCluster", "not covered"),
        ("task", "2<1>2", "disableCluster", "not covered"),
        ("task", "2<1>2", "waitForClusterDisable", "not covered"),
        ("stage", "2<1>3", "shrinkCluster", "not covered"),
        ("task", "2<1>3", "shrinkCluster", "not covered"),
        ("task", "2<1>3", "waitForClusterShrink", "not covered"),
    ]
    rows = {(row.kind, row.ref_id, row.type): row for row in report.rows}
    assert rows[("stage", "1", "wait")].messages == ["Policy short-waits (warn only): Bake waits 30 seconds"]
    create = rows[("stage", "2<1", "createServerGroup")]
    assert create.messages == ["Denied by policy no-prod-creates: Deploy in local would deploy to prod as developer"]
    assert (create.synthetic, create.parent_ref) == (True, "2")
    assert rows[("task", "2<1", "createServerGroup")].messages == ["Denied by policy create-task: task of 2<1 in shop"]
    assert rows[("stage", "2<1>1", "enableServerGroup")].name == "Enable shop-web-v000"
    assert report.allowed is False


def test_it_writes_nothing_but_dry_run_decisions(deploy_pipeline: Pipeline, make_policy: MakePolicy) -> None:
    make_policy(PROD_CREATE, name="no-prod-creates")
    make_policy(NOT_DEVELOPER, name="not-developer")
    admin = User.objects.get(username="admin")
    report = dry_run(deploy_pipeline, parameters={"soak": "5"}, user=None, acting=admin)
    assert (Execution.objects.count(), StageExecution.objects.count(), TaskExecution.objects.count()) == (0, 0, 0)
    logged = list(PolicyDecision.objects.order_by("id"))
    assert [(row.hook, row.dry_run, row.username) for row in logged] == [
        ("execution", True, "admin"),
        ("stage", True, "admin"),
    ]
    assert logged[1].subject == "Dry run (admin): stage Deploy in local (createServerGroup)"
    assert report.execution.allowed
    assert report.parameters == {"soak": "5"}


def test_it_decides_the_execution_hook_for_the_user_given(deploy_pipeline: Pipeline, make_policy: MakePolicy) -> None:
    make_policy(NOT_DEVELOPER, name="not-developer")
    admin, developer = User.objects.get(username="admin"), User.objects.get(username="developer")
    as_developer = dry_run(deploy_pipeline, parameters={}, user=developer, acting=admin)
    assert as_developer.allowed is False
    assert as_developer.to_dict()["execution"] == {
        "outcome": "denied",
        "messages": ["Denied by policy not-developer: developers may not start this pipeline"],
    }
    assert as_developer.user == "developer"
    assert dry_run(deploy_pipeline, parameters={}, user=admin, acting=developer).allowed is True


def test_it_refuses_parameters_a_run_would_refuse(shop: Application) -> None:
    document: dict[str, Any] = {
        "application": "shop",
        "name": "needs-env",
        "parameterConfig": [{"name": "env", "required": True}],
        "stages": [stage("1", "wait", "Pause", waitTime=0)],
    }
    pipeline = actions.save_pipeline(None, document, source="api")
    with pytest.raises(ValidationError) as caught:
        dry_run(pipeline, parameters={}, user=None, acting=None)
    assert "The parameter 'env' is required and has no default." in caught.value.messages


def test_it_keeps_expressions_that_need_the_run_and_notes_skipped_stages(
    shop: Application, make_policy: MakePolicy
) -> None:
    document = {
        "application": "shop",
        "name": "later",
        "stages": [
            stage("1", "evaluateVariables", "Vars", variables=[{"key": "seconds", "value": 20}]),
            stage("2", "wait", "Pause", requires=("1",), waitTime="${seconds}"),
            stage("3", "wait", "Never", waitTime=20, stageEnabled={"type": "expression", "expression": "${1 == 2}"}),
        ],
    }
    pipeline = actions.save_pipeline(None, document, source="api")
    make_policy(ECHO_WAIT, name="echo-wait")
    report = dry_run(pipeline, parameters={}, user=None, acting=None)
    rows = {row.name: row for row in report.rows if row.kind == "stage"}
    assert rows["Pause"].messages == ["Denied by policy echo-wait: ${seconds}"]
    assert rows["Never"].messages == [
        "Denied by policy echo-wait: 20",
        "This stage would be skipped: its stageEnabled condition is false.",
    ]
