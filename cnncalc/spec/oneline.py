"""The one-line form: ``32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)``.

A hand-written tokenizer and recursive-descent parser (the grammar is six rules;
nothing is ever evaluated). Grammar::

    chain := item ('->' item)*
    item  := (call | '[' chain? ']' | size | '@' NAME) ('*' count)? ('as' NAME)?
    call  := NAME ('(' (arg (',' arg)* ','?)? ')')?
    arg   := (NAME '=')? value
    value := size | NAME | '[' chain? ']' | call ('->' item)*

``as NAME`` names the item's output and ``@NAME`` reads a named tensor (spec §9).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import NamedTuple

from ..diagnostics import Location, SpecSyntaxError, syntax_error
from .expr import Call as ExprCall
from .expr import ExprError, is_literal
from .expr import parse as parse_expr
from .expr.grammar import MAX_LENGTH as MAX_EXPRESSION
from .expr.grammar import walk
from .syntax import Arg, Call, Item, RawGroup, RawSpec, Ref, Scalar, Times, Value, clip
from .unknowns import bad_part, has_unknown

MAX_DEPTH = 64
"""How deeply brackets and calls may nest (a guard against pathological input)."""

MAX_NAME = 64
"""Longest tensor name (``as NAME``, ``@NAME``): identifier characters, case-sensitive."""

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<arrow>->|→)
      | (?P<unknown>(?:\d+[x×])*\?[A-Za-z0-9_?x×]*)
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z0-9_.×]*)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[()\[\],=*@])
      | (?P<bad>.)
      | (?P<end>\Z))
    """,
    re.VERBOSE | re.DOTALL,
)
_SIZE = re.compile(r"^\d+(?:[x×]\d+)*$", re.IGNORECASE)
_NUM = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[kKmMgGtT]?$")
_CLOSER = {"(": ")", "[": "]"}


class Token(NamedTuple):
    """One token (a tuple: a megabyte of spec makes millions, and a tuple is made fastest)."""

    kind: str  # arrow, number, name, one of ()[],=*@, or end
    text: str
    location: Location
    offset: int = 0


class Positions:
    """Maps offsets in a text to line/column, starting from ``origin``. Offsets are asked in
    increasing order (the tokenizer's), so a cursor walks the line starts once."""

    def __init__(self, text: str, origin: Location) -> None:
        self.origin = origin
        self.text = text
        self.line = 0  # lines before the cursor's
        self.start = 0  # offset of the cursor's line
        self.one_line = "\n" not in text

    def at(self, offset: int) -> Location:
        if self.one_line:  # the usual one-line spec
            return Location(self.origin.line, self.origin.column + offset)
        if offset < self.start:  # asked backwards: start again from the top
            self.line, self.start = 0, 0
        while (nl := self.text.find("\n", self.start, offset)) != -1:
            self.line += 1
            self.start = nl + 1
        col = offset - self.start
        if self.line == 0:
            return Location(self.origin.line, self.origin.column + col)
        return Location(self.origin.line + self.line, col + 1)


def tokens(text: str, origin: Location = Location(1, 1), start: int = 0,
           pos: Positions | None = None) -> Iterator[Token]:
    """The tokens of a one-line spec from offset ``start``, one at a time (a megabyte never
    exists as a list); a malformed size or number, or a stray character, is an error when
    reached."""
    pos = pos or Positions(text, origin)
    for m in _TOKEN.finditer(text, start):
        kind = m.lastgroup or "end"
        begin = m.start(kind)
        if kind == "bad":
            ch = m.group(kind)
            hint = {":": " (is this YAML? a YAML file must end in .yaml or .yml)",
                    ";": " (join layers with ->)", "{": "", "}": "",
                    "-": " (join layers with ->)", ">": " (join layers with ->)"}.get(ch, "")
            raise syntax_error("S002", f"unexpected character '{clip(ch)}'{hint}", pos.at(begin))
        word = m.group(kind)
        if kind == "unknown":  # `?`, `?name`, `?x?x3`: a number cnncalc solve finds
            if (bad := bad_part(word)) is not None:
                raise syntax_error("S004", bad, pos.at(begin))
            kind = "number"
        elif kind == "number" and not (_SIZE.match(word) or _NUM.match(word)):
            raise syntax_error("S004", _bad_number(word), pos.at(begin))
        yield Token(word if kind == "punct" else kind, word, pos.at(begin), begin)
        if kind == "end":
            return


