"""The methods an expression may call on a value: an allowlist per kind of value, nothing else.

Each entry names the Java method users write (``'x'.toUpperCase()``) and is implemented here
on the Python value; nothing is ever looked up on the object itself.
"""

import math
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ExpressionError
from .values import (
    check_size,
    compile_regex,
    describe,
    equal,
    is_integer,
    is_list,
    is_map,
    is_number,
    java_double,
    kind,
    to_text,
)

_Impl = Callable[[Any, list[Any], int], Any]
_Table = dict[str, tuple[tuple[int, ...], _Impl]]

_JAVA_WHITESPACE = "".join(chr(code) for code in range(33))


def call_method(target: Any, name: str, args: list[Any], pos: int) -> Any:
    """Call allowlisted method ``name`` on ``target``; anything else is an ExpressionError."""
    if target is None:
        raise ExpressionError(f"Cannot call method '{name}' on null", pos)
    entry = _table_for(target).get(name)
    if entry is None:
        raise ExpressionError(f"Method '{name}' is not allowed on {kind(target)}", pos)
    arities, impl = entry
    if len(args) not in arities:
        expected = " or ".join(str(n) for n in arities)
        raise ExpressionError(f"Method '{name}' takes {expected} argument(s), not {len(args)}", pos)
    return impl(target, args, pos)


def _table_for(target: Any) -> _Table:
    if isinstance(target, bool):
        return _BOOLEAN
    if is_number(target):
        return _NUMBER
    if isinstance(target, str):
        return _STRING
    if is_list(target):
        return _LIST
    if is_map(target):
        return _MAP
    return {}


def _text_arg(args: list[Any], index: int, name: str, pos: int) -> str:
    value = args[index]
    if not isinstance(value, str):
        raise ExpressionError(f"Method '{name}' needs a string argument, not {describe(value)}", pos)
    return value


def _int_arg(args: list[Any], index: int, name: str, pos: int) -> int:
    value = args[index]
    if not is_integer(value):
        raise ExpressionError(f"Method '{name}' needs a whole number argument, not {describe(value)}", pos)
    return int(value)


# Strings


def _substring(text: str, args: list[Any], pos: int) -> str:
    begin = _int_arg(args, 0, "substring", pos)
    end = _int_arg(args, 1, "substring", pos) if len(args) > 1 else len(text)
    if not 0 <= begin <= end <= len(text):
        raise ExpressionError(f"Cannot take substring({begin}, {end}) of a string of length {len(text)}", pos)
    return text[begin:end]


def _split(text: str, args: list[Any], pos: int) -> list[str]:
    """Java's ``String.split(regex)``: no leading empty part from an empty match, no trailing empties."""
    pattern = compile_regex(_text_arg(args, 0, "split", pos), text, pos, searching=True)
    parts: list[str] = []
    last = 0
    found = False
    for match in pattern.finditer(text):
        found = True
        if match.end() == 0:
            continue
        parts.append(text[last : match.start()])
        last = match.end()
    if not found:
        return [text]
    parts.append(text[last:])
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _equals_ignore_case(text: str, args: list[Any], pos: int) -> bool:
    other = args[0]
    if not isinstance(other, str) or len(other) != len(text):
        return False
    return all(a == b or a.upper() == b.upper() or a.lower() == b.lower() for a, b in zip(text, other, strict=True))


def _replace(text: str, args: list[Any], pos: int) -> str:
    old, new = _text_arg(args, 0, "replace", pos), _text_arg(args, 1, "replace", pos)
    # Size the result before building it: replace('', x) inserts x around every character.
    count = text.count(old) if old else len(text) + 1
    check_size(len(text) + count * (len(new) - len(old)), pos)
    return text.replace(old, new)


_STRING: _Table = {
    "toString": ((0,), lambda s, a, p: str.__str__(s)),
    "toUpperCase": ((0,), lambda s, a, p: s.upper()),
    "toLowerCase": ((0,), lambda s, a, p: s.lower()),
    "contains": ((1,), lambda s, a, p: _text_arg(a, 0, "contains", p) in s),
    "startsWith": ((1,), lambda s, a, p: s.startswith(_text_arg(a, 0, "startsWith", p))),
    "endsWith": ((1,), lambda s, a, p: s.endswith(_text_arg(a, 0, "endsWith", p))),
    "equals": ((1,), lambda s, a, p: isinstance(a[0], str) and str.__eq__(s, a[0])),
    "equalsIgnoreCase": ((1,), _equals_ignore_case),
    "split": ((1,), _split),
    "length": ((0,), lambda s, a, p: len(s)),
    "isEmpty": ((0,), lambda s, a, p: len(s) == 0),
    "trim": ((0,), lambda s, a, p: s.strip(_JAVA_WHITESPACE)),
    "substring": ((1, 2), _substring),
    "replace": ((2,), _replace),
    "indexOf": ((1,), lambda s, a, p: s.find(_text_arg(a, 0, "indexOf", p))),
}


# Lists and maps


def _list_get(items: list[Any], args: list[Any], pos: int) -> Any:
    index = _int_arg(args, 0, "get", pos)
    if not 0 <= index < len(items):
        raise ExpressionError(f"Index {index} is out of range for a list of length {len(items)}", pos)
    return items[index]


def _map_get(mapping: Mapping[Any, Any], key: Any, pos: int) -> Any:
    try:
        return mapping.get(key)
    except TypeError:
        raise ExpressionError(f"Cannot use {kind(key)} as a map key", pos) from None


def _map_contains_key(mapping: Mapping[Any, Any], key: Any, pos: int) -> bool:
    try:
        return key in mapping
    except TypeError:
        raise ExpressionError(f"Cannot use {kind(key)} as a map key", pos) from None


_LIST: _Table = {
    "size": ((0,), lambda v, a, p: len(v)),
    "isEmpty": ((0,), lambda v, a, p: len(v) == 0),
    "contains": ((1,), lambda v, a, p: any(equal(item, a[0]) for item in v)),
    "get": ((1,), _list_get),
}

_MAP: _Table = {
    "size": ((0,), lambda v, a, p: len(v)),
    "isEmpty": ((0,), lambda v, a, p: len(v) == 0),
    "containsKey": ((1,), lambda v, a, p: _map_contains_key(v, a[0], p)),
    "get": ((1,), lambda v, a, p: _map_get(v, a[0], p)),
    "keySet": ((0,), lambda v, a, p: list(v.keys())),
    "values": ((0,), lambda v, a, p: list(v.values())),
}


# Numbers and booleans


def _int_value(number: int | float, args: list[Any], pos: int) -> int:
    if isinstance(number, float) and math.isnan(number):  # Java gives 0
        return 0
    if isinstance(number, float) and math.isinf(number):
        raise ExpressionError(f"Cannot convert {java_double(number)} to a whole number", pos)
    return int(number)


_NUMBER: _Table = {
    "toString": ((0,), lambda n, a, p: to_text(n)),
    "intValue": ((0,), _int_value),
    "doubleValue": ((0,), lambda n, a, p: float(n)),
}

_BOOLEAN: _Table = {
    "toString": ((0,), lambda b, a, p: to_text(b)),
}
