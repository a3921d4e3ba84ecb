"""Which steps each deploy strategy plans, in which order and with which fields (pure: no cloud, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clouds.providers.base import ArtifactRef, Capacity, ServerGroupSpec, ServerGroupState
from clouds.stages.common import Refused
from clouds.stages.strategies.fields import options
from clouds.stages.strategies.plans import adjust_spec, after_plan, failure_plan, pick_source, source_tasks
from pipelines.engine.types import STAGE_TYPES
from pipelines.models import StageExecution

BASE = {"credentials": "local", "cluster": "shop-web", "regions": ["local"]}
PIPELINE_ID = "4b1c2a9e-6f3d-4c55-9a57-2b1f3c4d5e6f"


def capacity(desired: int) -> dict[str, int]:
    return {"min": desired, "max": desired, "desired": desired}


def deployed(strategy: str, *, source: str | None = "shop-web-v001", size: int = 3, **fields: Any) -> dict[str, Any]:
    """A createServerGroup stage's context once it created shop-web-v002 (replacing ``source``)."""
    pinned = {"local": {"name": source, "capacity": capacity(size)}} if source else {}
    return {
        "account": "local",
        "application": "shop",
        "stack": "web",
        "region": "local",
        "artifact": {"name": "sample", "version": "v2"},
        "capacity": capacity(size),
        "strategy": strategy,
        **fields,
        "sourceServerGroups": pinned,
        "deploy.account.name": "local",
        "deploy.cluster": "shop-web",
        "deploy.server.groups": {"local": ["shop-web-v002"]},
    }


def steps(context: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step.type, step.name) for step in after_plan(context)]


def test_it_plans_nothing_more_without_a_strategy() -> None:
    for strategy in ("", "none"):
        assert after_plan(deployed(strategy)) == []
        assert failure_plan(deployed(strategy), "It failed.") == []
        assert source_tasks({"strategy": strategy}) == []
    assert source_tasks({"strategy": "redblack"}) == ["determineSourceServerGroup"]


def test_it_plans_a_blue_green_switch_then_keeps_two_groups() -> None:
    plan = after_plan(deployed("redblack"))

    assert [(step.type, step.name, step.context) for step in plan] == [
        (
            "enableServerGroup",
            "Enable shop-web-v002",
            {**BASE, "serverGroupName": "shop-web-v002", "targetHealthyDeployPercentage": 100.0},
        ),
        (
            "disableCluster",
            "Disable older server groups",
            {**BASE, "remainingEnabledServerGroups": 1, "preferLargerOverNewer": False},
        ),
        (
            "shrinkCluster",
            "Keep the 2 newest server groups",
            {**BASE, "shrinkToSize": 2, "allowDeleteActive": False, "retainLargerOverNewer": False},
        ),
    ]


def test_it_waits_and_scales_down_when_blue_green_asks() -> None:
    context = deployed(
        "redblack",
        delayBeforeDisableSec=30,
        maxRemainingAsgs=3,
        scaleDown=True,
        delayBeforeScaleDownSec="10",
        targetHealthyDeployPercentage=50,
    )

    plan = after_plan(context)

    assert [(step.type, step.name) for step in plan] == [
        ("enableServerGroup", "Enable shop-web-v002"),
        ("wait", "Wait before disable"),
        ("disableCluster", "Disable older server groups"),
        ("shrinkCluster", "Keep the 3 newest server groups"),
        ("wait", "Wait before scale down"),
        ("scaleDownCluster", "Scale down older server groups"),
    ]
    assert plan[0].context["targetHealthyDeployPercentage"] == 50
    assert (plan[1].context, plan[4].context) == ({"waitTime": 30}, {"waitTime": 10})
    assert plan[5].context == {
        **BASE,
        "remainingFullSizeServerGroups": 1,
        "allowScaleDownActive": False,
        "preferLargerOverNewer": False,
    }


