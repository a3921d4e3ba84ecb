"""Evaluating pipeline expressions: every form users write, against a scope shaped like a run.

The scope below (ROOT, the #stage-style FUNCTIONS, ``make_scope``) is shared with the other
``test_expressions_*`` modules.
"""

import dataclasses
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import pytest

from pipelines.expressions import ExpressionError, ExpressionFailure, Scope, evaluate


class Status(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    TERMINAL = "TERMINAL"


STAGES: list[dict[str, Any]] = [
    {"name": "Deploy", "refId": "1", "status": "SUCCEEDED", "context": {"x": "v1", "account": "prod"}},
    {"name": "Approve", "refId": "2", "status": "SUCCEEDED", "context": {"judgmentInput": "ship it"}},
    {"name": "Bake", "refId": "3", "status": Status.TERMINAL, "context": {}},
]

ROOT: dict[str, Any] = {
    "parameters": {"env": "prod", "count": "3", "flag": "true", "empty": "", "none": None, "region": "us-east-1"},
    "trigger": {"type": "webhook", "payload": {"x": "from-payload", "tags": ["a", "b"]}, "buildInfo": {"number": 42}},
    "execution": {"id": "01HEXECUTION", "name": "deploy-prod"},
    "scmInfo": {"branch": "feature/ABC-123"},
    "artifacts": [
        {"type": "docker/image", "name": "web", "reference": "web:1"},
        {"type": "kubernetes/configMap", "name": "cfg", "reference": "cfg-v1"},
        {"type": "docker/image", "name": "worker", "reference": "worker:2"},
    ],
    "replicas": 3,
    "version": 2.5,
    "blank": "",
    "nothing": None,
}


def stage(name: str) -> dict[str, Any]:
    for candidate in STAGES:
        if candidate["name"] == name:
            return candidate
    raise ExpressionError(f"No stage named '{name}'")


def judgment(name: str) -> Any:
    return stage(name)["context"].get("judgmentInput")


def stage_exists(name: str) -> bool:
    return any(candidate["name"] == name for candidate in STAGES)


def current_stage() -> dict[str, Any]:
    return STAGES[1]


def stage_by_ref_id(ref_id: str) -> dict[str, Any]:
    for candidate in STAGES:
        if candidate["refId"] == ref_id:
            return candidate
    raise LookupError(f"no stage with refId {ref_id}")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "stage": stage,
    "judgment": judgment,
    "stageExists": stage_exists,
    "currentStage": current_stage,
    "stageByRefId": stage_by_ref_id,
}


def make_scope(**extra: Any) -> Scope:
    return Scope(root={**ROOT, **extra}, functions=FUNCTIONS)


def assert_same(actual: Any, expected: Any) -> None:
    """Equal and of the same type all the way down (Python says 1 == 1.0 == True)."""
    assert actual == expected, (actual, expected)
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, list):
        for a, e in zip(actual, expected, strict=True):
            assert_same(a, e)
    if isinstance(expected, dict):
        for key in expected:
            assert_same(actual[key], expected[key])


# Literals

LITERALS = [
    ("'single'", "single"),
    ('"double"', "double"),
    ("'it''s'", "it's"),
    ('"say ""hi"""', 'say "hi"'),
    ("''", ""),
    ("42", 42),
    ("0x1F", 31),
    ("10L", 10),
    ("1.5", 1.5),
    ("1e3", 1000.0),
    ("2.5f", 2.5),
    ("true", True),
    ("FALSE", False),
    ("null", None),
    ("{1, 2, 3}", [1, 2, 3]),
    ("[1, 'a', true]", [1, "a", True]),
    ("{}", []),
    ("[]", []),
    ("{:}", {}),
    ("{'a': 1, 'b': 2}", {"a": 1, "b": 2}),
    ("{env: 'prod', sizes: {1, 2}}", {"env": "prod", "sizes": [1, 2]}),
    ("{1: 'one'}", {1: "one"}),
    ("{'a': {'b': [1, {c: 2}]}}['a']['b'][1]['c']", 2),
    ("{replicas, version}", [3, 2.5]),
]


@pytest.mark.parametrize(("expression", "expected"), LITERALS)
def test_it_evaluates_literals(expression: str, expected: Any) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