def tokenize(text: str, origin: Location = Location(1, 1)) -> list[Token]:
    """Split a one-line spec into tokens; a malformed size or number is an error here.

    >>> [t.text for t in tokenize("32x32x3 -> conv(10, 5, p=2)")]
    ['32x32x3', '->', 'conv', '(', '10', ',', '5', ',', 'p', '=', '2', ')', '']
    """
    return list(tokens(text, origin))


def _bad_number(word: str) -> str:
    if re.match(r"^\d+([x×]\d+)*[x×]$", word, re.IGNORECASE):
        example = word + re.split(r"[x×]", word, flags=re.IGNORECASE)[0]
        return f"incomplete size '{word}': a number must follow '{word[-1]}', e.g. {example}"
    if re.match(r"^\d+[x×]", word, re.IGNORECASE):
        return f"'{word}' is not a size: write numbers joined by x, e.g. 3x5 or 32x32x3"
    return f"'{word}' is not a number: write e.g. 64, 0.5, 1e-5 or 1.5M"


class Parser:
    def __init__(self, text: str, origin: Location, from_yaml: bool) -> None:
        self.text = text
        self.pos = Positions(text, origin)
        self.stream = tokens(text, origin, 0, self.pos)
        self.tok = next(self.stream)
        self.ahead: Token | None = None
        self.depth = 0
        self.from_yaml = from_yaml
        self.open: list[Token] = []

    # -- token helpers
    def advance(self) -> None:
        if self.ahead is not None:
            self.tok, self.ahead = self.ahead, None
        elif self.tok.kind != "end":
            self.tok = next(self.stream)

    def peek(self) -> Token:
        if self.ahead is None:
            self.ahead = self.tok if self.tok.kind == "end" else next(self.stream)
        return self.ahead

    def take(self, kind: str) -> Token:
        tok = self.tok
        if tok.kind != kind:
            raise self.unexpected(f"'{kind}'")
        self.advance()
        return tok

    def unexpected(self, wanted: str) -> SpecSyntaxError:
        tok = self.tok
        if tok.kind == "end" and self.open:
            opener = self.open[-1]
            return syntax_error(
                "S003", f"'{opener.kind}' opened at {opener.location.line}:"
                f"{opener.location.column} is never closed: add '{_CLOSER[opener.kind]}'",
                opener.location)
        if tok.kind in (")", "]") and not self.open:
            return syntax_error("S003", f"'{tok.text}' has no matching opening bracket",
                                tok.location)
        found = "the end of the spec" if tok.kind == "end" else f"'{tok.text}'"
        return syntax_error("S002", f"expected {wanted}, found {found}", tok.location)

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise syntax_error("S009", f"nested more than {MAX_DEPTH} levels deep", tok.location)
        self.open.append(tok)

    def leave(self, closer: str) -> None:
        self.take(closer)
        self.open.pop()
        self.depth -= 1

    def scalar(self, tok: Token) -> Scalar:
        return Scalar(tok.text, tok.location, self.from_yaml)

    # -- grammar
    def chain(self, stop: tuple[str, ...]) -> list[Item]:
        items = [self.item()]
        while self.tok.kind == "arrow":
            self.advance()
            items.append(self.item())
        if self.tok.kind not in stop:
            raise self.unexpected("'->' between layers" if self.tok.kind in ("name", "number", "[")
                                  else " or ".join(f"'{s}'" if s != "end" else "the end"
                                                   for s in ("->", *stop)))
        return items

    def item(self) -> Item:
        tok = self.tok
        item: Item
        if tok.kind == "[":
            item = self.group()
        elif tok.kind == "name":
            item = self.call()
        elif tok.kind == "number":
            self.advance()
            item = self.scalar(tok)
        elif tok.kind == "@":
            item = Ref(self.tensor_name("'@'").text, tok.location)
        else:
            raise self.unexpected("a layer")
        if self.tok.kind == "*":
            star = self.take("*")
            item = Times(item, self.count(), star.location)
        if self.at_as():
            if isinstance(item, Scalar):
                raise syntax_error("S002", f"the size '{clip(item.text)}' cannot be named: the "
                                   "input is always @input", self.tok.location)
            item = replace(item, as_name=self.scalar(self.tensor_name("'as'")))
        return item

    def count(self) -> Scalar:
        """What follows ``*``: a number, a name, a call or a parenthesised expression (§10)."""
        tok = self.tok
        if tok.kind == "number" or (tok.kind == "name" and self.peek().kind != "("):
            self.advance()
            return self.scalar(tok)
        if tok.kind in ("(", "name"):
            end = _closing(self.text, tok.offset)
            if end is None:
                raise self.unexpected("a repeat count after '*'")
            text = self.text[tok.offset:end]
            self.resync(end)
            return Scalar(text, tok.location, self.from_yaml)
        raise self.unexpected("a repeat count after '*'")

    def at_as(self) -> bool:
        return self.tok.kind == "name" and self.tok.text.lower() == "as"

    def tensor_name(self, after: str) -> Token:
        """The NAME after ``@`` or ``as`` (the current token is the ``@`` or ``as``)."""
        self.advance()
        tok = self.tok
        if tok.kind != "name":
            raise self.unexpected(f"a tensor name after {after} (letters, digits and _)")
        if len(tok.text) > MAX_NAME:
            raise syntax_error("S002", f"the tensor name '{clip(tok.text)}' is longer than "
                               f"{MAX_NAME} characters", tok.location)
        self.advance()
        return tok

    def group(self) -> RawGroup:
        opener = self.take("[")
        self.enter(opener)
        items = [] if self.tok.kind == "]" else self.chain(("]",))
        self.leave("]")
        return RawGroup(tuple(items), opener.location)

    def call(self) -> Call:
        name = self.take("name")
        args: list[Arg] = []
        if self.tok.kind == "(":
            opener = self.take("(")
            self.enter(opener)
            while self.tok.kind != ")":
                args.append(self.arg())
                if self.tok.kind == ",":
                    self.advance()
                elif self.tok.kind != ")":
                    raise self.unexpected("',' or ')'")
            self.leave(")")
        return Call(name.text, tuple(args), name.location)

    def arg(self) -> Arg:
        start = self.tok
        captured = self.expression_arg(start)
        if captured is not None:
            return captured
        key = None
        if start.kind == "name" and self.peek().kind == "=":
            key = start.text
            self.advance()
            self.advance()
        return Arg(key, self.value(), start.location)

    def expression_arg(self, start: Token) -> Arg | None:
        """An argument whose value is an expression (spec §10: ``4*width``, ``(k - 1) // 2``,
        ``max(1, C // 4)``), captured as its text up to the next ``,`` or ``)``; None for
        anything else (a literal, a word, a layer, a group), which the grammar reads."""
        if start.kind not in ("name", "number", "("):
            return None
        end = _argument_end(self.text, start.offset)
        segment = self.text[start.offset:end]
        key = None
        value_at = start.offset
        if (m := _KEY.match(segment)) is not None:
            key = m.group(1)
            value_at += m.end()
        text = self.text[value_at:end].rstrip()
        if len(text) > MAX_EXPRESSION and not any(m in text for m in ("[", "@", "->", "→", "(")):
            raise syntax_error("S009", f"an argument of {len(text):,} characters, more than "
                               f"cnncalc's limit of {MAX_EXPRESSION:,} for an expression",
                               self.pos.at(value_at), ("compute the number and write it",))
        if has_unknown(text) and _in_expression(text):
            raise syntax_error("S004", bad_part(text) or "", self.pos.at(value_at))
        if not _is_expression(text):
            return None
        value = Scalar(text, self.pos.at(value_at), self.from_yaml)
        self.resync(end)
        return Arg(key, value, start.location)

    def resync(self, offset: int) -> None:
        """Go on reading tokens at ``offset`` (after text read as an expression)."""
        self.stream = tokens(self.text, self.pos.origin, offset, self.pos)
        self.ahead = None
        self.tok = next(self.stream)

    def value(self) -> Value:
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return self.scalar(tok)
        if tok.kind == "name" and self.peek().kind not in ("(", "arrow", "*") and not (
                self.peek().kind == "name" and self.peek().text.lower() == "as"):
            self.advance()
            return self.scalar(tok)
        if tok.kind in ("[", "name", "@"):
            items = self.chain((",", ")"))
            if len(items) == 1 and isinstance(items[0], RawGroup | Times | Ref):
                return items[0]
            return RawGroup(tuple(items), tok.location)
        raise self.unexpected("a value")


