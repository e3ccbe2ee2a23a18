"""The raw syntax tree both spec forms parse into, before any layer kind is known.

Every node keeps the :class:`~cnncalc.diagnostics.Location` it was written at,
so that every later problem can point at its line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..diagnostics import Location


def clip(text: str, width: int = 60) -> str:
    r"""A spec's text as quoted in a message: at most ``width`` characters, one line.

    >>> clip("a" * 100, 10), clip("two\nlines")
    ('aaaaaaaaa…', 'two\\nlines')
    """
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= width else text[:width - 1] + "…"


@dataclass(frozen=True, slots=True)
class Scalar:
    """A value exactly as written: ``10``, ``3x5``, ``same``, ``1.5M``."""

    text: str
    location: Location
    from_yaml: bool = False


@dataclass(frozen=True, slots=True)
class Arg:
    key: str | None
    value: Value
    location: Location


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args…)``, or a YAML mapping ``name: value``."""

    name: str
    args: tuple[Arg, ...]
    location: Location
    as_name: Scalar | None = None
    """``as NAME`` written after the item (§9), with where the name was written."""


@dataclass(frozen=True, slots=True)
class RawGroup:
    """``[a -> b]``, a YAML list, or a line ``a -> b``."""

    items: tuple[Item, ...]
    location: Location
    as_name: Scalar | None = None


@dataclass(frozen=True, slots=True)
class RawList:
    """A YAML list given as an argument: branches of ``concat``, or one group's items."""

    groups: tuple[Value, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class Times:
    """``[ ... ] * N``."""

    body: Item
    times: Scalar
    location: Location
    as_name: Scalar | None = None


@dataclass(frozen=True, slots=True)
class Ref:
    """``@NAME``: a named tensor (§9), as an item (a route) or a join's branch."""

    name: str
    location: Location
    as_name: Scalar | None = None


Item = Call | RawGroup | Times | Scalar | Ref
Value = Scalar | RawGroup | RawList | Call | Times | Ref


@dataclass(frozen=True, slots=True)
class Param:
    """A block parameter (spec §10): its name and, after ``=``, its default as written."""

    name: str
    default: Value | None
    location: Location


@dataclass(frozen=True, slots=True)
class BlockDef:
    """A YAML ``blocks:`` entry: ``name(params): body``."""

    name: str
    params: tuple[Param, ...]
    body: RawGroup
    location: Location
    library: bool = False
    """One of the built-in library's blocks (cnncalc/spec/library.yaml)."""

    def signature(self) -> str:
        """``name(params)`` with the defaults as written: ``se(squeeze, act=relu)``."""
        params = ", ".join(p.name if p.default is None else f"{p.name}={raw_text(p.default)}"
                           for p in self.params)
        return f"{self.name}({params})"


@dataclass(frozen=True, slots=True)
class RawSpec:
    """A whole spec: input, layers, and (YAML only) name, mode and expectations."""

    layers: RawGroup
    input: Value | None = None
    name: str | None = None
    description: str | None = None
    mode: Scalar | None = None
    expect: dict[str, tuple[Value, Location]] = field(default_factory=dict)
    blocks: tuple[BlockDef, ...] = ()
    override: Scalar | None = None
    """``override: true``: the file's blocks may shadow library blocks without a warning."""


def raw_text(value: Value | None) -> str:
    """Write a raw value back as one-line text (for messages)."""
    if value is None:
        return ""
    if isinstance(value, Scalar):
        return value.text
    if isinstance(value, RawList):
        return ", ".join(raw_text(g) for g in value.groups)
    if isinstance(value, Call):
        args = ", ".join((f"{a.key}=" if a.key else "") + raw_text(a.value) for a in value.args)
        text = f"{value.name}({args})" if value.args else value.name
    elif isinstance(value, Times):
        text = f"{raw_text(value.body)} * {value.times.text}"
    elif isinstance(value, Ref):
        text = f"@{value.name}"
    else:
        text = "[" + " -> ".join(raw_text(i) for i in value.items) + "]"
    return f"{text} as {value.as_name.text}" if value.as_name else text


RESERVED = ("C", "H", "W", "L", "D")
"""The names of a call's input shape inside a block body (spec §10); never a parameter's."""

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def raw_items(value: Value | None) -> Iterator[Value]:
    """Every raw value inside ``value``, itself included."""
    stack: list[Value | None] = [value]
    while stack:
        item = stack.pop()
        if item is None:
            continue
        yield item
        if isinstance(item, Scalar):
            continue
        if isinstance(item, Call):
            stack.extend(a.value for a in item.args)
        elif isinstance(item, Times):
            stack.extend((item.body, item.times))
        elif isinstance(item, RawGroup):
            stack.extend(item.items)
        elif isinstance(item, RawList):
            stack.extend(item.groups)


def reads_shape(body: Value) -> bool:
    """Whether a body names ``C``, ``H``, ``W``, ``L`` or ``D`` anywhere (in its layers'
    arguments, its repeat counts, the arguments of the calls it makes)."""
    return any(isinstance(item, Scalar) and not set(IDENT.findall(item.text)).isdisjoint(RESERVED)
               for item in raw_items(body))
