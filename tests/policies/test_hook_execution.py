"""The execution hook (``spinnaker.execution.pipelines.before``): a run refused by policy never starts;
the API answers 403, a trigger records the refusal, a pipeline stage fails with it. The decision is
logged whatever the caller does with the refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from applications.models import Application
from clouds.models import Account, AccountGrant
from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.models import Execution, Pipeline, TriggerEvaluation
from pipelines.statuses import Status
from policies.models import DecisionResult, PolicyDecision
from tests.conftest import api_as, browser_as
from tests.pipelines.conftest import _inline_engine, stage
from tests.policies.hook_helpers import enable

__all__ = ["_inline_engine"]

FROZEN = """
package spinnaker.execution.pipelines.before
import rego.v1

deny contains msg if {
    input.pipeline.name == "deploy"
    msg := sprintf("%s is frozen until Monday; %s may not start it.", [input.pipeline.name, input.user.username])
}
"""

NO_WEBHOOK_RUNS = """
package spinnaker.execution.pipelines.before
import rego.v1

deny contains "Runs started by webhooks are paused." if input.pipeline.trigger.type == "webhook"
"""


def save(name: str, *stages: dict[str, Any], **fields: Any) -> Pipeline:
    developer = User.objects.get(username="developer")
    document = {"application": "shop", "name": name, "stages": list(stages), **fields}
    return actions.save_pipeline(developer, document, source="api")


@pytest.fixture
def deploy(admin: User, developer: User, shop: Application) -> Pipeline:
    return save("deploy", stage("1", "wait", "Pause", waitTime=0))


def test_it_answers_403_with_the_message_and_starts_nothing(deploy: Pipeline) -> None:
    enable("freeze", FROZEN)
    developer = User.objects.get(username="developer")
    response = api_as(developer).post(f"/api/v1/pipelines/{deploy.pk}/run/", {}, format="json")
    assert response.status_code == 403, response.content
    message = "Denied by policy freeze: deploy is frozen until Monday; developer may not start it."
    assert response.json()["detail"] == message
    assert not Execution.objects.exists()
    logged = PolicyDecision.objects.get(hook="execution")
    assert (logged.result, logged.username, logged.application) == (DecisionResult.DENY, "developer", "shop")
    assert logged.execution_id is not None


def test_it_refuses_a_run_from_the_page(deploy: Pipeline) -> None:
    enable("freeze", FROZEN)
    developer = User.objects.get(username="developer")
    client = browser_as(developer)
    response = client.post(f"/applications/shop/pipelines/{deploy.pk}/run/", {}, HTTP_HX_REQUEST="true")
    # The start form comes back with the refusal in it, as for a bad parameter.
    assert response.status_code == 200
    assert "Denied by policy freeze: deploy is frozen until Monday" in response.content.decode()
    assert not Execution.objects.exists()
    page = client.post(f"/applications/shop/pipelines/{deploy.pk}/run/", {}, follow=True)
    assert "Denied by policy freeze" in page.content.decode()
    assert not Execution.objects.exists()


def test_it_starts_runs_the_policies_allow_under_the_logged_execution_id(deploy: Pipeline) -> None:
    enable("freeze", FROZEN)
    other = save("build", stage("1", "wait", "Pause", waitTime=0))
    developer = User.objects.get(username="developer")
    run = actions.start_execution(developer, other, source="api")
    run_due_tasks()
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    assert PolicyDecision.objects.get(hook="execution").execution_id == run.pk


def test_it_records_a_webhook_trigger_refused_by_policy(admin: User, developer: User, shop: Application) -> None:
    pipeline = save("hooked", stage("1", "wait", "Pause", waitTime=0), triggers=[{"type": "webhook", "source": "ci"}])
    enable("no-webhook-runs", NO_WEBHOOK_RUNS)
    response = browser_as(None).post(
        "/api/v1/webhooks/ci", data=json.dumps({"ref": "main"}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["fired"] == []
    evaluation = TriggerEvaluation.objects.get(pipeline=pipeline)
    expected = "Denied by policy no-webhook-runs: Runs started by webhooks are paused."
    assert (evaluation.outcome, evaluation.reason) == (TriggerEvaluation.Outcome.REFUSED, expected)
    assert not Execution.objects.exists()
    assert PolicyDecision.objects.get(hook="execution").result == DecisionResult.DENY


def test_it_fails_a_pipeline_stage_whose_child_run_is_refused(deploy: Pipeline) -> None:
    parent = save("release", stage("1", "pipeline", "Run deploy", pipeline=str(deploy.pk)))
    enable("freeze", FROZEN)
    developer = User.objects.get(username="developer")
    run = actions.start_execution(developer, parent, source="api")
    run_due_tasks()
    run.refresh_from_db()
    assert run.status == Status.TERMINAL
    failed = run.stages.get(name="Run deploy")
    assert failed.failure_message == (
        "The pipeline shop/deploy was not started: "
        "Denied by policy freeze: deploy is frozen until Monday; developer may not start it."
    )
    assert Execution.objects.filter(pipeline=deploy).count() == 0
    assert PolicyDecision.objects.filter(hook="execution", result=DecisionResult.DENY).count() == 1


NO_ONE_OFFS = """
package spinnaker.execution.pipelines.before
import rego.v1

deny contains msg if {
    input.pipeline.type == "orchestration"
    msg := sprintf("One-off operations are frozen: %s.", [input.pipeline.name])
}
"""


def test_it_answers_403_to_a_one_off_operation_refused_by_policy(
    admin: User, developer: User, shop: Application, local_account: Account, groups: dict[str, Group]
) -> None:
    AccountGrant.objects.create(account=local_account, group=groups["shop-devs"], level="WRITE")
    enable("no-one-offs", NO_ONE_OFFS)
    find = {"type": "findImageFromCluster", "name": "Find", "credentials": "local", "cluster": "shop-web"}
    body = {"application": "shop", "stage": {**find, "regions": ["local"], "selectionStrategy": "NEWEST"}}
    response = api_as(developer).post("/api/v1/orchestrations/", body, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["detail"] == "Denied by policy no-one-offs: One-off operations are frozen: Find."
    assert not Execution.objects.exists()
