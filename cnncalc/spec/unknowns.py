"""Unknowns: ``?`` (or ``?name``, shared) written where a whole number goes — a layer's
padding, stride, kernel, filters, dilation, output padding, a block call's argument, or one
size of the input (``?x?x3``). ``cnncalc solve`` finds their values (:mod:`cnncalc.design`).

The builder turns a layer or block call holding unknowns into an :class:`Open` node. Every
other command analyses it as an error at each ``?`` (A006: solve it first); the solver's walk
*binds* it — :meth:`Open.bind` rebuilds the call with numbers in place of the ``?`` — once
per occurrence: a ``?`` inside ``[...] * 3`` or a block body is one unknown per repetition or
call (its walk path tells them apart), unless it is named.

:class:`Invalid`, the node of a call that could not be built, lives here too: to every other
command an open call is one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import ClassVar

from ..diagnostics import Finding, Location
from ..layers import Layer, Node
from ..shapes import Shape
from .syntax import Arg, Call, Scalar, raw_text

UNKNOWN = re.compile(r"^\?([A-Za-z_][A-Za-z0-9_]*)?$")
"""One unknown: ``?`` or ``?name``."""

def has_unknown(text: str) -> bool:
    return "?" in text


def components(text: str) -> list[str]:
    """The per-axis parts of a size that holds unknowns: ``?hx?wx3`` → ``['?h', '?w', '3']``.

    A name may hold an ``x`` (``?max``): a part ends at an ``x`` that a digit or ``?`` follows.

    >>> components("?x?x3"), components("?hx?wx3"), components("?max"), components("224x?")
    (['?', '?', '3'], ['?h', '?w', '3'], ['?max'], ['224', '?'])
    """
    return re.split(r"[x×](?=[0-9?])", text.strip(), flags=re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Site:
    """One ``?`` as written in the spec."""

    index: int
    """Its place among the spec's unknowns, in reading order."""
    name: str | None
    """``p`` for ``?p`` (every ``?p`` is one value); None for an anonymous ``?``."""
    location: Location
    owner: str
    """The layer kind or block it belongs to (``conv``), or ``input``."""
    argument: str
    """The argument it stands for (``padding``), or the input's axis (``height``)."""
    axis: int | None = None
    """Which per-axis part it is (``p=?x0``: 0), None when it is the whole value."""

    @property
    def text(self) -> str:
        return "?" + (self.name or "")

    def describe(self) -> str:
        """``padding of conv (line 1, column 27)``."""
        part = f" (axis {self.axis + 1})" if self.axis is not None else ""
        where = f"line {self.location.line}, column {self.location.column}"
        return f"{self.argument}{part} of {self.owner} ({where})"


_sites: ContextVar[dict[tuple[int, int, int], Site] | None] = ContextVar("sites", default=None)


def collecting() -> dict[tuple[int, int, int], Site]:
    """Start recording the sites a build meets (the builder reads them back at its end)."""
    found: dict[tuple[int, int, int], Site] = {}
    _sites.set(found)
    return found


def site(location: Location, part: int, text: str, owner: str, argument: str,
         axis: int | None) -> Site:
    """The site written at ``location`` (part ``part`` of its size), recorded once however
    many times a block body holding it is built."""
    found = _sites.get()
    key = (location.line, location.column, part)
    if found is not None and key in found:
        return found[key]
    m = UNKNOWN.match(text)
    made = Site(len(found or ()), m.group(1) if m else None, location, owner, argument, axis)
    if found is not None:
        found[key] = made
    return made


@dataclass(frozen=True, slots=True)
class Hole:
    """Where one site sits in an open call: argument ``arg`` (an index into its args), part
    ``part`` of that argument's size."""

    arg: int
    part: int
    site: Site


Key = str | tuple[str, int]
"""An unknown's identity in a solution: ``?name`` for a named one (one value everywhere),
else (walk path, site index): one unknown per occurrence."""


def key(s: Site, path: str) -> Key:
    return s.text if s.name else (path, s.index)