# Names, properties and indexes

ACCESS = [
    ("parameters['env']", "prod"),
    ("parameters.env", "prod"),
    ("trigger['payload']['x']", "from-payload"),
    ("trigger.payload.tags[1]", "b"),
    ("trigger['buildInfo']['number']", 42),
    ("execution['id']", "01HEXECUTION"),
    ("parameters['missing']", None),
    ("parameters.missing", None),
    ("parameters.none", None),
    ("parameters[env]", "prod"),
    ("#root['parameters']['env']", "prod"),
    ("#root.replicas", 3),
    ("#this.replicas", 3),
    ("'abc'[1]", "b"),
    ("nothing?.x", None),
    ("nothing?.x.y.z", None),
    ("nothing?.length()", None),
    ("nothing?.[0]", None),
    ("parameters?.env", "prod"),
    ("trigger?.payload?.tags?.[0]", "a"),
    ("size()", len(ROOT)),
    ("{'a-b': 1}['a-b']", 1),
]


@pytest.mark.parametrize(("expression", "expected"), ACCESS)
def test_it_reads_names_properties_and_indexes(expression: str, expected: Any) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


@pytest.mark.parametrize(
    ("expression", "root", "expected"),
    [
        ("x", {"x": 1}, 1),
        ("x ?: 'default'", {"x": None}, "default"),
        ("x ?: 'default'", {"x": ""}, "default"),
        ("x ?: 'default'", {"x": "set"}, "set"),
        ("x ?: 'default'", {"x": 0}, 0),
        ("x ?: 'default'", {"x": False}, False),
        ("a.b.c", {"a": {"b": {"c": [1]}}}, [1]),
        ("$weird_name$", {"$weird_name$": "ok"}, "ok"),
    ],
)
def test_it_resolves_bare_names_in_the_root(expression: str, root: dict[str, Any], expected: Any) -> None:
    assert_same(evaluate(expression, Scope(root=root)), expected)


def test_it_follows_a_long_property_chain_without_deep_recursion() -> None:
    root: dict[str, Any] = {"leaf": "found"}
    for _ in range(2_000):
        root = {"b": root}
    expression = "a" + ".b" * 2_000 + ".leaf"
    assert evaluate(expression, Scope(root={"a": root})) == "found"


# Operators

ARITHMETIC = [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 4 - 3", 3),
    ("7 / 2", 3),
    ("-7 / 2", -3),
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("7.0 / 2", 3.5),
    ("7 div 2", 3),
    ("7 mod 4", 3),
    ("-replicas", -3),
    ("+replicas", 3),
    ("2 * version", 5.0),
    ("-(1 - 3)", 2),
    ("+".join(["1"] * 4_000), 4_000),
]


@pytest.mark.parametrize(("expression", "expected"), ARITHMETIC)
def test_it_does_arithmetic_like_java(expression: str, expected: Any) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


CONCATENATION = [
    ("'v' + replicas", "v3"),
    ("replicas + 'x'", "3x"),
    ("1 + 2 + 'x'", "3x"),
    ("'x' + 1 + 2", "x12"),
    ("'a' + true", "atrue"),
    ("'a' + null", "anull"),
    ("'v' + version", "v2.5"),
    ("'n=' + 1.0", "n=1.0"),
    ("'big=' + 1e10", "big=1.0E10"),
    ("'tags=' + trigger.payload.tags", "tags=a,b"),
    ("'map=' + {'a': 1, 'b': true}", "map={a=1, b=true}"),
    ("parameters.env + '-' + parameters.region", "prod-us-east-1"),
]


@pytest.mark.parametrize(("expression", "expected"), CONCATENATION)
def test_it_concatenates_when_either_side_is_a_string(expression: str, expected: str) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


