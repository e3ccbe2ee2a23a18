"""Blocks with parameters (spec §10): a YAML file's ``blocks:``, called like layers.

A call binds its arguments (positional, then keyword; defaults evaluated at the call, and
they may use earlier parameters), then builds the block's body with those values in force:
wherever a number goes in the body, an expression of the parameters stands
(:mod:`cnncalc.spec.expr`, exact, never Python's ``eval``). The call is one row
(:class:`Called`, kind ``call``) holding the body's layers, as a ``* 1`` repeat labelled by
the call (``resblock(128, stride=2)``). A body that reads ``C``/``H``/``W`` is built only
when the walk reaches the call and knows its input (:meth:`Called.resolve`), once per input
shape; the others are built here.

The builder's state lives in context variables (like :mod:`cnncalc.spec.names`): the
definitions in force and the frames of the calls being built, innermost last; a pending
call keeps a copy of them for when it is built.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, replace
from fractions import Fraction

from .. import values as v
from ..diagnostics import Finding, Location, Problem, Severity, syntax_error
from ..layers import LAYERS, Group, Node
from ..shapes import Shape, format_shape
from . import expr, unknowns
from .called import Called, shape_values
from .library import NAMES, library
from .names import INPUT, Scope, opened
from .syntax import (
    IDENT,
    RESERVED,
    BlockDef,
    Call,
    RawGroup,
    Ref,
    Scalar,
    Value,
    clip,
    raw_items,
    raw_text,
    reads_shape,
)

MAX_CALL_DEPTH = 32
"""How deeply block calls may nest (a call inside a body inside a call …)."""

Bound = Fraction | Value
"""A parameter's value: an exact number, or a value as written (a size, a word, a layer)."""



@dataclass(frozen=True)
class Frame:
    """One call being built: the block and its parameters' values."""

    block: str
    values: dict[str, Bound]
    input_name: str | None = None
    """The hidden name the call's input carries when its body reads ``@input``."""
    shape: dict[str, Fraction] | None = None
    """``C``, ``H``, ``W`` … of the call's input (None: the body reads none of them)."""
    input_shape: Shape | None = None
    library: bool = False
    """A call of a built-in library block: the names its body calls are the library's."""

    def numbers(self) -> dict[str, Fraction]:
        found = {k: b for k, b in self.values.items() if isinstance(b, Fraction)}
        return {**found, **self.shape} if self.shape else found


_defs: ContextVar[dict[str, BlockDef] | None] = ContextVar("block_defs", default=None)
_readers: ContextVar[frozenset[str]] = ContextVar("block_readers", default=frozenset())
"""The blocks (lower-case) whose bodies read ``C``/``H``/``W``: built when walked."""
_frames: ContextVar[tuple[Frame, ...]] = ContextVar("block_frames", default=())


_spent: ContextVar[list[int] | None] = ContextVar("block_spent", default=None)
"""Raw items built for block calls so far: every call builds its body anew, so calls of
calls could otherwise multiply work without bound before the row limit is checked."""


@contextmanager
def defined(defs: dict[str, BlockDef]) -> Iterator[None]:
    """The definitions (by lower-case name) in force while a spec is built."""
    token, spent = _defs.set(defs), _spent.set([0])
    readers = _readers.set(frozenset(k for k, d in defs.items() if reads_shape(d.body)))
    try:
        yield
    finally:
        _defs.reset(token)
        _spent.reset(spent)
        _readers.reset(readers)


def lookup(name: str) -> BlockDef | None:
    """The block a call names: the file's own, else the built-in library's — but inside a
    library block's body, the library's (a file's ``se`` does not change the library's
    ``mbconv``)."""
    key = name.lower()
    defs = _defs.get() or {}
    current = frame()
    if key in defs and not (key in NAMES and current is not None and current.library):
        return defs[key]
    return library().blocks[key] if key in NAMES else None


def block_names() -> list[str]:
    defs = _defs.get()
    return [*(d.name for d in defs.values()), *NAMES] if defs else list(NAMES)


