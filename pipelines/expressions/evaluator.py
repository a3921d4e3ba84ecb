"""Evaluates a parsed expression against a scope. No Python evaluation, no attribute access:
names and keys are looked up in mappings, methods come from the allowlist in ``methods``.
"""

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import MAX_STEPS, ExpressionError
from .helpers import BUILTINS
from .methods import call_method
from .nodes import (
    Chain,
    Comparison,
    Elvis,
    FunctionCall,
    Index,
    ListLiteral,
    Literal,
    MapLiteral,
    MethodCall,
    Name,
    Node,
    Operation,
    Property,
    Selection,
    Step,
    Ternary,
    Unary,
    Variable,
)
from .parser import parse
from .values import (
    check_integer,
    check_length,
    compare,
    compile_regex,
    describe,
    equal,
    is_integer,
    is_list,
    is_map,
    is_number,
    kind,
    to_boolean,
    to_text,
)


@dataclass(frozen=True)
class Scope:
    """What an expression can see.

    ``root`` holds the names usable bare (``parameters``, ``trigger``, ``execution``, evaluated
    variables, upstream outputs). ``functions`` holds the caller's ``#name(...)`` helpers, keyed
    without the ``#``; they take and return plain data and signal failure by raising
    ExpressionError, ValueError, TypeError or LookupError.
    """

    root: Mapping[str, Any] = field(default_factory=dict)
    functions: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


def evaluate(source: str, scope: Scope) -> Any:
    """The value of one expression body (written without ``${}``); raises ExpressionError."""
    return _Evaluator(scope).run(parse(source))


class _Evaluator:
    def __init__(self, scope: Scope) -> None:
        self.root = scope.root
        self.functions = {**BUILTINS, **scope.functions}
        self.steps = 0
        # The object bare names are read from: the root, or the item of a selection.
        self.current: list[Any] = [scope.root]

    def run(self, node: Node) -> Any:
        try:
            return self.eval(node)
        except RecursionError:
            raise ExpressionError("Expression or its data is nested too deeply to evaluate") from None

    def eval(self, node: Node) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExpressionError(f"Expression is too complex (more than {MAX_STEPS:,} evaluation steps)", node.pos)
        match node:
            case Literal(value=value):
                return value
            case ListLiteral(items=items):
                return [self.eval(item) for item in items]
            case MapLiteral():
                return self.map_literal(node)
            case Name():
                return self.name(node)
            case Variable():
                return self.variable(node)
            case FunctionCall():
                return self.call_function(node)
            case Chain():
                return self.chain(node)
            case Unary():
                return self.unary(node)
            case Operation(group="and" | "or"):
                return self.logic(node)
            case Operation():
                return self.arithmetic(node)
            case Comparison():
                return self.comparison(node)
            case Ternary():
                condition = to_boolean(self.eval(node.condition), "The condition before '?'", node.pos)
                return self.eval(node.then if condition else node.otherwise)
            case Elvis():
                value = self.eval(node.value)
                # SpEL's Elvis treats the empty string like null.
                return self.eval(node.fallback) if value is None or (isinstance(value, str) and value == "") else value
        raise AssertionError(f"unknown node {node!r}")

    # Names

    def map_literal(self, node: MapLiteral) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.entries:
            key = self.eval(key_node)
            if is_list(key) or is_map(key):
                raise ExpressionError(f"Cannot use {kind(key)} as a map key", key_node.pos)
            result[key] = self.eval(value_node)
        return result

    def name(self, node: Name) -> Any:
        if len(self.current) > 1:
            return read_property(self.current[-1], node.name, node.pos)
        if node.name not in self.root:
            raise ExpressionError(f"Unknown name '{node.name}'", node.pos)
        return self.root[node.name]

    def variable(self, node: Variable) -> Any:
        if node.name == "root":
            return self.root
        if node.name == "this":
            return self.current[-1]
        if node.name in self.functions:
            raise ExpressionError(
                f"Function '#{node.name}' must be called with parentheses: #{node.name}(...)", node.pos
            )
        raise ExpressionError(f"Unknown variable '#{node.name}'", node.pos)

    def call_function(self, node: FunctionCall) -> Any:
        function = self.functions.get(node.name)
        if function is None:
            raise ExpressionError(f"Unknown function '#{node.name}'", node.pos)
        args = [self.eval(arg) for arg in node.args]
        _check_arguments(function, node.name, args, node.pos)
        try:
            return function(*args)
        except ExpressionError as error:
            raise ExpressionError(error.reason, node.pos) from None
        except (ValueError, TypeError, LookupError) as error:
            reason = str(error).rstrip(".") or type(error).__name__
            raise ExpressionError(f"Function '#{node.name}' failed: {reason}", node.pos) from None

    # Chains

    def chain(self, node: Chain) -> Any:
        value = self.eval(node.base)
        for step in node.steps:
            if step.safe and value is None:
                return None  # ?. ends the whole chain, as in Spring 6.2
            value = self.step(value, step)
        return value

    def step(self, value: Any, step: Step) -> Any:
        if isinstance(step, Property):
            return read_property(value, step.name, step.pos)
        if isinstance(step, Index):
            # SpEL reads map['key'] and map[key] alike: a bare name in brackets is the key itself.
            if isinstance(step.key, Name) and is_map(value):
                return index(value, step.key.name, step.pos)
            return index(value, self.eval(step.key), step.pos)
        if isinstance(step, MethodCall):
            return call_method(value, step.name, [self.eval(arg) for arg in step.args], step.pos)
        if isinstance(step, Selection):
            return self.select(value, step)
        raise AssertionError(f"unknown step {step!r}")

    def select(self, value: Any, step: Selection) -> Any:
        """``.?[c]`` all, ``.^[c]`` first, ``.$[c]`` last, ``.![e]`` projection; map items are {key, value}."""
        if is_map(value):
            items: list[Any] = [{"key": k, "value": v} for k, v in value.items()]
        elif is_list(value):
            items = list(value)
        else:
            raise ExpressionError(f"Cannot select from {kind(value)}", step.pos)
        results = []
        for item in items:
            self.current.append(item)
            try:
                outcome = self.eval(step.body)
            finally:
                self.current.pop()
            if step.kind == "!":
                results.append(outcome)
            elif to_boolean(outcome, "A selection condition", step.body.pos):
                results.append(item)
                if step.kind == "^":
                    break
        if step.kind == "!":
            return results
        if is_map(value):
            chosen = results if step.kind == "?" else results[-1:] if step.kind == "$" else results[:1]
            if step.kind != "?" and not chosen:
                return None
            return {item["key"]: item["value"] for item in chosen}
        if step.kind == "?":
            return results
        if not results:
            return None
        return results[-1] if step.kind == "$" else results[0]

    # Operators

    def unary(self, node: Unary) -> Any:
        value = self.eval(node.operand)
        if node.op == "!":
            return not to_boolean(value, "Operator '!'", node.pos)
        if not is_number(value):
            raise ExpressionError(f"Cannot apply '{node.op}' to {describe(value)}", node.pos)
        return check_integer(-value, node.pos) if node.op == "-" else value

    def logic(self, node: Operation) -> bool:
        what = f"Operator '{node.group}'"
        result = to_boolean(self.eval(node.operands[0]), what, node.operands[0].pos)
        for operand in node.operands[1:]:
            if result == (node.group == "or"):
                return result  # short-circuit, as in SpEL
            result = to_boolean(self.eval(operand), what, operand.pos)
        return result

    def arithmetic(self, node: Operation) -> Any:
        value = self.eval(node.operands[0])
        for op, operand, pos in zip(node.ops, node.operands[1:], node.positions, strict=True):
            value = apply_operator(op, value, self.eval(operand), pos)
        return value

    def comparison(self, node: Comparison) -> bool:
        left, right = self.eval(node.left), self.eval(node.right)
        if node.op == "==":
            return equal(left, right)
        if node.op == "!=":
            return not equal(left, right)
        if node.op == "matches":
            return matches(left, right, node.pos)
        order = compare(left, right, node.op, node.pos)
        return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[node.op]


