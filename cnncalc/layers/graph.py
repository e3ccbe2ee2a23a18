"""Named tensors (spec §9): ``@NAME`` routes and ``add(@a, …)``.

These are syntax rather than layer kinds (not in :data:`~cnncalc.layers.LAYERS`): the
builder makes a :class:`Route` of every ``@NAME`` and an :class:`Add` of ``add(@a, …)``,
and the walk, the forward pass and the export resolve the names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..diagnostics import Finding
from ..shapes import Shape, format_shape
from .base import GROUP, Array, Block, Group, Layer, arg, kernels


@dataclass(frozen=True, eq=False, repr=False)
class Route(Layer):
    """``@NAME``: continues from the named tensor, whatever the current one is.

    >>> Route("enc1").describe()
    '@enc1'
    """

    name: ClassVar[str] = "route"
    reads: ClassVar[bool] = True
    formula: ClassVar[str] = "the named tensor, as it is: no parameters, no work"

    target: str = arg(str, positional=True)

    def route_target(self) -> str:
        return self.target

    def describe(self) -> str:
        return f"@{self.target}"

    def label(self) -> str:
        return self.describe()

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        return [f"the tensor named {self.target}, {format_shape(out)}, as it is: no parameters, "
                "no work"]


@dataclass(frozen=True, eq=False, repr=False)
class Add(Block):
    """``add(@a, …)``: the current tensor plus the named ones; every shape must be equal.

    >>> add = Add(((Route("a"),),))
    >>> add.describe(), add.join((8, 8, 4), [(8, 8, 4), (8, 8, 4)])
    ('add(@a)', ((8, 8, 4), []))
    >>> add.join((8, 8, 4), [(8, 8, 4), (4, 4, 4)])[1][0].code
    'G007'
    """

    name: ClassVar[str] = "add"
    join_pins_channels: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G007"})
    formula: ClassVar[str] = "x + @a + …: every shape must be equal; no parameters"

    branches: tuple[Group, ...] = arg(GROUP, positional=True, variadic=True)

    def groups(self) -> Sequence[Group]:
        return ((), *self.branches)

    def describe(self) -> str:
        return "add(" + ", ".join(" -> ".join(n.written() for n in g) for g in self.branches) \
            + ")"

    def label(self) -> str:
        return self.describe()

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        raise NotImplementedError  # the export writes the sum in forward()

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        if all(o == inp for o in outs):
            return inp, []
        listed = ", ".join(format_shape(o) for o in outs)
        return None, [Finding("G007", f"add sums {listed}: every tensor must have the same "
                              "shape", ("add only tensors of the current tensor's shape, "
                                        f"{format_shape(inp)}",), fatal=True)]

    def torch_join(self, x: str, outs: Sequence[str]) -> str:
        return " + ".join(outs)

    def explain_block(self, inp: Shape, outs: Sequence[Shape], out: Shape) -> list[str]:
        return [f"{' + '.join(format_shape(o) for o in outs)} = {format_shape(out)}"]

    def merge(self, arrays: Sequence[Array]) -> Array:
        total = arrays[0]
        for a in arrays[1:]:
            total = kernels.add(total, a)
        return total


__all__ = ["Add", "Route"]
