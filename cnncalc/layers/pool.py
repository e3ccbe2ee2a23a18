"""Pooling: ``maxpool``, ``avgpool``, ``gap``, ``globalmaxpool`` and ``adaptiveavgpool``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from .. import values as v
from ..cost import WORK_ELEMENT, WORK_STEP, Cost
from ..diagnostics import Finding, Fix
from ..shapes import Shape, elements, is_volume
from ..values import Padding, Pair
from .base import Array, Layer, Step, arg, kernels, needs_volume
from .window import Windowed


def torch_pool(module: str, padder: str, layer: Pool, inp: Shape) -> str:
    kernel, stride, _, _ = layer.geometry()
    top, bottom, left, right = layer.pads(inp)
    pad, padding = "", (top, left)
    if (top, left) != (bottom, right):
        pad, padding = padder.format((left, right, top, bottom)) + ", ", (0, 0)
    pool = f"{module}({kernel}, stride={stride}, padding={padding}, ceil_mode={layer.ceil_mode})"
    return f"nn.Sequential({pad}{pool})" if pad else pool


@dataclass(frozen=True, eq=False, repr=False)
class Pool(Windowed):
    """Pooling over k×k windows; stride defaults to the kernel. No parameters."""

    formula: ClassVar[str] = "H'×W'×C as conv's rule (ceil=true: PyTorch's ceil_mode); no params"
    codes: ClassVar[frozenset[str]] = frozenset({"G005", "G001", "G002", "G003", "G006", "G009"})

    kernel: Pair = arg(v.pair, short="k", positional=True, help="window size, n or HxW")
    stride: Pair | None = arg(v.pair, None, short="s")
    padding: Padding = arg(v.padding, Padding(), short="p")
    ceil_mode: bool = arg(v.boolean, False, short="ceil")

    def uses_ceil(self) -> bool:
        return self.ceil_mode

    def widest_fix_padding(self) -> int:
        return max(self.kernel) // 2

    def ceil_variant(self) -> Windowed | None:
        return dataclasses.replace(self, ceil_mode=True)

    def geometry(self) -> tuple[Pair, Pair, Padding, Pair]:
        return self.kernel, self.stride or self.kernel, self.padding, (1, 1)

    def check(self, inp: Shape) -> Iterator[Finding]:
        if not self.padding.same and any(
                p > k // 2 for p, k in zip(self.padding.hw, self.kernel, strict=True)):
            half = (self.kernel[0] // 2, self.kernel[1] // 2)
            yield Finding("G005", f"padding {self.padding} is more than half the kernel "
                          f"{v.format_pair(self.kernel)}",
                          fixes=(Fix(f"p={v.format_pair(half)}", self,
                                     (dataclasses.replace(self, padding=Padding(half)),)),))
        yield from super().check(inp)

    def output_shape(self, inp: Shape) -> Shape:
        return (*self.out_hw(inp), inp[2])

    def does_nothing(self, inp: Shape) -> str:
        if not is_volume(inp):
            return ""
        if all(w.k_eff == 1 and w.stride == 1 and not w.pad_begin and not w.pad_end
               for w in self.windows(inp)):
            return "a 1×1 window with stride 1 passes every value through unchanged"
        return ""

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        n, kernel, stride = batch, self.kernel, self.stride or self.kernel
        scratch = kernels.scratch_pool2d((n, *inp), kernel, stride, self.pads(inp), self.ceil_mode)

        def passes(k: int) -> float:
            return k if k <= 4 else math.log2(k) + 4
        a1 = n * max(inp[0], (out[0] - 1) * stride[0] + kernel[0]) * inp[1] * inp[2]
        a2 = n * out[0] * max(inp[1], (out[1] - 1) * stride[1] + kernel[1]) * inp[2]
        return Cost(scratch, (a1 * passes(kernel[0]) + a2 * passes(kernel[1])) * WORK_ELEMENT)


class MaxPool(Pool):
    """Max pooling. The lecture's 2×2 stride-2 pool halves 224×224×64 to 112×112×64.

    >>> MaxPool((2, 2)).output_shape((224, 224, 64))
    (112, 112, 64)
    """

    name: ClassVar[str] = "maxpool"
    aliases: ClassVar[tuple[str, ...]] = ("maxpool2d", "maxpooling2d")

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.max_pool2d(x, self.kernel, self.stride or self.kernel,
                                  self.pads(x.shape[1:]), self.ceil_mode)

    def torch(self, inp: Shape) -> str:
        return torch_pool("nn.MaxPool2d", "nn.ConstantPad2d({}, float('-inf'))", self, inp)


class AvgPool(Pool):
    """Average pooling (padding counts in the divisor, as PyTorch's default).

    >>> AvgPool((2, 2)).output_shape((28, 28, 6))
    (14, 14, 6)
    """

    name: ClassVar[str] = "avgpool"
    aliases: ClassVar[tuple[str, ...]] = ("avgpool2d", "averagepooling2d")

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.avg_pool2d(x, self.kernel, self.stride or self.kernel,
                                  self.pads(x.shape[1:]), self.ceil_mode)

    def torch(self, inp: Shape) -> str:
        return torch_pool("nn.AvgPool2d", "nn.ZeroPad2d({})", self, inp)


class GlobalAvgPool(Layer):
    """Average over all of H×W: output 1×1×C.

    >>> GlobalAvgPool().output_shape((7, 7, 2048))
    (1, 1, 2048)
    """

    name: ClassVar[str] = "gap"
    codes: ClassVar[frozenset[str]] = frozenset({"G006"})
    aliases: ClassVar[tuple[str, ...]] = ("globalavgpool", "globalaveragepooling2d")
    formula: ClassVar[str] = "1×1×C; no params"

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def output_shape(self, inp: Shape) -> Shape:
        return 1, 1, inp[2]

    def step(self, inp: Shape) -> Step | None:
        return Step((inp[0], inp[1]), (inp[0], inp[1]))

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return Cost(16 * batch * inp[-1], 2 * batch * elements(inp) * WORK_ELEMENT)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.global_avg_pool(x)

    def torch(self, inp: Shape) -> str:
        return "nn.AdaptiveAvgPool2d(1)"


class GlobalMaxPool(GlobalAvgPool):
    """Maximum over all of H×W: output 1×1×C.

    >>> GlobalMaxPool().output_shape((7, 7, 2048))
    (1, 1, 2048)
    """

    name: ClassVar[str] = "globalmaxpool"
    aliases: ClassVar[tuple[str, ...]] = ("globalmaxpooling2d",)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.global_max_pool(x)

    def torch(self, inp: Shape) -> str:
        return "nn.AdaptiveMaxPool2d(1)"


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
    """Average pooling to a fixed output size (PyTorch's AdaptiveAvgPool2d).

    >>> AdaptiveAvgPool((7, 7)).output_shape((14, 14, 512))
    (7, 7, 512)
    """

    name: ClassVar[str] = "adaptiveavgpool"
    codes: ClassVar[frozenset[str]] = frozenset({"G006"})
    aliases: ClassVar[tuple[str, ...]] = ("adaptiveavgpool2d",)
    formula: ClassVar[str] = "size×C; no params"

    size: Pair = arg(v.pair, positional=True)

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def output_shape(self, inp: Shape) -> Shape:
        return *self.size, inp[2]

    def step(self, inp: Shape) -> Step | None:
        # The widest window, in closed form; stride ⌊n/o⌋ (exact when o divides n).
        k = tuple(widest_adaptive_window(n, o) for n, o in zip(inp[:2], self.size, strict=True))
        s = tuple(max(1, n // o) for n, o in zip(inp[:2], self.size, strict=True))
        return Step((k[0], k[1]), (s[0], s[1]))

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        ein, eout = batch * elements(inp), batch * elements(out)
        scratch = kernels.scratch_adaptive_avg_pool2d((batch, *inp), self.size)
        steps = 2 + (out[0] + out[1]) * batch * inp[1] * inp[2] // (1 << 16)
        return Cost(scratch, 8 * (ein + eout + batch * out[0] * inp[1] * inp[2]) * WORK_ELEMENT
                    + steps * WORK_STEP)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.adaptive_avg_pool2d(x, self.size)

    def torch(self, inp: Shape) -> str:
        return f"nn.AdaptiveAvgPool2d({self.size})"
