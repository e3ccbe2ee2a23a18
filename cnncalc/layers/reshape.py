"""Layers that reshape or pass through: ``identity``, ``dropout``, ``flatten``, ``fc``,
``pad`` and ``upsample``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from .. import values as v
from ..cost import WORK_ELEMENT, WORK_MAC, Cost, copy_cost
from ..diagnostics import Finding
from ..shapes import Shape, elements, format_shape, is_volume, rank
from ..values import Sizes, per_axis
from .base import (
    Array,
    Counts,
    Layer,
    Step,
    Width,
    arg,
    count_lines,
    kernels,
    needs_volume,
    py_float,
)
from .conv import torch_pad


class Identity(Layer):
    """Passes its input through.

    >>> Identity().output_shape((7, 7, 64)), Identity.inference_identity
    ((7, 7, 64), True)
    """

    name: ClassVar[str] = "identity"
    inference_identity: ClassVar[bool] = True
    reshapes_only: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.Identity()"

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))


@dataclass(frozen=True, eq=False, repr=False)
class Dropout(Layer):
    """Zeroes a fraction p of activations in training; the identity at inference.

    >>> Dropout(0.3).describe(), Dropout().counts((4096,), (4096,)).params
    ('dropout(p=0.3)', 0)
    """

    name: ClassVar[str] = "dropout"
    inference_identity: ClassVar[bool] = True
    p: float = arg(v.probability, 0.5, positional=True)

    def torch(self, inp: Shape) -> str:
        return f"nn.Dropout({py_float(self.p)})"

    def does_nothing(self, inp: Shape) -> str:
        return "p = 0 drops nothing" if self.p == 0 else ""

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))


class Flatten(Layer):
    """H×W×C (any rank) → one vector of H·W·C.

    >>> Flatten().output_shape((7, 7, 512))
    (25088,)
    """

    name: ClassVar[str] = "flatten"
    flattens: ClassVar[bool] = True
    reshapes_only: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.Flatten()"
    formula: ClassVar[str] = "H·W·C; no params"

    def output_shape(self, inp: Shape) -> Shape:
        return (elements(inp),)

    def does_nothing(self, inp: Shape) -> str:
        return "" if is_volume(inp) else f"its input is already a flat vector of {format_shape(inp)}"

    def step(self, inp: Shape) -> Step | None:
        return None

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.flatten(x)


@dataclass(frozen=True, eq=False, repr=False)
class FC(Layer):
    """Fully connected: every unit sees the whole (flattened) input.

    Output ``units``; weights in·units, biases units; MACs in·units.

    >>> FC(10).counts((7, 7, 64), (10,))
    Counts(weights=31360, biases=10, non_trainable=0, macs=31360)
    """

    name: ClassVar[str] = "fc"
    sets_channels: ClassVar[bool] = True
    flattens: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ("linear", "dense")
    formula: ClassVar[str] = "units (flattens a volume first); params in·units + units"

    units: int = arg(v.count, positional=True, help="number of output units")
    bias: bool = arg(v.boolean, True)

    def output_shape(self, inp: Shape) -> Shape:
        return (self.units,)

    def width(self, inp: Shape) -> Width | None:
        return Width(self.units, "units", self.units,
                     lambda k: dataclasses.replace(self, units=k))

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = elements(inp) * self.units
        return Counts(weights, self.units if self.bias else 0, 0, weights)

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        flat = [] if len(inp) == 1 else [f"flattens {format_shape(inp)} = {elements(inp):,} inputs"]
        return flat + count_lines(self.counts(inp, out), f"{elements(inp):,}·{self.units}")

    def step(self, inp: Shape) -> Step | None:
        return None

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"w": (elements(inp), self.units)}
        if self.bias:
            shapes["b"] = (self.units,)
        return shapes

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        ein, eout = batch * elements(inp), batch * elements(out)
        return Cost(0, ein * self.units * WORK_MAC + eout * WORK_ELEMENT)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.linear(x, w["w"], w.get("b"))  # flattens a volume as a view

    def torch(self, inp: Shape) -> str:
        linear = f"nn.Linear({elements(inp)}, {self.units}, bias={self.bias})"
        return linear if len(inp) == 1 else f"nn.Sequential(nn.Flatten(), {linear})"


@dataclass(frozen=True, eq=False, repr=False)
class Pad(Layer):
    """Zero padding on every spatial axis: (H + 2p)×(W + 2p)×C; p is one number or one per axis.

    >>> Pad((1, 2)).output_shape((5, 5, 3)), Pad((1,)).output_shape((8, 5, 5, 3))
    ((7, 9, 3), (10, 7, 7, 3))
    """

    name: ClassVar[str] = "pad"
    codes: ClassVar[frozenset[str]] = frozenset({"G006"})
    aliases: ClassVar[tuple[str, ...]] = ("zeropad",)
    ranked: ClassVar[tuple[str, ...]] = ("zeropadding{r}d",)
    formula: ClassVar[str] = "(H+2p)×(W+2p)×C, per axis; no params"

    p: Sizes = arg(v.natural_pair, positional=True)

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def amounts(self, inp: Shape) -> Sizes:
        return per_axis(self.p, rank(inp))

    def output_shape(self, inp: Shape) -> Shape:
        return (*(n + 2 * p for n, p in zip(inp[:-1], self.amounts(inp), strict=True)), inp[-1])

    def does_nothing(self, inp: Shape) -> str:
        return "it adds no padding" if not any(self.p) else ""

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.pad(x, tuple((p, p) for p in self.amounts(x.shape[1:])))

    def torch(self, inp: Shape) -> str:
        return torch_pad(tuple((p, p) for p in self.amounts(inp)))


@dataclass(frozen=True, eq=False, repr=False)
class Upsample(Layer):
    """Nearest-neighbour upsampling on every spatial axis: (H·s)×(W·s)×C; s is one number
    or one per axis.

    >>> Upsample((2,)).output_shape((7, 7, 3)), Upsample((1, 2, 2)).output_shape((4, 7, 7, 3))
    ((14, 14, 3), (4, 14, 14, 3))
    """

    name: ClassVar[str] = "upsample"
    codes: ClassVar[frozenset[str]] = frozenset({"G006"})
    ranked: ClassVar[tuple[str, ...]] = ("upsampling{r}d",)
    formula: ClassVar[str] = "(H·s)×(W·s)×C, per axis; no params"

    scale: Sizes = arg(v.pair, positional=True)

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def scales(self, inp: Shape) -> Sizes:
        return per_axis(self.scale, rank(inp))

    def output_shape(self, inp: Shape) -> Shape:
        return (*(n * s for n, s in zip(inp[:-1], self.scales(inp), strict=True)), inp[-1])

    def does_nothing(self, inp: Shape) -> str:
        return "a scale of 1 repeats every pixel once" if set(self.scale) == {1} else ""

    def step(self, inp: Shape) -> Step | None:
        return None

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.upsample_nearest(x, self.scales(x.shape[1:]))

    def torch(self, inp: Shape) -> str:
        return f"nn.Upsample(scale_factor={self.scales(inp)}, mode='nearest')"
