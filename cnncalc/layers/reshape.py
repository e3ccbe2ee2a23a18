"""Layers that reshape or pass through: ``identity``, ``dropout``, ``flatten``, ``fc``,
``shuffle``, ``pad`` and ``upsample``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from .. import values as v
from ..cost import WORK_ELEMENT, WORK_MAC, Cost, TorchOp, TorchView, copy_cost
from ..diagnostics import Finding
from ..shapes import Shape, elements, format_shape, is_volume, rank
from ..values import Sizes, per_axis
from .base import (
    IDENTITY_STEP,
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
from .norm import groups_findings


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

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        return batch * elements(inp)  # training: the mask of kept elements, a byte each


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
    """Fully connected: every unit sees the whole (flattened) input; with ``flatten=false``
    a volume is not flattened: the same C→units map at every position (``nn.Linear`` on
    channels-last, ConvNeXt's MLP).

    Output ``units`` (``flatten=false``: ``(*spatial, units)``); weights in·units (C·units),
    biases units; MACs in·units (positions·C·units).

    >>> FC(10).counts((7, 7, 64), (10,))
    Counts(weights=31360, biases=10, non_trainable=0, macs=31360)
    >>> fc = FC(384, flatten=False)
    >>> fc.output_shape((56, 56, 96)), fc.counts((56, 56, 96), (56, 56, 384)).macs
    ((56, 56, 384), 115605504)
    """

    name: ClassVar[str] = "fc"
    torch_op: ClassVar[TorchOp] = TorchOp.LINEAR
    saves_input: ClassVar[bool] = True
    sets_channels: ClassVar[bool] = True
    flattens: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ("linear", "dense")
    formula: ClassVar[str] = ("units (flattens a volume first); params in·units + units; "
                              "flatten=false: …×units at every position, params C·units + units")

    units: int = arg(v.count, positional=True, help="number of output units")
    bias: bool = arg(v.boolean, True)
    flatten: bool = arg(v.boolean, True, help="false: map the channels at every position")

    def flattens_volume(self) -> bool:
        return self.flatten

    def torch_view(self, inp: Shape) -> TorchView:
        per_position = is_volume(inp) and not self.flatten  # ChannelsLastLinear
        return TorchView(TorchOp.LINEAR_PER_POSITION if per_position else TorchOp.LINEAR, inp)

    def per_position(self, inp: Shape) -> bool:
        """Maps the channels at every position of a volume (``flatten=false``)."""
        return not self.flatten and is_volume(inp)

    def fan_in(self, inp: Shape) -> int:
        return inp[-1] if self.per_position(inp) else elements(inp)

    def output_shape(self, inp: Shape) -> Shape:
        return (*inp[:-1], self.units) if self.per_position(inp) else (self.units,)

    def width(self, inp: Shape) -> Width | None:
        return Width(self.units, "units", self.units,
                     lambda k: dataclasses.replace(self, units=k))

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = self.fan_in(inp) * self.units
        positions = elements(inp[:-1]) if self.per_position(inp) else 1
        return Counts(weights, self.units if self.bias else 0, 0, weights * positions)

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        c = self.counts(inp, out)
        if self.per_position(inp):
            positions = elements(inp[:-1])
            return [f"maps {inp[-1]:,} channels to {self.units:,} at each of "
                    f"{format_shape(inp[:-1])} = {positions:,} positions",
                    *count_lines(c, f"{inp[-1]:,}·{self.units}", f" × {positions:,} positions")]
        flat = [] if len(inp) == 1 else [f"flattens {format_shape(inp)} = {elements(inp):,} inputs"]
        return flat + count_lines(c, f"{elements(inp):,}·{self.units}")

    def step(self, inp: Shape) -> Step | None:
        return IDENTITY_STEP if self.per_position(inp) else None

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"w": (self.fan_in(inp), self.units)}
        if self.bias:
            shapes["b"] = (self.units,)
        return shapes

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        eout = batch * elements(out)
        rows = batch * (elements(inp[:-1]) if self.per_position(inp) else 1)
        fan_in = self.fan_in(inp)
        return Cost(0, self.counts(inp, out).macs * batch * WORK_MAC + eout * WORK_ELEMENT,
                    4 * fan_in * (rows + self.units))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        if self.per_position(x.shape[1:]):
            return kernels.linear_channels(x, w["w"], w.get("b"))
        return kernels.linear(x, w["w"], w.get("b"))  # flattens a volume as a view

    torch_helper: ClassVar[str] = '''\
class ChannelsLastLinear(nn.Linear):
    """nn.Linear over the channels of an N×C×… tensor at every position (fc with
    flatten=false; ConvNeXt's MLP): channels moved last, mapped, moved back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)'''

    def torch(self, inp: Shape) -> str:
        if self.per_position(inp):  # the class: `torch_helper`
            return f"ChannelsLastLinear({inp[-1]}, {self.units}, bias={self.bias})"
        linear = f"nn.Linear({elements(inp)}, {self.units}, bias={self.bias})"
        return linear if len(inp) == 1 else f"nn.Sequential(nn.Flatten(), {linear})"


@dataclass(frozen=True, eq=False, repr=False)
class Shuffle(Layer):
    """Channel shuffle (ShuffleNet): the C channels, read as a groups × C/groups matrix,
    are transposed, so that the next grouped layer mixes every group. Same shape, no params.

    >>> Shuffle(2).output_shape((28, 28, 116)), Shuffle(2).counts((28, 28, 116), (28, 28, 116))
    ((28, 28, 116), Counts(weights=0, biases=0, non_trainable=0, macs=0))
    """

    name: ClassVar[str] = "shuffle"
    aliases: ClassVar[tuple[str, ...]] = ("channelshuffle",)
    codes: ClassVar[frozenset[str]] = frozenset({"G004"})
    reshapes_only: ClassVar[bool] = True
    formula: ClassVar[str] = "same shape, channels interleaved (groups must divide C); no params"

    groups: int = arg(v.count, positional=True, help="number of channel groups")

    def size_period(self, inp: Shape) -> tuple[tuple[int, int], ...]:
        """A flat vector's length is its channels: the groups must divide it.

        >>> Shuffle(3).size_period((12,)), Shuffle(3).size_period((4, 4, 6))
        (((3, 1),), ((1, 1), (1, 1)))
        """
        return super().size_period(inp) if is_volume(inp) else ((self.groups, 1),)

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from groups_findings(self, self.groups, inp)

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        c = inp[-1]
        return [f"{c:,} channels as {self.groups:,}×{c // self.groups:,}, transposed: channel "
                f"i·{c // self.groups:,} + j moves to j·{self.groups:,} + i; no parameters"]

    def does_nothing(self, inp: Shape) -> str:
        if self.groups in (1, inp[-1]):
            return f"groups={self.groups} on {inp[-1]:,} channels leaves every channel in place"
        return ""

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.channel_shuffle(x, self.groups)

    def torch(self, inp: Shape) -> str:
        shuffle = f"nn.ChannelShuffle({self.groups})"
        if is_volume(inp):
            return shuffle
        # PyTorch's shuffle needs N×C×…; a flat vector is N×C: give it a length-1 axis and back.
        return f"nn.Sequential(nn.Unflatten(1, ({inp[0]}, 1)), {shuffle}, nn.Flatten())"


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
    torch_op: ClassVar[TorchOp] = TorchOp.UPSAMPLE
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
