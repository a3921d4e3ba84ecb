"""Regular expressions written by pipeline authors, run against what unauthenticated callers send.

Webhook and git endpoints need no login, so a caller picks the text a trigger's regex runs on. A
regex with nested repetition (``(a+)+$``) can take minutes on a crafted 40-character value and
hold a web server thread all that time. The ``regex`` library (Python ``re`` syntax, its V0 mode)
takes a timeout: a match that runs out of time counts as no match, with a reason that says so.
"""

from __future__ import annotations

from typing import Final

import regex

# Far above what any sensible pattern needs on a payload value, far below a stuck thread.
TIMEOUT_SECONDS: Final = 0.1


class TooSlow(Exception):
    """The pattern did not finish on this text within ``TIMEOUT_SECONDS``."""


def problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable regular expression, as the end of a sentence; None if it is."""
    try:
        regex.compile(pattern, flags=regex.V0)
    except regex.error as exc:
        return str(exc)
    return None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text`` (Java's ``find``); raises ``TooSlow``."""
    try:
        return regex.search(pattern, text, flags=regex.V0, timeout=TIMEOUT_SECONDS) is not None
    except TimeoutError:
        raise TooSlow(_slow(pattern)) from None


def fullmatch(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches all of ``text`` (Java's ``matches``); raises ``TooSlow``."""
    try:
        return regex.fullmatch(pattern, text, flags=regex.V0, timeout=TIMEOUT_SECONDS) is not None
    except TimeoutError:
        raise TooSlow(_slow(pattern)) from None


def _slow(pattern: str) -> str:
    return f"{pattern!r} took longer than {TIMEOUT_SECONDS} s on this value, so it counts as no match; simplify it."