def frame() -> Frame | None:
    frames = _frames.get()
    return frames[-1] if frames else None


# --- numbers wherever a number goes --------------------------------------------------------

def _env_error(exc: expr.ExprError, text: str, place: str | None = None) -> ValueError:
    message = str(exc)
    names = expr.names(text) if not isinstance(exc, expr.ExprSyntaxError) else frozenset()
    current = frame()
    shape = sorted(n for n in names if n in RESERVED
                   and (current is None or current.shape is None or n not in current.shape))
    if shape and isinstance(exc, expr.UnknownName):
        if current is not None and current.input_shape is not None:
            has = ", ".join(current.shape or ())
            message = (f"{shape[0]} is not defined on this call's input "
                       f"{format_shape(current.input_shape)}: it has {has}")
        else:
            where = place or ("inside this call" if current is not None else "at the top level")
            message = (f"{shape[0]} (the input shape of a block call) is defined only inside "
                       f"a block's body, not {where}: write the number itself")
    return ValueError(f"'{clip(text)}': {message}")


def value_text(scalar: Scalar, whole_only: bool = False) -> str:
    """The text a converter reads for ``scalar``: itself when it is a literal or a word, the
    value of a parameter it names, or the exact value of the expression it is (a whole
    number where it must be). A problem is a :class:`ValueError` showing the arithmetic."""
    text = scalar.text.strip()
    current = frame()
    if current is not None and text in current.values:
        bound = current.values[text]
        if isinstance(bound, Fraction):
            return _number_text(bound, text, {text: bound}, whole_only)
        if isinstance(bound, Scalar):
            return bound.text
        raise ValueError(f"the parameter {text} is a layer, not a value")
    if text in RESERVED:
        if current is not None and current.shape is not None and text in current.shape:
            return str(current.shape[text])
        raise _env_error(expr.UnknownName("", 0, text, None), text)
    if expr.is_literal(text) or IDENT.fullmatch(text):
        return scalar.text
    try:
        tree = expr.parse(text)
    except expr.ExprSyntaxError:
        return scalar.text  # not an expression: the converter says what it expects
    env = current.numbers() if current is not None else {}
    try:
        value = expr.evaluate(tree, env)
    except expr.ExprError as exc:
        raise _env_error(exc, text) from None
    return _number_text(value, tree, env, whole_only)


def _number_text(value: Fraction, tree: expr.Expr | str, env: expr.Env, whole_only: bool) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    if whole_only:
        raise ValueError(f"{expr.arithmetic(tree, env, value)} is not a whole number")
    return repr(float(value))


def whole_or_message(scalar: Scalar, convert: Callable[[str], object]) -> object:
    """Convert ``scalar`` with ``convert``; a non-whole value a whole-only converter refuses
    is reported with its arithmetic."""
    text = value_text(scalar)
    try:
        return convert(text)
    except ValueError as exc:
        current = frame()
        if current is not None and IDENT.fullmatch(text.strip()):
            close = difflib.get_close_matches(text.strip(), list(current.values), n=1)
            hint = f"did you mean the parameter {close[0]}?" if close else \
                f"{current.block}'s parameters are {', '.join(current.values) or 'none'}"
            raise ValueError(f"{exc} ({hint})") from None
        whole = value_text(scalar, whole_only=True)  # raises with the arithmetic when not whole
        return convert(whole)


# --- calls -------------------------------------------------------------------------------

