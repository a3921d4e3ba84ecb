"""The input documents policies see (schema spinweb.policy-input/v1): users with roles, secrets
masked, the run as one document read in one query."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Application
from pipelines.models import Execution, StageExecution, TaskExecution
from policies import inputs
from policies.hooks import INPUT_SCHEMA

pytestmark = pytest.mark.django_db


def test_it_describes_users_with_their_group_names(developer: User, admin: User) -> None:
    document = inputs.user_document(developer)
    assert document["username"] == developer.username
    assert document["isAdmin"] is False
    assert document["roles"] == sorted(developer.groups.values_list("name", flat=True))
    assert document["roles"]
    assert inputs.user_document(admin)["isAdmin"] is True
    assert inputs.user_document(AnonymousUser()) == {"username": "anonymous", "isAdmin": False, "roles": []}
    assert inputs.user_document(None, label="cron") == {"username": "cron", "isAdmin": False, "roles": []}
    assert inputs.user_document(None)["username"] == "system"


def test_it_masks_trigger_secrets_in_the_saved_pipeline(developer: User) -> None:
    pipeline = {"application": "shop", "name": "d", "triggers": [{"type": "webhook", "secret": "s3cr3t"}]}
    document = inputs.save_input(pipeline, developer)
    assert "s3cr3t" not in str(document)
    assert document["pipeline"]["triggers"][0]["type"] == "webhook"
    assert document["meta"]["schema"] == INPUT_SCHEMA
    assert document["meta"]["hook"] == "save"
    assert datetime.fromisoformat(document["meta"]["time"]).tzinfo is not None


def test_it_builds_the_execution_hook_input(developer: User) -> None:
    config = {"id": "p1", "application": "shop", "name": "deploy", "stages": [], "triggers": [{"secret": "x1"}]}
    trigger = {"type": "manual", "user": developer.username, "parameters": {"env": "prod"}, "token": "t0k"}
    document = inputs.execution_input(config, trigger, "e-1", developer)
    assert document["pipeline"]["executionId"] == "e-1"
    assert document["pipeline"]["trigger"]["parameters"] == {"env": "prod"}
    assert "t0k" not in str(document)
    assert "x1" not in str(document)


def test_it_builds_the_run_in_one_query(shop: Application, developer: User) -> None:
    execution = Execution.objects.create(
        application=shop,
        name="deploy",
        config={"application": "shop", "name": "deploy", "stages": []},
        trigger={"type": "manual", "user": developer.username, "parameters": {}},
        started_by=developer,
    )
    parent = StageExecution.objects.create(execution=execution, ref_id="1", type="deploy", name="Deploy", position=0)
    child = StageExecution.objects.create(
        execution=execution,
        ref_id="1-before",
        type="createServerGroup",
        name="Create",
        parent=parent,
        synthetic_owner="STAGE_BEFORE",
        position=1,
        context={"account": "local"},
    )
    task = TaskExecution.objects.create(stage=child, name="createServerGroup")
    with CaptureQueriesContext(connection) as queries:
        run = inputs.execution_document(execution)
    assert len(queries) == 1
    assert run["application"] == "shop"
    assert run["authentication"] == {"user": developer.username}
    assert [s["refId"] for s in run["stages"]] == ["1", "1-before"]
    assert run["stages"][1]["parentStageId"] == str(parent.pk)
    assert run["stages"][1]["syntheticStageOwner"] == "STAGE_BEFORE"
    stage_doc = inputs.stage_input(execution, child, {"account": "local", "resolved": True})
    assert stage_doc["stage"]["context"] == {"account": "local", "resolved": True}
    assert stage_doc["user"]["username"] == developer.username
    assert stage_doc["meta"]["package"] == "spinnaker.execution.stages.before.createServerGroup"
    task_doc = inputs.task_input(execution, child, task)
    assert task_doc["task"]["type"] == "createServerGroup"
    assert task_doc["meta"]["package"] == "spinnaker.execution.tasks.before.createServerGroup"


def test_it_builds_deploy_and_authz_inputs() -> None:
    user = {"username": "ops", "isAdmin": False, "roles": []}
    deploy = inputs.deploy_input("destroyServerGroup", {"account": "prod", "serverGroup": "shop-v001"}, user)
    assert deploy["deploy"]["operation"] == "destroyServerGroup"
    assert deploy["meta"]["package"] == "spinnaker.deployment.tasks.before.destroyServerGroup"
    authz = inputs.authz_input("post", ["api", "v1", "pipelines"], {"name": "x"}, user)
    assert (authz["method"], authz["path"], authz["user"]) == ("POST", ["api", "v1", "pipelines"], user)
