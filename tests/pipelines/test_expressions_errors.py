"""Expressions that must fail: syntax errors with positions, unknown names, refused constructs, limits."""

from typing import Any

import pytest

from pipelines.expressions import (
    MAX_DEPTH,
    MAX_SOURCE_LENGTH,
    MAX_STEPS,
    MAX_STRING_LENGTH,
    ExpressionError,
    Scope,
    evaluate,
    evaluate_text,
)
from tests.conftest import assert_sentence
from tests.pipelines.test_expressions import make_scope


def fail(expression: str, scope: Scope | None = None) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, scope or make_scope())
    assert_sentence(str(caught.value))
    return caught.value


SYNTAX_ERRORS = [
    ("(1 + 2))", "Unexpected ')' at position 7.", 7),
    ("1 +", "Unexpected end of expression at position 3.", 3),
    ("  'abc", "Unterminated string starting at position 2.", 2),
    ("parameters['env'", "Expected ']' but found the end of the expression at position 16.", 16),
    ("true ? 1", "Expected ':' but found the end of the expression at position 8.", 8),
    ("#stage('a'", "Expected ')' but found the end of the expression at position 10.", 10),
    ("", "Empty expression at position 0.", 0),
    ("1 2", "Unexpected '2' at position 2.", 2),
    ("1 == 2 == 3", "Unexpected '==' at position 7.", 7),
    ("parameters.", "Expected a name after '.' but found the end of the expression at position 11.", 11),
    ("{1, 2", "Expected '}' but found the end of the expression at position 5.", 5),
    ("{'a': }", "Unexpected '}' at position 6.", 6),
    ("1 ^ 2", "Unexpected character '^' at position 2.", 2),
    ("a & b", "Unexpected '&' (use '&&' or 'and') at position 2.", 2),
    ("a | b", "Unexpected '|' (use '||' or 'or') at position 2.", 2),
    ("# x", "Expected a name after '#' at position 0.", 0),
    ("and", "Unexpected 'and' at position 0.", 0),
    ("x = 1", "Assignment ('=') is not allowed at position 2.", 2),
    ("99999999999999999999", "Number '99999999999999999999' is too large at position 0.", 0),
    ("'${x}' + ${x}", "Expressions cannot be nested ('${' inside '${...}') at position 9.", 9),
]


@pytest.mark.parametrize(("expression", "message", "position"), SYNTAX_ERRORS)
def test_it_reports_syntax_errors_with_their_position(expression: str, message: str, position: int) -> None:
    error = fail(expression)
    assert str(error) == message
    assert error.position == position


REFUSED = [
    ("T(java.lang.Runtime).getRuntime().exec('id')", "Type references such as T(...) are not allowed"),
    ("T (java.lang.System)", "Type references such as T(...) are not allowed"),
    ("new java.io.File('/')", "Constructors ('new') are not allowed"),
    ("@myBean.secret", "Bean references ('@') are not allowed"),
    ("1 instanceof T(Integer)", "The 'instanceof' operator is not supported"),
    ("1 between {0, 2}", "The 'between' operator is not supported"),
    ("'x'.getClass()", "Method 'getClass' is not allowed on a string"),
    ("'x'.getClass().forName('java.lang.Runtime')", "Method 'getClass' is not allowed on a string"),
    ("parameters.getClass()", "Method 'getClass' is not allowed on a map"),
    ("trigger.payload.tags.stream()", "Method 'stream' is not allowed on a list"),
    ("replicas.getClass()", "Method 'getClass' is not allowed on a number"),
    ("true.booleanValue()", "Method 'booleanValue' is not allowed on a boolean"),
    ("'x'.matches('x')", "Method 'matches' is not allowed on a string"),
    ("parameters.clear()", "Method 'clear' is not allowed on a map"),
    ("exec('id')", "Method 'exec' is not allowed on a map"),
    ("parameters.__class__", "Names starting with '__' are not allowed ('__class__')"),
    ("parameters.env.__len__()", "Names starting with '__' are not allowed ('__len__')"),
    ("__import__('os')", "Names starting with '__' are not allowed ('__import__')"),
    ("#__builtins__", "Names starting with '__' are not allowed ('__builtins__')"),
    ("'a' * 3", "Cannot apply '*' to a string and a number"),
]


@pytest.mark.parametrize(("expression", "fragment"), REFUSED)
def test_it_refuses_what_could_reach_beyond_the_data(expression: str, fragment: str) -> None:
    assert fragment in str(fail(expression))


