"""The ``#name(...)`` helpers every scope has, after Spinnaker's (kork ``ExpressionsSupport``).

The caller adds the ones that need an execution (``#stage``, ``#judgment``...) through
``Scope.functions``; a caller function of the same name replaces one of these. Helpers raise
ExpressionError without a position; the evaluator adds the position of the call.
"""

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ExpressionError
from .values import check_length, describe, is_integer, is_number

_NON_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")
_JAVA_INT = re.compile(r"[+-]?[0-9]+")
_JAVA_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"Function '#{name}' needs a string, not {describe(value)}")
    return value


def alphanumerical(value: Any) -> str:
    """Keep ASCII letters and digits only: ``#alphanumerical('feature/ABC-1')`` is ``featureABC1``."""
    return _NON_ALPHANUMERIC.sub("", _text("alphanumerical", value))


def to_json(value: Any) -> str:
    """Compact JSON, as Jackson writes it by default."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)
    except (TypeError, ValueError, RecursionError) as error:
        raise ExpressionError(f"Function '#toJson' cannot convert this value ({error})") from None
    return check_length(text, None)


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_int(value: Any) -> int:
    """``Integer.valueOf``: an optional sign and digits, nothing else."""
    if is_integer(value):
        return int(value)
    if isinstance(value, str) and _JAVA_INT.fullmatch(value):
        return int(value)
    raise ExpressionError(f"Function '#toInt' cannot convert {describe(value)} to a whole number")


def to_float(value: Any) -> float:
    """``Float.valueOf``: a decimal number, surrounding whitespace allowed."""
    if is_number(value):
        return float(value)
    if isinstance(value, str) and _JAVA_FLOAT.fullmatch(value.strip()):
        return float(value.strip().rstrip("fFdD"))
    raise ExpressionError(f"Function '#toFloat' cannot convert {describe(value)} to a number")


def to_boolean(value: Any) -> bool:
    """``Boolean.valueOf``: true only for "true" in any case; never an error for a string or null."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return _text("toBoolean", value).lower() == "true"


def to_base64(value: Any) -> str:
    return base64.b64encode(_text("toBase64", value).encode()).decode("ascii")


def from_base64(value: Any) -> str:
    try:
        return base64.b64decode(_text("fromBase64", value), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ExpressionError("Function '#fromBase64' was given text that is not Base64 of UTF-8 text") from None


def read_json(value: Any) -> Any:
    try:
        return json.loads(_text("readJson", value))
    except json.JSONDecodeError as error:
        raise ExpressionError(
            f"Function '#readJson' was given invalid JSON ({error.msg} at character {error.pos})"
        ) from None
    except RecursionError:
        raise ExpressionError("Function '#readJson' was given JSON nested too deeply") from None


def do_not_eval(value: Any) -> Any:
    """Return the value as is; Spinweb evaluates each field once, so a returned ``${...}`` stays text."""
    return value


BUILTINS: dict[str, Callable[..., Any]] = {
    "alphanumerical": alphanumerical,
    "toJson": to_json,
    "toInt": to_int,
    "toFloat": to_float,
    "toBoolean": to_boolean,
    "toBase64": to_base64,
    "fromBase64": from_base64,
    "readJson": read_json,
    "doNotEval": do_not_eval,
}
