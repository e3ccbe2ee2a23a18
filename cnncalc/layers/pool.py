"""Pooling: ``maxpool``, ``avgpool``, ``gap``, ``globalmaxpool`` and ``adaptiveavgpool``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from .. import values as v
from ..cost import WORK_ELEMENT, WORK_STEP, Cost, TorchOp, TorchView
from ..diagnostics import Finding, Fix
from ..shapes import Shape, elements, is_volume, rank
from ..values import Padding, Sizes, per_axis
from .base import Array, Layer, Step, arg, kernels, needs_volume
from .conv import torch_pad
from .window import Windowed


def _ceil_windows(n: int, k: int, s: int) -> int:
    """PyTorch's ceil-mode window count on an unpadded axis of ``n``: the last window must
    start inside it.

    >>> _ceil_windows(9, 3, 2), _ceil_windows(4, 1, 3)
    (4, 2)
    """
    out = -(-(n - k) // s) + 1
    return out - 1 if (out - 1) * s >= n else out


def padded_apart(layer: Pool, inp: Shape, pad_short_3d: bool) -> bool:
    """The exported pool has an explicit padding module in front (see :func:`torch_pool`)."""
    kernel, stride, _ = layer.axes(inp)
    pads = layer.pads(inp)
    short = pad_short_3d and len(pads) == 3 and any(
        n < k for n, k in zip(inp[:-1], kernel, strict=True)) and (
        not layer.ceil_mode or all(
            _ceil_windows(n + b + e, k, s) == o for n, (b, e), k, s, o in zip(
                inp[:-1], pads, kernel, stride, layer.output_shape(inp)[:-1], strict=True)))
    return short or any(b != e for b, e in pads)


def torch_pool(module: str, value: str, layer: Pool, inp: Shape, *,
               pad_short_3d: bool = False) -> str:
    """A pooling module (``module`` + the rank); asymmetric padding becomes a constant pad of
    ``value`` in front. ``pad_short_3d``: so does any padding of a 3-D input with an axis
    shorter than the kernel (PyTorch's AvgPool3d rejects one even when its padding makes up
    for it; a zero pad in front gives the same windows and divisors) unless ceil mode would
    then draw another window."""
    kernel, stride, _ = layer.axes(inp)
    pads = layer.pads(inp)
    pad, padding = "", tuple(b for b, _ in pads)
    if padded_apart(layer, inp, pad_short_3d):
        pad, padding = torch_pad(pads, value) + ", ", (0,) * len(pads)
    pool = (f"{module}{len(pads)}d({kernel}, stride={stride}, padding={padding}, "
            f"ceil_mode={layer.ceil_mode})")
    return f"nn.Sequential({pad}{pool})" if pad else pool


@dataclass(frozen=True, eq=False, repr=False)
class Pool(Windowed):
    """Pooling over k×k windows (any rank); stride defaults to the kernel. No parameters."""

    formula: ClassVar[str] = ("H'×W'×C as conv's rule, per axis (ceil=true: PyTorch's "
                              "ceil_mode); no params")
    codes: ClassVar[frozenset[str]] = frozenset({"G005", "G001", "G002", "G003", "G006", "G009"})

    pad_short_3d: ClassVar[bool] = False
    """Its exported module pads a 3-D input in front when an axis is shorter than the kernel."""

    kernel: Sizes = arg(v.pair, short="k", positional=True,
                        help="window size, n or one per axis (3x5, 3x3x3)")
    stride: Sizes | None = arg(v.pair, None, short="s")
    padding: Padding = arg(v.padding, Padding(), short="p")
    ceil_mode: bool = arg(v.boolean, False, short="ceil")

    def uses_ceil(self) -> bool:
        return self.ceil_mode

    def widest_fix_padding(self) -> int:
        return max(self.kernel) // 2

    def ceil_variant(self) -> Windowed | None:
        return dataclasses.replace(self, ceil_mode=True)

    def geometry(self) -> tuple[Sizes, Sizes, Padding, Sizes]:
        return self.kernel, self.stride or self.kernel, self.padding, (1,)

    def check(self, inp: Shape) -> Iterator[Finding]:
        if not is_volume(inp):
            yield from needs_volume(self, inp)
            return
        kernel = per_axis(self.kernel, rank(inp))
        if not self.padding.same and any(
                p > k // 2 for p, k in zip(per_axis(self.padding.sizes, rank(inp)), kernel,
                                           strict=True)):
            half = tuple(k // 2 for k in kernel)
            half = half[:1] if len(set(half)) == 1 else half
            yield Finding("G005", f"padding {self.padding} is more than half the kernel "
                          f"{v.format_sizes(self.kernel)}",
                          fixes=(Fix(f"p={v.format_sizes(half)}", self,
                                     (dataclasses.replace(self, padding=Padding(half)),)),))
        yield from super().check(inp)

    def torch_view(self, inp: Shape) -> TorchView:
        """Behind an explicit padding module the pool sees the padded input."""
        if not padded_apart(self, inp, self.pad_short_3d):
            return TorchView(self.torch_op, inp)
        padded = tuple(n + b + e for n, (b, e) in zip(inp[:-1], self.pads(inp), strict=True))
        return TorchView(self.torch_op, (*padded, inp[-1]))

    def output_shape(self, inp: Shape) -> Shape:
        return (*self.out_sizes(inp), inp[-1])

    def does_nothing(self, inp: Shape) -> str:
        if not is_volume(inp):
            return ""
        if all(w.k_eff == 1 and w.stride == 1 and not w.pad_begin and not w.pad_end
               for w in self.windows(inp)):
            return "a 1×1 window with stride 1 passes every value through unchanged"
        return ""

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        kernel, stride, _ = self.axes(inp)
        scratch = kernels.scratch_pool((batch, *inp), kernel, stride, self.pads(inp),
                                       self.ceil_mode)

        def passes(k: int) -> float:
            return k if k <= 4 else math.log2(k) + 4
        # Separable: one pass per axis, each over the axes already pooled and those to come.
        work, sizes = 0.0, list(inp[:-1])
        for a, (k, s, o) in enumerate(zip(kernel, stride, out[:-1], strict=True)):
            sizes[a] = max(inp[a], (o - 1) * s + k)
            work += batch * math.prod(sizes) * inp[-1] * passes(k)
            sizes[a] = o
        return Cost(scratch, work * WORK_ELEMENT)


class MaxPool(Pool):
    """Max pooling. The lecture's 2×2 stride-2 pool halves 224×224×64 to 112×112×64.

    >>> MaxPool((2, 2)).output_shape((224, 224, 64))
    (112, 112, 64)
    """

    name: ClassVar[str] = "maxpool"
    torch_op: ClassVar[TorchOp] = TorchOp.MAXPOOL
    saves_input: ClassVar[bool] = True
    ranked: ClassVar[tuple[str, ...]] = ("maxpool", "maxpooling{r}d")

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        kernel, stride, _ = self.axes(x.shape[1:])
        return kernels.max_pool(x, kernel, stride, self.pads(x.shape[1:]), self.ceil_mode)

    def torch(self, inp: Shape) -> str:
        return torch_pool("nn.MaxPool", "float('-inf')", self, inp)

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        return 8 * batch * elements(out)  # the int64 index of each output's maximum


class AvgPool(Pool):
    """Average pooling (padding counts in the divisor, as PyTorch's default).

    >>> AvgPool((2, 2)).output_shape((28, 28, 6))
    (14, 14, 6)
    """

    name: ClassVar[str] = "avgpool"
    pad_short_3d: ClassVar[bool] = True
    torch_op: ClassVar[TorchOp] = TorchOp.AVGPOOL
    saves_input: ClassVar[bool] = True
    ranked: ClassVar[tuple[str, ...]] = ("avgpool", "averagepooling{r}d")

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        kernel, stride, _ = self.axes(x.shape[1:])
        return kernels.avg_pool(x, kernel, stride, self.pads(x.shape[1:]), self.ceil_mode)

    def torch(self, inp: Shape) -> str:
        return torch_pool("nn.AvgPool", "0.0", self, inp, pad_short_3d=self.pad_short_3d)


class GlobalAvgPool(Layer):
    """Average over all spatial axes, keeping the rank: 1×C, 1×1×C, 1×1×1×C.

    >>> GlobalAvgPool().output_shape((7, 7, 2048)), GlobalAvgPool().output_shape((2, 7, 7, 512))
    ((1, 1, 2048), (1, 1, 1, 512))
    """

    name: ClassVar[str] = "gap"
    torch_op: ClassVar[TorchOp] = TorchOp.ADAPTIVE_AVGPOOL
    saves_input: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G006"})
    aliases: ClassVar[tuple[str, ...]] = ("globalavgpool",)
    ranked: ClassVar[tuple[str, ...]] = ("globalaveragepooling{r}d",)
    formula: ClassVar[str] = "1×1×C (1 on every spatial axis: 1×C, 1×1×1×C); no params"

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def output_shape(self, inp: Shape) -> Shape:
        return (*(1 for _ in inp[:-1]), inp[-1])

    def step(self, inp: Shape) -> Step | None:
        return Step(inp[:-1], inp[:-1])

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return Cost(16 * batch * inp[-1], 2 * batch * elements(inp) * WORK_ELEMENT)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.global_avg_pool(x)

    def torch(self, inp: Shape) -> str:
        return f"nn.AdaptiveAvgPool{rank(inp)}d(1)"


class GlobalMaxPool(GlobalAvgPool):
    """Maximum over all spatial axes, keeping the rank: output 1×1×C (1×C, 1×1×1×C).

    >>> GlobalMaxPool().output_shape((7, 7, 2048))
    (1, 1, 2048)
    """

    name: ClassVar[str] = "globalmaxpool"
    torch_op: ClassVar[TorchOp] = TorchOp.ADAPTIVE_MAXPOOL
    saves_input: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ()
    ranked: ClassVar[tuple[str, ...]] = ("globalmaxpooling{r}d",)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.global_max_pool(x)

    def torch(self, inp: Shape) -> str:
        return f"nn.AdaptiveMaxPool{rank(inp)}d(1)"

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        return 8 * batch * elements(out)  # the int64 index of each output's maximum


def widest_adaptive_window(n: int, o: int) -> int:
    """The widest of adaptive pooling's ``o`` windows over ``n`` inputs, without a loop.

    Window i spans ⌊i·n/o⌋ … ⌈(i+1)·n/o⌉. With n = q·o + r its width is
    q + ⌈((i·r mod o) + r)/o⌉; ``i·r mod o`` reaches o − gcd(r, o) at most, so the widest
    is q when r = 0, q + 2 when r > gcd(r, o), else q + 1.

    >>> widest_adaptive_window(14, 7), widest_adaptive_window(10, 4), widest_adaptive_window(5, 3)
    (2, 3, 3)
    """
    q, r = divmod(n, o)
    if r == 0:
        return q
    return q + (2 if r > math.gcd(r, o) else 1)


@dataclass(frozen=True, eq=False, repr=False)
class AdaptiveAvgPool(Layer):
    """Average pooling to a fixed output size per axis (PyTorch's AdaptiveAvgPool1d/2d/3d).

    >>> AdaptiveAvgPool((7, 7)).output_shape((14, 14, 512))
    (7, 7, 512)
    """

    name: ClassVar[str] = "adaptiveavgpool"
    torch_op: ClassVar[TorchOp] = TorchOp.ADAPTIVE_AVGPOOL
    saves_input: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G006"})
    ranked: ClassVar[tuple[str, ...]] = ("adaptiveavgpool",)
    formula: ClassVar[str] = "size×C (size: one number or one per axis); no params"

    size: Sizes = arg(v.pair, positional=True)

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def sizes(self, inp: Shape) -> Sizes:
        return per_axis(self.size, rank(inp))

    def output_shape(self, inp: Shape) -> Shape:
        return *self.sizes(inp), inp[-1]

    def step(self, inp: Shape) -> Step | None:
        # The widest window, in closed form; stride ⌊n/o⌋ (exact when o divides n).
        pairs = tuple(zip(inp[:-1], self.sizes(inp), strict=True))
        return Step(tuple(widest_adaptive_window(n, o) for n, o in pairs),
                    tuple(max(1, n // o) for n, o in pairs))

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        ein, eout = batch * elements(inp), batch * elements(out)
        scratch = kernels.scratch_adaptive_avg_pool((batch, *inp), self.sizes(inp))
        middle = batch * out[0] * elements(inp[1:])
        steps = 2 + sum(out[:-1]) * batch * elements(inp[1:]) // (1 << 16)
        return Cost(scratch, 8 * (ein + eout + middle) * WORK_ELEMENT + steps * WORK_STEP)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.adaptive_avg_pool(x, self.sizes(x.shape[1:]))

    def torch(self, inp: Shape) -> str:
        return f"nn.AdaptiveAvgPool{rank(inp)}d({self.sizes(inp)})"
