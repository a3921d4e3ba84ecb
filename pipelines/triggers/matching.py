"""Payload constraints of webhook triggers (``payloadConstraints``): plain Python.

A constraint is ``{key: regex}``. The key is a top-level key of the payload, or a JSONPath-style
path into it (``$.repository.name``, ``commits[0].author.name``, ``$['odd key']``). It matches when
the value there, as text, contains a match of the regex (a regex search, like Spinnaker's Java
``find``); a missing key or a null value does not match. Objects and lists read as compact JSON,
booleans as ``true``/``false``, like the JSON they came from.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from pipelines.triggers import patterns

_SEGMENT_RE: Final = re.compile(r"\.(?P<name>[^.\[\]]+)|\[(?P<index>\d+)\]|\[(?P<quote>['\"])(?P<key>.*?)(?P=quote)\]")
_MISSING: Final = object()

Path = tuple[str | int, ...]


class PathError(ValueError):
    """A constraint key that is neither a plain key nor a path we can follow."""


def parse_path(key: str) -> Path:
    """``$.a.b[0]`` / ``a.b[0]`` -> ("a", "b", 0); raises ``PathError`` with a sentence."""
    text = key[1:] if key.startswith("$") else "." + key
    if not text:
        raise PathError(f"The path {key!r} names the whole payload; name a key in it, such as $.ref.")
    segments: list[str | int] = []
    position = 0
    while position < len(text):
        match = _SEGMENT_RE.match(text, position)
        if match is None:
            raise PathError(
                f"The path {key!r} cannot be followed from position {position}; "
                "write keys as $.a.b, list items as [0], odd keys as ['a b']."
            )
        segments.append(int(match["index"]) if match["index"] is not None else match["name"] or match["key"])
        position = match.end()
    return tuple(segments)


def lookup(payload: Mapping[str, Any], key: str) -> Any:
    """The value at ``key`` (a plain key first, then a path); ``_MISSING`` when there is none."""
    if not key.startswith("$") and key in payload:
        return payload[key]
    try:
        path = parse_path(key)
    except PathError:
        return _MISSING
    value: Any = payload
    for segment in path:
        in_list = isinstance(segment, int) and isinstance(value, list) and segment < len(value)
        in_object = isinstance(segment, str) and isinstance(value, dict) and segment in value
        if not (in_list or in_object):
            return _MISSING
        value = value[segment]
    return value


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def constraint_problem(key: Any, pattern: Any) -> str | None:
    """Why a constraint cannot be saved, as a sentence; None when it can."""
    if not isinstance(key, str) or not key:
        return "Each payloadConstraints key must be a non-empty string."
    try:
        parse_path(key)
    except PathError as exc:
        return str(exc)
    if not isinstance(pattern, str):
        return f"The constraint on {key!r} must be a regular expression, as a string."
    reason = patterns.problem(pattern)
    return None if reason is None else f"{pattern!r} is not a valid regular expression: {reason}."


def mismatch(constraints: Mapping[str, Any], payload: Mapping[str, Any]) -> str | None:
    """Why the payload fails the constraints (the first that fails), or None when all match."""
    for key, pattern in constraints.items():
        value = lookup(payload, key)
        if value is _MISSING or value is None:
            return f"payloadConstraints.{key}: the payload has no {key}."
        text = as_text(value)
        try:
            found = patterns.search(str(pattern), text)
        except patterns.TooSlow as exc:
            return f"payloadConstraints.{key}: {exc}"
        if not found:
            shown = text if len(text) <= 80 else text[:77] + "..."
            return f"payloadConstraints.{key}: {shown!r} does not match {pattern!r}."
    return None
