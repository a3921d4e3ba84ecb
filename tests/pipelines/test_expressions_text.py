"""``${...}`` in text: interpolation, walking documents, syntax checks on save, stage conditions."""

import copy
from typing import Any

import pytest

from pipelines.expressions import (
    ExpressionError,
    ExpressionFailure,
    check,
    check_tree,
    evaluate_condition,
    evaluate_text,
    evaluate_tree,
)
from tests.conftest import assert_sentence
from tests.pipelines.test_expressions import assert_same, make_scope

NULL_REASON = "The expression evaluated to null, so it was left as written."

# evaluate_text


@pytest.mark.parametrize("text", ["plain text", "", "$HOME and {braces}", "cost: $5 {", "$ {not} an expression"])
def test_it_returns_text_without_expressions_unchanged(text: str) -> None:
    assert evaluate_text(text, make_scope()) is text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${replicas}", 3),
        ("${version}", 2.5),
        ("${true}", True),
        ("${parameters.none}", None),
        ("${{1, 2}}", [1, 2]),
        ("${ {a: 1} }", {"a": 1}),
        ("${trigger.payload.tags}", ["a", "b"]),
        ("${parameters['env']}", "prod"),
        ("${#stage('Deploy')['status'] == 'SUCCEEDED'}", True),
    ],
)
def test_it_returns_the_typed_value_of_a_lone_expression(text: str, expected: Any) -> None:
    assert_same(evaluate_text(text, make_scope()), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" ${replicas}", " 3"),
        ("env=${parameters.env}, n=${replicas}", "env=prod, n=3"),
        ("ok=${true}, no=${1 > 2}", "ok=true, no=false"),
        ("v=${version}, d=${1.0}, e=${1e10}", "v=2.5, d=1.0, e=1.0E10"),
        ("tags=${trigger.payload.tags}", "tags=a,b"),
        ("m=${ {'a': 1, 'b': 'x'} }", "m={a=1, b=x}"),
        ("${parameters.env}-${parameters.region}", "prod-us-east-1"),
        ("x=${parameters.none}!", "x=${parameters.none}!"),
        ("https://${parameters.env}.example.com/${#judgment('Approve')}", "https://prod.example.com/ship it"),
    ],
)
def test_it_interpolates_string_forms_into_mixed_text(text: str, expected: str) -> None:
    assert_same(evaluate_text(text, make_scope()), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${'}'}", "}"),
        ("${'{'}", "{"),
        ("a${'${x}'}b", "a${x}b"),
        ("${#doNotEval('${trigger}')}", "${trigger}"),
        ('${"}" + "{"}', "}{"),
        ("${'it''s {here}'}", "it's {here}"),
        ("${ {'k': '}'}['k'] }", "}"),
        ("${ {a: {b: 1}}['a']['b'] } and ${'}'}", "1 and }"),
    ],
)
def test_it_matches_braces_outside_string_literals_only(text: str, expected: str) -> None:
    assert evaluate_text(text, make_scope()) == expected


