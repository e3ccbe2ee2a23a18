"""Blocks: ``repeat``, ``residual`` and ``concat`` hold groups of layers and say how
their groups combine."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from .. import values as v
from ..diagnostics import Finding, Fix
from ..shapes import Shape, format_shape, is_volume
from .base import GROUP, Array, Block, Group, Node, arg, describe_group, kernels
from .conv import Conv
from .norm import BatchNorm
from .reshape import FC
from .window import written


@dataclass(frozen=True, eq=False, repr=False)
class Repeat(Block):
    """The group N times, one after another (``[...] * N``).

    >>> Repeat(3, (Conv(8, (3, 3)), BatchNorm())).describe()
    '[conv(8, 3) -> bn] * 3'
    """

    name: ClassVar[str] = "repeat"
    formula: ClassVar[str] = "the group applied N times in sequence; params N × the group's"
    chained: ClassVar[bool] = True

    times: int = arg(v.repeat_count, positional=True)
    layers: Group = arg(GROUP, positional=True)

    def groups(self) -> Sequence[Group]:
        # An empty group repeated is the identity however often: no groups to walk.
        return [self.layers] * self.times if self.layers else []

    def describe(self) -> str:
        return f"{describe_group(self.layers)} * {self.times}"

    def label(self) -> str:
        return f"repeat × {self.times}"

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        return sequence(parts)

    def expanded_size(self, size_of: Callable[[Group], int]) -> int:
        return self.times * size_of(self.layers)  # without building the N-item list


def first_flattener(group: Group) -> Node | None:
    """The first fc or flatten in ``group`` (pre-order, blocks searched), or None."""
    stack = list(reversed(group))
    while stack:
        node = stack.pop()
        if node.flattens:
            return node
        if isinstance(node, Block):
            for g in reversed([node.layers] if isinstance(node, Repeat) else node.groups()):
                stack.extend(reversed(g))
    return None


@dataclass(frozen=True, eq=False, repr=False)
class Residual(Block):
    """body(x) + shortcut(x); the shortcut is the identity unless given.

    Both must give the same shape; params are the sum.

    >>> Residual((Conv(64, (3, 3)),)).join((8, 8, 64), [(6, 6, 64), (8, 8, 64)])[1][0].code
    'G007'
    """

    name: ClassVar[str] = "residual"
    join_pins_channels: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G007"})
    formula: ClassVar[str] = "body(x) + shortcut(x): shapes must match; params body + shortcut"

    torch_helper: ClassVar[str] = '''\
class Residual(nn.Module):
    """body(x) + shortcut(x)."""

    def __init__(self, body: nn.Module, shortcut: nn.Module) -> None:
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)'''

    body: Group = arg(GROUP, positional=True)
    shortcut: Group = arg(GROUP, ())

    def groups(self) -> Sequence[Group]:
        return [self.body, self.shortcut]

    def label(self) -> str:
        return "residual (projection shortcut)" if self.shortcut else "residual"

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        return f"Residual({parts[0]}, {parts[1]})"  # the class: `torch_helper`

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        body, shortcut = outs
        if body == shortcut:
            return body, []
        fixes: list[Fix] = []
        if is_volume(inp) and is_volume(body) and len(inp) == len(body):
            strides = tuple(n // o for n, o in zip(inp[:-1], body[:-1], strict=True))
            if all(o * s == n for n, o, s in zip(inp[:-1], body[:-1], strides, strict=True)):
                projection = (Conv(body[-1], (1,), stride=written(strides), bias=False),
                              BatchNorm())
                fixes.append(Fix(f"shortcut={describe_group(projection)}", self,
                                 (dataclasses.replace(self, shortcut=projection),)))
        what = "the identity shortcut" if not self.shortcut else "the shortcut"
        notes = {0: "", 1: ""}
        prose: list[str] = []
        for i, (group, out, other) in enumerate(((self.body, body, shortcut),
                                                 (self.shortcut, shortcut, body))):
            flattener = first_flattener(group) if is_volume(inp) and not is_volume(out) else None
            if flattener is None:
                continue
            notes[i] = (f" (a flat vector: {flattener.describe()} flattened the "
                        f"{format_shape(inp)} volume)")
            keep = (f"or use conv({other[-1]}, 1) to mix channels and keep H×W"
                    if is_volume(other) and isinstance(flattener, FC) else "")
            prose.append(f"a residual adds volumes: move {flattener.describe()} after the "
                         f"residual{', ' + keep if keep else ''}")
        return None, [Finding("G007", f"the body gives {format_shape(body)}{notes[0]} but {what} "
                              f"gives {format_shape(shortcut)}{notes[1]}: they cannot be added",
                              tuple(prose), fatal=True, fixes=tuple(fixes))]

    def merge(self, arrays: Sequence[Array]) -> Array:
        return kernels.add(arrays[0], arrays[1])


@dataclass(frozen=True, eq=False, repr=False)
class Concat(Block):
    """Branches side by side along the channels (Inception, DenseNet).

    All branches must agree on H×W; channels add up.

    >>> Concat(((Conv(16, (1, 1)),), (Conv(8, (1, 1)),))).join((7, 7, 3), [(7, 7, 16), (7, 7, 8)])
    ((7, 7, 24), [])
    """

    name: ClassVar[str] = "concat"
    codes: ClassVar[frozenset[str]] = frozenset({"G008"})
    formula: ClassVar[str] = "branches stacked along C: H×W must agree; params the sum"

    torch_helper: ClassVar[str] = '''\
class Concat(nn.Module):
    """Branches side by side along the channels."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)'''

    branches: tuple[Group, ...] = arg(GROUP, positional=True, variadic=True)

    def groups(self) -> Sequence[Group]:
        return self.branches

    def label(self) -> str:
        return f"concat ({len(self.branches)} branches)"

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        return f"Concat({', '.join(parts)})"  # the class: `torch_helper`

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        if all(len(o) == 1 for o in outs):
            return (sum(o[0] for o in outs),), []
        if all(is_volume(o) and o[:-1] == outs[0][:-1] for o in outs):
            return (*outs[0][:-1], sum(o[-1] for o in outs)), []
        listed = ", ".join(format_shape(o) for o in outs)
        return None, [Finding("G008", f"the branches give {listed}: concatenated branches must "
                              "agree on H×W", ("give every branch the same stride and padding",),
                              fatal=True)]

    def merge(self, arrays: Sequence[Array]) -> Array:
        return kernels.concat(list(arrays))
