"""Conditions: ``stageEnabled.expression`` and expression preconditions."""

from .errors import ExpressionError
from .evaluator import Scope, evaluate
from .templates import unwrap
from .values import to_text


def evaluate_condition(source: str, scope: Scope) -> bool:
    """True or false from an expression written without ``${}`` (a ``${...}`` wrapper is tolerated).

    As in Orca, the strings "true" and "false" (any case) count as booleans; anything else,
    null included, is an ExpressionError. Positions are offsets in ``source``.
    """
    body, offset = unwrap(source)
    try:
        value = evaluate(body, scope)
    except ExpressionError as error:
        raise error.shifted(offset) from None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ExpressionError(f"Expression '{source.strip()}' evaluated to '{to_text(value)}', not true or false")