def test_it_names_the_failing_part_of_mixed_text() -> None:
    text = "a ${replicas} b ${nope} c"
    with pytest.raises(ExpressionError) as caught:
        evaluate_text(text, make_scope())
    error = caught.value
    assert error.reason == "Unknown name 'nope'"
    assert error.position == text.index("nope")
    assert error.expression == "${nope}"
    assert str(error) == "Unknown name 'nope' at position 18 in '${nope}'."
    assert_sentence(str(error))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x ${replicas", "Expression is never closed: '${' has no matching '}' at position 2 in '${replicas'."),
        ("x ${'abc}", "Unterminated string starting at position 4 in '${'abc}'."),
        ("x ${}", "Empty expression at position 4 in '${}'."),
        ("${1 +}", "Unexpected end of expression at position 5 in '${1 +}'."),
    ],
)
def test_it_reports_broken_parts_with_positions_in_the_text(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_text(text, make_scope())
    assert str(caught.value) == message


# evaluate_tree

DOCUMENT: dict[str, Any] = {
    "context": {
        "url": "https://${parameters.env}.example.com",
        "count": "${replicas}",
        "bad": "${nope}",
        "keep": 5,
        "flag": True,
        "list": ["${1 +}", "plain", "${parameters.none}", ("${version}",)],
    },
    "variables": [
        {"key": "double", "value": "${#toInt(parameters.count) * 2}"},
        {"key": "class", "value": "prefix ${'a'.getClass()}"},
    ],
    "odd keys": {"x y": "${nope}", "${replicas}": "key not evaluated"},
}


def test_it_evaluates_every_string_of_a_document_and_keeps_failures_literally() -> None:
    original = copy.deepcopy(DOCUMENT)
    result, failures = evaluate_tree(DOCUMENT, make_scope())
    assert result == {
        "context": {
            "url": "https://prod.example.com",
            "count": 3,
            "bad": "${nope}",
            "keep": 5,
            "flag": True,
            "list": ["${1 +}", "plain", "${parameters.none}", [2.5]],
        },
        "variables": [
            {"key": "double", "value": 6},
            {"key": "class", "value": "prefix ${'a'.getClass()}"},
        ],
        "odd keys": {"x y": "${nope}", "${replicas}": "key not evaluated"},
    }
    assert original == DOCUMENT
    assert failures == [
        ExpressionFailure("${nope}", "Unknown name 'nope' at position 2.", 2, "context.bad"),
        ExpressionFailure("${1 +}", "Unexpected end of expression at position 5.", 5, "context.list[0]"),
        ExpressionFailure("${parameters.none}", NULL_REASON, None, "context.list[2]"),
        ExpressionFailure(
            "${'a'.getClass()}", "Method 'getClass' is not allowed on a string at position 6.", 6, "variables[1].value"
        ),
        ExpressionFailure("${nope}", "Unknown name 'nope' at position 2.", 2, "['odd keys']['x y']"),
    ]


def test_it_prefixes_failure_paths_with_the_given_path() -> None:
    result, failures = evaluate_tree({"url": "${nope}", "n": "${replicas}"}, make_scope(), "stage.context")
    assert result == {"url": "${nope}", "n": 3}
    assert [failure.path for failure in failures] == ["stage.context.url"]


def test_it_reports_each_null_part_of_mixed_text_and_evaluates_the_rest() -> None:
    result, failures = evaluate_tree("${parameters.none}-${replicas}-${nothing}", make_scope(), "name")
    assert result == "${parameters.none}-3-${nothing}"
    assert [(f.expression, f.reason, f.path) for f in failures] == [
        ("${parameters.none}", NULL_REASON, "name"),
        ("${nothing}", NULL_REASON, "name"),
    ]


def test_it_keeps_a_string_whose_interpolation_is_too_large() -> None:
    half = "x" * 600_000
    result, failures = evaluate_tree({"a": "${half}${half}"}, make_scope(half=half))
    assert result == {"a": "${half}${half}"}
    assert len(failures) == 1
    assert failures[0].reason.startswith("String is too large")


# check and check_tree


@pytest.mark.parametrize(
    "text",
    [
        "no expressions",
        "ok ${parameters.env} and ${unknownName.whatever()}",
        "${#stage('Does not exist')['context']['x']}",
        "${#anyFunction(1, 2)}",
        "${1 / 0}",
    ],
)
def test_it_checks_syntax_without_evaluating(text: str) -> None:
    assert check(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${1 +}", [("${1 +}", "Unexpected end of expression at position 5.", 5)]),
        (
            "a ${(2} b ${x]}",
            [
                ("${(2}", "Expected ')' but found the end of the expression at position 4.", 4),
                ("${x]}", "Unexpected ']' at position 3.", 3),
            ],
        ),
        ("x ${'abc}", [("${'abc}", "Unterminated string starting at position 2.", 2)]),
        ("ok ${1} ${", [("${", "Expression is never closed: '${' has no matching '}' at position 0.", 0)]),
        (
            "${T(java.lang.System).exit(0)}",
            [("${T(java.lang.System).exit(0)}", "Type references such as T(...) are not allowed at position 2.", 2)],
        ),
        (
            "${a.__class__}",
            [("${a.__class__}", "Names starting with '__' are not allowed ('__class__') at position 4.", 4)],
        ),
    ],
)
def test_it_reports_syntax_errors_found_by_check(text: str, expected: list[tuple[str, str, int]]) -> None:
    failures = check(text)
    assert [(f.expression, f.reason, f.position) for f in failures] == expected
    assert all(f.path == "" for f in failures)


def test_it_checks_every_string_of_a_document_with_paths() -> None:
    failures = check_tree({"stages": [{"name": "ok ${x}", "context": {"url": "${x +}"}}], "n": 5}, "pipeline")
    assert failures == [
        ExpressionFailure("${x +}", "Unexpected end of expression at position 5.", 5, "pipeline.stages[0].context.url")
    ]


# evaluate_condition


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("parameters.env == 'prod'", True),
        ("${parameters.env == 'prod'}", True),
        ("  ${ replicas > 5 }  ", False),
        ("parameters.flag", True),
        ("'FALSE'", False),
        ("#stage('Deploy')['status'] == 'SUCCEEDED'", True),
        ("#stageExists('Nope') or trigger.type == 'webhook'", True),
    ],
)
def test_it_evaluates_conditions(source: str, expected: bool) -> None:
    assert evaluate_condition(source, make_scope()) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("parameters.env", "Expression 'parameters.env' evaluated to 'prod', not true or false."),
        ("replicas", "Expression 'replicas' evaluated to '3', not true or false."),
        ("${nothing}", "Expression '${nothing}' evaluated to 'null', not true or false."),
        ("${1 +}", "Unexpected end of expression at position 5."),
        ("  nope", "Unknown name 'nope' at position 2."),
    ],
)
def test_it_refuses_conditions_that_are_not_true_or_false(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_condition(source, make_scope())
    assert str(caught.value) == message
