"""Where each JSON path sits in a JSON text, so an editor can put an error next to its line.

Paths are written as validation writes them: ``stages[2].requisiteStageRefIds[0]``; ``""`` is
the whole document. An object member sits on the line of its key, an array element on the line
where the element starts. The scan is a loop over tokens with an explicit stack, so deep nesting
cannot exhaust the interpreter's recursion limit.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Final

_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)
_LAST_STEP: Final = re.compile(r"(?:\.[^.\[\]]*|\[\d+\]|^[^.\[\]]*)$")


@dataclass
class _Container:
    path: str
    is_object: bool
    index: int = 0
    key: str | None = None
    pending_key: bool = field(default=True)


def child_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def line_starts(text: str) -> list[int]:
    return [0] + [match.end() for match in re.finditer("\n", text)]


def path_lines(text: str) -> dict[str, int]:
    """Line (1-based) of every path in a JSON text that ``json.loads`` accepts."""
    starts = line_starts(text)
    lines: dict[str, int] = {}
    stack: list[_Container] = []
    for match in _TOKEN.finditer(text):
        token, line = match.group(), bisect.bisect_right(starts, match.start())
        top = stack[-1] if stack else None
        if top is not None and top.is_object and top.pending_key and token.startswith('"'):
            top.key, top.pending_key = json.loads(token), False
            lines[child_path(top.path, top.key)] = line
        elif token == ",":
            _next_member(top)
        elif token in "}]":
            stack.pop()
        elif token != ":":
            path = _value_path(top)
            lines.setdefault(path, line)
            if token in "{[":
                stack.append(_Container(path, is_object=token == "{"))
    return lines


def _next_member(top: _Container | None) -> None:
    if top is None:
        return
    if top.is_object:
        top.pending_key = True
    else:
        top.index += 1


def _value_path(top: _Container | None) -> str:
    if top is None:
        return ""
    if top.is_object:
        return child_path(top.path, top.key or "")
    return child_path(top.path, top.index)


def line_of(path: str, lines: dict[str, int]) -> int:
    """The line of ``path``, else of its nearest ancestor that exists (a missing key's object)."""
    while path not in lines and path:
        shorter = _LAST_STEP.sub("", path, count=1)
        path = shorter if shorter != path else ""
    return lines.get(path, 1)
