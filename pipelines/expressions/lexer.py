"""Turns an expression body into tokens.

Token kinds: ``num`` (value is an int or float), ``str`` (value is the unquoted text),
``ident`` (a name or a word operator such as ``and``), ``var`` (``#name``, value is the
name), ``op`` (punctuation) and ``end``.
"""

import re
from dataclasses import dataclass
from typing import Any

from .errors import ExpressionError

# Longest first, so that "?." wins over "?" and ".?[" over ".".
_OPERATORS = (
    ".?[",
    ".![",
    ".^[",
    ".$[",
    "?.",
    "?:",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "?",
    ".",
    "<",
    ">",
    "!",
    "+",
    "-",
    "*",
    "/",
    "%",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "=",
)

_NUMBER = re.compile(
    r"0[xX](?P<hex>[0-9a-fA-F]+)(?P<hexlong>[lL])?"
    r"|(?P<int>[0-9]+)(?P<frac>\.[0-9]+)?(?P<exp>[eE][+-]?[0-9]+)?(?P<suffix>[lLfFdD])?"
)
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_JAVA_LONG = 2**63

_REFUSED_CHARACTERS = {
    "@": "Bean references ('@') are not allowed",
    "&": "Unexpected '&' (use '&&' or 'and')",
    "|": "Unexpected '|' (use '||' or 'or')",
}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its source text, where it starts, and its value if a literal."""

    kind: str
    text: str
    pos: int
    value: Any = None


def tokenize(source: str) -> list[Token]:
    """All tokens of ``source``, ending with an ``end`` token."""
    tokens: list[Token] = []
    pos = 0
    while True:
        pos = _skip_space(source, pos)
        if pos >= len(source):
            tokens.append(Token("end", "", len(source)))
            return tokens
        token = _next_token(source, pos)
        tokens.append(token)
        pos += len(token.text)


def _skip_space(source: str, pos: int) -> int:
    while pos < len(source) and source[pos].isspace():
        pos += 1
    return pos


def _next_token(source: str, pos: int) -> Token:
    char = source[pos]
    if source.startswith("${", pos):
        raise ExpressionError("Expressions cannot be nested ('${' inside '${...}')", pos)
    if char in "'\"":
        return _string(source, pos)
    if char.isdigit():
        return _number(source, pos)
    if char == "#":
        return _variable(source, pos)
    match = _IDENT.match(source, pos)
    if match:
        return Token("ident", match.group(), pos)
    for operator in _OPERATORS:
        if source.startswith(operator, pos):
            return Token("op", operator, pos)
    raise ExpressionError(_REFUSED_CHARACTERS.get(char, f"Unexpected character '{char}'"), pos)


def _string(source: str, pos: int) -> Token:
    quote = source[pos]
    index = pos + 1
    parts: list[str] = []
    while True:
        end = source.find(quote, index)
        if end < 0:
            raise ExpressionError("Unterminated string", pos, anchor="starting at")
        parts.append(source[index:end])
        # SpEL escapes a quote by doubling it: 'it''s'.
        if source.startswith(quote, end + 1):
            parts.append(quote)
            index = end + 2
            continue
        return Token("str", source[pos : end + 1], pos, "".join(parts))


def _number(source: str, pos: int) -> Token:
    match = _NUMBER.match(source, pos)
    assert match is not None  # the caller saw a digit
    text = match.group()
    value: int | float
    if match.group("hex") is not None:
        value = int(match.group("hex"), 16)
    elif match.group("frac") or match.group("exp") or match.group("suffix") in ("f", "F", "d", "D"):
        value = float(text.rstrip("fFdD"))
    else:
        value = int(match.group("int"))
    if isinstance(value, int) and value >= _JAVA_LONG:
        raise ExpressionError(f"Number '{text}' is too large", pos)
    return Token("num", text, pos, value)


def _variable(source: str, pos: int) -> Token:
    match = _IDENT.match(source, pos + 1)
    if not match:
        raise ExpressionError("Expected a name after '#'", pos)
    return Token("var", "#" + match.group(), pos, match.group())
