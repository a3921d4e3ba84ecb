"""What the hooks cost when no enabled policy covers them: one read of the policy-set generation per
gate, nothing built, nothing logged."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from applications.models import Application
from pipelines import actions
from pipelines.engine.runner import run_due_tasks
from pipelines.statuses import Status
from policies.middleware import PolicyAuthzMiddleware
from policies.models import PolicyDecision
from tests.pipelines.conftest import _inline_engine, stage
from tests.policies.hook_helpers import enable

__all__ = ["_inline_engine"]

SAVE_POLICY = """
package spinnaker.persistence.pipelines.before
import rego.v1

deny contains "Pipelines named forbidden are forbidden." if input.pipeline.name == "forbidden"
"""


@pytest.fixture
def save_policy_only(admin: User, developer: User, shop: Application) -> None:
    enable("no-forbidden", SAVE_POLICY)


def policy_queries(queries: list[dict[str, str]]) -> list[str]:
    return [query["sql"] for query in queries if '"policies_' in query["sql"]]


def test_it_reads_only_the_generation_once_per_stage_and_task_gate(save_policy_only: None) -> None:
    developer = User.objects.get(username="developer")
    pipeline = actions.save_pipeline(
        developer, {"application": "shop", "name": "deploy", "stages": [stage("1", "wait", waitTime=0)]}, source="api"
    )
    with CaptureQueriesContext(connection) as captured:
        execution = actions.start_execution(developer, pipeline, source="api")
        run_due_tasks()
    execution.refresh_from_db()
    assert execution.status == Status.SUCCEEDED
    reads = policy_queries(captured.captured_queries)
    assert len(reads) == 3  # the execution gate, the stage gate, the task gate
    assert all('FROM "policies_policysetstate"' in sql for sql in reads)
    assert PolicyDecision.objects.filter(hook__in=["execution", "stage", "task"]).count() == 0


def test_it_costs_a_request_one_query_without_an_authz_policy(save_policy_only: None) -> None:
    request: HttpRequest = RequestFactory().get("/api/v1/applications/", HTTP_AUTHORIZATION="Token spw_nothing")
    request.user = User.objects.get(username="developer")
    middleware = PolicyAuthzMiddleware(lambda _: HttpResponse("done"))
    middleware(request)  # the first request after a policy change loads the policy set
    with CaptureQueriesContext(connection) as captured:
        response = middleware(request)
    assert response.content == b"done"
    assert len(captured.captured_queries) == 1
    assert not PolicyDecision.objects.exists()
