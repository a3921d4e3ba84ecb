"""Plain JsonPath, as Spinnaker users write it in webhook stages: ``$.status``, ``$.a.b[0].c``,
``status``, ``$['key']``. Wildcards, filters and deep scans are refused."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(
    r"""\.(?P<name>[^.\[\]\s*?@()'",]+)"""
    r"""|\[\s*(?P<index>-?\d+)\s*\]"""
    r"""|\[\s*'(?P<single>(?:[^'\\]|\\.)*)'\s*\]"""
    r"""|\[\s*"(?P<double>(?:[^"\\]|\\.)*)"\s*\]"""
)


def parse_json_path(text: str) -> list[str | int]:
    """The steps of a plain JsonPath: ``$.status``, ``$.a.b[0].c``, ``status``, ``$['key']``.

    Wildcards, filters and deep scans are refused with a sentence (ValueError).
    """
    path = text.strip()
    rest = path[1:] if path.startswith("$") else path if path.startswith("[") else f".{path}"
    steps: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _STEP.match(rest, position)
        if match is None:
            raise ValueError(f"{text!r} is not a JSON path Spinweb reads; write $.status, $.a.b[0].c or $['key'].")
        if match["index"] is not None:
            steps.append(int(match["index"]))
        else:
            quoted = match["single"] if match["single"] is not None else match["double"]
            steps.append(match["name"] if quoted is None else re.sub(r"\\(.)", r"\1", quoted))
        position = match.end()
    return steps


def read_json_path(document: Any, text: str) -> Any:
    """The value at ``text`` in ``document``; LookupError when it is not there."""
    value = document
    for step in parse_json_path(text):
        found = isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value)
        if not found and not (isinstance(value, dict) and isinstance(step, str) and step in value):
            raise LookupError(step)
        value = value[step]
    return value