def test_it_plans_highlander_as_blue_green_then_destroys_every_older_group() -> None:
    plan = after_plan(deployed("highlander", maxRemainingAsgs=5, scaleDown=True))

    assert [(step.type, step.name) for step in plan] == [
        ("enableServerGroup", "Enable shop-web-v002"),
        ("disableCluster", "Disable older server groups"),
        ("shrinkCluster", "Destroy older server groups"),
    ]
    assert plan[2].context == {**BASE, "shrinkToSize": 1, "allowDeleteActive": True, "retainLargerOverNewer": False}


def test_it_plans_a_rolling_deploy_step_by_step_with_capacity_and_traffic() -> None:
    plan = after_plan(deployed("rollingredblack", targetPercentages=[33, 66, 100]))

    assert [(step.type, step.name) for step in plan] == [
        ("moveTraffic", "Grow to 33%"),
        ("scaleDownSource", "Scale down shop-web-v001 to 67%"),
        ("moveTraffic", "Grow to 66%"),
        ("scaleDownSource", "Scale down shop-web-v001 to 34%"),
        ("moveTraffic", "Grow to 100%"),
        ("scaleDownSource", "Disable and scale down shop-web-v001"),
        ("shrinkCluster", "Keep the 2 newest server groups"),
    ]
    assert plan[0].context == {
        **BASE,
        "targets": {"local": "shop-web-v002"},
        "sourceTargets": {"local": "shop-web-v001"},
        "targetPercentage": 33,
        "trafficShare": {"new": 33, "old": 67},
        "capacity": {"local": {"min": 1, "max": 3, "desired": 1}},
        "targetHealthyDeployPercentage": 100.0,
    }
    grown = [step.context["capacity"]["local"]["desired"] for step in plan if step.type == "moveTraffic"]
    kept = [step.context["capacity"]["local"]["desired"] for step in plan if step.type == "scaleDownSource"]
    assert (grown, kept) == ([1, 2, 3], [2, 1, 0])
    assert [step.context["trafficShare"] for step in plan[4:6]] == [{"new": 100, "old": 0}] * 2


def test_it_rolls_in_halves_by_default_and_always_ends_at_100() -> None:
    assert [name for _, name in steps(deployed("rollingredblack")) if name.startswith("Grow")] == [
        "Grow to 50%",
        "Grow to 100%",
    ]
    assert [name for _, name in steps(deployed("rollingredblack", targetPercentages=[25])) if "Grow" in name] == [
        "Grow to 25%",
        "Grow to 100%",
    ]


def test_it_validates_each_rolling_step_before_cleaning_up() -> None:
    context = deployed(
        "rollingredblack",
        targetPercentages=[50, 100],
        delayBeforeCleanup=20,
        pipelineBeforeCleanup={"application": "shop", "pipelineId": PIPELINE_ID, "pipelineParameters": {"n": 1}},
        manualJudgmentBeforeCleanup={"instructions": "Look at the dashboards.", "judgmentInputs": [{"value": "ok"}]},
    )

    plan = after_plan(context)

    assert [(step.type, step.name) for step in plan[:5]] == [
        ("moveTraffic", "Grow to 50%"),
        ("wait", "Wait at 50%"),
        ("pipeline", "Validate at 50%"),
        ("manualJudgment", "Judge at 50%"),
        ("scaleDownSource", "Scale down shop-web-v001 to 50%"),
    ]
    assert plan[1].context == {"waitTime": 20}
    assert plan[2].context == {
        "application": "shop",
        "pipeline": PIPELINE_ID,
        "pipelineParameters": {"n": 1},
        "waitForCompletion": True,
    }
    assert plan[3].context == {"instructions": "Look at the dashboards.", "judgmentInputs": [{"value": "ok"}]}
    assert [step.type for step in plan[5:]] == [
        "moveTraffic",
        "wait",
        "pipeline",
        "manualJudgment",
        "scaleDownSource",
        "shrinkCluster",
    ]


def test_it_asks_a_plain_judgment_when_the_flag_is_true() -> None:
    plan = after_plan(deployed("rollingredblack", targetPercentages=[100], manualJudgmentBeforeCleanup=True))

    assert [(step.type, step.name, step.context) for step in plan][1] == ("manualJudgment", "Judge at 100%", {})


