"""kayentaCanary with deployments: a baseline and a canary next to production, judged, always removed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from canary.models import CanaryRun
from clouds.models import Account
from clouds.providers.local.traffic import TrafficGenerator
from pipelines import actions
from pipelines.models import Execution, Pipeline, StageExecution, TaskExecution
from pipelines.statuses import Status
from tests.canary.stage_helpers import analysis, canary_config, canary_stage, deployments
from tests.clouds.local.stage_helpers import (
    _inline_engine,
    deploy_stage,
    deployer,
    finish,
    groups_of,
    local_account,
    local_home,
    local_runtime,
    save,
    start,
)
from tests.clouds.local.strategy_helpers import balancer_address
from tests.conftest import browser_as
from tests.pipelines.conftest import stage

__all__ = ["_inline_engine", "canary_config", "deployer", "local_account", "local_home", "local_runtime", "save"]
pytestmark = pytest.mark.usefixtures("canary_config")


@pytest.fixture
def production(save: Callable[..., Pipeline], deployer: Account) -> Iterator[str]:
    """shop-web-v000 (sample v1) behind the load balancer shop-web, under steady traffic."""
    assert finish(start(save(deploy_stage("1", "v1"), name="setup"))).status == Status.SUCCEEDED
    address = balancer_address(deployer)
    with TrafficGenerator(f"http://{address}/", rate=80):
        yield address


def production_state(account: Account) -> list[tuple[str, str, bool, int]]:
    return [(g.name, str(g.artifact), g.enabled, g.traffic_weight) for g in groups_of(account)]


def canary_groups(account: Account) -> list[str]:
    return [g.name for cluster in ("shop-web-baseline", "shop-web-canary") for g in groups_of(account, cluster)]


def canary_of(execution: Execution) -> StageExecution:
    return execution.stages.get(type="kayentaCanary")


def test_it_passes_the_same_version_and_removes_baseline_and_canary(
    save: Callable[..., Pipeline], deployer: Account, production: str, viewer: User
) -> None:
    score = "${#stage('Canary')['outputs']['overallScore']}"
    pipeline = save(
        canary_stage("1", deployments=deployments("v1")),
        stage("2", "evaluateVariables", "Use score", ("1",), variables=[{"key": "score", "value": score}]),
    )
    before = production_state(deployer)

    execution = finish(start(pipeline), 60)

    canary = canary_of(execution)
    assert execution.status == Status.SUCCEEDED, execution.stages.values_list("name", "failure_message")
    assert canary.outputs["overallResult"] == "Pass"
    assert [item["classification"] for item in canary.outputs["intervals"]] == ["Pass", "Pass"]
    assert len(canary.outputs["canaryScores"]) == 2
    assert canary.outputs["deployedServerGroups"] == {
        "control": "shop-web-baseline-v000",
        "experiment": "shop-web-canary-v000",
    }
    assert execution.stages.get(ref_id="2").outputs["score"] == canary.outputs["overallScore"] == 100.0
    run = CanaryRun.objects.get(pk=canary.outputs["canaryRunId"])
    assert canary.outputs["reportUrl"] == f"/applications/shop/canary-runs/{run.pk}/"
    assert run.state == CanaryRun.State.SUCCEEDED
    assert run.scopes[0]["controlScope"] == "shop-web-baseline-v000"
    assert run.deployments["control"]["artifact"] == {"name": "sample", "version": "v1"}
    assert run.deployments["cleanedUp"] is True
    assert run.deployments["trafficWeight"] == 12  # 10 % each next to production's weight of 100
    assert canary_groups(deployer) == []
    assert production_state(deployer) == before
    page = browser_as(viewer).get(f"/applications/shop/executions/{execution.pk}/?selected={canary.pk}")
    html = page.content.decode()
    assert "Canary: <strong>Pass</strong>, score <strong>100.0</strong> after 2 intervals" in html
    assert f'<a href="{canary.outputs["reportUrl"]}">Canary report</a>' in html
    assert "fewer than 50: the verdict on it is weak." in html


def test_it_stops_a_slow_canary_at_the_first_interval_and_never_touches_production(
    save: Callable[..., Pipeline], deployer: Account, production: str
) -> None:
    slow = deployments("v2", environment={"SAMPLE_LATENCY_MS": "150"})
    pipeline = save(canary_stage("1", deployments=slow), deploy_stage("2", "v2", requires=("1",)))
    before = production_state(deployer)

    execution = finish(start(pipeline), 60)

    canary = canary_of(execution)
    assert execution.status == Status.TERMINAL
    assert canary.failure_message.startswith("Canary interval 1 of 2 scored 30.0, at or below marginal 50")
    assert [item["index"] for item in canary.outputs["intervals"]] == [1]
    assert canary.outputs["overallResult"] == "Fail"
    cleanup = execution.stages.get(type="canaryCleanup")
    assert (cleanup.synthetic_owner, cleanup.status) == (StageExecution.Owner.FAILURE, Status.SUCCEEDED)
    assert canary_groups(deployer) == []
    assert production_state(deployer) == before
    assert execution.stages.get(ref_id="2").status == Status.NOT_STARTED
    assert CanaryRun.objects.get(stage=canary).state == CanaryRun.State.FAILED


def test_it_removes_baseline_and_canary_when_the_run_is_canceled_mid_analysis(
    save: Callable[..., Pipeline],
    deployer: Account,
    production: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pipeline = save(canary_stage("1", analysis(lifetimeDuration="PT5M"), deployments=deployments("v1")))
    before = production_state(deployer)
    execution = start(pipeline)

    def analysing() -> bool:
        return TaskExecution.objects.filter(
            stage__execution=execution, name="runCanaryAnalysis", status=Status.RUNNING
        ).exists()

    finish(execution, 60, until=analysing, capture=django_capture_on_commit_callbacks)
    assert len(canary_groups(deployer)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel(None, execution, reason="enough", source="api")

    execution.refresh_from_db()
    assert execution.status == Status.CANCELED
    assert canary_groups(deployer) == []
    assert production_state(deployer) == before
    run = CanaryRun.objects.get(stage=canary_of(execution))
    assert (run.state, run.deployments["cleanedUp"]) == (CanaryRun.State.CANCELED, True)
