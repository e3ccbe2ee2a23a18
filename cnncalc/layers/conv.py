"""Convolutions: ``conv``, ``dwconv`` and ``deconv``.

The classic example from the lecture: ten 5×5 filters on a 32×32×3 image with
padding 2 give a 32×32×10 volume and 5·5·3·10 + 10 = 760 parameters.

>>> conv = Conv(filters=10, kernel=(5,), padding=Padding((2,)))
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
from ..cost import WORK_ELEMENT, WORK_MAC, WORK_STEP, Cost, TorchOp
from ..diagnostics import Finding, Fix
from ..shapes import Shape, format_shape, is_volume, rank, transposed_size
from ..values import Padding, Sizes, per_axis
from .base import Array, Counts, Layer, Step, Width, arg, kernels, needs_volume, power_of_two
from .window import SEARCH, Windowed, window_caption


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


def torch_pad(pads: tuple[tuple[int, int], ...], value: str = "0.0") -> str:
    """PyTorch's constant-padding module for per-axis ``(begin, end)`` pads (its argument
    lists the last axis first); 2-D zero padding is ``nn.ZeroPad2d`` as before.

    >>> torch_pad(((1, 2), (3, 4))), torch_pad(((0, 1),), "float('-inf')")
    ('nn.ZeroPad2d((3, 4, 1, 2))', "nn.ConstantPad1d((0, 1), float('-inf'))")
    """
    flat = tuple(n for pair in reversed(pads) for n in pair)
    if len(pads) == 2 and value == "0.0":
        return f"nn.ZeroPad2d({flat})"
    return f"nn.ConstantPad{len(pads)}d({flat}, {value})"


def torch_conv(module: str, cin: int, cout: int, layer: Windowed, inp: Shape, groups: int,
               bias: bool) -> str:
    """A conv module (``module`` is ``nn.Conv`` + the rank); asymmetric (``same``) padding
    becomes an explicit padding module in front."""
    kernel, stride, dilation = layer.axes(inp)
    pads = layer.pads(inp)
    pad, padding = "", tuple(b for b, _ in pads)
    if any(b != e for b, e in pads):
        pad, padding = torch_pad(pads) + ", ", (0,) * len(pads)
    conv = (f"{module}{len(pads)}d({cin}, {cout}, {kernel}, stride={stride}, padding={padding}, "
            f"dilation={dilation}, groups={groups}, bias={bias})")
    return f"nn.Sequential({pad}{conv})" if pad else conv


@dataclass(frozen=True, eq=False, repr=False)
class Conv(Windowed):
    """Convolution in 1-D, 2-D or 3-D: ``filters`` filters, each as deep as its input (C/groups).

    Output H'×W'×filters (per spatial axis) with H' = ⌊(H + p_top + p_bottom − d·(k−1) − 1)/s⌋
    + 1; weights k_h·k_w·(C/g)·filters (the product over axes), biases filters; MACs
    weights·H'·W'.

    >>> Conv(1, (3,)).output_shape((7, 7, 3)), Conv(1, (3,), stride=(2,)).output_shape((7, 7, 3))
    ((5, 5, 1), (3, 3, 1))
    >>> Conv(64, (3,), padding=Padding((1,))).counts((16, 112, 112, 3), (16, 112, 112, 64)).params
    5248
    """

    name: ClassVar[str] = "conv"
    torch_op: ClassVar[TorchOp] = TorchOp.CONV
    saves_input: ClassVar[bool] = True
    sets_channels: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G004", "G001", "G002", "G003", "G006", "G009"})
    ranked: ClassVar[tuple[str, ...]] = ("conv",)
    formula: ClassVar[str] = ("H'×W'×filters; H' = ⌊(H + 2p − d·(k−1) − 1)/s⌋ + 1 per axis "
                              "(L; H, W; D, H, W); params k_h·k_w·(C/g)·filters + filters")

    filters: int = arg(v.count, positional=True, help="number of filters (output channels)")
    kernel: Sizes = arg(v.pair, short="k", positional=True,
                        help="kernel size, n or one per axis (3x5, 3x3x3)")
    stride: Sizes = arg(v.pair, (1,), short="s")
    padding: Padding = arg(v.padding, Padding(), short="p")
    dilation: Sizes = arg(v.pair, (1,), short="d")
    groups: int = arg(v.count, 1, short="g")
    bias: bool = arg(v.boolean, True)

    def geometry(self) -> tuple[Sizes, Sizes, Padding, Sizes]:
        return self.kernel, self.stride, self.padding, self.dilation

    def in_per_group(self, inp: Shape) -> int:
        return inp[-1] // self.groups

    def width(self, inp: Shape) -> Width | None:
        if not power_of_two(self.groups):
            return None
        return Width(self.filters, "filters", self.filters, lambda k: dataclasses.replace(
            self, filters=k) if k >= self.groups else None)

    def check(self, inp: Shape) -> Iterator[Finding]:
        if is_volume(inp) and (inp[-1] % self.groups or self.filters % self.groups):
            yield Finding("G004", f"groups={self.groups} must divide the {inp[-1]} input channels "
                          f"and the {self.filters} filters", fixes=tuple(
                              Fix(f"g={g}", self, (dataclasses.replace(self, groups=g),))
                              for g in common_divisors(inp[-1], self.filters, self.groups)))
        yield from super().check(inp)

    def output_shape(self, inp: Shape) -> Shape:
        return (*self.out_sizes(inp), self.filters)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = math.prod(self.axes(inp)[0]) * self.in_per_group(inp) * out[-1]
        return Counts(weights, out[-1] if self.bias else 0, 0, weights * math.prod(out[:-1]))

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {
            "w": (*self.axes(inp)[0], self.in_per_group(inp), self.filters)}
        if self.bias:
            shapes["b"] = (self.filters,)
        return shapes

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return _conv_cost(self, self.groups, inp, out, batch)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        _, stride, dilation = self.axes(x.shape[1:])
        return kernels.conv(x, w["w"], w.get("b"), stride, self.pads(x.shape[1:]), dilation,
                            self.groups)

    def torch(self, inp: Shape) -> str:
        return torch_conv("nn.Conv", inp[-1], self.filters, self, inp, self.groups, self.bias)


@dataclass(frozen=True, eq=False, repr=False)
class DepthwiseConv(Windowed):
    """Depthwise convolution (1-D, 2-D or 3-D): each channel convolved on its own,
    ``multiplier`` filters each.

    Output H'×W'×(C·multiplier); weights k_h·k_w·C·multiplier, biases C·multiplier.

    >>> DepthwiseConv((3,), padding=Padding((1,))).counts((56, 56, 32), (56, 56, 32)).params
    320
    """

    name: ClassVar[str] = "dwconv"
    torch_op: ClassVar[TorchOp] = TorchOp.CONV
    saves_input: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G001", "G002", "G003", "G006", "G009"})
    aliases: ClassVar[tuple[str, ...]] = ("depthwise", "depthwiseconv")
    ranked: ClassVar[tuple[str, ...]] = ("dwconv",)
    formula: ClassVar[str] = ("H'×W'×(C·multiplier) (per axis as conv); "
                              "params k_h·k_w·C·multiplier + C·multiplier")

    kernel: Sizes = arg(v.pair, short="k", positional=True)
    stride: Sizes = arg(v.pair, (1,), short="s")
    padding: Padding = arg(v.padding, Padding(), short="p")
    dilation: Sizes = arg(v.pair, (1,), short="d")
    multiplier: int = arg(v.count, 1, short="m")
    bias: bool = arg(v.boolean, True)

    def geometry(self) -> tuple[Sizes, Sizes, Padding, Sizes]:
        return self.kernel, self.stride, self.padding, self.dilation

    def output_shape(self, inp: Shape) -> Shape:
        return (*self.out_sizes(inp), inp[-1] * self.multiplier)

    def width(self, inp: Shape) -> Width | None:
        if self.multiplier == 1 or not is_volume(inp) or not power_of_two(inp[-1]):
            return None  # a plain depthwise conv keeps the channels it is given
        return Width(inp[-1] * self.multiplier, f"channels ({inp[-1]}·{self.multiplier})",
                     self.multiplier, lambda k: dataclasses.replace(self, multiplier=k))

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = math.prod(self.axes(inp)[0]) * out[-1]
        return Counts(weights, out[-1] if self.bias else 0, 0, weights * math.prod(out[:-1]))

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        c = inp[-1] * self.multiplier
        return {"w": (*self.axes(inp)[0], 1, c), **({"b": (c,)} if self.bias else {})}

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return _conv_cost(self, inp[-1], inp, out, batch)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        _, stride, dilation = self.axes(x.shape[1:])
        return kernels.conv(x, w["w"], w.get("b"), stride, self.pads(x.shape[1:]), dilation,
                            x.shape[-1])

    def torch(self, inp: Shape) -> str:
        return torch_conv("nn.Conv", inp[-1], inp[-1] * self.multiplier, self, inp, inp[-1],
                          self.bias)


def _conv_cost(layer: Conv | DepthwiseConv, groups: int, inp: Shape, out: Shape,
               n: int) -> Cost:
    """The cost of a (grouped or depthwise) convolution, from the path its kernel takes."""
    _, stride, dilation = layer.axes(inp)
    plan = kernels.conv_plan((n, *inp), layer.weight_shapes(inp)["w"], stride,
                             layer.pads(inp), dilation, groups)
    macs = plan.macs
    if plan.path == "depthwise":  # element-wise multiply-adds, not a GEMM
        work = 2 * macs * WORK_ELEMENT
    else:
        work = macs * WORK_MAC + (macs // max(1, out[-1] // groups)) * WORK_ELEMENT
    return Cost(plan.scratch, work + plan.steps * WORK_STEP, plan.gemm)


@dataclass(frozen=True, eq=False, repr=False)
class Deconv(Layer):
    """Transposed convolution in 1-D, 2-D or 3-D (PyTorch's ConvTranspose1d/2d/3d).

    Output (in−1)·s − 2p + d·(k−1) + output_padding + 1 per axis; params as conv;
    MACs weights × the input's spatial size (fvcore's rule).

    >>> Deconv(16, (3,), stride=(2,), padding=(1,), output_padding=(1,)).output_shape((7, 7, 8))
    (14, 14, 16)
    """

    name: ClassVar[str] = "deconv"
    torch_op: ClassVar[TorchOp] = TorchOp.DECONV
    saves_input: ClassVar[bool] = True
    sets_channels: ClassVar[bool] = True
    weighted: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"A006", "G004", "G006", "G009"})
    aliases: ClassVar[tuple[str, ...]] = ("convtranspose",)
    ranked: ClassVar[tuple[str, ...]] = ("deconv", "convtranspose", "conv{r}dtranspose")
    formula: ClassVar[str] = ("(H−1)·s − 2p + d·(k−1) + output_padding + 1 per axis; "
                              "params k_h·k_w·(C/g)·filters + filters")

    filters: int = arg(v.count, positional=True)
    kernel: Sizes = arg(v.pair, short="k", positional=True)
    stride: Sizes = arg(v.pair, (1,), short="s")
    padding: Sizes = arg(v.natural_pair, (0,), short="p")
    output_padding: Sizes = arg(v.natural_pair, (0,), short="op")
    dilation: Sizes = arg(v.pair, (1,), short="d")
    groups: int = arg(v.count, 1, short="g")
    bias: bool = arg(v.boolean, True)

    def caption(self, inp: Shape | None) -> str:
        """``deconv 2×2 ↑2, 32``: the stride upsamples.

        >>> Deconv(32, (2,), stride=(2,)).caption((16, 16, 64))
        'deconv 2×2 ↑2, 32'
        """
        return window_caption(self, self.kernel, self.stride, " ↑", inp)

    def axes(self, inp: Shape) -> tuple[Sizes, Sizes, Sizes, Sizes, Sizes]:
        """(kernel, stride, padding, output_padding, dilation), one entry per spatial axis."""
        r = rank(inp)
        return (per_axis(self.kernel, r), per_axis(self.stride, r), per_axis(self.padding, r),
                per_axis(self.output_padding, r), per_axis(self.dilation, r))

    def window(self, inp: Shape) -> tuple[Sizes, Sizes] | None:
        kernel, stride, *_ = self.axes(inp)
        return kernel, stride

    def extent(self, inp: Shape) -> tuple[Sizes, Sizes, Sizes] | None:
        """
        >>> Deconv(8, (3,), stride=(2,)).extent((7, 7, 4))
        ((3, 3), (2, 2), (1, 1))
        """
        kernel, stride, _, _, dilation = self.axes(inp)
        return (tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)), stride,
                dilation)

    def check(self, inp: Shape) -> Iterator[Finding]:
        if not is_volume(inp):
            yield from needs_volume(self, inp)
            return
        if inp[-1] % self.groups or self.filters % self.groups:
            yield Finding("G004", f"groups={self.groups} must divide the {inp[-1]} input channels "
                          f"and the {self.filters} filters", fixes=tuple(
                              Fix(f"g={g}", self, (dataclasses.replace(self, groups=g),))
                              for g in common_divisors(inp[-1], self.filters, self.groups)))
        _, stride, _, output_padding, dilation = self.axes(inp)
        for op, s, d in zip(output_padding, stride, dilation, strict=True):
            if op >= max(s, d):
                yield Finding("A006", f"output_padding {op} must be smaller "
                              "than the stride or the dilation", fatal=True, fixes=(
                                  Fix("op=0", self, (dataclasses.replace(
                                      self, output_padding=(0,)),)),))
                return
        if min(self.output_shape(inp)[:-1]) < 1:
            yield Finding("G009", f"the output would be {format_shape(self.output_shape(inp))}: "
                          "the padding removes more than the layer produces",
                          ("use less padding",), fatal=True)

    def size_period(self, inp: Shape) -> tuple[tuple[int, int], ...]:
        """Any size alike once the output is at least 1 (below: G009, the padding removes it all).

        >>> Deconv(8, (2,), stride=(2,), padding=(3,)).size_period((5, 5, 4))  # (n−1)·2 − 6 + 2 ≥ 1
        ((1, 4), (1, 4))
        """
        if not is_volume(inp) or len(self.kernel) not in (1, rank(inp)):
            return super().size_period(inp)
        kernel, stride, padding, output_padding, dilation = self.axes(inp)
        return tuple((1, 1 + max(0, -(-(2 * p - d * (k - 1) - op) // s)))
                     for k, s, p, op, d in zip(kernel, stride, padding, output_padding, dilation,
                                               strict=True))

    def output_shape(self, inp: Shape) -> Shape:
        axes = zip(inp[:-1], *self.axes(inp), strict=True)
        return (*(transposed_size(n, k, s, p, op, d) for n, k, s, p, op, d in axes),
                self.filters)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = math.prod(self.axes(inp)[0]) * (inp[-1] // self.groups) * self.filters
        return Counts(weights, self.filters if self.bias else 0, 0,
                      weights * math.prod(inp[:-1]))

    def step(self, inp: Shape) -> Step | None:
        return None

    def width(self, inp: Shape) -> Width | None:
        if not power_of_two(self.groups):
            return None
        return Width(self.filters, "filters", self.filters, lambda k: dataclasses.replace(
            self, filters=k) if k >= self.groups else None)

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {
            "w": (*self.axes(inp)[0], inp[-1], self.filters // self.groups)}
        if self.bias:
            shapes["b"] = (self.filters,)
        return shapes

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        w_shape, n = self.weight_shapes(inp)["w"], batch
        xs = (n, *inp)
        kernel = math.prod(w_shape[:-2])
        macs = n * math.prod(inp[:-1]) * kernel * (inp[-1] // self.groups) * out[-1]
        rows = kernels.deconv_rows(xs, w_shape)
        steps = self.groups * kernel * -(-inp[0] // rows)
        cg, fg = inp[-1] // self.groups, w_shape[-1]  # one tap's GEMM: a chunk by cg x fg
        gemm = 4 * cg * (n * min(rows, inp[0]) * math.prod(inp[1:-1]) + fg)
        return Cost(kernels.scratch_conv_transpose(xs, w_shape),
                    macs * WORK_MAC + 3 * macs / max(1, inp[-1] // self.groups) * WORK_ELEMENT
                    + steps * WORK_STEP, gemm)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        _, stride, padding, output_padding, dilation = self.axes(x.shape[1:])
        return kernels.conv_transpose(x, w["w"], w.get("b"), stride,
                                      tuple((p, p) for p in padding), output_padding, dilation,
                                      self.groups)

    def torch(self, inp: Shape) -> str:
        kernel, stride, padding, output_padding, dilation = self.axes(inp)
        return (f"nn.ConvTranspose{rank(inp)}d({inp[-1]}, {self.filters}, {kernel}, "
                f"stride={stride}, padding={padding}, output_padding={output_padding}, "
                f"groups={self.groups}, bias={self.bias}, dilation={dilation})")
