"""``${...}`` parts inside text: finding them, evaluating them, and walking whole documents."""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from .errors import ExpressionError
from .evaluator import Scope, evaluate
from .parser import parse
from .values import check_length, is_map, to_text

NULL_REASON = "The expression evaluated to null, so it was left as written."


@dataclass(frozen=True)
class ExpressionFailure:
    """One ``${...}`` part that did not evaluate (or, for ``check``, did not parse).

    ``position`` is an offset in ``expression`` (the part as written, ``${`` included) and
    the one the ``reason`` sentence quotes; ``path`` is where the string sits in the
    document (``context.url``, ``variables[0].value``), empty for a bare string.
    """

    expression: str
    reason: str
    position: int | None
    path: str


@dataclass(frozen=True, slots=True)
class _Part:
    start: int  # offset of "${" in the text
    end: int  # offset just past the closing "}"

    def source(self, text: str) -> str:
        return text[self.start : self.end]

    def body(self, text: str) -> str:
        return text[self.start + 2 : self.end - 1]


class _PartError(Exception):
    """A part that failed; ``error.position`` is relative to the part's own source."""

    def __init__(self, start: int, source: str, error: ExpressionError) -> None:
        super().__init__(str(error))
        self.start = start
        self.source = source
        self.error = error

    def public(self) -> ExpressionError:
        return self.error.shifted(self.start, expression=self.source)

    def failure(self, path: str) -> ExpressionFailure:
        return ExpressionFailure(self.source, self.error.describe(with_expression=False), self.error.position, path)


def evaluate_text(text: str, scope: Scope) -> Any:
    """Text with ``${...}`` parts evaluated.

    Exactly one part and nothing else gives its typed value (None included); otherwise each
    part's string form (see ``values.to_text``) replaces it, and a part that gives null stays
    as written, as in Spinnaker. Errors name the failing part; positions are offsets in ``text``.
    """
    try:
        return _render(text, scope)[0]
    except _PartError as failed:
        raise failed.public() from None


def evaluate_tree(obj: Any, scope: Scope, path: str = "") -> tuple[Any, list[ExpressionFailure]]:
    """A copy of ``obj`` with every string evaluated, and the parts that failed.

    As in Spinnaker, a string that fails (or gives null) is kept literally and reported; the
    caller decides whether that fails the stage (``failOnFailedExpressions``). Map keys are
    not evaluated.
    """
    failures: list[ExpressionFailure] = []
    return _walk(obj, scope, path, failures), failures


def check(text: str) -> list[ExpressionFailure]:
    """Syntax errors of every ``${...}`` part, without evaluating anything (for validation on save)."""
    failures: list[ExpressionFailure] = []
    try:
        for part in _scan(text):
            try:
                parse(part.body(text))
            except ExpressionError as error:
                failures.append(_PartError(part.start, part.source(text), error.shifted(2)).failure(""))
    except _PartError as failed:
        failures.append(failed.failure(""))
    return failures


def check_tree(obj: Any, path: str = "") -> list[ExpressionFailure]:
    """``check`` for every string in a document, with each failure's path."""
    if isinstance(obj, str):
        return [replace(failure, path=path) for failure in check(obj)]
    return [failure for child_path, child in _children(obj, path) for failure in check_tree(child, child_path)]


def unwrap(source: str) -> tuple[str, int]:
    """The body of ``source`` if it is exactly one ``${...}`` (spaces around allowed), and its offset."""
    stripped = source.strip()
    if not stripped.startswith("${"):
        return source, 0
    offset = source.index("${")
    try:
        end = _closing_brace(source, offset)
    except _PartError:
        return source, 0
    if end != offset + len(stripped) - 1:
        return source, 0
    return source[offset + 2 : end], offset + 2


# Internals


def _render(text: str, scope: Scope) -> tuple[Any, list[_Part]]:
    """The value of ``text`` and the parts that gave null."""
    parts = list(_scan(text))
    if not parts:
        return text, []
    if len(parts) == 1 and parts[0].start == 0 and parts[0].end == len(text):
        value = _evaluate_part(text, parts[0], scope)
        return value, [parts[0]] if value is None else []
    pieces: list[str] = []
    nulls: list[_Part] = []
    last = 0
    for part in parts:
        pieces.append(text[last : part.start])
        value = _evaluate_part(text, part, scope)
        if value is None:
            nulls.append(part)
        pieces.append(part.source(text) if value is None else to_text(value))
        last = part.end
    pieces.append(text[last:])
    return check_length("".join(pieces), None), nulls


def _evaluate_part(text: str, part: _Part, scope: Scope) -> Any:
    try:
        return evaluate(part.body(text), scope)
    except ExpressionError as error:
        raise _PartError(part.start, part.source(text), error.shifted(2)) from None


def _scan(text: str) -> Iterator[_Part]:
    """The ``${...}`` parts of ``text`` in order; raises _PartError for one never closed."""
    start = text.find("${")
    while start >= 0:
        end = _closing_brace(text, start)
        yield _Part(start, end + 1)
        start = text.find("${", end + 1)


def _closing_brace(text: str, start: int) -> int:
    """Offset of the ``}`` closing the ``${`` at ``start``, skipping braces inside quotes and literals."""
    depth = 0
    quote = ""
    quote_start = 0
    for index in range(start + 2, len(text)):
        char = text[index]
        if quote:
            # A doubled quote closes and reopens, which is what SpEL's '' escape means.
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote, quote_start = char, index
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return index
            depth -= 1
    source = text[start:]
    if quote:
        raise _PartError(
            start, source, ExpressionError("Unterminated string", quote_start - start, anchor="starting at")
        )
    raise _PartError(start, source, ExpressionError("Expression is never closed: '${' has no matching '}'", 0))


def _walk(obj: Any, scope: Scope, path: str, failures: list[ExpressionFailure]) -> Any:
    if isinstance(obj, str):
        return _walk_string(obj, scope, path, failures)
    if is_map(obj):
        return {key: _walk(value, scope, _key_path(path, key), failures) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_walk(value, scope, f"{path}[{i}]", failures) for i, value in enumerate(obj)]
    return obj


def _walk_string(text: str, scope: Scope, path: str, failures: list[ExpressionFailure]) -> Any:
    if "${" not in text:
        return text
    try:
        value, nulls = _render(text, scope)
    except _PartError as failed:
        failures.append(failed.failure(path))
        return text
    except ExpressionError as error:  # the interpolated text as a whole is too large
        failures.append(ExpressionFailure(text, str(error), None, path))
        return text
    failures.extend(ExpressionFailure(part.source(text), NULL_REASON, None, path) for part in nulls)
    return text if value is None else value


def _children(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
    if is_map(obj):
        for key, value in obj.items():
            yield _key_path(path, key), value
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield f"{path}[{i}]", value


def _key_path(path: str, key: Any) -> str:
    name = str(key)
    if name.isidentifier():
        return f"{path}.{name}" if path else name
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"