_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)\s*")
_FUNCTIONS = frozenset({"min", "max", "ceil", "floor", "divisible"})
_EXPR_CHARS = re.compile(r"[-+*/<>=!(]")


def _argument_end(text: str, start: int) -> int:
    """Where the argument starting at ``start`` ends: the next ``,`` or closing bracket
    outside brackets (or the text's end)."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            if depth == 0:
                return i
            depth -= 1
        elif ch == "," and depth == 0:
            return i
    return len(text)


def _closing(text: str, start: int) -> int | None:
    """The offset just after ``NAME(...)`` or ``(...)`` starting at ``start``."""
    depth = 0
    for i in range(text.find("(", start), len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _in_expression(text: str) -> bool:
    """Whether a ``?`` is written inside an expression (``2*?``, ``max(?, 1)``), which an
    unknown cannot be: it stands for a whole argument.

    >>> _in_expression("2*?"), _in_expression("max(?, 1)"), _in_expression("?x3")
    (True, True, False)
    >>> _in_expression("conv(8, 1, p=?)"), _in_expression("[conv(8, 3, p=?)]")
    (False, False)
    """
    if "[" in text or "@" in text or "->" in text or "→" in text:
        return False
    call = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(", text)
    if call is not None and call.group(1).lower() not in _FUNCTIONS:
        return False
    return bad_part(text) is not None


def _is_expression(text: str) -> bool:
    """Whether an argument's text is an expression (not a literal, word, layer or group)."""
    if is_literal(text) or "->" in text or "→" in text or "[" in text or "@" in text \
            or not _EXPR_CHARS.search(text):
        return False
    try:
        tree = parse_expr(text)
    except ExprError:
        return False
    return all(n.name in _FUNCTIONS for n in walk(tree) if isinstance(n, ExprCall))


