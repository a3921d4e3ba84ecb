"""How values print, compare and convert, following SpEL (that is, Java) on plain Python data.

Values are what JSON gives plus what helpers return: None, bool, int, float, str, lists
(and tuples), mappings. bool is never a number here, although Python says it is.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import MAX_REGEX_LENGTH, MAX_REGEX_SUBJECT_LENGTH, MAX_STRING_LENGTH, REGEX_BUDGET, ExpressionError

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_TRUE_WORDS = {"true", "on", "yes", "1"}
_FALSE_WORDS = {"false", "off", "no", "0"}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def kind(value: Any) -> str:
    """A noun phrase for the type of ``value``, for messages: "a string", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if is_list(value):
        return "a list"
    if is_map(value):
        return "a map"
    return "an object"


def describe(value: Any) -> str:
    """``kind`` plus the value when it is short and scalar: "a number (5)", "a string ('x')"."""
    if value is None or is_list(value) or is_map(value) or not isinstance(value, str | int | float):
        return kind(value)
    text = to_text(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind(value)} ('{text}')" if isinstance(value, str) else f"{kind(value)} ({text})"


def to_text(value: Any) -> str:
    """The string form SpEL gives a value when it is concatenated or interpolated.

    null is "null", booleans "true"/"false", floats as Java prints doubles ("1.0", "1.0E10"),
    lists joined with commas ("a,b", Spring's collection-to-string conversion) and maps as
    Java prints them ("{a=1, b=2}").
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, str):
        return str.__str__(value)  # not str(): enum members print their name
    if is_list(value):
        return ",".join(to_text(item) for item in value)
    if is_map(value):
        return "{" + ", ".join(f"{to_text(k)}={to_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def java_double(value: float) -> str:
    """``Double.toString``: plain between 10^-3 and 10^7, else scientific with "E"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    number = Decimal(repr(value))
    digits = "".join(str(d) for d in number.as_tuple().digits).rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{number.adjusted()}"


def equal(left: Any, right: Any) -> bool:
    """SpEL's ``==``: numbers by value (1 == 1.0), never a boolean equal to a number."""
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, str) and isinstance(right, str):
        return str.__eq__(left, right)
    if is_list(left) and is_list(right):
        return len(left) == len(right) and all(equal(a, b) for a, b in zip(left, right, strict=True))
    if is_map(left) and is_map(right):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    if isinstance(left, str | int | float) or isinstance(right, str | int | float):
        return False
    return bool(left == right)


def compare(left: Any, right: Any, op: str, pos: int) -> int:
    """Order two values as SpEL does: null sorts first, numbers, strings and booleans among themselves."""
    if left is None or right is None:
        return (left is not None) - (right is not None)
    same = (
        (is_number(left) and is_number(right))
        or (isinstance(left, str) and isinstance(right, str))
        or (isinstance(left, bool) and isinstance(right, bool))
    )
    if not same:
        raise ExpressionError(f"Cannot compare {kind(left)} with {kind(right)} using '{op}'", pos)
    return int(left > right) - int(left < right)


def to_boolean(value: Any, what: str, pos: int) -> bool:
    """A condition's value; strings convert as Spring converts them ("true", "yes", "on", "1")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ExpressionError(f"{what} needs true or false, not {describe(value)}", pos)


def check_length(text: str, pos: int | None) -> str:
    check_size(len(text), pos)
    return text


def check_size(length: int, pos: int | None) -> None:
    """Refuse a string of ``length`` characters, preferably before it is built."""
    if length > MAX_STRING_LENGTH:
        raise ExpressionError(f"String is too large ({length:,} characters; the limit is {MAX_STRING_LENGTH:,})", pos)


def check_integer(value: int | float, pos: int) -> int | float:
    """Integers stay within Java's long, so arithmetic cannot grow numbers without bound."""
    if isinstance(value, int) and not _LONG_MIN <= value <= _LONG_MAX:
        raise ExpressionError("Number is too large (beyond a 64-bit integer)", pos)
    return value