def test_it_grows_a_first_rolling_deploy_to_its_own_capacity() -> None:
    plan = after_plan(deployed("rollingredblack", source=None, size=4))

    assert [(step.type, step.name) for step in plan] == [
        ("moveTraffic", "Grow to 50%"),
        ("moveTraffic", "Grow to 100%"),
        ("shrinkCluster", "Keep the 2 newest server groups"),
    ]
    assert plan[0].context["capacity"] == {"local": {"min": 2, "max": 4, "desired": 2}}
    assert plan[0].context["trafficShare"] == {"new": 100, "old": 0}
    assert plan[0].context["sourceTargets"] == {}


def test_it_grows_to_its_own_capacity_when_the_source_runs_nothing() -> None:
    context = deployed("rollingredblack")
    context["sourceServerGroups"]["local"]["capacity"] = capacity(0)

    plan = after_plan(context)

    assert [step.context["capacity"]["local"]["desired"] for step in plan[:4]] == [2, 0, 3, 0]


def test_it_always_rolls_a_failed_rolling_deploy_back() -> None:
    plan = failure_plan(deployed("rollingredblack"), "Grow to 50% failed: it broke.")

    assert [(step.type, step.name, step.context) for step in plan] == [
        (
            "rollbackDeploy",
            "Roll back to shop-web-v001",
            {
                **BASE,
                "targets": {"local": "shop-web-v002"},
                "restoreTargets": {"local": "shop-web-v001"},
                "restoreCapacity": {"local": capacity(3)},
                "targetHealthyRollbackPercentage": 100,
                "destroyLatest": False,
                "reason": "Grow to 50% failed: it broke.",
                "stageTimeoutMs": 1_800_000,
            },
        )
    ]


def test_it_rolls_blue_green_back_only_when_asked() -> None:
    assert failure_plan(deployed("redblack"), "x") == []
    assert failure_plan(deployed("highlander", rollback={"onFailure": False}), "x") == []

    plan = failure_plan(deployed("highlander", rollback={"onFailure": True, "destroyLatest": True}), "x")

    assert [(step.type, step.name, step.context["destroyLatest"]) for step in plan] == [
        ("rollbackDeploy", "Roll back to shop-web-v001", True)
    ]


def test_it_only_takes_the_new_group_out_when_there_is_nothing_to_go_back_to() -> None:
    rollback = {"onFailure": True, "destroyLatest": True}

    plan = failure_plan(deployed("redblack", source=None, rollback=rollback), "x")

    assert [(step.name, step.context["restoreTargets"]) for step in plan] == [("Destroy shop-web-v002", {})]
    assert failure_plan(deployed("redblack", source=None, rollback={"onFailure": True}), "x")[0].name == (
        "Disable shop-web-v002"
    )


def test_it_rolls_nothing_back_when_no_group_was_created() -> None:
    context = deployed("rollingredblack")
    del context["deploy.server.groups"]

    assert failure_plan(context, "createServerGroup failed.") == []
    assert after_plan(context) == []


def test_it_destroys_the_new_group_in_the_rollback_only_when_asked() -> None:
    rollback = STAGE_TYPES["rollbackDeploy"]
    kept = rollback.tasks(StageExecution(context={"destroyLatest": False}))
    destroyed = rollback.tasks(StageExecution(context={"destroyLatest": True}))

    assert kept == [
        "restoreSourceServerGroup",
        "waitForRestoredServerGroup",
        "disableServerGroup",
        "waitForDisabledServerGroup",
        "reportRollback",
    ]
    assert destroyed == [*kept[:-1], "destroyServerGroup", "waitForDestroyedServerGroup", "reportRollback"]


def spec() -> ServerGroupSpec:
    return ServerGroupSpec(
        application="shop",
        account="local",
        region="local",
        artifact=ArtifactRef("sample", "v2"),
        capacity=Capacity(2, 5, 3),
    )


def test_it_creates_blue_green_groups_out_of_traffic_and_rolling_ones_at_zero() -> None:
    assert adjust_spec({"strategy": ""}, spec()) == spec()
    assert adjust_spec({"strategy": "redblack"}, spec()).enabled is False
    assert adjust_spec({"strategy": "highlander"}, spec()).capacity == Capacity(2, 5, 3)
    rolling = adjust_spec({"strategy": "rollingredblack"}, spec())
    assert (rolling.enabled, rolling.capacity) == (False, Capacity(0, 5, 0))


