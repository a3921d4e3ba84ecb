"""The one error type of the expression language, and the limits it enforces."""

MAX_SOURCE_LENGTH = 10_000
"""Longest expression body, in characters, that is parsed at all."""

MAX_DEPTH = 64
"""Deepest nesting of parentheses, brackets, braces, arguments and unary operators."""

MAX_STRING_LENGTH = 1_000_000
"""Longest string an expression may build (concatenation, helpers, interpolated text)."""

MAX_STEPS = 100_000
"""Most syntax nodes one evaluation may visit; selections and projections visit theirs per item."""

MAX_REGEX_LENGTH = 256
"""Longest regular expression accepted by ``matches`` and ``split`` (Spring's own limit)."""

MAX_REGEX_SUBJECT_LENGTH = 100_000
"""Longest string a regular expression is run against."""

REGEX_BUDGET = 10**8
"""Most backtracking steps a regular expression may be estimated to need (see ``values.compile_regex``)."""


class ExpressionError(Exception):
    """An expression that cannot be parsed or evaluated.

    ``reason`` is a clause without the position ("Unexpected ')'"); ``position`` is the
    0-based offset in the string that was handed in (the expression body for ``evaluate``,
    the whole text for ``evaluate_text``); ``expression`` names the ``${...}`` part when
    the error comes from text with several parts. ``str()`` joins them into a sentence.
    """

    def __init__(
        self,
        reason: str,
        position: int | None = None,
        *,
        expression: str | None = None,
        anchor: str = "at",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position
        self.expression = expression
        self.anchor = anchor

    def __str__(self) -> str:
        return self.describe()

    def describe(self, *, with_expression: bool = True) -> str:
        """The sentence, optionally without the name of the ``${...}`` part."""
        text = self.reason
        if self.position is not None:
            text += f" {self.anchor} position {self.position}"
        if with_expression and self.expression is not None:
            text += f" in '{self.expression}'"
        return text + "."

    def shifted(self, offset: int, expression: str | None = None) -> "ExpressionError":
        """The same error with its position moved by ``offset``, e.g. from a body into its text."""
        position = None if self.position is None else self.position + offset
        return ExpressionError(self.reason, position, expression=expression, anchor=self.anchor)
