"""A recursive-descent parser with precedence climbing for SpEL's binary operators.

Precedence, lowest first (as in Spring's ``InternalSpelExpressionParser``): ``?:`` and
``c ? a : b`` (right-associative), ``or ||``, ``and &&``, the comparisons (not
associative: ``a == b == c`` is refused), ``+ -``, ``* / % div mod``, unary ``! not - +``,
then a value followed by any number of ``.name``, ``?.name``, ``[index]``, ``.method()``
and selection / projection steps.
"""

from functools import lru_cache

from .errors import MAX_DEPTH, MAX_SOURCE_LENGTH, ExpressionError
from .lexer import Token, tokenize
from .nodes import (
    Chain,
    Comparison,
    Elvis,
    FunctionCall,
    Index,
    ListLiteral,
    Literal,
    MapLiteral,
    MethodCall,
    Name,
    Node,
    Operation,
    Property,
    Selection,
    Step,
    Ternary,
    Unary,
    Variable,
)

_OR, _AND, _RELATIONAL, _SUM, _PRODUCT = 1, 2, 3, 4, 5
_GROUPS = {_OR: "or", _AND: "and", _SUM: "sum", _PRODUCT: "product"}

# Token text (lowercased for words) -> (level, canonical operator).
_BINARY = {
    "||": (_OR, "or"),
    "or": (_OR, "or"),
    "&&": (_AND, "and"),
    "and": (_AND, "and"),
    "==": (_RELATIONAL, "=="),
    "eq": (_RELATIONAL, "=="),
    "!=": (_RELATIONAL, "!="),
    "ne": (_RELATIONAL, "!="),
    "<": (_RELATIONAL, "<"),
    "lt": (_RELATIONAL, "<"),
    "<=": (_RELATIONAL, "<="),
    "le": (_RELATIONAL, "<="),
    ">": (_RELATIONAL, ">"),
    "gt": (_RELATIONAL, ">"),
    ">=": (_RELATIONAL, ">="),
    "ge": (_RELATIONAL, ">="),
    "matches": (_RELATIONAL, "matches"),
    "+": (_SUM, "+"),
    "-": (_SUM, "-"),
    "*": (_PRODUCT, "*"),
    "/": (_PRODUCT, "/"),
    "div": (_PRODUCT, "/"),
    "%": (_PRODUCT, "%"),
    "mod": (_PRODUCT, "%"),
}
_UNSUPPORTED_WORDS = {"instanceof", "between"}
_SELECTIONS = (".?[", ".![", ".^[", ".$[")


