"""kayentaCanary without deployments: it judges the scopes it is given, and says why when it cannot."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from applications.models import Application
from canary import actions as canary_actions
from canary.models import CanaryConfig, CanaryRun
from clouds.providers.local.traffic import TrafficGenerator
from pipelines.models import Pipeline
from pipelines.statuses import Status
from tests.canary.prometheus import free_port
from tests.canary.stage_helpers import CONFIG, analysis, canary_config, canary_stage
from tests.clouds.local.conftest import LocalHome, sample_command, wait_for_group
from tests.clouds.local.fixtures import local_home, local_runtime
from tests.clouds.local.stage_helpers import finish, start
from tests.pipelines.conftest import _inline_engine, save

__all__ = ["_inline_engine", "canary_config", "local_home", "local_runtime", "sample_command", "save"]
BASELINE, CANARY = "shop-web-v001", "shop-web-v002"


@pytest.fixture
def two_versions(local_runtime: LocalHome, sample_command: list[str]) -> Iterator[None]:
    """Two groups of the same sample version sharing a load balancer under traffic (no pipeline made them)."""
    client = local_runtime.client()
    client.ensure_running()
    for name in (BASELINE, CANARY):
        client.put_server_group(name, command=sample_command, desired=1)
        wait_for_group(client, name, up=1)
    balancer = client.put_load_balancer("shop-web", 0, {BASELINE: 50, CANARY: 50})
    with TrafficGenerator(f"http://{balancer.address}/", rate=40):
        yield


def test_it_judges_the_scopes_it_is_given(
    save: Callable[..., Pipeline], canary_config: CanaryConfig, two_versions: None
) -> None:
    scope = {"scopeName": "default", "controlScope": BASELINE, "experimentScope": CANARY, "step": 1}
    block = analysis(canaryConfigId=str(canary_config.pk), scopes=[scope], lifetimeDuration="PT6S")
    block.pop("canaryAnalysisIntervalMins")

    execution = finish(start(save(canary_stage("1", block))), 30)

    canary = execution.stages.get(type="kayentaCanary")
    assert execution.status == Status.SUCCEEDED, canary.failure_message
    assert [item["classification"] for item in canary.outputs["intervals"]] == ["Pass"]
    assert any("fewer than 50" in warning for warning in canary.outputs["warnings"])
    run = CanaryRun.objects.get(pk=canary.outputs["canaryRunId"])
    assert run.scopes == [scope]
    assert (run.deployments, run.state, run.plan["intervals"]) == ({}, CanaryRun.State.SUCCEEDED, 1)
    assert not execution.stages.filter(type="canaryCleanup").exists()


def prometheus_config(developer: User) -> CanaryConfig:
    document = copy.deepcopy(CONFIG)
    document["name"] = "web-prometheus"
    document["metrics"] = document["metrics"][1:]
    document["metrics"][0]["query"] = {"type": "prometheus", "metricName": "http_errors_total"}
    document["classifier"] = {"groupWeights": {"errors": 100}}
    return canary_actions.save_config(developer, document, source="api")


def test_it_fails_with_the_source_message_when_metrics_cannot_be_read(
    save: Callable[..., Pipeline], developer: User, settings: Settings
) -> None:
    settings.SPINWEB_CANARY_METRICS_DELAY_SECONDS = 0
    settings.SPINWEB_PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    prometheus_config(developer)
    scope = {"scopeName": "default", "controlScope": BASELINE, "experimentScope": CANARY, "step": 1}
    block = analysis(canaryConfigId="web-prometheus", scopes=[scope], lifetimeDuration="PT1S")
    block.pop("canaryAnalysisIntervalMins")

    execution = finish(start(save(canary_stage("1", block))), 30)

    canary = execution.stages.get(type="kayentaCanary")
    assert execution.status == Status.TERMINAL
    assert canary.failure_message.startswith("Canary interval 1 of 1 could not be judged: ")
    assert "metric 'errors'" in canary.failure_message
    assert "127.0.0.1" in canary.failure_message
    judgment = CanaryRun.objects.get(stage=canary).judgments.get()
    assert (judgment.classification, judgment.score) == ("Error", None)
    assert canary.outputs["overallResult"] == "Error"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("no-such-config", "there is no canary config 'no-such-config' in application shop"),
        ("blog-health", "belongs to application blog and does not list shop"),
    ],
)
def test_it_names_a_config_the_run_cannot_use(
    save: Callable[..., Pipeline], admin: User, blog: Application, reference: str, expected: str
) -> None:
    document = {**copy.deepcopy(CONFIG), "name": "blog-health", "applications": ["blog"]}
    blog_config = canary_actions.save_config(admin, document, source="api")
    scope = {"scopeName": "default", "controlScope": BASELINE, "experimentScope": CANARY}
    chosen = str(blog_config.pk) if reference == "blog-health" else reference
    block = analysis(canaryConfigId=chosen, scopes=[scope])

    execution = finish(start(save(canary_stage("1", block))), 30)

    canary = execution.stages.get(type="kayentaCanary")
    assert execution.status == Status.TERMINAL
    assert expected in canary.failure_message
    assert not CanaryRun.objects.exists()


def test_it_refuses_fields_that_an_expression_made_wrong(save: Callable[..., Pipeline], canary_config: Any) -> None:
    scope = {"scopeName": "default", "controlScope": BASELINE, "experimentScope": CANARY}
    block = analysis(scopes=[scope], lifetimeDuration="${parameters.lifetime}")
    pipeline = save(canary_stage("1", block), parameterConfig=[{"name": "lifetime", "default": "soon"}])

    execution = finish(start(pipeline), 30)

    canary = execution.stages.get(type="kayentaCanary")
    assert execution.status == Status.TERMINAL
    assert canary.failure_message.startswith("canaryConfig.lifetimeDuration: lifetimeDuration must be an ISO-8601")