class Secret:
    token = "s3cret"

    def delete_everything(self) -> None:
        raise AssertionError("must never be called")


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("obj.token", "Cannot read property 'token' of an object"),
        ("obj['token']", "Cannot index an object with 'token'"),
        ("obj.delete_everything()", "Method 'delete_everything' is not allowed on an object"),
        ("obj.__dict__", "Names starting with '__' are not allowed"),
        ("obj.__class__.__init__.__globals__", "Names starting with '__' are not allowed"),
    ],
)
def test_it_never_reads_attributes_of_python_objects(expression: str, fragment: str) -> None:
    assert fragment in str(fail(expression, Scope(root={"obj": Secret()})))


EVALUATION_ERRORS = [
    ("foo", "Unknown name 'foo' at position 0."),
    ("parameters.env + foo", "Unknown name 'foo' at position 17."),
    ("#foo('x')", "Unknown function '#foo' at position 0."),
    ("#bar", "Unknown variable '#bar' at position 0."),
    ("#stage", "Function '#stage' must be called with parentheses: #stage(...) at position 0."),
    ("#stage('Nope')['status']", "No stage named 'Nope' at position 0."),
    ("#stageByRefId('9')", "Function '#stageByRefId' failed: no stage with refId 9 at position 0."),
    ("#toInt('1', '2')", "Function '#toInt' does not take 2 arguments at position 0."),
    ("#currentStage(1)", "Function '#currentStage' does not take 1 argument at position 0."),
    ("#toInt('abc')", "Function '#toInt' cannot convert a string ('abc') to a whole number at position 0."),
    ("#toInt(1.5)", "Function '#toInt' cannot convert a number (1.5) to a whole number at position 0."),
    ("#toFloat('x1')", "Function '#toFloat' cannot convert a string ('x1') to a number at position 0."),
    ("#alphanumerical(null)", "Function '#alphanumerical' needs a string, not null at position 0."),
    ("#readJson('{')", "Function '#readJson' was given invalid JSON"),
    ("#fromBase64('***')", "Function '#fromBase64' was given text that is not Base64 of UTF-8 text"),
    ("1 / 0", "Division by zero at position 2."),
    ("1.5 % 0", "Division by zero at position 4."),
    ("replicas['x']", "Cannot index a number with 'x' at position 8."),
    ("trigger.payload.tags['x']", "Cannot index a list with 'x' at position 20."),
    ("trigger.payload.tags[5]", "Index 5 is out of range for a list of length 2 at position 20."),
    ("trigger.payload.tags[-1]", "Index -1 is negative; indexes count from 0 at position 20."),
    ("'abc'[3]", "Index 3 is out of range for a string of length 3 at position 5."),
    ("nothing['x']", "Cannot index null with 'x' at position 7."),
    ("nothing.x", "Cannot read property 'x' of null at position 8."),
    ("nothing.toString()", "Cannot call method 'toString' on null at position 8."),
    ("parameters.env.length", "Cannot read property 'length' of a string at position 15."),
    ("{'a': 1}[{1}]", "Cannot use a list as a map key at position 8."),
    ("{{1}: 2}", "Cannot use a list as a map key at position 1."),
    ("!replicas", "Operator '!' needs true or false, not a number (3) at position 0."),
    ("replicas and true", "Operator 'and' needs true or false, not a number (3) at position 0."),
    ("false or 'maybe'", "Operator 'or' needs true or false, not a string ('maybe') at position 9."),
    ("nothing ? 1 : 2", "The condition before '?' needs true or false, not null at position 8."),
    ("'a' < 1", "Cannot compare a string with a number using '<' at position 4."),
    ("-'a'", "Cannot apply '-' to a string ('a') at position 0."),
    ("{1} + 1", "Cannot apply '+' to a list and a number at position 4."),
    ("true + 1", "Cannot apply '+' to a boolean and a number at position 5."),
    ("'x'.substring(5)", "Cannot take substring(5, 1) of a string of length 1 at position 4."),
    ("'x'.contains(1)", "Method 'contains' needs a string argument, not a number (1) at position 4."),
    ("'x'.toUpperCase(1)", "Method 'toUpperCase' takes 0 argument(s), not 1 at position 4."),
    ("trigger.payload.tags.get(2)", "Index 2 is out of range for a list of length 2 at position 21."),
    ("nothing matches 'x'", "The left side of 'matches' is null at position 8."),
    ("'a' matches 1", "The right side of 'matches' must be a string, not a number (1) at position 4."),
    ("'a' matches '['", "Invalid regular expression '['"),
    ("9223372036854775807 + 1", "Number is too large (beyond a 64-bit integer) at position 20."),
    ("{1, 2}.?[#this]", "A selection condition needs true or false, not a number (1) at position 9."),
    ("replicas.?[true]", "Cannot select from a number at position 8."),
]


@pytest.mark.parametrize(("expression", "message"), EVALUATION_ERRORS)
def test_it_reports_evaluation_errors_as_sentences(expression: str, message: str) -> None:
    assert message in str(fail(expression))