def _bind_value(raw: Value, env: Frame | None, numbers: dict[str, Fraction],
                place: str | None = None) -> Bound:
    """An argument's (or default's) value, evaluated where it is written (``place`` says
    where that is in a message)."""
    if not isinstance(raw, Scalar):
        return raw  # a layer or group (a layer-valued parameter)
    text = raw.text.strip()
    if "?" in text and unknowns.bad_part(text) is None:  # a call's `?` opens the call
        # before it is bound: a bare one here is a default's
        raise ValueError(f"'{clip(text)}': a default cannot be unknown (it would be one value "
                         "for every call); write the `?` in the calls")
    if env is not None and text in env.values:
        return env.values[text]
    if env is not None and env.shape is not None and text in env.shape:
        return env.shape[text]
    if text in numbers:
        return numbers[text]
    if expr.is_literal(text):
        if re.search(r"[x×]", text, re.IGNORECASE):
            return raw  # a per-axis size
        try:
            return v.exact(text)
        except ValueError as exc:
            raise ValueError(f"'{clip(text)}': {exc}") from None
    if IDENT.fullmatch(text) and text not in RESERVED:
        return raw  # a word: a flag, a padding, a layer's name
    try:
        tree = expr.parse(text)
    except expr.ExprSyntaxError:
        return raw
    try:
        return expr.evaluate(tree, {**(env.numbers() if env else {}), **numbers})
    except expr.UnknownName as exc:
        if exc.name.lower() in LAYERS or lookup(exc.name) is not None:
            return raw  # a layer repeated (`bn * 2`): a layer-valued argument
        raise _env_error(exc, text, place) from None
    except expr.ExprError as exc:
        raise _env_error(exc, text, place) from None


def bind(call: Call, defn: BlockDef) -> tuple[dict[str, Bound], list[Finding]]:
    """A call's arguments bound to the block's parameters, with the same unknown / missing /
    duplicate / too-many problems (A002–A005) as a layer's, located at the call."""
    params = {p.name: p for p in defn.params}
    given: dict[str, Value] = {}
    refused: set[str] = set()
    findings: list[Finding] = []
    n_pos = 0
    signature = f"{defn.name}({', '.join(p.name for p in defn.params)})"
    for raw in call.args:
        if raw.key is None:
            if n_pos >= len(defn.params):
                findings.append(Finding(
                    "A005", f"{defn.name} takes {len(defn.params)} argument"
                    f"{'' if len(defn.params) == 1 else 's'}; "
                    f"'{clip(_raw(raw.value))}' is one too many", (signature,),
                    location=raw.location))
                continue
            param = defn.params[n_pos]
            n_pos += 1
        else:
            found = params.get(raw.key)
            if found is None:
                close = difflib.get_close_matches(raw.key, list(params), n=3, cutoff=0.6)
                findings.append(Finding(
                    "A002", f"{defn.name} has no parameter '{clip(raw.key)}'",
                    tuple(f"did you mean '{c}'?" for c in close) or (signature,),
                    location=raw.location))
                continue
            param = found
        if param.name in given:
            findings.append(Finding("A003", f"{param.name} is given twice", (),
                                    location=raw.location))
            continue
        ref = next((r for r in raw_items(raw.value) if isinstance(r, Ref)), None)
        if ref is not None:  # spec §9: a block reads its input from the stream, never an @name
            findings.append(Finding(
                "A006", f"@{ref.name} cannot be an argument of a block call: a block's input is "
                "the tensor before it", (f"route first: @{ref.name} -> {defn.name}(…)",),
                location=ref.location))
            refused.add(param.name)
            continue
        given[param.name] = raw.value
    values: dict[str, Bound] = {}
    numbers: dict[str, Fraction] = {}
    caller = frame()
    for p in defn.params:
        if p.name in given and any(isinstance(r, Ref) for r in raw_items(given[p.name])):
            continue  # refused above
        try:
            if p.name in given:
                bound = _bind_value(given[p.name], caller, {})
            elif p.default is not None:  # evaluated at the call, after earlier parameters
                bound = _bind_value(p.default, None, numbers, "in a block's defaults")
            elif p.name in refused:
                continue  # given, but refused above
            else:
                findings.append(Finding("A004", f"{defn.name} needs {p.name}", (signature,),
                                        location=call.location))
                continue
        except ValueError as exc:
            if p.name not in given and findings:
                continue  # a default that reads a missing or misspelt argument: said already
            where = given[p.name].location if p.name in given else call.location
            findings.append(Finding("A006", f"{defn.name} {p.name}: {exc}", (), location=where))
            continue
        values[p.name] = bound
        if isinstance(bound, Fraction):
            numbers[p.name] = bound
    return values, findings