@lru_cache(maxsize=1024)
def parse(source: str) -> Node:
    """The syntax tree of one expression body; raises ExpressionError for bad syntax."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"Expression is too long ({len(source):,} characters; the limit is {MAX_SOURCE_LENGTH:,})"
        )
    return _Parser(source).parse()


def check_name(name: str, pos: int) -> None:
    """Refuse Python-internal looking names wherever a name is written."""
    if name.startswith("__"):
        raise ExpressionError(f"Names starting with '__' are not allowed ('{name}')", pos)


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = -1  # the outermost expression is level 0

    # Token helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self) -> Token:
        return self.tokens[min(self.index + 1, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.token
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.text in ops

    def expect(self, op: str) -> Token:
        if self.at(op):
            return self.advance()
        token = self.token
        found = "the end of the expression" if token.kind == "end" else f"'{token.text}'"
        raise ExpressionError(f"Expected '{op}' but found {found}", token.pos)

    def unexpected(self, token: Token) -> ExpressionError:
        if token.kind == "end":
            return ExpressionError("Unexpected end of expression", token.pos)
        return ExpressionError(f"Unexpected '{token.text}'", token.pos)

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"Expression is nested too deeply (more than {MAX_DEPTH} levels)", pos)

    # Grammar

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise ExpressionError("Empty expression", 0)
        node = self.expression()
        if self.token.kind != "end":
            raise self.unexpected(self.token)
        return node

    def expression(self) -> Node:
        self.enter(self.token.pos)
        node = self.binary(_OR)
        if self.at("?:"):
            self.advance()
            node = Elvis(node.pos, node, self.expression())
        elif self.at("?"):
            mark = self.advance()
            then = self.expression()
            self.expect(":")
            node = Ternary(mark.pos, node, then, self.expression())
        elif self.at("="):
            raise ExpressionError("Assignment ('=') is not allowed", self.token.pos)
        self.depth -= 1
        return node

    def binary(self, min_level: int) -> Node:
        """Operators at ``min_level`` or above; one level's run of operators becomes one node."""
        operands = [self.unary()]
        ops: list[str] = []
        positions: list[int] = []
        level = 0
        while (found := self.binary_operator()) is not None and found[0] >= min_level:
            if found[0] != level:
                operands = [_close(level, operands, ops, positions)]
                ops, positions, level = [], [], found[0]
            elif level == _RELATIONAL:
                raise self.unexpected(self.token)
            positions.append(self.advance().pos)
            ops.append(found[1])
            operands.append(self.binary(level + 1))
        return _close(level, operands, ops, positions)

    def binary_operator(self) -> tuple[int, str] | None:
        token = self.token
        if token.kind == "op":
            return _BINARY.get(token.text)
        if token.kind == "ident":
            word = token.text.lower()
            if word in _UNSUPPORTED_WORDS:
                raise ExpressionError(f"The '{token.text}' operator is not supported", token.pos)
            if word in _BINARY:
                return _BINARY[word]
        return None

    def unary(self) -> Node:
        token = self.token
        is_not = token.kind == "ident" and token.text.lower() == "not"
        if not (is_not or self.at("!", "-", "+")):
            return self.postfix()
        self.enter(token.pos)
        self.advance()
        node = Unary(token.pos, "!" if is_not else token.text, self.unary())
        self.depth -= 1
        return node

    def postfix(self) -> Node:
        base = self.primary()
        steps: list[Step] = []
        while (step := self.step()) is not None:
            steps.append(step)
        return Chain(base.pos, base, tuple(steps)) if steps else base

    def step(self) -> Step | None:
        token = self.token
        if self.at("["):
            return self.index_step(safe=False)
        if self.at(*_SELECTIONS):
            self.advance()
            body = self.expression()
            self.expect("]")
            return Selection(token.pos, False, token.text[1], body)
        if not self.at(".", "?."):
            return None
        self.advance()
        safe = token.text == "?."
        if safe and self.at("["):
            return self.index_step(safe=True)
        name = self.token
        if name.kind != "ident":
            found = "the end of the expression" if name.kind == "end" else f"'{name.text}'"
            raise ExpressionError(f"Expected a name after '{token.text}' but found {found}", name.pos)
        self.advance()
        check_name(name.text, name.pos)
        if self.at("("):
            return MethodCall(name.pos, safe, name.text, self.arguments())
        return Property(name.pos, safe, name.text)

    def index_step(self, *, safe: bool) -> Index:
        bracket = self.advance()
        key = self.expression()
        self.expect("]")
        return Index(bracket.pos, safe, key)

    def primary(self) -> Node:
        token = self.token
        if token.kind in ("num", "str"):
            self.advance()
            return Literal(token.pos, token.value)
        if token.kind == "var":
            return self.variable()
        if token.kind == "ident":
            return self.identifier()
        if self.at("("):
            self.advance()
            node = self.expression()
            self.expect(")")
            return node
        if self.at("{"):
            return self.brace_literal()
        if self.at("["):
            return self.bracket_literal()
        raise self.unexpected(token)

    def variable(self) -> Node:
        token = self.advance()
        check_name(token.value, token.pos)
        if self.at("("):
            return FunctionCall(token.pos, token.value, self.arguments())
        return Variable(token.pos, token.value)

    def identifier(self) -> Node:
        token = self.token
        word = token.text.lower()
        literals = {"true": True, "false": False, "null": None}
        if word in literals:
            self.advance()
            return Literal(token.pos, literals[word])
        if word == "new":
            raise ExpressionError("Constructors ('new') are not allowed", token.pos)
        if token.text == "T" and self.peek().text == "(":
            raise ExpressionError("Type references such as T(...) are not allowed", token.pos)
        if word in _BINARY or word in _UNSUPPORTED_WORDS:
            raise self.unexpected(token)
        self.advance()
        check_name(token.text, token.pos)
        if self.at("("):
            # A bare method call applies to the current object, as in SpEL.
            call = MethodCall(token.pos, False, token.text, self.arguments())
            return Chain(token.pos, Variable(token.pos, "this"), (call,))
        return Name(token.pos, token.text)

    def arguments(self) -> tuple[Node, ...]:
        self.expect("(")
        args: list[Node] = []
        if not self.at(")"):
            args.append(self.expression())
            while self.at(","):
                self.advance()
                args.append(self.expression())
        self.expect(")")
        return tuple(args)

    def brace_literal(self) -> Node:
        """SpEL inline lists ``{1, 2}`` and maps ``{a: 1, 'b': 2}``; ``{}`` is a list, ``{:}`` a map."""
        brace = self.advance()
        node: Node
        if self.at("}"):
            node = ListLiteral(brace.pos, ())
        elif self.at(":") and self.peek().text == "}":
            self.advance()
            node = MapLiteral(brace.pos, ())
        else:
            first = self.map_key_or_item()
            node = self.map_rest(brace.pos, first) if self.at(":") else self.list_rest(brace.pos, first)
        self.expect("}")
        return node

    def bracket_literal(self) -> Node:
        bracket = self.advance()
        node = ListLiteral(bracket.pos, ()) if self.at("]") else self.list_rest(bracket.pos, self.expression())
        self.expect("]")
        return node

    def map_key_or_item(self) -> Node:
        token = self.token
        if token.kind == "ident" and self.peek().text == ":":
            # An unquoted map key is a string, as in SpEL: {env: 'prod'}.
            self.advance()
            return Literal(token.pos, token.text)
        return self.expression()

    def list_rest(self, pos: int, first: Node) -> ListLiteral:
        items = [first]
        while self.at(","):
            self.advance()
            items.append(self.expression())
        return ListLiteral(pos, tuple(items))

    def map_rest(self, pos: int, first_key: Node) -> MapLiteral:
        self.expect(":")
        entries = [(first_key, self.expression())]
        while self.at(","):
            self.advance()
            key = self.map_key_or_item()
            self.expect(":")
            entries.append((key, self.expression()))
        return MapLiteral(pos, tuple(entries))


def _close(level: int, operands: list[Node], ops: list[str], positions: list[int]) -> Node:
    if not ops:
        return operands[0]
    if level == _RELATIONAL:
        return Comparison(positions[0], ops[0], operands[0], operands[1])
    return Operation(operands[0].pos, _GROUPS[level], tuple(operands), tuple(ops), tuple(positions))