def read_property(target: Any, name: str, pos: int) -> Any:
    """``target.name``: a key of a map (missing keys give null, like Spinnaker's map accessor)."""
    if is_map(target):
        return target.get(name)
    raise ExpressionError(f"Cannot read property '{name}' of {kind(target)}", pos)


def index(target: Any, key: Any, pos: int) -> Any:
    """``target[key]``: map keys (missing gives null), list and string positions from 0."""
    if is_map(target):
        if is_list(key) or is_map(key):
            raise ExpressionError(f"Cannot use {kind(key)} as a map key", pos)
        return target.get(key)
    if not (is_list(target) or isinstance(target, str)):
        raise ExpressionError(f"Cannot index {kind(target)} with '{to_text(key)}'", pos)
    if not is_integer(key):
        raise ExpressionError(f"Cannot index {kind(target)} with '{to_text(key)}'", pos)
    if key < 0:
        raise ExpressionError(f"Index {key} is negative; indexes count from 0", pos)
    if key >= len(target):
        raise ExpressionError(f"Index {key} is out of range for {kind(target)} of length {len(target)}", pos)
    return target[key]


def apply_operator(op: str, left: Any, right: Any, pos: int) -> Any:
    """``+ - * / %`` with Java's rules: integer division truncates, ``+`` with a string concatenates."""
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return check_length(to_text(left) + to_text(right), pos)
    if not (is_number(left) and is_number(right)):
        raise ExpressionError(f"Cannot apply '{op}' to {kind(left)} and {kind(right)}", pos)
    if op in "/%" and right == 0:
        raise ExpressionError("Division by zero", pos)
    both_integers = is_integer(left) and is_integer(right)
    if op == "+":
        result = left + right
    elif op == "-":
        result = left - right
    elif op == "*":
        result = left * right
    elif op == "/":
        result = _java_divide(left, right) if both_integers else left / right
    else:
        result = left - right * _java_divide(left, right) if both_integers else math.fmod(left, right)
    return check_integer(result, pos)


def _java_divide(left: int, right: int) -> int:
    quotient = abs(left) // abs(right)
    return -quotient if (left < 0) != (right < 0) else quotient


def matches(left: Any, right: Any, pos: int) -> bool:
    """``text matches 'regex'``: the whole text must match, as Java's ``String.matches``."""
    if left is None:
        raise ExpressionError("The left side of 'matches' is null", pos)
    if not isinstance(right, str):
        raise ExpressionError(f"The right side of 'matches' must be a string, not {describe(right)}", pos)
    subject = left if isinstance(left, str) else to_text(left)
    return compile_regex(right, subject, pos).fullmatch(subject) is not None


def _check_arguments(function: Callable[..., Any], name: str, args: list[Any], pos: int) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return  # some callables have no signature; the call itself will tell
    try:
        signature.bind(*args)
    except TypeError:
        count = f"{len(args)} argument{'' if len(args) == 1 else 's'}"
        raise ExpressionError(f"Function '#{name}' does not take {count}", pos) from None