COMPARISONS = [
    ("1 == 1", True),
    ("1 == 1.0", True),
    ("'1' == 1", False),
    ("true == 1", False),
    ("null == null", True),
    ("parameters.none == null", True),
    ("parameters.env == 'prod'", True),
    ("'a' != 'b'", True),
    ("1 != 1", False),
    ("1 < 2", True),
    ("2 <= 2", True),
    ("3 > 2", True),
    ("2 >= 3", False),
    ("'abc' < 'abd'", True),
    ("null < 1", True),
    ("false < true", True),
    ("1 eq 1", True),
    ("1 ne 2", True),
    ("1 lt 2", True),
    ("2 le 2", True),
    ("3 gt 2", True),
    ("3 ge 4", False),
    ("{1, 2} == [1, 2]", True),
    ("{a: 1} == {'a': 1.0}", True),
    ("replicas + 1 == 4", True),
]


@pytest.mark.parametrize(("expression", "expected"), COMPARISONS)
def test_it_compares(expression: str, expected: bool) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


BOOLEANS = [
    ("true and false", False),
    ("true && true", True),
    ("false or true", True),
    ("false || false", False),
    ("!true", False),
    ("not false", True),
    ("!!true", True),
    ("!parameters.flag", False),
    ("true and false or true", True),
    ("true or true and false", True),
    ("!false and false", False),
    ("false and 1 / 0 == 0", False),
    ("true or 1 / 0 == 0", True),
    ("replicas > 2 ? 'many' : 'few'", "many"),
    ("replicas > 5 ? 'many' : 'few'", "few"),
    ("false ? 1 : true ? 2 : 3", 2),
    ("parameters.missing ?: 'default'", "default"),
    ("parameters.empty ?: 'default'", "default"),
    ("parameters.env ?: 'default'", "prod"),
    ("nothing ?: blank ?: 'last'", "last"),
    ("parameters.region matches 'us-.*'", True),
    ("parameters.region matches 'east'", False),
    ("42 matches '[0-9]+'", True),
    ("'ABC' matches '(?i)abc'", True),
]


@pytest.mark.parametrize(("expression", "expected"), BOOLEANS)
def test_it_evaluates_logic_conditionals_and_matches(expression: str, expected: Any) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


SELECTIONS = [
    ("artifacts.?[type == 'docker/image'].![reference]", ["web:1", "worker:2"]),
    ("artifacts.^[type == 'docker/image'].reference", "web:1"),
    ("artifacts.$[type == 'docker/image'].reference", "worker:2"),
    ("artifacts.^[type == 'helm/chart']", None),
    ("artifacts.![name]", ["web", "cfg", "worker"]),
    ("{1, 2, 3, 4}.?[#this > 2]", [3, 4]),
    ("{1, 2, 3}.![#this * 10]", [10, 20, 30]),
    ("{a: 1, b: 2}.?[value > 1]", {"b": 2}),
    ("{a: 1, b: 2}.^[value > 0]", {"a": 1}),
    ("{a: 1, b: 2}.![key]", ["a", "b"]),
    ("artifacts.?[missing == null].size()", 3),
]


@pytest.mark.parametrize(("expression", "expected"), SELECTIONS)
def test_it_selects_and_projects(expression: str, expected: Any) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


# Functions

FUNCTION_CALLS = [
    ("#stage('Deploy')['context']['x']", "v1"),
    ("#stage('Deploy')['status'] == 'SUCCEEDED'", True),
    ("#stage('Deploy').status == 'SUCCEEDED'", True),
    ("#stage('Bake')['status'] == 'TERMINAL'", True),
    ("#stage('Bake')['status'].toString() == 'TERMINAL'", True),
    ("#stage('Bake').status.toString()", "TERMINAL"),
    ("#judgment('Approve')", "ship it"),
    ("#judgment('Approve') == 'ship it'", True),
    ("#stageExists('Deploy')", True),
    ("#stageExists('Nope')", False),
    ("#currentStage()['name']", "Approve"),
    ("#stageByRefId('3')['name']", "Bake"),
    ("#alphanumerical(scmInfo.branch)", "featureABC123"),
    ("#toJson({'a': 1, 'b': {true, null}, 'c': 'é'})", '{"a":1,"b":[true,null],"c":"é"}'),
    ("#toJson(trigger.payload.tags)", '["a","b"]'),
    ("#toInt('42') + 1", 43),
    ("#toInt('-7')", -7),
    ("#toInt(parameters.count) > 2", True),
    ("#toFloat('2.5')", 2.5),
    ("#toFloat(' 3 ')", 3.0),
    ("#toBoolean('TRUE')", True),
    ("#toBoolean('nope')", False),
    ("#toBoolean(parameters.flag) and true", True),
    ("#toBase64('hi')", "aGk="),
    ("#fromBase64('aGk=')", "hi"),
    ("#fromBase64(#toBase64('ünïcode'))", "ünïcode"),
    ("#readJson('{\"a\": [1, 2]}')['a'][1]", 2),
    ("#doNotEval('${trigger}')", "${trigger}"),
]


