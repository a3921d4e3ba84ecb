"""Tests for pipelines.validation: save-time checks of Spinnaker pipeline JSON (see validation_fakes)."""

import copy
import re
from typing import Any

import pytest

from pipelines.validation import MAX_STAGES, Issue, validate_pipeline
from tests.pipelines.validation_fakes import (
    BAD_TYPES,
    MISSING,
    STAGE_CHECKS,
    apply,
    assert_one,
    assert_sentence,
    pipeline,
    stage,
    validate,
)

# Valid documents


def test_it_accepts_a_dag_with_parallel_branches_and_a_join() -> None:
    doc = pipeline(
        stage(1),
        stage("2", "manualJudgment", (1,), instructions="Is ${trigger['user']} sure?"),
        stage("3", "deploy", ("1",), clusters=[{"account": "prod"}]),
        stage("4", "evaluateVariables", ("1",), variables=[{"key": "v", "value": "${parameters['env']}"}]),
        stage(
            "5",
            "checkPreconditions",
            ("2", "3", "4"),
            preconditions=[{"type": "expression", "context": {"expression": "${true}"}}],
            stageEnabled={"type": "expression", "expression": "parameters['env'] == 'prod'"},
            failPipeline=False,
            completeOtherBranchesThenFail=True,
            stageTimeoutMs=60_000,
            restrictExecutionDuringTimeWindow=True,
            restrictedExecutionWindow={
                "whitelist": [{"startHour": 22, "startMin": 0, "endHour": 5, "endMin": 59}],
                "days": [1, 7],
            },
        ),
        id="8f0c3d0e",
        description="Ships the shop.",
        limitConcurrent=False,
        keepWaitingPipelines=True,
        maxConcurrentExecutions=3,
        disabled=False,
        locked={"ui": True, "allowUnlockUi": True},
        parameterConfig=[
            {"name": "env", "required": True, "hasOptions": True, "default": "prod", "options": [{"value": "prod"}]},
            {"name": "build.number-2", "label": "Build", "pinned": False, "hasOptions": False, "default": "x"},
        ],
        triggers=[{"type": "cron", "cronExpression": "0 0 10 ? * MON-FRI"}],
        notifications=[{"type": "slack", "address": "#deploys", "when": ["pipeline.failed"]}],
        spelEvaluator="v4",
        someFutureKey={"anything": [1, 2]},
    )
    assert validate(doc) == []


@pytest.mark.parametrize(
    "doc",
    [
        {"application": "shop", "name": "p"},
        pipeline(),
        pipeline(stages=[]),
        pipeline(limitConcurrent=True, maxConcurrentExecutions=0),
        pipeline(limitConcurrent=False, maxConcurrentExecutions=0),
        pipeline(stage("a", restrictExecutionDuringTimeWindow=False, restrictedExecutionWindow="ignored when off")),
        pipeline(stage("a", "manualJudgment", stageEnabled={"type": "expression", "expression": "${a > 1}"})),
        pipeline(parameterConfig=[{"name": "env", "hasOptions": True, "default": "", "options": []}]),
        pipeline(parameterConfig=[{"name": "env", "hasOptions": False, "default": "x", "options": [{"value": "y"}]}]),
    ],
)
def test_it_accepts_valid_documents(doc: dict[str, Any]) -> None:
    assert validate(doc) == []


# The document


