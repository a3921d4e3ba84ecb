"""Fakes and helpers shared by the validation tests.

The stage checks and the expression check are fakes. They stand in for the stage type registry
and the expression evaluator, which are built elsewhere; here they only need to report something
recognisable so the tests can see where its issues land.
"""

import re
from collections.abc import Mapping
from typing import Any

from pipelines.validation import Issue, validate_pipeline

MISSING = object()
"""A value in a change table that means "remove this key"."""

BAD_TYPES: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], [None], [1, "a"], {}, {"a": 1}, [{"a": []}]]


# The fakes


def check_wait(stage: Mapping[str, Any]) -> list[tuple[str, str]]:
    wait_time = stage.get("waitTime")
    if isinstance(wait_time, bool) or not isinstance(wait_time, int) or wait_time < 0:
        return [("waitTime", "The wait time must be a whole number of seconds, 0 or more.")]
    return []


def check_preconditions(stage: Mapping[str, Any]) -> list[tuple[str, str]]:
    preconditions = stage.get("preconditions")
    if not isinstance(preconditions, list) or not preconditions:
        return [("preconditions", "Add at least one precondition.")]
    return [
        (f"preconditions[{k}].type", "A precondition is an expression or a cluster size.")
        for k, precondition in enumerate(preconditions)
        if not isinstance(precondition, dict) or precondition.get("type") not in ("expression", "clusterSize")
    ]


def check_evaluate_variables(stage: Mapping[str, Any]) -> list[tuple[str, str]]:
    variables = stage.get("variables")
    if not isinstance(variables, list):
        return [("variables", "Variables must be a list.")]
    return [(f"variables[{k}].key", "Each variable needs a key.") for k, v in enumerate(variables) if not v.get("key")]


def check_deploy(stage: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [] if stage.get("clusters") else [("", "A deploy stage needs at least one cluster.")]


STAGE_CHECKS = {
    "wait": check_wait,
    "manualJudgment": lambda stage: [],
    "checkPreconditions": check_preconditions,
    "evaluateVariables": check_evaluate_variables,
    "deploy": check_deploy,
}


def check_expression(text: str) -> list[tuple[int | None, str]]:
    """Reports a ``${`` never closed, each word BAD, and NOPOS (without a position)."""
    problems: list[tuple[int | None, str]] = []
    problems += [(m.start(), "'${' is never closed") for m in re.finditer(r"\$\{[^}]*$", text)]
    problems += [(m.start(), "BAD is not a known name") for m in re.finditer("BAD", text)]
    if "NOPOS" in text:
        problems.append((None, "NOPOS cannot be evaluated."))
    return problems


# Helpers


def stage(ref: object, stage_type: str = "wait", requires: tuple[object, ...] = (), **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"refId": ref, "type": stage_type, "name": f"Stage {ref}"}
    body["requisiteStageRefIds"] = list(requires)
    if stage_type == "wait":
        body["waitTime"] = 30
    return body | fields


def pipeline(*stages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A valid diamond: 1 -> (2, 3) -> 4, unless other stages are given."""
    if not stages:
        stages = (
            stage("1"),
            stage("2", "manualJudgment", ("1",)),
            stage("3", requires=("1",)),
            stage("4", "checkPreconditions", ("2", "3"), preconditions=[{"type": "expression"}]),
        )
    return {"application": "shop", "name": "Deploy to prod", "stages": list(stages)} | fields


def apply(target: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is MISSING:
            target.pop(key, None)
        else:
            target[key] = value
    return target


def validate(doc: Any) -> list[Issue]:
    return validate_pipeline(doc, stage_checks=STAGE_CHECKS, check_expression=check_expression)


def assert_sentence(issue: Issue) -> None:
    """A sentence: starts with a capital or with a field named in the issue's path; ends with '.'."""
    message = issue.message
    assert message.endswith("."), issue
    assert message[:1].isupper() or message.split()[0] in issue.path, issue


def assert_one(issues: list[Issue], path: str, fragment: str) -> None:
    assert [issue.path for issue in issues] == [path], issues
    assert fragment in issues[0].message, issues
    assert_sentence(issues[0])