def group(sequence: int, *, enabled: bool) -> ServerGroupState:
    return ServerGroupState(
        name=f"shop-web-v{sequence:03d}",
        cluster="shop-web",
        region="local",
        sequence=sequence,
        created_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=sequence),
        artifact=ArtifactRef("sample", f"v{sequence}"),
        capacity=Capacity(1, 1, 1),
        enabled=enabled,
        traffic_weight=100,
        instances=[],
        load_balancers=["shop-web"],
    )


def test_it_replaces_the_newest_enabled_group() -> None:
    groups = [group(1, enabled=True), group(3, enabled=False), group(2, enabled=True)]

    source = pick_source(groups)

    assert source is not None
    assert source.name == "shop-web-v002"
    assert pick_source([group(1, enabled=False)]) is None


def deploy_check(**fields: Any) -> list[tuple[str, str]]:
    entry = {
        "account": "local",
        "region": "local",
        "artifact": {"name": "sample", "version": "v2"},
        "strategy": "rollingredblack",
        **fields,
    }
    return STAGE_TYPES["deploy"].check({"type": "deploy", "clusters": [entry]})


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"targetPercentages": [50, 30]}, "clusters[0].targetPercentages"),
        ({"targetPercentages": [0, 100]}, "clusters[0].targetPercentages"),
        ({"targetPercentages": []}, "clusters[0].targetPercentages"),
        ({"rollback": {"onFailure": "yes"}}, "clusters[0].rollback.onFailure"),
        ({"rollback": True}, "clusters[0].rollback"),
        ({"delayBeforeDisableSec": -5}, "clusters[0].delayBeforeDisableSec"),
        ({"delayBeforeCleanup": 1.5}, "clusters[0].delayBeforeCleanup"),
        ({"scaleDown": "true"}, "clusters[0].scaleDown"),
        ({"pipelineBeforeCleanup": {"pipelineId": "validate"}}, "clusters[0].pipelineBeforeCleanup.pipelineId"),
        (
            {"pipelineBeforeCleanup": {"pipelineId": PIPELINE_ID, "pipelineParameters": []}},
            "clusters[0].pipelineBeforeCleanup.pipelineParameters",
        ),
        ({"manualJudgmentBeforeCleanup": {"question": "?"}}, "clusters[0].manualJudgmentBeforeCleanup.question"),
        ({"manualJudgmentBeforeCleanup": "yes"}, "clusters[0].manualJudgmentBeforeCleanup"),
    ],
)
def test_it_names_the_strategy_field_that_is_wrong_when_saving(fields: dict[str, Any], path: str) -> None:
    assert [found for found, _ in deploy_check(**fields)] == [path]


def test_it_accepts_strategy_fields_written_well_or_as_expressions() -> None:
    assert (
        deploy_check(
            targetPercentages=[10, 50, 100],
            rollback={"onFailure": True, "destroyLatest": False},
            delayBeforeCleanup="${parameters.delay}",
            pipelineBeforeCleanup={"pipelineId": PIPELINE_ID, "pipelineParameters": {"a": "b"}},
            manualJudgmentBeforeCleanup=True,
        )
        == []
    )


def test_it_refuses_at_run_time_what_an_expression_made_wrong() -> None:
    with pytest.raises(Refused, match="strategy must be one of"):
        options({"strategy": "bluegreen"})
    with pytest.raises(Refused, match=r"^targetPercentages must go up"):
        options({"strategy": "rollingredblack", "targetPercentages": [60, 40]})
    with pytest.raises(Refused, match=r"^maxRemainingAsgs must be a whole number of at least 1, not 0"):
        options({"strategy": "redblack", "maxRemainingAsgs": 0})


def test_it_refuses_its_steps_written_into_a_pipeline() -> None:
    for kind in ("moveTraffic", "scaleDownSource", "rollbackDeploy"):
        assert STAGE_TYPES[kind].check({"type": kind}) == [
            ("type", f"{kind} runs only as a step of a deploy strategy; it cannot be written in a pipeline.")
        ]