def _raw(value: Value) -> str:
    return value.text if isinstance(value, Scalar) else "…"


def label(call: Call, values: dict[str, Bound], defn: BlockDef) -> str:
    """The call as a row shows it, its arguments evaluated: ``resblock(128, stride=2)``."""
    parts: list[str] = []
    for i, raw in enumerate(call.args):
        name = raw.key if raw.key is not None else defn.params[i].name
        text = _show(values[name]) if name in values else clip(_raw(raw.value), 30)
        parts.append(f"{raw.key}={text}" if raw.key is not None else text)
    return f"{call.name}({', '.join(parts)})" if parts else call.name


def _literal(bound: Bound) -> int | float | str:
    """A parameter's value as the exported ``arguments`` hold it."""
    if isinstance(bound, Fraction):
        return bound.numerator if bound.denominator == 1 else float(bound)
    return bound.text if isinstance(bound, Scalar) else raw_text(bound)


def _show(bound: Bound) -> str:
    """A parameter's value as a row or ``explain`` writes it: ``128``, ``3x3``, ``relu``."""
    if isinstance(bound, Fraction):
        return expr.show(bound)
    return clip(bound.text if isinstance(bound, Scalar) else raw_text(bound), 30)


def cycle(defn: BlockDef) -> Finding | None:
    """A call of a block that is being built already (recursion, the cycle shown), or one
    nested deeper than :data:`MAX_CALL_DEPTH`."""
    names = [f.block for f in _frames.get()]
    if defn.name.lower() in (n.lower() for n in names):
        start = [n.lower() for n in names].index(defn.name.lower())
        path = " → ".join([*names[start:], defn.name])
        return Finding("G017", f"block {defn.name} calls itself: {path}",
                       ("a block cannot call itself, directly or through others",))
    if len(names) >= MAX_CALL_DEPTH:
        return Finding("S009", f"block calls nested more than {MAX_CALL_DEPTH} deep "
                       f"({' → '.join(names[:3])} → …)")
    return None


def expand(call: Call, defn: BlockDef, values: dict[str, Bound],
           build_group: Callable[[RawGroup], Group], text: str) -> Node:
    """The call's row: the body built with the call's values in force — now, or (a body
    that reads ``C``/``H``/``W``) when the walk reaches the call and knows its input."""
    size = sum(1 for _ in raw_items(defn.body))
    spent = _spent.get()
    if spent is not None:
        spent[0] += size
        if spent[0] > v.MAX_REPEAT:
            raise syntax_error("S009", f"the block calls expand to more than {v.MAX_REPEAT:,} "
                               "layers, cnncalc's limit", call.location,
                               ("call fewer blocks, or repeat one call with * N",))
    reads_input = any(isinstance(r, Ref) and r.name == INPUT for r in raw_items(defn.body))
    hidden = f"_input_{defn.name.lower()}_{spent[0] if spent else 0}" if reads_input else None
    here = Frame(defn.name, values, hidden, library=defn.library)
    shown = ", ".join(f"{k}={_show(b)}" for k, b in values.items())
    literals = tuple((k, _literal(b)) for k, b in values.items())

    def called(body: Group, pending: Callable[[Shape], Group] | None = None,
               estimate: int = 0) -> Called:
        return Called(1, body, location=call.location, call=text, input_name=hidden,
                      pending=pending, estimate=estimate, arguments=shown,
                      library=defn.library, block=defn.name, signature=defn.signature(),
                      values=literals)

    readers = library().readers if defn.library else _readers.get()
    if defn.name.lower() not in readers:
        return called(_body(defn, here, build_group))
    context = copy_context()  # the definitions, the calls around this one, the budgets
    built: dict[Shape, Group] = {}
    """The body per input shape: a call repeated (``* N``) or walked again to check a fix
    is built once for each input it gets, not once per walk."""

    def pending(inp: Shape) -> Group:
        if inp not in built:
            at = replace(here, shape=shape_values(inp), input_shape=inp)
            built[inp] = context.run(_body, defn, at, build_group)
        return built[inp]

    return called((), pending, size)


