"""The grammar of expressions: tokens, the tree and the parser (see :mod:`cnncalc.spec.expr`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from ... import values as v

MAX_LENGTH = 10_000
"""The longest expression text, in characters (thousands of terms; each evaluates in µs)."""

MAX_DEPTH = 32
"""How deeply parentheses, calls and unary minus may nest in one expression."""

MAX_VALUE = 10**100
"""Every intermediate numerator and denominator stays below 10¹⁰⁰ (written numbers stop at
10⁴⁰, :data:`cnncalc.values.MAX_MAGNITUDE`): exact rationals cannot grow without bound."""

Env = Mapping[str, Fraction | int]


class ExprError(ValueError):
    """A problem in an expression: ``message`` and ``offset``, where in the text it is."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class ExprSyntaxError(ExprError):
    """Text that is not an expression: a stray character, unbalanced parentheses, an operator
    without an operand, or text beyond the bounds."""


class UnknownName(ExprError):
    """A name that is not defined where the expression is evaluated (``name``; ``suggestion``
    is the closest defined name, or None)."""

    def __init__(self, message: str, offset: int, name: str, suggestion: str | None) -> None:
        super().__init__(message, offset)
        self.name = name
        self.suggestion = suggestion


class ExprValueError(ExprError):
    """Arithmetic that has no acceptable value: division by zero, a value that is not whole
    where a whole number is needed, out of range, or beyond :data:`MAX_VALUE`."""


for _error in (ExprError, ExprSyntaxError, UnknownName, ExprValueError):
    _error.__module__ = "cnncalc.spec.expr"  # where they are imported from


# --- the tree -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Num:
    text: str  # as written: 1.5M
    value: Fraction
    offset: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    offset: int


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    offset: int


@dataclass(frozen=True, slots=True)
class Group:
    """Parentheses as written (kept so the arithmetic in a message reads as the spec does)."""

    inner: Expr
    offset: int


@dataclass(frozen=True, slots=True)
class Chain:
    """``first op operand op operand…`` at one level: all of ``+ -`` or all of ``* / //``."""

    first: Expr
    rest: tuple[tuple[str, int, Expr], ...]  # (operator, its offset, operand)


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison chain ``a < b <= c``: 1 when every link holds, else 0."""

    first: Expr
    rest: tuple[tuple[str, int, Expr], ...]


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    offset: int


Expr = Num | Name | Neg | Group | Chain | Compare | Call


# --- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
      (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z0-9_.×]*)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>//|==|!=|<=|>=|\*\*|[-+*/<>(),])
    | (?P<bad>\S)
    )""", re.VERBOSE)
_NUMBER = re.compile(r"^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[kKmMgGtT]?$")
_SIZE_TEXT = re.compile(r"^\d+(?:[x×]\d+)+$", re.IGNORECASE)
_LITERAL = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[kKmMgGtT]?"
                      r"(?:[x×](?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[kKmMgGtT]?)*\s*$", re.IGNORECASE)
_COMPARE = frozenset({"==", "!=", "<", "<=", ">", ">="})
_SUM = frozenset({"+", "-"})
_PRODUCT = frozenset({"*", "/", "//"})
_OPERATORS = _COMPARE | _SUM | _PRODUCT
_BAD_HINT = {"=": "compare with ==", "×": "multiply with *", "·": "multiply with *",
             "−": "subtract with - (ASCII)", "%": "only + - * / // and comparisons exist",
             "^": "only + - * / // and comparisons exist", "!": "write != for 'not equal'"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # num, name, op, end
    text: str
    offset: int


def _tokens(text: str) -> Iterator[_Token]:
    pos = 0
    while True:
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:  # only blanks are left
            yield _Token("end", "", len(text))
            return
        kind, token, offset = m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup)
        if kind == "bad":
            hint = _BAD_HINT.get(token, "expressions hold numbers, names, + - * / //, "
                                        "comparisons, parentheses and calls")
            raise ExprSyntaxError(f"unexpected character {token!r}: {hint}", offset)
        if kind == "op" and token == "**":
            raise ExprSyntaxError("'**' (powers) is not part of expressions: only + - * / // "
                                  "and comparisons exist", offset)
        yield _Token(kind, token, offset)
        pos = m.end()


def _number(tok: _Token) -> Num:
    if _SIZE_TEXT.match(tok.text):
        raise ExprSyntaxError(f"{v.quoted(tok.text)} is a per-axis size: sizes are written alone, "
                              "not inside an expression", tok.offset)
    if not _NUMBER.match(tok.text):
        raise ExprSyntaxError(f"{v.quoted(tok.text)} is not a number (a name cannot start with "
                              "a digit; write * to multiply)", tok.offset)
    try:
        return Num(tok.text, v.exact(tok.text), tok.offset)
    except ValueError as e:  # too large, too close to 0, too many digits
        raise ExprValueError(str(e), tok.offset) from None