def fill(text: str, values: Mapping[int, int]) -> str:
    """``text`` with part ``i`` replaced by ``values[i]``.

    >>> fill("?x0", {0: 2}), fill("?", {0: 3})
    ('2x0', '3')
    """
    parts = components(text)
    return "x".join(str(values[i]) if i in values else p for i, p in enumerate(parts))


def filled(call: Call, holes: tuple[Hole, ...], values: Mapping[Site, int]) -> Call:
    """``call`` with each hole's ``?`` replaced by its site's value."""
    by_arg: dict[int, dict[int, int]] = {}
    for h in holes:
        by_arg.setdefault(h.arg, {})[h.part] = values[h.site]
    args = list(call.args)
    for i, parts in by_arg.items():
        a = args[i]
        assert isinstance(a.value, Scalar)  # a hole is only ever made in a scalar
        args[i] = Arg(a.key, replace(a.value, text=fill(a.value.text, parts)), a.location)
    return replace(call, args=tuple(args))


@dataclass(frozen=True)
class Invalid(Layer):
    """A layer that could not be built; analysis reports its findings and stops there."""

    name: ClassVar[str] = "invalid"
    text: str = ""
    findings: tuple[Finding, ...] = ()

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from self.findings

    def check_alone(self) -> Iterator[Finding]:
        yield from self.findings

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True)
class Open(Invalid):
    """A layer or block call with unknowns: to every command but ``solve`` a layer that could
    not be built, with an A006 at each ``?`` (its ``findings``, made once: a call repeated
    100,000 times shares them); ``solve``'s walk binds it to numbers (:meth:`bind`)."""

    name: ClassVar[str] = "unknown"
    unknown: ClassVar[bool] = True
    call: Call | None = None
    holes: tuple[Hole, ...] = ()
    rebuild: Callable[[Call], Node] | None = None
    """Builds the call with numbers in place of the ``?``, where the call was written (its
    block's parameters in scope)."""

    @classmethod
    def make(cls, call: Call, holes: tuple[Hole, ...], rebuild: Callable[[Call], Node],
             location: Location) -> Open:
        findings = tuple(Finding(
            "A006", f"{h.site.argument} {h.site.text} is unknown: `cnncalc solve` finds the "
            "values that work", (f"cnncalc solve SPEC, or write a number for {h.site.text}",),
            fatal=n == len(holes) - 1, location=h.site.location) for n, h in enumerate(holes))
        return cls(call=call, holes=holes, rebuild=rebuild, findings=findings,
                   text=raw_text(call), location=location)

    def sites(self) -> tuple[Site, ...]:
        return tuple(dict.fromkeys(h.site for h in self.holes))

    def bind(self, values: Mapping[Site, int]) -> Node:
        """The node with these values for its sites (built where it was written)."""
        assert self.call is not None and self.rebuild is not None  # the builder sets both
        node = self.rebuild(filled(self.call, self.holes, values))
        return replace(node, location=self.location, tensor=self.tensor)


def unknown_parts(text: str) -> list[tuple[int, str]]:
    """The parts of a size that are unknowns, with their index.

    >>> unknown_parts("?x0"), unknown_parts("3")
    ([(0, '?')], [])
    """
    return [(i, p) for i, p in enumerate(components(text)) if has_unknown(p)]


def bad_part(text: str) -> str | None:
    """What is wrong with a size holding ``?``, or None: each part is a whole number, ``?``
    or ``?name``.

    >>> bad_part("?x3"), bad_part("2*?")[:25]
    (None, "'2*?' is not an unknown: ")
    """
    if all(p.isdigit() or UNKNOWN.match(p) for p in components(text)):
        return None
    return (f"'{text.strip()}' is not an unknown: `?` stands for a whole number (or one size "
            "of HxW), not part of an expression")


__all__ = ["Hole", "Invalid", "Key", "Open", "Site", "bad_part", "collecting", "components", "fill",
           "filled", "has_unknown", "key", "site", "unknown_parts"]