def _body(defn: BlockDef, at: Frame, build_group: Callable[[RawGroup], Group]) -> Group:
    """The body built in a scope of its own (it sees only its own names) with ``at`` the
    innermost call."""
    token = _frames.set((*_frames.get(), at))
    try:
        with opened(Scope.top(defn.body)):
            return build_group(defn.body)
    finally:
        _frames.reset(token)


def route_name(name: str) -> str:
    """The tensor ``@name`` reads: ``@input`` inside a block body is the call's input."""
    current = frame()
    if name == INPUT and current is not None and current.input_name is not None:
        return current.input_name
    return name


# --- definitions ---------------------------------------------------------------------------

def used_names(value: Value | None) -> Iterator[str]:
    """Every identifier written in a raw value (a parameter is used if its name is one)."""
    for item in raw_items(value):
        if isinstance(item, Scalar):
            yield from IDENT.findall(item.text)
        elif isinstance(item, Call):
            yield item.name


def check_params(defn: BlockDef) -> Iterator[tuple[str, str, Location, bool]]:
    """Problems of a definition's parameters: (code, message, where, is_error)."""
    seen: set[str] = set()
    defaulted = False
    for p in defn.params:
        if p.name in RESERVED:
            yield ("A006", f"a parameter may not be called {p.name}: inside a body C, H, W "
                   "(L; D) are the call's input shape", p.location, True)
        if p.name in seen:
            yield ("A003", f"{defn.name} has two parameters called {p.name}", p.location, True)
        seen.add(p.name)
        if p.default is None and defaulted:
            yield ("A006", f"{defn.name}: the parameter {p.name} has no default but one before "
                   "it has", p.location, True)
        defaulted = defaulted or p.default is not None
    used = set(used_names(defn.body))
    for p in defn.params:
        used.update(used_names(p.default))
    for p in defn.params:
        if p.name not in used and p.name not in RESERVED:
            yield ("G019", f"{defn.name}'s parameter {p.name} is never used", p.location, False)


def definitions(blocks: tuple[BlockDef, ...], problems: list[Problem],
                kinds: Mapping[str, object], override: bool = False) -> dict[str, BlockDef]:
    """A YAML file's blocks by lower-case name (spec §10); a definition that shadows a layer
    kind, or is given twice, is an error; one that shadows a library block a warning unless
    ``override``; an unused parameter a warning."""
    defs: dict[str, BlockDef] = {}
    for d in blocks:
        key, path = d.name.lower(), f"blocks.{d.name}"
        if key in kinds or key == "add":
            problems.append(Problem(Severity.ERROR, "G018", f"the block {d.name} has the name "
                                    "of a built-in layer kind", path, d.location,
                                    (f"rename the block, e.g. my_{d.name}",)))
            continue
        if key in defs:
            first = defs[key].location
            problems.append(Problem(Severity.ERROR, "A003", f"the block {d.name} is defined "
                                    f"twice (first at line {first.line}, column {first.column}; "
                                    "block names are case-insensitive)", path, d.location,
                                    ("rename one of them",)))
            continue
        if key in NAMES and not override:
            problems.append(Problem(Severity.WARNING, "G020", f"the block {d.name} shadows the "
                                    f"built-in library's {key}: this file's calls use its own",
                                    path, d.location, ("rename it, or put `override: true` at "
                                                       "the top of the file",)))
        for code, message, loc, is_error in check_params(d):
            problems.append(Problem(Severity.ERROR if is_error else Severity.WARNING, code,
                                    message, path, loc, ()))
        defs[key] = d
    return defs


__all__ = ["Called", "bind", "check_params", "cycle", "defined", "definitions", "expand", "lookup",
           "value_text"]