@pytest.mark.parametrize("doc", [None, [], "pipeline", 3, True, [{"application": "shop"}]])
def test_it_rejects_a_document_that_is_not_an_object(doc: Any) -> None:
    assert validate(doc) == [Issue("", "The pipeline must be a JSON object.")]


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"application": MISSING}, "application", "application is required."),
        ({"application": ""}, "application", "application must not be empty."),
        ({"application": 7}, "application", "application must be a string."),
        ({"name": MISSING}, "name", "name is required."),
        ({"name": "   "}, "name", "name must not be empty."),
        ({"name": ["p"]}, "name", "name must be a string."),
        ({"name": "p" * 256}, "name", "name is 256 characters long; the limit is 255."),
        ({"name": " Deploy"}, "name", "must not start or end with whitespace"),
        ({"name": "Deploy\n"}, "name", "must not start or end with whitespace"),
        ({"id": 12}, "id", "id must be a string."),
        ({"description": None}, "description", "description must be a string."),
        ({"stages": {"1": {}}}, "stages", "stages must be a list."),
        ({"stages": ["wait"]}, "stages[0]", "Each stage must be an object."),
        ({"triggers": {}}, "triggers", "triggers must be a list."),
        ({"triggers": ["cron"]}, "triggers[0]", "Each trigger must be an object."),
        ({"triggers": [{}]}, "triggers[0].type", "type is required."),
        ({"triggers": [{"type": 3}]}, "triggers[0].type", "type must be a string."),
        ({"triggers": [{"type": "manual"}, {"type": ""}]}, "triggers[1].type", "type must not be empty."),
        ({"notifications": "slack"}, "notifications", "notifications must be a list."),
        ({"notifications": [{}, []]}, "notifications[1]", "Each notification must be an object."),
        ({"limitConcurrent": "yes"}, "limitConcurrent", "limitConcurrent must be true or false."),
        ({"keepWaitingPipelines": 1}, "keepWaitingPipelines", "keepWaitingPipelines must be true or false."),
        ({"disabled": None}, "disabled", "disabled must be true or false."),
        ({"maxConcurrentExecutions": -1}, "maxConcurrentExecutions", "a whole number, 0 or more."),
        ({"maxConcurrentExecutions": 2.0}, "maxConcurrentExecutions", "a whole number, 0 or more."),
        ({"maxConcurrentExecutions": "2"}, "maxConcurrentExecutions", "a whole number, 0 or more."),
        ({"maxConcurrentExecutions": True}, "maxConcurrentExecutions", "a whole number, 0 or more."),
        (
            {"limitConcurrent": True, "maxConcurrentExecutions": 2},
            "maxConcurrentExecutions",
            "maxConcurrentExecutions applies only when limitConcurrent is false.",
        ),
        (
            {"maxConcurrentExecutions": 2},
            "maxConcurrentExecutions",
            "maxConcurrentExecutions applies only when limitConcurrent is false.",
        ),
    ],
)
def test_it_reports_bad_document_fields(changes: dict[str, Any], path: str, fragment: str) -> None:
    assert_one(validate(apply(pipeline(), changes)), path, fragment)


