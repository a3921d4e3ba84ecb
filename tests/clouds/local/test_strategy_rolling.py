"""Rolling red/black: traffic and capacity move to the new version step by step; a failure or a cancel gives
everything back to the old version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User

from clouds.models import Account
from pipelines import actions
from pipelines.models import Pipeline
from pipelines.statuses import Status
from tests.clouds.local.conftest import wait_until
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
from tests.clouds.local.strategy_helpers import (
    Traffic,
    balancer_address,
    capacity,
    drive,
    running,
    strategy_steps,
    traffic,
)
from tests.pipelines.conftest import stage

__all__ = ["_inline_engine", "deployer", "local_account", "local_home", "local_runtime", "save", "traffic"]


def serving_v1(save: Callable[..., Pipeline], account: Account, traffic: Callable[[str], Traffic]) -> Traffic:
    """shop-web-v000 (v1, 3 instances) behind the load balancer, with a client hammering it."""
    assert finish(start(save(deploy_stage("1", "v1", capacity=capacity(3)), name="setup"))).status == "SUCCEEDED"
    return traffic(balancer_address(account))


def rolling(**fields: Any) -> dict[str, Any]:
    return deploy_stage("1", "v2", capacity=capacity(3), strategy="rollingredblack", **fields)


def sizes(account: Account) -> list[tuple[str, int]]:
    return [(group.name, len(group.instances)) for group in groups_of(account)]


def test_it_moves_traffic_and_capacity_step_by_step(
    save: Callable[..., Pipeline],
    deployer: Account,
    traffic: Callable[[str], Traffic],
    developer: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = serving_v1(save, deployer, traffic)
    execution = start(save(rolling(targetPercentages=[33, 66], manualJudgmentBeforeCleanup=True), name="rolling"))
    seen = []

    for percent in (33, 66, 100):
        judgment = f"Judge at {percent}%"
        drive(execution, django_capture_on_commit_callbacks, until=running(execution, judgment))
        seen.append((percent, round(client.split(300).get("v2", 0.0)), sizes(deployer)))
        actions.judge(developer, execution, judgment, "continue", source="api")
    execution = drive(execution, django_capture_on_commit_callbacks)

    assert execution.status == Status.SUCCEEDED, strategy_steps(execution)
    for percent, measured, _ in seen:
        assert abs(measured - percent) <= 7, seen
    assert [groups for _, _, groups in seen] == [
        [("shop-web-v001", 1), ("shop-web-v000", 3)],
        [("shop-web-v001", 2), ("shop-web-v000", 2)],
        [("shop-web-v001", 3), ("shop-web-v000", 1)],
    ]
    assert execution.stages.get(name="Grow to 33%").context["trafficShare"] == {"new": 33, "old": 67}
    assert [(g.name, g.enabled, len(g.instances)) for g in groups_of(deployer)] == [
        ("shop-web-v001", True, 3),
        ("shop-web-v000", False, 0),
    ]
    client.wait_for_only("v2")
    assert client.failures() == {}


def test_it_gives_everything_back_to_the_old_version_when_canceled(
    save: Callable[..., Pipeline],
    deployer: Account,
    traffic: Callable[[str], Traffic],
    developer: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = serving_v1(save, deployer, traffic)
    execution = start(save(rolling(targetPercentages=[33, 66], manualJudgmentBeforeCleanup=True), name="rolling"))
    drive(execution, django_capture_on_commit_callbacks, until=running(execution, "Judge at 33%"))
    actions.judge(developer, execution, "Judge at 33%", "continue", source="api")
    drive(execution, django_capture_on_commit_callbacks, until=running(execution, "Judge at 66%"))
    assert sizes(deployer) == [("shop-web-v001", 2), ("shop-web-v000", 2)]

    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel(developer, execution, reason="not today", source="api")

    execution.refresh_from_db()
    assert execution.status == Status.CANCELED
    assert execution.stages.get(type="createServerGroup").failure_message == (
        "Canceled during Judge at 66%. shop-web-v000 serves all traffic again; shop-web-v001 is disabled."
    )
    client.wait_for_only("v1")
    wait_until(lambda: groups_of(deployer)[1].up_count == 3, 15.0, "shop-web-v000 back at 3 instances UP")
    newest, restored = groups_of(deployer)
    assert (newest.name, newest.enabled) == ("shop-web-v001", False)
    assert (restored.name, restored.enabled, restored.effective_weight, restored.capacity.desired) == (
        "shop-web-v000",
        True,
        100,
        3,
    )
    assert client.split(100) == {"v1": 100.0}
    assert client.failures() == {}


def test_it_rolls_back_when_the_validation_pipeline_fails(
    save: Callable[..., Pipeline],
    deployer: Account,
    traffic: Callable[[str], Traffic],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = serving_v1(save, deployer, traffic)
    check = {"context": {"expression": "${parameters['errors'] == 'none'}"}}
    validate = save(
        stage("1", "checkPreconditions", "Error rate", preconditions=[check]),
        name="validate",
        parameterConfig=[{"name": "errors"}],
    )
    validation = {"pipelineId": str(validate.pk), "pipelineParameters": {"errors": "many"}}
    execution = start(save(rolling(pipelineBeforeCleanup=validation), name="rolling"))

    execution = drive(execution, django_capture_on_commit_callbacks)

    assert execution.status == Status.TERMINAL
    message = execution.stages.get(name="Deploy v2").failure_message
    assert message.startswith("Validate at 50% failed: Child pipeline shop/validate ("), message
    assert ") ended TERMINAL: The precondition " in message, message
    assert message.endswith("is false. Rolled back: shop-web-v000 serves all traffic again; shop-web-v001 disabled."), (
        message
    )
    assert strategy_steps(execution) == [
        ("Grow to 50%", Status.SUCCEEDED),
        ("Validate at 50%", Status.TERMINAL),
        ("Scale down shop-web-v000 to 50%", Status.NOT_STARTED),
        ("Grow to 100%", Status.NOT_STARTED),
        ("Validate at 100%", Status.NOT_STARTED),
        ("Disable and scale down shop-web-v000", Status.NOT_STARTED),
        ("Keep the 2 newest server groups", Status.NOT_STARTED),
        ("Roll back to shop-web-v000", Status.SUCCEEDED),
    ]
    assert [(g.name, g.enabled, g.effective_weight) for g in groups_of(deployer)] == [
        ("shop-web-v001", False, 0),
        ("shop-web-v000", True, 100),
    ]
    assert client.split(100) == {"v1": 100.0}
    assert client.failures() == {}