def compile_regex(pattern: str, subject: str, pos: int, *, searching: bool = False) -> re.Pattern[str]:
    """A compiled pattern, refused when running it on ``subject`` could take too long.

    Python's ``re`` backtracks and cannot be interrupted, so the cost is estimated up front
    and must stay under ``REGEX_BUDGET``: a pattern with ``u`` unbounded repeats may try about
    n^u / u! ways through ``n`` characters, times the branches its optional parts and
    alternatives open; a repeated group that itself repeats or branches (``(a+)+``,
    ``(a|b)*``) may try 2^n. ``searching`` (``split``) tries every start: one more factor n.
    """
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ExpressionError(
            f"Regular expression is too long ({len(pattern)} characters; the limit is {MAX_REGEX_LENGTH})", pos
        )
    if len(subject) > MAX_REGEX_SUBJECT_LENGTH:
        raise ExpressionError(
            f"String is too long for a regular expression ({len(subject):,} characters; "
            f"the limit is {MAX_REGEX_SUBJECT_LENGTH:,})",
            pos,
        )
    if _log_work(_shape(pattern), len(subject) + 1, searching) > math.log(REGEX_BUDGET):
        raise ExpressionError(
            f"Regular expression '{pattern}' could take too long on a string of {len(subject):,} characters", pos
        )
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ExpressionError(f"Invalid regular expression '{pattern}': {error}", pos) from None


@dataclass
class _Shape:
    """What makes a backtracking matcher branch; counted generously."""

    repeats: int = 0  # unbounded quantifiers: * + {n,}
    log_branches: float = 0.0  # log of the choices opened by ? {n,m} and |
    nested: bool = False  # a repeated group that itself repeats or branches


@dataclass
class _Group:
    repeats: int  # shape.repeats when the group opened
    log_branches: float  # shape.log_branches when the group opened
    alternatives: int = 1
    branches: bool = False  # holds a quantifier


_QUANTIFIER = re.compile(r"[*+?]|\{(\d+)(,(\d*))?\}")


def _log_work(shape: _Shape, n: int, searching: bool) -> float:
    degree = shape.repeats + (1 if searching else 0)
    log_work = degree * math.log(n) - math.lgamma(degree + 1) + shape.log_branches
    return log_work + (n * math.log(2) if shape.nested else 0.0)


def _shape(pattern: str) -> _Shape:
    shape = _Shape()
    groups: list[_Group] = []
    closed: _Group | None = None  # the group that ended just before this character
    index, in_class = 0, False
    while index < len(pattern):
        char, step, after_group, closed = pattern[index], 1, closed, None
        quantifier = None if in_class else _QUANTIFIER.match(pattern, index)
        if char == "\\":
            step = 2
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            step += 2 if pattern.startswith("^]", index + 1) else 1 if pattern.startswith("]", index + 1) else 0
        elif char == "(":
            groups.append(_Group(shape.repeats, shape.log_branches))
            step += 1 if pattern.startswith("?", index + 1) else 0  # (?:...) and (?i) are not quantifiers
        elif char == ")" and groups:
            closed = groups.pop()
            shape.log_branches += math.log(closed.alternatives)
            if groups:
                groups[-1].branches = groups[-1].branches or closed.branches
        elif char == "|":
            if groups:
                groups[-1].alternatives += 1
            else:
                shape.log_branches += math.log(2)
        elif quantifier:
            step = _quantifier(quantifier, shape, groups, after_group)
            step += 1 if pattern[index + step : index + step + 1] in ("?", "+") else 0  # lazy or possessive
        index += step
    return shape


def _quantifier(match: re.Match[str], shape: _Shape, groups: list[_Group], after: _Group | None) -> int:
    """Count one quantifier; ``after`` is the group it applies to, if any."""
    low, comma, high = match.group(1), match.group(2), match.group(3)
    unbounded = match.group() in ("*", "+") or (comma is not None and not high)
    if after is not None and unbounded and (after.branches or after.alternatives > 1):
        shape.nested = True
    if after is not None and low is not None and comma is None:
        # (x){k} is x written k times.
        shape.repeats += (shape.repeats - after.repeats) * (int(low) - 1)
        shape.log_branches += (shape.log_branches - after.log_branches) * (int(low) - 1)
    if unbounded:
        shape.repeats += 1
    elif match.group() == "?":
        shape.log_branches += math.log(2)
    elif high:
        shape.log_branches += math.log(max(int(high) - int(low) + 1, 1))
    if groups and (unbounded or match.group() == "?" or high):
        groups[-1].branches = True
    return len(match.group())