def test_it_stops_at_the_size_limit_with_one_issue() -> None:
    doc = pipeline(description="x" * 1_400_000, name="", stages="not a list")
    assert validate(doc) == [Issue("", "The pipeline is 1.4 MB; the limit is 1 MB.")]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (999_000, []),
        (1_000_001, ["The pipeline is 1.01 MB; the limit is 1 MB."]),
        (2_000_000, ["The pipeline is 2.0 MB; the limit is 1 MB."]),
    ],
)
def test_it_measures_the_size_of_the_serialized_document(extra: int, expected: list[str]) -> None:
    assert [issue.message for issue in validate(pipeline(description="é" * (extra // 2)))] == expected


def test_it_reports_values_that_are_not_json_once() -> None:
    issues = validate(pipeline(description={"a", "b"}, name=""))
    assert_one(issues, "", "must hold only JSON values")


@pytest.mark.parametrize(("count", "issues"), [(MAX_STAGES, 0), (MAX_STAGES + 1, 1)])
def test_it_limits_the_number_of_stages(count: int, issues: int) -> None:
    stages = [stage(i, requires=(i - 1,) if i else ()) for i in range(count)]
    found = validate(pipeline(*stages))
    assert found == [Issue("stages", f"The pipeline has {count} stages; the limit is {MAX_STAGES}.")][:issues]


# Stages


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"refId": MISSING}, "stages[1].refId", "refId is required."),
        ({"refId": ""}, "stages[1].refId", "refId must be a non-empty string or an integer."),
        ({"refId": 2.5}, "stages[1].refId", "refId must be a non-empty string or an integer."),
        ({"refId": True}, "stages[1].refId", "refId must be a non-empty string or an integer."),
        ({"refId": ["2"]}, "stages[1].refId", "refId must be a non-empty string or an integer."),
        ({"type": MISSING}, "stages[1].type", "type is required."),
        ({"type": 4}, "stages[1].type", "type must be a string."),
        ({"type": "deplyo"}, "stages[1].type", "Unknown stage type 'deplyo'. The closest known type is 'deploy'."),
        ({"type": "Wait"}, "stages[1].type", "Unknown stage type 'Wait'. The closest known type is 'wait'."),
        ({"type": "manualjudgement"}, "stages[1].type", "The closest known type is 'manualJudgment'."),
        ({"type": "kubernetesApply"}, "stages[1].type", "Unknown stage type 'kubernetesApply'."),
        ({"name": 5}, "stages[1].name", "name must be a string."),
        ({"failPipeline": "true"}, "stages[1].failPipeline", "failPipeline must be true or false."),
        ({"continuePipeline": 0}, "stages[1].continuePipeline", "continuePipeline must be true or false."),
        (
            {"completeOtherBranchesThenFail": None},
            "stages[1].completeOtherBranchesThenFail",
            "completeOtherBranchesThenFail must be true or false.",
        ),
        ({"failOnFailedExpressions": "no"}, "stages[1].failOnFailedExpressions", "must be true or false."),
        (
            {"restrictExecutionDuringTimeWindow": 1},
            "stages[1].restrictExecutionDuringTimeWindow",
            "restrictExecutionDuringTimeWindow must be true or false.",
        ),
        (
            {"continuePipeline": True, "completeOtherBranchesThenFail": True},
            "stages[1].completeOtherBranchesThenFail",
            "cannot be true together with continuePipeline",
        ),
        ({"stageTimeoutMs": 0}, "stages[1].stageTimeoutMs", "positive whole number of milliseconds"),
        ({"stageTimeoutMs": -5}, "stages[1].stageTimeoutMs", "positive whole number of milliseconds"),
        ({"stageTimeoutMs": 1.5}, "stages[1].stageTimeoutMs", "positive whole number of milliseconds"),
        ({"stageTimeoutMs": "60000"}, "stages[1].stageTimeoutMs", "positive whole number of milliseconds"),
        ({"stageTimeoutMs": True}, "stages[1].stageTimeoutMs", "positive whole number of milliseconds"),
    ],
)
def test_it_reports_bad_stage_fields(changes: dict[str, Any], path: str, fragment: str) -> None:
    doc = pipeline()
    apply(doc["stages"][1], changes)
    issues = validate(doc)
    if "refId" in changes:  # stage 4 waits for stage 2, which has lost its refId
        assert issues[1:] == [Issue("stages[3].requisiteStageRefIds[0]", "No stage has refId '2'.")]
        issues = issues[:1]
    assert_one(issues, path, fragment)


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ("2", "2", "refId '2' is already used by stages[1]."),
        (2, "2", "refId '2' is already used by stages[1]."),
        ("2", 2, "refId '2' is already used by stages[1]."),
    ],
)
def test_it_reports_a_repeated_ref_id_on_the_second_stage(first: object, second: object, message: str) -> None:
    doc = pipeline(stage("1"), stage(first, requires=("1",)), stage(second, requires=("1",)))
    assert validate(doc) == [Issue("stages[2].refId", message)]


@pytest.mark.parametrize(
    ("requires", "path", "message"),
    [
        (["9"], "stages[2].requisiteStageRefIds[0]", "No stage has refId '9'."),
        (["1", 9], "stages[2].requisiteStageRefIds[1]", "No stage has refId '9'."),
        (["3"], "stages[2].requisiteStageRefIds[0]", "Stage 3 cannot depend on itself."),
        ([3], "stages[2].requisiteStageRefIds[0]", "Stage 3 cannot depend on itself."),
        ([None], "stages[2].requisiteStageRefIds[0]", "Each requisite must be a refId"),
        (["1", ""], "stages[2].requisiteStageRefIds[1]", "Each requisite must be a refId"),
        ([["1"]], "stages[2].requisiteStageRefIds[0]", "Each requisite must be a refId"),
        ("1", "stages[2].requisiteStageRefIds", "requisiteStageRefIds must be a list."),
        ({"1": True}, "stages[2].requisiteStageRefIds", "requisiteStageRefIds must be a list."),
    ],
)
def test_it_reports_bad_requisites(requires: Any, path: str, message: str) -> None:
    doc = pipeline(stage("1"), stage("2", requires=("1",)), stage("3", requisiteStageRefIds=requires))
    assert_one(validate(doc), path, message)


