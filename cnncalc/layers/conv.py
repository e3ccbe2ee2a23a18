"""Convolutions: ``conv``, ``dwconv`` and ``deconv``.

The classic example from the lecture: ten 5×5 filters on a 32×32×3 image with
padding 2 give a 32×32×10 volume and 5·5·3·10 + 10 = 760 parameters.

>>> conv = Conv(filters=10, kernel=(5, 5), padding=Padding((2, 2)))
>>> conv.output_shape((32, 32, 3)), conv.counts((32, 32, 3), (32, 32, 10)).params
((32, 32, 10), 760)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from .. import values as v
from ..cost import WORK_ELEMENT, WORK_MAC, WORK_STEP, Cost
from ..diagnostics import Finding, Fix
from ..shapes import Shape, format_shape, is_volume, transposed_size
from ..values import Padding, Pair
from .base import Array, Counts, Layer, Step, Width, arg, kernels, needs_volume, power_of_two
from .window import SEARCH, Windowed


def common_divisors(channels: int, filters: int, groups: int, most: int = 4) -> list[int]:
    """Up to ``most`` group counts that divide both ``channels`` and ``filters``, nearest to
    ``groups`` first — from the divisors of their gcd up to :data:`SEARCH` and their
    cofactors, so the search is bounded whatever the numbers' size.

    >>> common_divisors(40, 160, 16), common_divisors(6, 8, 4)
    ([20, 10, 8, 5], [2, 1])
    """
    g = math.gcd(channels, filters)
    small = [d for d in range(1, min(g, SEARCH) + 1) if g % d == 0]
    found = sorted({*small, *(g // d for d in small)}, key=lambda d: (abs(d - groups), -d))
    return found[:most]


def torch_conv(module: str, cin: int, cout: int, layer: Windowed, inp: Shape, groups: int,
               bias: bool) -> str:
    """A conv module; asymmetric (``same``) padding becomes an explicit ZeroPad2d in front."""
    kernel, stride, _, dilation = layer.geometry()
    top, bottom, left, right = layer.pads(inp)
    pad, padding = "", (top, left)
    if (top, left) != (bottom, right):
        pad, padding = f"nn.ZeroPad2d({(left, right, top, bottom)}), ", (0, 0)
    conv = (f"{module}({cin}, {cout}, {kernel}, stride={stride}, padding={padding}, "
            f"dilation={dilation}, groups={groups}, bias={bias})")
    return f"nn.Sequential({pad}{conv})" if pad else conv


@dataclass(frozen=True, eq=False, repr=False)
class Conv(Windowed):
    """2-D convolution: ``filters`` filters, each as deep as its input (C/groups).

    Output H'×W'×filters with H' = ⌊(H + p_top + p_bottom − d·(k−1) − 1)/s⌋ + 1;
    weights k_h·k_w·(C/g)·filters, biases filters; MACs weights·H'·W'.

    >>> Conv(1, (3, 3)).output_shape((7, 7, 3)), Conv(1, (3, 3), stride=(2, 2)).output_shape((7, 7, 3))
    ((5, 5, 1), (3, 3, 1))
    """

    name: ClassVar[str] = "conv"
    sets_channels: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G004", "G001", "G002", "G003", "G006", "G009"})
    aliases: ClassVar[tuple[str, ...]] = ("conv2d",)
    formula: ClassVar[str] = ("H'×W'×filters; H' = ⌊(H + 2p − d·(k−1) − 1)/s⌋ + 1; "
                              "params k_h·k_w·(C/g)·filters + filters")

    filters: int = arg(v.count, positional=True, help="number of filters (output channels)")
    kernel: Pair = arg(v.pair, short="k", positional=True, help="kernel size, n or HxW")
    stride: Pair = arg(v.pair, (1, 1), short="s")
    padding: Padding = arg(v.padding, Padding(), short="p")
    dilation: Pair = arg(v.pair, (1, 1), short="d")
    groups: int = arg(v.count, 1, short="g")
    bias: bool = arg(v.boolean, True)

    def geometry(self) -> tuple[Pair, Pair, Padding, Pair]:
        return self.kernel, self.stride, self.padding, self.dilation

    def in_per_group(self, inp: Shape) -> int:
        return inp[2] // self.groups

    def width(self, inp: Shape) -> Width | None:
        if not power_of_two(self.groups):
            return None
        return Width(self.filters, "filters", self.filters, lambda k: dataclasses.replace(
            self, filters=k) if k >= self.groups else None)

    def check(self, inp: Shape) -> Iterator[Finding]:
        if is_volume(inp) and (inp[2] % self.groups or self.filters % self.groups):
            yield Finding("G004", f"groups={self.groups} must divide the {inp[2]} input channels "
                          f"and the {self.filters} filters", fixes=tuple(
                              Fix(f"g={g}", self, (dataclasses.replace(self, groups=g),))
                              for g in common_divisors(inp[2], self.filters, self.groups)))
        yield from super().check(inp)

    def output_shape(self, inp: Shape) -> Shape:
        return (*self.out_hw(inp), self.filters)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = self.kernel[0] * self.kernel[1] * self.in_per_group(inp) * out[2]
        return Counts(weights, out[2] if self.bias else 0, 0, weights * out[0] * out[1])

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {
            "w": (*self.kernel, self.in_per_group(inp), self.output_shape(inp)[2])}
        if self.bias:
            shapes["b"] = (self.output_shape(inp)[2],)
        return shapes

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return _conv_cost(self, self.groups, inp, out, batch)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.conv2d(x, w["w"], w.get("b"), self.stride, self.pads(x.shape[1:]),
                              self.dilation, self.groups)

    def torch(self, inp: Shape) -> str:
        return torch_conv("nn.Conv2d", inp[2], self.filters, self, inp, self.groups, self.bias)


@dataclass(frozen=True, eq=False, repr=False)
class DepthwiseConv(Windowed):
    """Depthwise convolution: each channel convolved on its own, ``multiplier`` filters each.

    Output H'×W'×(C·multiplier); weights k_h·k_w·C·multiplier, biases C·multiplier.

    >>> DepthwiseConv((3, 3), padding=Padding((1, 1))).counts((56, 56, 32), (56, 56, 32)).params
    320
    """

    name: ClassVar[str] = "dwconv"
    weighted: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G001", "G002", "G003", "G006", "G009"})
    aliases: ClassVar[tuple[str, ...]] = ("depthwise", "depthwiseconv")
    formula: ClassVar[str] = "H'×W'×(C·multiplier); params k_h·k_w·C·multiplier + C·multiplier"

    kernel: Pair = arg(v.pair, short="k", positional=True)
    stride: Pair = arg(v.pair, (1, 1), short="s")
    padding: Padding = arg(v.padding, Padding(), short="p")
    dilation: Pair = arg(v.pair, (1, 1), short="d")
    multiplier: int = arg(v.count, 1, short="m")
    bias: bool = arg(v.boolean, True)

    def geometry(self) -> tuple[Pair, Pair, Padding, Pair]:
        return self.kernel, self.stride, self.padding, self.dilation

    def output_shape(self, inp: Shape) -> Shape:
        return (*self.out_hw(inp), inp[2] * self.multiplier)

    def width(self, inp: Shape) -> Width | None:
        if self.multiplier == 1 or not is_volume(inp) or not power_of_two(inp[2]):
            return None  # a plain depthwise conv keeps the channels it is given
        return Width(inp[2] * self.multiplier, f"channels ({inp[2]}·{self.multiplier})",
                     self.multiplier, lambda k: dataclasses.replace(self, multiplier=k))

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = self.kernel[0] * self.kernel[1] * out[2]
        return Counts(weights, out[2] if self.bias else 0, 0, weights * out[0] * out[1])

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        c = self.output_shape(inp)[2]
        return {"w": (*self.kernel, 1, c), **({"b": (c,)} if self.bias else {})}

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return _conv_cost(self, inp[2], inp, out, batch)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.conv2d(x, w["w"], w.get("b"), self.stride, self.pads(x.shape[1:]),
                              self.dilation, x.shape[3])

    def torch(self, inp: Shape) -> str:
        return torch_conv("nn.Conv2d", inp[2], inp[2] * self.multiplier, self, inp, inp[2],
                          self.bias)


def _conv_cost(layer: Conv | DepthwiseConv, groups: int, inp: Shape, out: Shape,
               n: int) -> Cost:
    """The cost of a (grouped or depthwise) convolution, from the path its kernel takes."""
    plan = kernels.conv2d_plan((n, *inp), layer.weight_shapes(inp)["w"], layer.stride,
                               layer.pads(inp), layer.dilation, groups)
    macs = plan.macs
    if plan.path == "depthwise":  # element-wise multiply-adds, not a GEMM
        work = 2 * macs * WORK_ELEMENT
    else:
        work = macs * WORK_MAC + (macs // max(1, out[2] // groups)) * WORK_ELEMENT
    return Cost(plan.scratch, work + plan.steps * WORK_STEP)


@dataclass(frozen=True, eq=False, repr=False)
class Deconv(Layer):
    """Transposed convolution (PyTorch's ConvTranspose2d).

    Output (in−1)·s − 2p + d·(k−1) + output_padding + 1 per axis; params as conv;
    MACs weights × input H×W (fvcore's rule).

    >>> Deconv(16, (3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1)).output_shape((7, 7, 8))
    (14, 14, 16)
    """

    name: ClassVar[str] = "deconv"
    sets_channels: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"A006", "G004", "G006", "G009"})
    aliases: ClassVar[tuple[str, ...]] = ("convtranspose", "convtranspose2d", "conv2dtranspose")
    formula: ClassVar[str] = ("(H−1)·s − 2p + d·(k−1) + output_padding + 1; "
                              "params k_h·k_w·(C/g)·filters + filters")

    filters: int = arg(v.count, positional=True)
    kernel: Pair = arg(v.pair, short="k", positional=True)
    stride: Pair = arg(v.pair, (1, 1), short="s")
    padding: Pair = arg(v.natural_pair, (0, 0), short="p")
    output_padding: Pair = arg(v.natural_pair, (0, 0), short="op")
    dilation: Pair = arg(v.pair, (1, 1), short="d")
    groups: int = arg(v.count, 1, short="g")
    bias: bool = arg(v.boolean, True)

    def check(self, inp: Shape) -> Iterator[Finding]:
        if not is_volume(inp):
            yield from needs_volume(self, inp)
            return
        if inp[2] % self.groups or self.filters % self.groups:
            yield Finding("G004", f"groups={self.groups} must divide the {inp[2]} input channels "
                          f"and the {self.filters} filters", fixes=tuple(
                              Fix(f"g={g}", self, (dataclasses.replace(self, groups=g),))
                              for g in common_divisors(inp[2], self.filters, self.groups)))
        for axis in (0, 1):
            if self.output_padding[axis] >= max(self.stride[axis], self.dilation[axis]):
                yield Finding("A006", f"output_padding {self.output_padding[axis]} must be smaller "
                              "than the stride or the dilation", fatal=True, fixes=(
                                  Fix("op=0", self, (dataclasses.replace(
                                      self, output_padding=(0, 0)),)),))
                return
        if min(self.output_shape(inp)[:2]) < 1:
            yield Finding("G009", f"the output would be {format_shape(self.output_shape(inp))}: "
                          "the padding removes more than the layer produces",
                          ("use less padding",), fatal=True)

    def output_shape(self, inp: Shape) -> Shape:
        h, w = (transposed_size(inp[a], self.kernel[a], self.stride[a], self.padding[a],
                                self.output_padding[a], self.dilation[a]) for a in (0, 1))
        return h, w, self.filters

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = self.kernel[0] * self.kernel[1] * (inp[2] // self.groups) * self.filters
        return Counts(weights, self.filters if self.bias else 0, 0, weights * inp[0] * inp[1])

    def step(self, inp: Shape) -> Step | None:
        return None

    def width(self, inp: Shape) -> Width | None:
        if not power_of_two(self.groups):
            return None
        return Width(self.filters, "filters", self.filters, lambda k: dataclasses.replace(
            self, filters=k) if k >= self.groups else None)

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {
            "w": (*self.kernel, inp[2], self.filters // self.groups)}
        if self.bias:
            shapes["b"] = (self.filters,)
        return shapes

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        w_shape, n = self.weight_shapes(inp)["w"], batch
        xs = (n, *inp)
        macs = n * inp[0] * inp[1] * w_shape[0] * w_shape[1] * (inp[2] // self.groups) * out[2]
        steps = (self.groups * w_shape[0] * w_shape[1]
                 * -(-inp[0] // kernels.deconv_rows(xs, w_shape)))
        return Cost(kernels.scratch_conv_transpose2d(xs, w_shape),
                    macs * WORK_MAC + 3 * macs / max(1, inp[2] // self.groups) * WORK_ELEMENT
                    + steps * WORK_STEP)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.conv_transpose2d(x, w["w"], w.get("b"), self.stride, self.padding,
                                        self.output_padding, self.dilation, self.groups)

    def torch(self, inp: Shape) -> str:
        return (f"nn.ConvTranspose2d({inp[2]}, {self.filters}, {self.kernel}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}, "
                f"groups={self.groups}, bias={self.bias}, dilation={self.dilation})")