def parse_chain(text: str, origin: Location = Location(1, 1), from_yaml: bool = False
                ) -> RawGroup:
    """Parse ``a -> b -> c`` (a YAML scalar, or a whole one-line spec) into a group."""
    parser = Parser(text, origin, from_yaml)
    if parser.tok.kind == "end":
        return RawGroup((), origin)
    items = parser.chain(("end",))
    return RawGroup(tuple(items), items[0].location)


def parse(text: str) -> RawSpec:
    """Parse a whole one-line spec; its first item is the input volume.

    >>> spec = parse("32x32x3 -> conv(10, 5, p=2) -> relu")
    >>> spec.input.text, [c.name for c in spec.layers.items]
    ('32x32x3', ['conv', 'relu'])
    """
    if not text.strip():
        raise syntax_error("S001", "the spec is empty: start with the input volume, e.g. "
                           "32x32x3 -> conv(10, 5, p=2)", Location(1, 1))
    group = parse_chain(text)
    first, rest = group.items[0], group.items[1:]
    if isinstance(first, Call) and first.name.lower() == "input":
        if len(first.args) != 1:
            raise syntax_error("S002", "input takes one shape, e.g. input(32x32x3)",
                               first.location)
        return RawSpec(RawGroup(rest, group.location), first.args[0].value)
    if isinstance(first, Scalar):
        return RawSpec(RawGroup(rest, group.location), first)
    return RawSpec(group, None)
