"""The syntax tree the parser builds and the evaluator walks. Every node knows where it starts."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Node:
    """Base of all nodes; ``pos`` is the offset in the expression body, used in error messages."""

    pos: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True, slots=True)
class ListLiteral(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLiteral(Node):
    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A bare name, read from the current object: the root at the top, an item in a selection."""

    name: str


@dataclass(frozen=True, slots=True)
class Variable(Node):
    """``#root`` or ``#this`` (any other ``#name`` not followed by arguments is an error)."""

    name: str


@dataclass(frozen=True, slots=True)
class FunctionCall(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Step:
    """One link of a chain such as ``a.b['c'].d()``; ``safe`` marks ``?.``."""

    pos: int
    safe: bool


@dataclass(frozen=True, slots=True)
class Property(Step):
    name: str


@dataclass(frozen=True, slots=True)
class Index(Step):
    key: Node


@dataclass(frozen=True, slots=True)
class MethodCall(Step):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Selection(Step):
    """``.?[c]`` (all), ``.^[c]`` (first), ``.$[c]`` (last) or ``.![e]`` (projection)."""

    kind: str
    body: Node


@dataclass(frozen=True, slots=True)
class Chain(Node):
    """A value followed by steps, kept flat so long chains do not deepen the tree."""

    base: Node
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Operation(Node):
    """Left-associative operators of one precedence level, folded left to right.

    ``group`` is ``or``, ``and``, ``sum`` or ``product``; ``ops[i]`` joins ``operands[i]``
    and ``operands[i + 1]`` and sits at ``positions[i]``. Flat so ``1+1+...+1`` stays shallow.
    """

    group: str
    operands: tuple[Node, ...]
    ops: tuple[str, ...]
    positions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Comparison(Node):
    """``== != < <= > >= matches``, non-associative as in SpEL."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Ternary(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Elvis(Node):
    value: Node
    fallback: Node