def test_it_accepts_numeric_ref_ids_and_requisites_written_either_way() -> None:
    doc = pipeline(stage(1), stage(2, requires=("1",)), stage("3", requires=(1, 2)))
    assert validate(doc) == []


# Conditions and execution windows


@pytest.mark.parametrize(
    ("condition", "path", "message"),
    [
        ("${true}", "stages[0].stageEnabled", "stageEnabled must be an object"),
        ({"expression": "true"}, "stages[0].stageEnabled.type", "stageEnabled type must be 'expression'."),
        ({"type": "script", "expression": "true"}, "stages[0].stageEnabled.type", "must be 'expression'."),
        ({"type": "expression"}, "stages[0].stageEnabled.expression", "expression is required."),
        ({"type": "expression", "expression": " "}, "stages[0].stageEnabled.expression", "must not be empty."),
        ({"type": "expression", "expression": False}, "stages[0].stageEnabled.expression", "must be a string."),
        (
            {"type": "expression", "expression": "a == BAD"},
            "stages[0].stageEnabled.expression",
            "Bad expression: BAD is not a known name (at position 5).",
        ),
        (
            {"type": "expression", "expression": "${a == BAD}"},
            "stages[0].stageEnabled.expression",
            "Bad expression: BAD is not a known name (at position 7).",
        ),
        (
            {"type": "expression", "expression": "${a == 1"},
            "stages[0].stageEnabled.expression",
            "Bad expression: '${' is never closed (at position 0).",
        ),
        (
            {"type": "expression", "expression": "NOPOS"},
            "stages[0].stageEnabled.expression",
            "Bad expression: NOPOS cannot be evaluated.",
        ),
    ],
)
def test_it_checks_stage_conditions(condition: Any, path: str, message: str) -> None:
    doc = pipeline(stage("1", "manualJudgment", stageEnabled=condition))
    assert_one(validate(doc), path, message)


def test_it_checks_a_condition_without_braces_as_an_expression() -> None:
    seen: list[str] = []

    def recording_check(text: str) -> list[tuple[int | None, str]]:
        seen.append(text)
        return []

    doc = pipeline(stage("1", "manualJudgment", stageEnabled={"type": "expression", "expression": "a > 1"}))
    assert validate_pipeline(doc, stage_checks=STAGE_CHECKS, check_expression=recording_check) == []
    assert seen == ["${a > 1}"]


