"""Tests for the stage graph side of validation: cycles, stage order, and normalize_pipeline."""

import copy
import re
from typing import Any

import pytest

from pipelines import graph, validation
from pipelines.validation import Issue, normalize_pipeline, stage_order
from tests.pipelines.validation_fakes import (
    pipeline,
    stage,
    validate,
)

# Cycles


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        (
            [stage("1"), stage("2", requires=("3",)), stage("3", requires=("2",))],
            [("stages[1].requisiteStageRefIds[0]", "Stages 2 → 3 → 2 form a cycle.")],
        ),
        (
            [stage(1, requires=(3,)), stage(2, requires=(1,)), stage(3, requires=(2,))],
            [("stages[0].requisiteStageRefIds[0]", "Stages 1 → 2 → 3 → 1 form a cycle.")],
        ),
        (
            [stage("a", requires=("x", "c")), stage("b", requires=("a",)), stage("c", requires=("b",)), stage("x")],
            [("stages[0].requisiteStageRefIds[1]", "Stages a → b → c → a form a cycle.")],
        ),
        (
            [stage("1", requires=("1",))],
            [("stages[0].requisiteStageRefIds[0]", "Stage 1 cannot depend on itself.")],
        ),
        (  # two separate cycles
            [
                stage("1", requires=("2",)),
                stage("2", requires=("1",)),
                stage("3", requires=("4",)),
                stage("4", requires=("3",)),
            ],
            [
                ("stages[0].requisiteStageRefIds[0]", "Stages 1 → 2 → 1 form a cycle."),
                ("stages[2].requisiteStageRefIds[0]", "Stages 3 → 4 → 3 form a cycle."),
            ],
        ),
        (  # cycles come in list order, though the search finishes the downstream one first
            [
                stage("1", requires=("2",)),
                stage("2", requires=("1",)),
                stage("3", requires=("4", "1")),
                stage("4", requires=("3",)),
            ],
            [
                ("stages[0].requisiteStageRefIds[0]", "Stages 1 → 2 → 1 form a cycle."),
                ("stages[2].requisiteStageRefIds[0]", "Stages 3 → 4 → 3 form a cycle."),
            ],
        ),
        (  # a self-requisite inside a cycle is reported as such, not as a cycle of its own
            [stage("1", requires=("1", "2")), stage("2", requires=("1",))],
            [
                ("stages[0].requisiteStageRefIds[0]", "Stage 1 cannot depend on itself."),
                ("stages[0].requisiteStageRefIds[1]", "Stages 1 → 2 → 1 form a cycle."),
            ],
        ),
        (  # two cycles through stage 2: 1 ⇄ 2 and 2 ⇄ 3
            [stage("1", requires=("2",)), stage("2", requires=("1", "3")), stage("3", requires=("2",))],
            [
                ("stages[0].requisiteStageRefIds[0]", "Stages 1 → 2 → 1 form a cycle."),
                ("stages[1].requisiteStageRefIds[1]", "Stages 2 → 3 → 2 form a cycle."),
            ],
        ),
    ],
)
def test_it_reports_each_cycle_once(stages: list[dict[str, Any]], expected: list[tuple[str, str]]) -> None:
    assert [(issue.path, issue.message) for issue in validate(pipeline(*stages))] == expected


def all_waiting_for_each_other(count: int) -> dict[str, Any]:
    refs = [str(n) for n in range(1, count + 1)]
    return pipeline(*[stage(ref, requires=tuple(r for r in refs if r != ref)) for ref in refs])


def test_it_lists_every_cycle_of_a_tangle_once() -> None:
    assert [(issue.path, issue.message) for issue in validate(all_waiting_for_each_other(3))] == [
        ("stages[0].requisiteStageRefIds[0]", "Stages 1 → 2 → 1 form a cycle."),
        ("stages[0].requisiteStageRefIds[1]", "Stages 1 → 2 → 3 → 1 form a cycle."),
        ("stages[0].requisiteStageRefIds[1]", "Stages 1 → 3 → 1 form a cycle."),
        ("stages[0].requisiteStageRefIds[0]", "Stages 1 → 3 → 2 → 1 form a cycle."),
        ("stages[1].requisiteStageRefIds[1]", "Stages 2 → 3 → 2 form a cycle."),
    ]


def test_it_caps_the_number_of_cycles_reported() -> None:
    messages = [issue.message for issue in validate(all_waiting_for_each_other(8))]
    assert len(set(messages)) == len(messages) == validation.MAX_CYCLES_REPORTED
    assert all(re.fullmatch(r"Stages \d( → \d)+ form a cycle\.", message) for message in messages)


def test_it_reports_the_shortest_cycle_of_a_tangle_too_big_to_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "CYCLE_SEARCH_STEPS", 0)
    assert validate(all_waiting_for_each_other(3)) == [
        Issue("stages[0].requisiteStageRefIds[0]", "Stages 1 → 2 → 1 form a cycle.")
    ]


# stage_order