@pytest.mark.parametrize(("expression", "expected"), FUNCTION_CALLS)
def test_it_calls_helpers_and_caller_functions(expression: str, expected: Any) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


def test_it_lets_caller_functions_replace_built_in_helpers() -> None:
    scope = Scope(root={}, functions={"toInt": lambda value: -1})
    assert evaluate("#toInt('5')", scope) == -1
    assert evaluate("#toFloat('5')", scope) == 5.0


# Allowlisted methods

METHODS = [
    ("'Abc'.toString()", "Abc"),
    ("'Abc'.toUpperCase()", "ABC"),
    ("'Abc'.toLowerCase()", "abc"),
    ("parameters.region.contains('east')", True),
    ("parameters.region.contains('west')", False),
    ("parameters.region.startsWith('us-')", True),
    ("parameters.region.endsWith('-1')", True),
    ("'a'.equals('a')", True),
    ("'1'.equals(1)", False),
    ("'PROD'.equalsIgnoreCase(parameters.env)", True),
    ("'PROD'.equalsIgnoreCase(null)", False),
    ("'a,b,,c,,'.split(',')", ["a", "b", "", "c"]),
    ("'a.b.c'.split('[.]')[2]", "c"),
    ("'no-separator'.split(',')", ["no-separator"]),
    ("'abc'.length()", 3),
    ("''.isEmpty()", True),
    ("'  padded \t'.trim()", "padded"),
    ("'deploy'.substring(2)", "ploy"),
    ("'deploy'.substring(1, 3)", "ep"),
    ("'a-b-c'.replace('-', '_')", "a_b_c"),
    ("'deploy'.indexOf('p')", 2),
    ("'deploy'.indexOf('z')", -1),
    ("trigger.payload.tags.size()", 2),
    ("trigger.payload.tags.isEmpty()", False),
    ("trigger.payload.tags.contains('a')", True),
    ("{1, 2}.contains(2.0)", True),
    ("trigger.payload.tags.get(1)", "b"),
    ("parameters.size()", 6),
    ("{:}.isEmpty()", True),
    ("parameters.containsKey('env')", True),
    ("parameters.containsKey('zzz')", False),
    ("parameters.get('env')", "prod"),
    ("parameters.get('zzz')", None),
    ("{'a': 1, 'b': 2}.keySet()", ["a", "b"]),
    ("{'a': 1, 'b': 2}.values()", [1, 2]),
    ("replicas.toString()", "3"),
    ("version.toString()", "2.5"),
    ("1e10.toString()", "1.0E10"),
    ("0.0001.toString()", "1.0E-4"),
    ("version.intValue()", 2),
    ("-2.7.intValue()", -2),
    ("replicas.doubleValue()", 3.0),
    ("true.toString()", "true"),
    ("(1 == 2).toString()", "false"),
]


@pytest.mark.parametrize(("expression", "expected"), METHODS)
def test_it_calls_allowlisted_methods(expression: str, expected: Any) -> None:
    assert_same(evaluate(expression, make_scope()), expected)


# The public types


def test_it_exposes_the_failure_and_scope_fields_the_caller_relies_on() -> None:
    assert [f.name for f in dataclasses.fields(ExpressionFailure)] == ["expression", "reason", "position", "path"]
    assert [f.name for f in dataclasses.fields(Scope)] == ["root", "functions"]
    assert Scope().root == {}


def test_it_raises_errors_with_reason_and_position() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("parameters.env + )", make_scope())
    assert caught.value.reason == "Unexpected ')'"
    assert caught.value.position == 17
    assert str(caught.value) == "Unexpected ')' at position 17."