WINDOW = {"whitelist": [{"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 30}], "days": [2, 3, 4, 5, 6]}


@pytest.mark.parametrize(
    ("window", "path", "message"),
    [
        (MISSING, "stages[0].restrictedExecutionWindow", "restrictedExecutionWindow is required when"),
        ([], "stages[0].restrictedExecutionWindow", "restrictedExecutionWindow must be an object."),
        ({}, "stages[0].restrictedExecutionWindow.whitelist", "whitelist must hold at least one time range."),
        ({"whitelist": []}, "stages[0].restrictedExecutionWindow.whitelist", "at least one time range."),
        ({"whitelist": "9-17"}, "stages[0].restrictedExecutionWindow.whitelist", "whitelist must be a list."),
        ({"whitelist": [9]}, "stages[0].restrictedExecutionWindow.whitelist[0]", "Each time range must be an object."),
        (
            {"whitelist": [{"startHour": 24, "startMin": 0, "endHour": 1, "endMin": 0}]},
            "stages[0].restrictedExecutionWindow.whitelist[0].startHour",
            "startHour must be a whole number from 0 to 23.",
        ),
        (
            {"whitelist": [{"startHour": 0, "startMin": 60, "endHour": 1, "endMin": 0}]},
            "stages[0].restrictedExecutionWindow.whitelist[0].startMin",
            "startMin must be a whole number from 0 to 59.",
        ),
        (
            {"whitelist": [{"startHour": 0, "startMin": 0, "endHour": "1", "endMin": 0}]},
            "stages[0].restrictedExecutionWindow.whitelist[0].endHour",
            "endHour must be a whole number from 0 to 23.",
        ),
        (
            {"whitelist": [{"startHour": 0, "startMin": 0, "endHour": 1}]},
            "stages[0].restrictedExecutionWindow.whitelist[0].endMin",
            "endMin must be a whole number from 0 to 59.",
        ),
        (
            {"whitelist": [{"startHour": 0, "startMin": 0, "endHour": 1, "endMin": -1}]},
            "stages[0].restrictedExecutionWindow.whitelist[0].endMin",
            "endMin must be a whole number from 0 to 59.",
        ),
        (WINDOW | {"days": 2}, "stages[0].restrictedExecutionWindow.days", "days must be a list."),
        (WINDOW | {"days": [1, 0]}, "stages[0].restrictedExecutionWindow.days[1]", "from 1 (Sunday) to 7 (Saturday)."),
        (WINDOW | {"days": [8]}, "stages[0].restrictedExecutionWindow.days[0]", "from 1 (Sunday) to 7 (Saturday)."),
        (WINDOW | {"days": ["1"]}, "stages[0].restrictedExecutionWindow.days[0]", "from 1 (Sunday) to 7 (Saturday)."),
    ],
)
def test_it_checks_execution_windows(window: Any, path: str, message: str) -> None:
    body = stage("1", restrictExecutionDuringTimeWindow=True, restrictedExecutionWindow=window)
    assert_one(validate(pipeline(apply(body, {"restrictedExecutionWindow": window}))), path, message)


@pytest.mark.parametrize("window", [WINDOW, {"whitelist": WINDOW["whitelist"]}, WINDOW | {"days": []}])
def test_it_accepts_execution_windows(window: dict[str, Any]) -> None:
    doc = pipeline(stage("1", restrictExecutionDuringTimeWindow=True, restrictedExecutionWindow=window))
    assert validate(doc) == []


# The stage type's own check and expressions


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (stage("1", waitTime="soon"), [("stages[0].waitTime", "The wait time must be a whole number")]),
        (stage("1", "deploy"), [("stages[0]", "A deploy stage needs at least one cluster.")]),
        (
            stage("1", "checkPreconditions", preconditions=[{"type": "expression"}, {"type": "vibes"}, 3]),
            [
                ("stages[0].preconditions[1].type", "A precondition is an expression or a cluster size."),
                ("stages[0].preconditions[2].type", "A precondition is an expression or a cluster size."),
            ],
        ),
        (stage("1", "evaluateVariables", variables=[{"key": "a"}, {}]), [("stages[0].variables[1].key", "a key")]),
    ],
)
def test_it_runs_the_stage_types_own_check(body: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    issues = validate(pipeline(body))
    assert [issue.path for issue in issues] == [path for path, _ in expected]
    for issue, (_, fragment) in zip(issues, expected, strict=True):
        assert fragment in issue.message


@pytest.mark.parametrize(
    ("stage_type", "message"),
    [
        ("deplyo", "Unknown stage type 'deplyo'. The closest known type is 'deploy'."),
        (
            "checkPrecondition",
            "Unknown stage type 'checkPrecondition'. The closest known type is 'checkPreconditions'.",
        ),
        ("EVALUATEVARIABLES", "Unknown stage type 'EVALUATEVARIABLES'. The closest known type is 'evaluateVariables'."),
        ("kubernetesApply", "Unknown stage type 'kubernetesApply'."),
        ("", "type must not be empty."),
    ],
)
def test_it_suggests_the_closest_known_stage_type(stage_type: str, message: str) -> None:
    assert validate(pipeline(stage("1", stage_type))) == [Issue("stages[0].type", message)]


def test_it_runs_no_stage_check_for_an_unknown_type() -> None:
    issues = validate(pipeline(stage("1", "wiat", waitTime="soon")))
    assert issues == [Issue("stages[0].type", "Unknown stage type 'wiat'. The closest known type is 'wait'.")]


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        (
            {"instructions": "Deploy ${BAD}?"},
            "stages[0].instructions",
            "Bad expression: BAD is not a known name (at position 9).",
        ),
        (
            {"instructions": "Deploy ${x"},
            "stages[0].instructions",
            "Bad expression: '${' is never closed (at position 7).",
        ),
        ({"instructions": "${NOPOS}"}, "stages[0].instructions", "Bad expression: NOPOS cannot be evaluated."),
        ({"context": {"deep": [{"text": "${BAD}"}]}}, "stages[0].context.deep[0].text", "(at position 2)."),
        ({"context": {"a key": ["ok", "${BAD}"]}}, 'stages[0].context["a key"][1]', "(at position 2)."),
        ({"name": "${BAD}"}, "stages[0].name", "(at position 2)."),
        ({"judgmentInputs": [{"value": "${BAD"}]}, "stages[0].judgmentInputs[0].value", "BAD is not a known name"),
    ],
)
def test_it_checks_expressions_in_every_string_of_a_stage(fields: dict[str, Any], path: str, message: str) -> None:
    issues = validate(pipeline(stage("1", "manualJudgment", **fields)))
    assert issues
    assert {issue.path for issue in issues} == {path}
    assert any(message in issue.message for issue in issues), issues
    for issue in issues:
        assert_sentence(issue)