@pytest.mark.parametrize(
    ("stages", "order"),
    [
        ([], []),
        ([stage("1")], ["1"]),
        (pipeline()["stages"], ["1", "2", "3", "4"]),
        (  # the diamond listed join-first
            [stage("4", requires=("3", "2")), stage("3", requires=("1",)), stage("2", requires=("1",)), stage("1")],
            ["1", "3", "2", "4"],
        ),
        (  # a double diamond: 1 -> (2, 3) -> 4 -> (5, 6) -> 7, and an independent 8 listed first
            [
                stage("8"),
                stage("7", requires=("5", "6")),
                stage("6", requires=("4",)),
                stage("5", requires=("4",)),
                stage("4", requires=("2", "3")),
                stage("3", requires=("1",)),
                stage("2", requires=("1",)),
                stage("1"),
            ],
            ["8", "1", "3", "2", "4", "6", "5", "7"],
        ),
        ([stage(10), stage(9, requires=(10,)), stage(2, requires=("9",)), stage(1)], ["10", "9", "2", "1"]),
        ([stage(2, requires=(1,)), stage(1), stage(3, requires=("1", 2))], ["1", "2", "3"]),
        ([{"refId": "b", "requisiteStageRefIds": ["a", "a"]}, {"refId": "a"}], ["a", "b"]),
    ],
)
def test_it_orders_stages_after_their_requisites(stages: list[dict[str, Any]], order: list[str]) -> None:
    assert stage_order(stages) == order


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([stage("1", requires=("2",)), stage("2", requires=("1",))], "Stages 1 → 2 → 1 form a cycle."),
        (
            [stage(1), stage(2, requires=(4,)), stage(3, requires=(2,)), stage(4, requires=(3,))],
            "Stages 2 → 3 → 4 → 2 form a cycle.",
        ),
        ([stage("1", requires=("1",))], "stages[0].requisiteStageRefIds[0]: Stage 1 cannot depend on itself."),
        ([stage("1", requires=("9",))], "stages[0].requisiteStageRefIds[0]: No stage has refId '9'."),
        ([stage("1"), stage(1)], "stages[1].refId: refId '1' is already used by stages[0]."),
        ([stage("")], "stages[0].refId: refId must be a non-empty string or an integer."),
        ([{"type": "wait"}], "stages[0].refId: refId is required."),
        ([stage("1"), "2"], "stages[1]: Each stage must be an object."),
        (
            [stage("1", requisiteStageRefIds="1")],
            "stages[0].requisiteStageRefIds: requisiteStageRefIds must be a list.",
        ),
    ],
)
def test_it_refuses_to_order_stages_it_cannot(stages: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        stage_order(stages)


# normalize_pipeline


def test_it_fills_in_spinnaker_defaults() -> None:
    assert normalize_pipeline({"application": "shop", "name": "p"}) == {
        "application": "shop",
        "name": "p",
        "limitConcurrent": True,
        "keepWaitingPipelines": False,
        "maxConcurrentExecutions": 0,
        "disabled": False,
        "description": "",
        "stages": [],
        "triggers": [],
        "parameterConfig": [],
        "notifications": [],
    }


def test_it_keeps_given_values_and_unknown_keys() -> None:
    doc = {
        "application": "shop",
        "name": "p",
        "limitConcurrent": False,
        "keepWaitingPipelines": True,
        "maxConcurrentExecutions": 4,
        "disabled": True,
        "description": "Ships.",
        "locked": {"ui": True, "allowUnlockUi": False, "description": "Managed as code"},
        "triggers": [{"type": "cron", "someKey": 1}],
        "spelEvaluator": "v4",
        "futureKey": {"x": [1]},
        "stages": [{"refId": "1", "type": "wait", "requisiteStageRefIds": [], "custom": {"y": 2}}],
    }
    assert normalize_pipeline(doc) == doc | {"parameterConfig": [], "notifications": []}


@pytest.mark.parametrize("locked", [True, False, {"ui": True}])
def test_it_keeps_locked_as_given_and_adds_none(locked: object) -> None:
    assert normalize_pipeline({"locked": locked})["locked"] == locked
    assert "locked" not in normalize_pipeline({})


def test_it_writes_ref_ids_as_strings_and_gives_each_stage_requisites() -> None:
    doc = {"stages": [{"refId": 1, "type": "wait"}, {"refId": "2", "requisiteStageRefIds": [1, "x"]}, {"type": "x"}]}
    assert normalize_pipeline(doc)["stages"] == [
        {"refId": "1", "type": "wait", "requisiteStageRefIds": []},
        {"refId": "2", "requisiteStageRefIds": ["1", "x"]},
        {"type": "x", "requisiteStageRefIds": []},
    ]


def test_it_does_not_change_the_given_document() -> None:
    doc = pipeline(stage(1))
    del doc["stages"][0]["requisiteStageRefIds"]
    before = copy.deepcopy(doc)
    normalized = normalize_pipeline(doc)
    normalized["stages"][0]["waitTime"] = 99
    assert doc == before


@pytest.mark.parametrize("stages", ["x", [1, None, "stage"]])
def test_it_normalizes_badly_typed_stages_without_crashing(stages: Any) -> None:
    assert normalize_pipeline({"stages": stages})["stages"] == stages


def test_it_shows_an_issue_with_its_path() -> None:
    assert str(Issue("stages[0].refId", "refId is required.")) == "stages[0].refId: refId is required."
    assert str(Issue("", "The pipeline must be a JSON object.")) == "The pipeline must be a JSON object."