def test_it_does_not_evaluate_past_a_null_without_safe_navigation() -> None:
    error = fail("nothing.x.y")
    assert error.reason == "Cannot read property 'x' of null"


# Limits


def test_it_refuses_an_expression_longer_than_the_limit() -> None:
    assert evaluate("1" + " " * (MAX_SOURCE_LENGTH - 1), Scope()) == 1
    error = fail("1" + " " * MAX_SOURCE_LENGTH)
    assert str(error) == "Expression is too long (10,001 characters; the limit is 10,000)."
    assert error.position is None


@pytest.mark.parametrize(
    ("opening", "inner", "closing", "value"),
    [
        ("(", "1", ")", 1),
        ("!", "true", "", True),
        ("-", "1", "", 1),
        ("{", "1", "}", 1),
        ("#toInt(", "1", ")", 1),
        ("1 + (", "1", ")", MAX_DEPTH + 1),
    ],
)
def test_it_allows_nesting_up_to_the_limit_and_no_deeper(opening: str, inner: str, closing: str, value: Any) -> None:
    allowed = opening * MAX_DEPTH + inner + closing * MAX_DEPTH
    result = evaluate(allowed, Scope())
    while isinstance(result, list):
        result = result[0]
    assert result == value
    error = fail(opening * (MAX_DEPTH + 1) + inner + closing * (MAX_DEPTH + 1))
    assert error.reason == "Expression is nested too deeply (more than 64 levels)"


def test_it_refuses_to_build_a_string_larger_than_the_limit() -> None:
    half = "x" * (MAX_STRING_LENGTH // 2 + 1)
    scope = Scope(root={"half": half})
    assert len(evaluate("half + ''", scope)) == len(half)
    error = fail("half + half", scope)
    assert str(error) == "String is too large (1,000,002 characters; the limit is 1,000,000) at position 5."
    assert "String is too large" in str(fail("#toJson({half, half})", scope))
    assert "String is too large" in str(fail("'abc'.replace('', half)", scope))
    with pytest.raises(ExpressionError, match="String is too large"):
        evaluate_text("${half}${half}", scope)


def test_it_stops_an_evaluation_that_takes_too_many_steps() -> None:
    scope = Scope(root={"numbers": list(range(60_000))})
    assert len(evaluate("numbers.![#this]", scope)) == 60_000
    error = fail("numbers.![#this + 1].![#this * 2]", scope)
    assert error.reason == f"Expression is too complex (more than {MAX_STEPS:,} evaluation steps)"


@pytest.mark.parametrize(
    ("expression", "subject", "expected"),
    [
        ("s matches '^v[0-9]+([.][0-9]+)*$'", "v1.22.333", True),
        ("s matches '(a+)+$'", "aaaa", True),
        ("s matches '.*[.](jar|war)$'", "x" * 50_000 + ".jar", True),
        ("s matches '[a-z]+-[a-z]+-[0-9]+'", "a" * 800, False),
        ("s.split('[ ,]+')", "a, b  c", ["a", "b", "c"]),
    ],
)
def test_it_runs_regular_expressions_whose_cost_is_bounded(expression: str, subject: str, expected: Any) -> None:
    assert evaluate(expression, Scope(root={"s": subject})) == expected


@pytest.mark.parametrize(
    ("expression", "subject"),
    [
        ("s matches '(a+)+$'", "a" * 30),
        ("s matches '(x*y)*'", "x" * 30),
        ("s matches '(a|aa)*b'", "a" * 30),
        ("s matches '^v[0-9]+([.][0-9]+)*$'", "v" + "1." * 20),
        ("s matches 'a*a*a*b'", "a" * 1_000),
        ("s matches '(a+){3}b'", "a" * 1_000),
        ("s matches '" + "a?" * 30 + "a" * 30 + "'", "a" * 30),
        ("s.split('(,+)+')", "," * 30),
        ("s.split('a*a*b')", "a" * 20_000),
    ],
)
def test_it_refuses_regular_expressions_that_could_backtrack_for_too_long(expression: str, subject: str) -> None:
    error = fail(expression, Scope(root={"s": subject}))
    assert f"could take too long on a string of {len(subject):,} characters" in error.reason


def test_it_refuses_long_regular_expressions_and_subjects() -> None:
    assert evaluate("s matches '" + "a" * 256 + "'", Scope(root={"s": "a" * 256})) is True
    error = fail("'a' matches '" + "a" * 257 + "'")
    assert error.reason == "Regular expression is too long (257 characters; the limit is 256)"
    subject = "a" * 100_001
    assert "String is too long for a regular expression" in str(fail("s matches 'a+'", Scope(root={"s": subject})))
