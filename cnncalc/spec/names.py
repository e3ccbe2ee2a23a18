"""Lexical scopes of named tensors (spec §9), checked while the builder types a spec.

A name (``as NAME``) is visible after its definition in the same group and in the groups
inside it; every ``[...]``, branch and repeated body is a group of its own, so each
repetition has its own names. Names are identifier-like (letters, digits, ``_``), at most
:data:`~cnncalc.spec.oneline.MAX_NAME` characters, and case-sensitive; they live apart from
layer names (``as conv`` is allowed: ``@conv`` can only mean the tensor). ``input`` is
always the network's input and cannot be redefined.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from ..diagnostics import Finding, Location
from .syntax import Call, RawGroup, RawList, Times, Value

INPUT = "input"
"""The name every spec's input has (``@input``)."""


@dataclass
class Names:
    """What the whole spec defines: every name so far (first definition) and every name
    written anywhere in the raw tree (to tell "used before its definition" from "unknown")."""

    defined: dict[str, Location] = field(default_factory=dict)
    written: dict[str, Location] = field(default_factory=dict)


@dataclass
class Scope:
    names: dict[str, Location]
    parent: Scope | None
    spec: Names

    @classmethod
    def top(cls, raw: Value | None = None) -> Scope:
        return cls({}, None, Names(written=dict(written_names(raw)) if raw else {}))

    def lookup(self, name: str) -> Location | None:
        scope: Scope | None = self
        while scope is not None:
            if (loc := scope.names.get(name)) is not None:
                return loc
            scope = scope.parent
        return None

    def visible(self) -> list[str]:
        out: list[str] = [INPUT]
        scope: Scope | None = self
        while scope is not None:
            out += scope.names
            scope = scope.parent
        return out


_scope: ContextVar[Scope | None] = ContextVar("scope", default=None)


@contextmanager
def opened(scope: Scope) -> Iterator[Scope]:
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


@contextmanager
def scoped() -> Iterator[Scope]:
    """A group's own scope inside the current one (a new top scope outside any build)."""
    parent = _scope.get()
    with opened(Scope({}, parent, parent.spec) if parent else Scope.top()) as scope:
        yield scope


def _current() -> Scope:
    scope = _scope.get()
    if scope is None:  # a group built outside build(): its own top scope
        scope = Scope.top()
        _scope.set(scope)
    return scope


def where(loc: Location) -> str:
    return f"line {loc.line}, column {loc.column}"


def define(name: str, loc: Location) -> Finding | None:
    """Define ``name`` in the current scope, or the G015 finding when it is visible already."""
    scope = _current()
    if name == INPUT:
        return Finding("G015", "'input' is the network's input (@input): it cannot be "
                       "redefined", (f"choose another name, e.g. {name}2",), location=loc)
    first = scope.lookup(name)
    if first is not None:
        return Finding("G015", f"'{name}' is already defined at {where(first)} and visible "
                       "here: a name is defined once in its scope",
                       (f"choose another name, e.g. {name}2",), location=loc)
    scope.names[name] = loc
    scope.spec.defined.setdefault(name, loc)
    return None


def resolve_name(name: str, loc: Location,
                 close: Callable[[str, Callable[[], list[str]]], list[str]]) -> Finding | None:
    """None when ``@name`` is visible here; else G016 (defined, but elsewhere or later) or
    G014 (defined nowhere) with the did-you-mean (``close`` asks for the visible names only
    while it still searches: a spec of thousands of unknown names stays linear)."""
    scope = _current()
    if name == INPUT or scope.lookup(name) is not None:
        return None
    if (there := scope.spec.defined.get(name)) is not None:
        return Finding("G016", f"'@{name}' is out of scope here: '{name}' is defined at "
                       f"{where(there)}, in a group that has ended (a [...] group, a branch "
                       "or one repetition sees only its own names and those around it)",
                       ("define the name in this group or in one around it",), location=loc)
    later = scope.spec.written.get(name)
    if later is not None and (later.line, later.column) > (loc.line, loc.column):
        return Finding("G016", f"'@{name}' is used before its definition at {where(later)}",
                       ("move the definition before this use",), location=loc)
    near = close(name, scope.visible)
    return Finding("G014", f"unknown tensor '@{name}': no `as {name}` defines it",
                   tuple(f"did you mean '@{c}'?" for c in near)
                   or (f"name a tensor first, e.g. conv(64, 3) as {name}",), location=loc)


def written_names(raw: Value) -> Iterator[tuple[str, Location]]:
    """Every ``as`` name in a raw tree (its first place), without building anything."""
    seen: set[str] = set()
    stack: list[Value] = [raw]
    while stack:
        item = stack.pop()
        as_name = getattr(item, "as_name", None)
        if as_name is not None and as_name.text not in seen:
            seen.add(as_name.text)
            yield as_name.text, as_name.location
        if isinstance(item, RawGroup):
            stack.extend(item.items)
        elif isinstance(item, RawList):
            stack.extend(item.groups)
        elif isinstance(item, Times):
            stack.append(item.body)
        elif isinstance(item, Call):
            stack.extend(a.value for a in item.args)


__all__ = ["INPUT", "Scope", "define", "opened", "resolve_name", "scoped", "written_names"]