def test_it_passes_only_strings_holding_expressions_to_the_check() -> None:
    seen: list[str] = []

    def recording_check(text: str) -> list[tuple[int | None, str]]:
        seen.append(text)
        return []

    body = stage("1", "manualJudgment", notes=["plain", {"x": "${a}", "n": 5, "b": True, "z": None}], other="$ {b}")
    doc = pipeline(body, description="${not in a stage}", triggers=[{"type": "webhook", "source": "${nor}"}])
    assert validate_pipeline(doc, stage_checks=STAGE_CHECKS, check_expression=recording_check) == []
    assert seen == ["${a}"]


def test_it_reports_every_problem_of_one_string() -> None:
    issues = validate(pipeline(stage("1", "manualJudgment", instructions="${BAD} and ${BAD")))
    assert [issue.message for issue in issues] == [
        "Bad expression: '${' is never closed (at position 11).",
        "Bad expression: BAD is not a known name (at position 2).",
        "Bad expression: BAD is not a known name (at position 13).",
    ]


# Parameters


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"env": 1}, "parameterConfig", "parameterConfig must be a list."),
        (["env"], "parameterConfig[0]", "Each parameter must be an object."),
        ([{"label": "Env"}], "parameterConfig[0].name", "name is required."),
        ([{"name": ""}], "parameterConfig[0].name", "name must not be empty."),
        ([{"name": 1}], "parameterConfig[0].name", "name must be a string."),
        ([{"name": "1env"}], "parameterConfig[0].name", "must start with a letter or '_'"),
        ([{"name": "my env"}], "parameterConfig[0].name", "must start with a letter or '_'"),
        ([{"name": "env\n"}], "parameterConfig[0].name", "must start with a letter or '_'"),
        ([{"name": "env$"}], "parameterConfig[0].name", "must start with a letter or '_'"),
        (
            [{"name": "env"}, {"name": "env"}],
            "parameterConfig[1].name",
            "name 'env' is already used by parameterConfig[0].",
        ),
        ([{"name": "env", "required": "yes"}], "parameterConfig[0].required", "required must be true or false."),
        ([{"name": "env", "hasOptions": 1}], "parameterConfig[0].hasOptions", "hasOptions must be true or false."),
        ([{"name": "env", "pinned": None}], "parameterConfig[0].pinned", "pinned must be true or false."),
        ([{"name": "env", "label": 3}], "parameterConfig[0].label", "label must be a string."),
        ([{"name": "env", "description": []}], "parameterConfig[0].description", "description must be a string."),
        ([{"name": "env", "options": "a,b"}], "parameterConfig[0].options", "options must be a list."),
        ([{"name": "env", "options": ["a"]}], "parameterConfig[0].options[0]", "Each option must be an object"),
        (
            [{"name": "env", "options": [{"value": 1}]}],
            "parameterConfig[0].options[0].value",
            "value must be a string.",
        ),
        ([{"name": "env", "options": [{}]}], "parameterConfig[0].options[0].value", "value must be a string."),
        (
            [{"name": "env", "hasOptions": True, "default": "qa", "options": [{"value": "prod"}]}],
            "parameterConfig[0].default",
            "default 'qa' is not one of the options.",
        ),
        (
            [{"name": "env", "hasOptions": True, "default": 1, "options": [{"value": "1"}]}],
            "parameterConfig[0].default",
            "default 1 is not one of the options.",
        ),
    ],
)
def test_it_checks_parameters(params: Any, path: str, message: str) -> None:
    assert_one(validate(pipeline(parameterConfig=params)), path, message)