# --- the parser -----------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.tok = next(self.tokens)
        self.prev: _Token | None = None
        self.depth = 0

    def advance(self) -> _Token:
        tok, self.prev = self.tok, self.tok
        if tok.kind != "end":
            self.tok = next(self.tokens)
        return tok

    def nest(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprSyntaxError(f"the expression nests more than {MAX_DEPTH} levels deep",
                                  tok.offset)

    def comparison(self) -> Expr:
        return self.links(_COMPARE, self.sum, Compare)

    def sum(self) -> Expr:
        return self.links(_SUM, self.product, Chain)

    def product(self) -> Expr:
        return self.links(_PRODUCT, self.unary, Chain)

    def links(self, ops: frozenset[str], operand: Callable[[], Expr],
              node: type[Chain] | type[Compare]) -> Expr:
        """``operand (op operand)*`` at one level, kept flat (left associative when evaluated),
        so thousands of terms make a wide tree, never a deep one."""
        first = operand()
        rest = []
        while self.tok.kind == "op" and self.tok.text in ops:
            op = self.advance()
            rest.append((op.text, op.offset, operand()))
        return node(first, tuple(rest)) if rest else first

    def unary(self) -> Expr:
        if self.tok.kind == "op" and self.tok.text == "-":
            tok = self.advance()
            self.nest(tok)
            operand = self.unary()
            self.depth -= 1
            return Neg(operand, tok.offset)
        return self.primary()

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "num":
            self.advance()
            return _number(tok)
        if tok.kind == "name":
            self.advance()
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(tok)
            return Name(tok.text, tok.offset)
        if tok.kind == "op" and tok.text == "(":
            self.advance()
            self.nest(tok)
            if self.tok.text == ")":
                raise ExprSyntaxError("empty parentheses: write an expression inside them",
                                      tok.offset)
            inner = self.comparison()
            self.close(tok)
            self.depth -= 1
            return Group(inner, tok.offset)
        raise self.expected(tok)

    def call(self, name: _Token) -> Call:
        opening = self.advance()
        self.nest(opening)
        args: list[Expr] = []
        if self.tok.text != ")":
            args.append(self.comparison())
            while self.tok.text == ",":
                self.advance()
                args.append(self.comparison())
        self.close(opening)
        self.depth -= 1
        return Call(name.text, tuple(args), name.offset)

    def close(self, opening: _Token) -> None:
        if self.tok.text == ")":
            self.advance()
            return
        if self.tok.kind == "end":
            raise ExprSyntaxError("'(' is never closed: add ')'", opening.offset)
        raise self.stray(self.tok)

    def expected(self, tok: _Token) -> ExprSyntaxError:
        """An operand was due at ``tok``."""
        prev = self.prev
        if tok.kind == "end":
            if prev is None:
                return ExprSyntaxError("empty expression: write a number or a name", 0)
            return ExprSyntaxError(f"the expression ends after {prev.text!r}: write what "
                                   f"follows it", prev.offset)
        if prev is not None and prev.text in _OPERATORS and tok.text in _OPERATORS | {"+"}:
            return ExprSyntaxError(f"two operators in a row: {prev.text!r} then {tok.text!r}",
                                   tok.offset)
        where = f"after {prev.text!r}" if prev is not None else "at the start"
        return ExprSyntaxError(f"expected a number, a name or '(' {where}, not {tok.text!r}",
                               tok.offset)

    def stray(self, tok: _Token) -> ExprSyntaxError:
        """``tok`` follows a complete operand but continues nothing."""
        if tok.text == ")":
            return ExprSyntaxError("')' has no matching '('", tok.offset)
        if tok.text == ",":
            return ExprSyntaxError("',' outside a call's arguments", tok.offset)
        before = self.prev.text if self.prev is not None else ""
        return ExprSyntaxError(f"missing operator between {before!r} and {tok.text!r}",
                               tok.offset)


def parse(text: str) -> Expr:
    """The tree of an expression, or :class:`ExprSyntaxError` (a bad number's
    :class:`ExprValueError`).

    >>> parse("4*width")
    Chain(first=Num(text='4', value=Fraction(4, 1), offset=0), rest=(('*', 1, Name(name='width', offset=2)),))
    """
    return _parse_short(text) if len(text) <= 200 else _parse(text)


@lru_cache(maxsize=4096)
def _parse_short(text: str) -> Expr:
    """Blocks evaluate the same short texts at every call: each is parsed once."""
    return _parse(text)


def _parse(text: str) -> Expr:
    if len(text) > MAX_LENGTH:
        raise ExprSyntaxError(f"the expression is {len(text):,} characters long, more than "
                              f"cnncalc's limit of {MAX_LENGTH:,}", 0)
    parser = _Parser(text)
    tree = parser.comparison()
    if parser.tok.kind != "end":
        raise parser.stray(parser.tok)
    return tree


def is_literal(text: str) -> bool:
    """Whether ``text`` is a plain literal as v1 writes it — a number (``64``, ``-0.5``,
    ``1.5M``, ``1e-6``) or a per-axis size (``3x5``) — with no name, operator or parenthesis,
    so it needs no expression parsing.

    >>> [is_literal(t) for t in ("64", "1.5M", "3x5", "-1e-6", "width", "2*C", "same")]
    [True, True, True, True, False, False, False]
    """
    return _LITERAL.match(text) is not None


def offset_of(expr: Expr) -> int:
    """Where an expression starts in its text."""
    while isinstance(expr, Chain | Compare):
        expr = expr.first
    return expr.offset


def walk(expr: Expr) -> Iterator[Expr]:
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        match node:
            case Neg(operand) | Group(operand):
                stack.append(operand)
            case Chain(first, rest) | Compare(first, rest):
                stack.extend(reversed([first, *(operand for _, _, operand in rest)]))
            case Call(_, args):
                stack.extend(reversed(args))


def names(expr: Expr | str) -> frozenset[str]:
    """The names an expression reads (not the functions it calls).

    >>> sorted(names("max(1, C // 4) + width * expand"))
    ['C', 'expand', 'width']
    """
    tree = parse(expr) if isinstance(expr, str) else expr
    return frozenset(node.name for node in walk(tree) if isinstance(node, Name))