# All at once, and wrong types everywhere


def test_it_reports_several_problems_at_once() -> None:
    doc = {
        "application": "",
        "name": "Deploy ",
        "stages": [
            stage("1", waitTime=-1),
            stage("1", "deplyo"),
            stage("3", requires=("9", "4"), stageTimeoutMs=0),
            stage("4", requires=("3",), instructions="${BAD}"),
        ],
        "parameterConfig": [{"name": "a b"}],
        "triggers": [{}],
        "maxConcurrentExecutions": 1,
    }
    assert [issue.path for issue in validate(doc)] == [
        "application",
        "name",
        "stages[1].refId",
        "stages[0].waitTime",
        "stages[1].type",
        "stages[2].requisiteStageRefIds[0]",
        "stages[2].stageTimeoutMs",
        "stages[3].instructions",
        "stages[2].requisiteStageRefIds[1]",
        "parameterConfig[0].name",
        "triggers[0].type",
        "maxConcurrentExecutions",
    ]


TOP_LEVEL_KEYS = [
    "application", "name", "id", "description", "stages", "parameterConfig", "triggers", "notifications",
    "limitConcurrent", "keepWaitingPipelines", "maxConcurrentExecutions", "disabled", "locked",
]  # fmt: skip
STAGE_KEYS = [
    "refId", "type", "name", "requisiteStageRefIds", "failPipeline", "continuePipeline",
    "completeOtherBranchesThenFail", "failOnFailedExpressions", "restrictExecutionDuringTimeWindow",
    "restrictedExecutionWindow", "stageTimeoutMs", "stageEnabled", "preconditions",
]  # fmt: skip
NESTED = [
    ("parameterConfig", [{"name": "env", "hasOptions": True}], "default"),
    ("parameterConfig", [{"name": "env"}], "options"),
    ("triggers", [{"type": "cron"}], "type"),
]


@pytest.mark.parametrize("value", BAD_TYPES)
@pytest.mark.parametrize("key", TOP_LEVEL_KEYS)
def test_it_never_crashes_on_wrong_types_in_the_document(key: str, value: Any) -> None:
    issues = validate(pipeline(**{key: value}))
    assert all(re.match(rf"{key}(\.|\[|$)", issue.path) for issue in issues), issues


@pytest.mark.parametrize("value", BAD_TYPES)
@pytest.mark.parametrize("key", STAGE_KEYS)
def test_it_never_crashes_on_wrong_types_in_a_stage(key: str, value: Any) -> None:
    doc = pipeline()
    doc["stages"][3] |= {key: value, "restrictExecutionDuringTimeWindow": True, "restrictedExecutionWindow": WINDOW}
    doc["stages"][3][key] = value
    issues = validate(doc)
    assert all(issue.path.startswith("stages[3]") for issue in issues), issues


@pytest.mark.parametrize("value", BAD_TYPES)
@pytest.mark.parametrize(("list_key", "items", "key"), NESTED)
def test_it_never_crashes_on_wrong_types_in_lists(list_key: str, items: list[Any], key: str, value: Any) -> None:
    items = copy.deepcopy(items)
    items[0][key] = value
    issues = validate(pipeline(**{list_key: items}))
    assert all(issue.path.startswith(f"{list_key}[0]") for issue in issues), issues


@pytest.mark.parametrize("value", BAD_TYPES)
@pytest.mark.parametrize("key", ["whitelist", "days"])
def test_it_never_crashes_on_wrong_types_in_a_window(key: str, value: Any) -> None:
    window = WINDOW | {key: value}
    doc = pipeline(stage("1", restrictExecutionDuringTimeWindow=True, restrictedExecutionWindow=window))
    issues = validate(doc)
    assert all(issue.path.startswith(f"stages[0].restrictedExecutionWindow.{key}") for issue in issues), issues
