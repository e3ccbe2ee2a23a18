"""Layer kinds: one class each, in the literal registry :data:`LAYERS`.

Every kind owns its rules: the arguments it takes (dataclass fields declared
with :func:`arg`), the checks it runs (``check`` yields findings), its output
shape, its weights/biases/non-trainable counts and MACs, its receptive-field
step and its NumPy forward kernel. Blocks (``repeat``, ``residual``,
``concat``) hold groups of layers and say how their groups combine.

The classic example from the lecture: ten 5×5 filters on a 32×32×3 image with
padding 2 give a 32×32×10 volume and 5·5·3·10 + 10 = 760 parameters.

>>> conv = Conv(filters=10, kernel=(5, 5), padding=Padding((2, 2)))
>>> conv.output_shape((32, 32, 3)), conv.counts((32, 32, 3), (32, 32, 10)).params
((32, 32, 10), 760)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, cast

from . import values as v
from .diagnostics import Finding, Fix, fixes_wanted
from .shapes import Shape, Window, elements, format_shape, is_volume, transposed_size
from .values import Padding, Pair

if TYPE_CHECKING:  # numpy stays off the import path of `cnncalc check`
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float32]
    Rng = np.random.Generator


# --------------------------------------------------------------------------- arguments

def GROUP(text: str) -> str:
    """Converter marker for an argument that is a group of layers (the builder builds them)."""
    return text


def arg(convert: v.Converter, default: Any = dataclasses.MISSING, *, short: str | None = None,
        positional: bool = False, variadic: bool = False, help: str = "") -> Any:
    """Declare a layer argument: how its text converts, its short name, its default."""
    meta = {"convert": convert, "short": short, "positional": positional,
            "variadic": variadic, "help": help}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Argument:
    name: str
    convert: v.Converter
    required: bool
    default: Any
    short: str | None
    positional: bool
    variadic: bool
    help: str


def arguments(kind: type[Node]) -> tuple[Argument, ...]:
    """The arguments a layer kind takes, in declaration order (positional ones first)."""
    return _arguments(cast(Any, kind))


@functools.cache
def _arguments(kind: Any) -> tuple[Argument, ...]:  # Any: mypy sees dataclass types as unhashable
    out = []
    for f in dataclasses.fields(kind):
        if "convert" not in f.metadata:
            continue
        m = f.metadata
        required = f.default is dataclasses.MISSING
        out.append(Argument(f.name, m["convert"], required, None if required else f.default,
                            m["short"], m["positional"], m["variadic"], m["help"]))
    return tuple(out)


# --------------------------------------------------------------------------- results

@dataclass(frozen=True, slots=True)
class Counts:
    """Learned weight and bias elements, stored non-trainable elements, and MACs."""

    weights: int = 0
    biases: int = 0
    non_trainable: int = 0
    macs: int = 0

    @property
    def params(self) -> int:
        return self.weights + self.biases

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.weights + other.weights, self.biases + other.biases,
                      self.non_trainable + other.non_trainable, self.macs + other.macs)


@dataclass(frozen=True, slots=True)
class Step:
    """A receptive-field step per axis: ``r' = r + (k − 1)·j``, ``j' = j·s``."""

    kernel: Pair = (1, 1)
    stride: Pair = (1, 1)


IDENTITY_STEP = Step()


# --------------------------------------------------------------------------- base classes

@dataclass(frozen=True, eq=False, repr=False)
class Node:
    """Anything that can stand in a sequence: a layer or a block."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    formula: ClassVar[str] = "same shape, no parameters"

    location: Any = field(default=None, kw_only=True, compare=False, repr=False)
    """Where the node was written (a :class:`~cnncalc.diagnostics.Location`)."""

    def __repr__(self) -> str:  # layers compare by identity; their text is their repr
        return f"<{type(self).__name__} {self.describe()}>"

    def describe(self) -> str:
        """Canonical spec text: positional arguments, then keywords that differ from defaults.

        >>> Conv(10, (5, 5), padding=Padding((2, 2))).describe()
        'conv(10, 5, p=2)'
        """
        parts = []
        for a in arguments(type(self)):
            value = getattr(self, a.name)
            if a.convert is GROUP:
                groups = value if a.variadic else (value,)
                parts += [("" if a.positional else f"{a.name}=") + describe_group(g)
                          for g in groups if a.positional or g]
            elif a.required and a.positional:
                parts.append(v.format_value(value))
            elif value != a.default:
                parts.append(f"{a.short or a.name}={v.format_value(value)}")
        return f"{self.name}({', '.join(parts)})" if parts else self.name


Group = tuple[Node, ...]


def describe_group(group: Group) -> str:
    return "[" + " -> ".join(n.describe() for n in group) + "]"


@dataclass(frozen=True, eq=False, repr=False)
class Layer(Node):
    """A leaf layer. Subclasses override what differs from 'same shape, no parameters'."""

    def check(self, inp: Shape) -> Iterator[Finding]:
        """Yield what is wrong with this layer on input ``inp``."""
        yield from ()

    def check_alone(self) -> Iterator[Finding]:
        """What is wrong whatever the input (run when the input shape is unknown)."""
        yield from ()

    def output_shape(self, inp: Shape) -> Shape:
        return inp

    def counts(self, inp: Shape, out: Shape) -> Counts:
        return Counts()

    def step(self, inp: Shape) -> Step | None:
        """Receptive-field step, or None when the receptive field is undefined after it."""
        return IDENTITY_STEP

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        """The arithmetic behind this layer's numbers, one line per fact (``cnncalc explain``)."""
        c = self.counts(inp, out)
        if out == inp and not c.params and not c.non_trainable:
            return ["same shape, no parameters"]
        return [f"output {format_shape(out)}", *count_lines(c)]

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        """Shapes of the arrays the forward kernel needs (weights, biases, statistics)."""
        return {}

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return x

    torch_module: ClassVar[str] = "nn.Identity()"

    def torch(self, inp: Shape) -> str:
        """The equivalent PyTorch module, as Python source (``cnncalc export``)."""
        return self.torch_module


@dataclass(frozen=True, eq=False, repr=False)
class Block(Node):
    """Holds groups of layers. ``chained`` groups run one after another (``repeat``);
    otherwise every group gets the block's input and :meth:`join` combines them."""

    chained: ClassVar[bool] = False

    def groups(self) -> Sequence[Group]:
        raise NotImplementedError

    def label(self) -> str:
        """A short name for a table row (the full text can be long)."""
        return self.name

    def expanded_size(self, size_of: Callable[[Group], int]) -> int:
        """Rows this block's groups expand to (``size_of`` measures one group)."""
        return sum(size_of(g) for g in self.groups())

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        """The block's output shape from its groups' outputs (parallel blocks)."""
        return outs[-1], []

    def merge(self, arrays: Sequence[Array]) -> Array:
        """The forward pass of :meth:`join`."""
        return arrays[-1]


# --------------------------------------------------------------------------- windows

def needs_volume(layer: Node, inp: Shape) -> Iterator[Finding]:
    if not is_volume(inp):
        yield Finding("G006", f"{layer.name} needs an H×W×C volume, but its input is a flat "
                      f"vector of {format_shape(inp)}", ("put it before the first fc/flatten",),
                      fatal=True)


@dataclass(frozen=True, eq=False, repr=False)
class Windowed(Layer):
    """Shared by conv and pooling: a kernel sliding with a stride over padded input."""

    def uses_ceil(self) -> bool:
        return False

    def geometry(self) -> tuple[Pair, Pair, Padding, Pair]:
        """(kernel, stride, padding, dilation)."""
        raise NotImplementedError

    def windows(self, inp: Shape) -> tuple[Window, Window]:
        kernel, stride, padding, dilation = self.geometry()
        top, bottom, left, right = padding.resolve((inp[0], inp[1]), kernel, stride, dilation)
        return (Window(inp[0], kernel[0], stride[0], top, bottom, dilation[0], self.uses_ceil()),
                Window(inp[1], kernel[1], stride[1], left, right, dilation[1], self.uses_ceil()))

    def pads(self, inp: Shape) -> tuple[int, int, int, int]:
        wh, ww = self.windows(inp)
        return wh.pad_begin, wh.pad_end, ww.pad_begin, ww.pad_end

    def out_hw(self, inp: Shape) -> Pair:
        wh, ww = self.windows(inp)
        return wh.out, ww.out

    def check(self, inp: Shape) -> Iterator[Finding]:
        if not is_volume(inp):
            yield from needs_volume(self, inp)
            return
        wh, ww = self.windows(inp)
        for axis, w in (("height", wh), ("width", ww)):
            if not w.fits:
                yield Finding(
                    "G003", f"the {w.k_eff}-pixel window is larger than the padded input "
                    f"{axis} {w.size} + {w.pad_begin} + {w.pad_end} = "
                    f"{w.size + w.pad_begin + w.pad_end}",
                    ("use a smaller kernel or more padding, or remove a downsampling layer "
                     "before this one",), fatal=True)
                return
        yield from division_findings(self, inp, wh, ww)
        if any(out < 1 for out in (wh.out, ww.out)):  # pragma: no cover - fits implies out ≥ 1
            yield Finding("G009", "the output would be empty", fatal=True)

    def step(self, inp: Shape) -> Step | None:
        wh, ww = self.windows(inp)
        return Step((wh.k_eff, ww.k_eff), (wh.stride, ww.stride))

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        c = self.counts(inp, out)
        kernel = self.geometry()[0]
        per_group = c.weights // max(1, kernel[0] * kernel[1] * out[2]) if c.weights else 0
        formula = f"{kernel[0]}·{kernel[1]}·{per_group}·{out[2]}"
        spatial = f" · {out[0]}·{out[1]}"
        return window_lines(self, inp, out) + count_lines(c, formula, spatial)


def window_lines(layer: Windowed, inp: Shape, out: Shape) -> list[str]:
    """Per-axis (N − F + 2P)/S + 1 lines (one when both axes agree)."""
    wh, ww = layer.windows(inp)
    floor = "⌈⌉" if wh.ceil else "⌊⌋"
    lines = []
    for axis, w, n in (("height", wh, out[0]), ("width", ww, out[1])):
        exact = "" if not w.leftover else f" → {floor[0]}…{floor[1]} = {n}"
        lines.append(f"{axis}: {arithmetic(w)}{exact}")
    if lines[0].split(": ", 1)[1] == lines[1].split(": ", 1)[1]:
        lines = ["height and width: " + lines[0].split(": ", 1)[1]]
    if wh.dilation > 1 or ww.dilation > 1:
        lines.append(f"dilated kernel spans {wh.k_eff}×{ww.k_eff} pixels (d·(k−1) + 1)")
    return [*lines, f"output {format_shape(out)}"]


def count_lines(c: Counts, formula: str = "", spatial: str = "") -> list[str]:
    lines = []
    if c.weights:
        lines.append(f"weights {formula + ' = ' if formula else ''}{c.weights:,}")
    if c.biases:
        lines.append(f"biases {c.biases:,}")
    if c.params:
        lines.append(f"params {c.params:,}")
    if c.non_trainable:
        lines.append(f"non-trainable {c.non_trainable:,}")
    if c.macs:
        lines.append(f"MACs {c.weights:,}{spatial} = {c.macs:,}" if spatial else f"MACs {c.macs:,}")
    return lines


def _lost_text(lost_h: int, lost_w: int) -> str:
    """``the last row and column of the input are never read``."""
    def part(n: int, noun: str) -> str:
        return noun if n == 1 else f"{n} {noun}s"
    if lost_h and lost_w:
        what, verb = f"{part(lost_h, 'row')} and {part(lost_w, 'column')}", "are"
    else:
        n, noun = (lost_h, "row") if lost_h else (lost_w, "column")
        what, verb = part(n, noun), "is" if n == 1 else "are"
    return f"the last {what} of the input {verb} never read"


def arithmetic(w: Window) -> str:
    """``(7 − 3 + 2·0)/3 + 1 = 2.33`` — the lecture's formula with this axis' numbers."""
    pad = f"2·{w.pad_begin}" if w.pad_begin == w.pad_end else f"{w.pad_begin}+{w.pad_end}"
    value = v.decimal_text(Fraction(w.span, w.stride) + 1)
    return f"({w.size} − {w.k_eff} + {pad})/{w.stride} + 1 = {value}"


def division_findings(layer: Windowed, inp: Shape, wh: Window, ww: Window) -> Iterator[Finding]:
    """The lecture's rule: (N − F + 2P)/S + 1 must be an integer (spec §6)."""
    inexact = [w for w in (wh, ww) if w.leftover]
    if not inexact:
        return
    sums = sorted({arithmetic(w) for w in inexact})
    formula = " and ".join(sums) + (" are not integers" if len(sums) > 1 else " is not an integer")
    losing = [w for w in (wh, ww) if w.lost > w.gap]
    fixes = tuple(suggest_fixes(layer, inp, restride=bool(losing))) if fixes_wanted() else ()
    if losing:
        lost_h = wh.lost if wh in losing else 0
        lost_w = ww.lost if ww in losing else 0
        yield Finding("G001", f"{formula}: {_lost_text(lost_h, lost_w)}", fixes=fixes)
    else:
        padding_only = all(w.lost == 0 for w in inexact)
        why = ("only padding goes unread" if padding_only
               else "the unread input is no more than the stride skips anyway")
        yield Finding("G002", f"{formula}: {why}", fixes=fixes)


SEARCH = 32
"""Fix candidates searched per axis around the current value: the search is bounded
whatever the size of the numbers in the spec."""


def suggest_fixes(layer: Windowed, inp: Shape, restride: bool = True) -> Iterator[Fix]:
    """Paddings, ceil mode, strides (when input is lost) and input sizes that make the
    division exact. Each is a :class:`~cnncalc.diagnostics.Fix` that says what it replaces;
    the driver re-analyses them in context before any is shown (:mod:`cnncalc.fixes`)."""
    kernel, stride, padding, _ = layer.geometry()
    wh, ww = layer.windows(inp)
    candidates: list[Windowed] = []
    if not padding.same and padding.hw[0] == padding.hw[1]:
        limit = min(max(kernel) // 2 if isinstance(layer, Pool) else max(kernel), SEARCH)
        candidates += [dataclasses.replace(layer, padding=Padding((p, p)))  # type: ignore[call-arg]
                       for p in range(0, limit + 1) if p != padding.hw[0]]
    if isinstance(layer, Pool):
        candidates.append(dataclasses.replace(layer, ceil_mode=True))
    if restride and stride[0] == stride[1]:
        candidates += [dataclasses.replace(layer, stride=(s, s))  # type: ignore[call-arg]
                       for s in range(stride[0] - 1, max(0, stride[0] - 1 - SEARCH), -1)]
    exact, padding_only = [], []
    for c in candidates:
        ch, cw = c.windows(inp)
        if not (ch.fits and cw.fits):
            continue
        if not ch.leftover and not cw.leftover:
            exact.append(Fix(f"{c.describe()} → {format_shape(c.output_shape(inp))}", layer, (c,)))
        elif c.geometry()[2] != padding and all(w.lost <= w.gap for w in (ch, cw)) and any(
                w.lost > w.gap for w in (wh, ww)):
            padding_only.append(Fix(f"{c.describe()} → {format_shape(c.output_shape(inp))} "
                                    "(inexact, but only padding goes unread)", layer, (c,),
                                    slot="padding-only"))
    yield from exact
    if not any(isinstance(f.nodes[0], Windowed) and f.nodes[0].geometry()[2] != padding
               for f in exact):
        yield from padding_only
    for w, axis in ((wh, 0), (ww, 1)) if restride else ():
        if w.leftover and (axis == 0 or w.size != wh.size or not wh.leftover):
            below, above = w.size - w.leftover, w.size + w.stride - w.leftover
            sizes = [n for n in (below, above) if n > 0 and n + w.pad_begin + w.pad_end >= w.k_eff]
            both = axis == 0 and wh.size == ww.size and ww.leftover
            name = "height" if axis == 0 and not both else "width" if axis == 1 else "size"
            for n in sizes:
                shape = (n, n, inp[2]) if both else (n, inp[1], inp[2]) if axis == 0 else (
                    inp[0], n, inp[2])
                yield Fix(f"input {name} {n} instead of {w.size}", layer, layer_input=shape,
                          template=f"input {name} {{}} instead of {w.size}", value=str(n))


# --------------------------------------------------------------------------- export helpers

def py_float(x: float) -> str:
    """A float as Python source that evaluates to exactly ``x`` (``float('inf')`` for inf,
    which ``repr`` would write as the undefined name ``inf``).

    >>> py_float(1e-4), py_float(float("inf")), py_float(float("-inf")), py_float(0.1 + 0.2)
    ('0.0001', "float('inf')", "float('-inf')", '0.30000000000000004')
    """
    x = float(x)
    if math.isnan(x):
        return "float('nan')"
    if math.isinf(x):
        return "float('inf')" if x > 0 else "float('-inf')"
    return repr(x)


# --------------------------------------------------------------------------- convolutions

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


def torch_pool(module: str, padder: str, layer: Pool, inp: Shape) -> str:
    kernel, stride, _, _ = layer.geometry()
    top, bottom, left, right = layer.pads(inp)
    pad, padding = "", (top, left)
    if (top, left) != (bottom, right):
        pad, padding = padder.format((left, right, top, bottom)) + ", ", (0, 0)
    pool = f"{module}({kernel}, stride={stride}, padding={padding}, ceil_mode={layer.ceil_mode})"
    return f"nn.Sequential({pad}{pool})" if pad else pool


@dataclass(frozen=True, eq=False, repr=False)
class Conv(Windowed):
    """2-D convolution: ``filters`` filters, each as deep as its input (C/groups).

    Output H'×W'×filters with H' = ⌊(H + p_top + p_bottom − d·(k−1) − 1)/s⌋ + 1;
    weights k_h·k_w·(C/g)·filters, biases filters; MACs weights·H'·W'.

    >>> Conv(1, (3, 3)).output_shape((7, 7, 3)), Conv(1, (3, 3), stride=(2, 2)).output_shape((7, 7, 3))
    ((5, 5, 1), (3, 3, 1))
    """

    name: ClassVar[str] = "conv"
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

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
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

    def counts(self, inp: Shape, out: Shape) -> Counts:
        weights = self.kernel[0] * self.kernel[1] * out[2]
        return Counts(weights, out[2] if self.bias else 0, 0, weights * out[0] * out[1])

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        c = self.output_shape(inp)[2]
        return {"w": (*self.kernel, 1, c), **({"b": (c,)} if self.bias else {})}

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.conv2d(x, w["w"], w.get("b"), self.stride, self.pads(x.shape[1:]),
                              self.dilation, x.shape[3])

    def torch(self, inp: Shape) -> str:
        return torch_conv("nn.Conv2d", inp[2], inp[2] * self.multiplier, self, inp, inp[2],
                          self.bias)


@dataclass(frozen=True, eq=False, repr=False)
class Deconv(Layer):
    """Transposed convolution (PyTorch's ConvTranspose2d).

    Output (in−1)·s − 2p + d·(k−1) + output_padding + 1 per axis; params as conv;
    MACs weights × input H×W (fvcore's rule).

    >>> Deconv(16, (3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1)).output_shape((7, 7, 8))
    (14, 14, 16)
    """

    name: ClassVar[str] = "deconv"
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

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {
            "w": (*self.kernel, inp[2], self.filters // self.groups)}
        if self.bias:
            shapes["b"] = (self.filters,)
        return shapes

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.conv_transpose2d(x, w["w"], w.get("b"), self.stride, self.padding,
                                        self.output_padding, self.dilation, self.groups)

    def torch(self, inp: Shape) -> str:
        return (f"nn.ConvTranspose2d({inp[2]}, {self.filters}, {self.kernel}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}, "
                f"groups={self.groups}, bias={self.bias}, dilation={self.dilation})")


# --------------------------------------------------------------------------- pooling

@dataclass(frozen=True, eq=False, repr=False)
class Pool(Windowed):
    """Pooling over k×k windows; stride defaults to the kernel. No parameters."""

    formula: ClassVar[str] = "H'×W'×C as conv's rule (ceil=true: PyTorch's ceil_mode); no params"

    kernel: Pair = arg(v.pair, short="k", positional=True, help="window size, n or HxW")
    stride: Pair | None = arg(v.pair, None, short="s")
    padding: Padding = arg(v.padding, Padding(), short="p")
    ceil_mode: bool = arg(v.boolean, False, short="ceil")

    def uses_ceil(self) -> bool:
        return self.ceil_mode

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


@dataclass(frozen=True, eq=False, repr=False)
class MaxPool(Pool):
    """Max pooling. The lecture's 2×2 stride-2 pool halves 224×224×64 to 112×112×64.

    >>> MaxPool((2, 2)).output_shape((224, 224, 64))
    (112, 112, 64)
    """

    name: ClassVar[str] = "maxpool"
    aliases: ClassVar[tuple[str, ...]] = ("maxpool2d", "maxpooling2d")

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.max_pool2d(x, self.kernel, self.stride or self.kernel,
                                  self.pads(x.shape[1:]), self.ceil_mode)

    def torch(self, inp: Shape) -> str:
        return torch_pool("nn.MaxPool2d", "nn.ConstantPad2d({}, float('-inf'))", self, inp)


@dataclass(frozen=True, eq=False, repr=False)
class AvgPool(Pool):
    """Average pooling (padding counts in the divisor, as PyTorch's default).

    >>> AvgPool((2, 2)).output_shape((28, 28, 6))
    (14, 14, 6)
    """

    name: ClassVar[str] = "avgpool"
    aliases: ClassVar[tuple[str, ...]] = ("avgpool2d", "averagepooling2d")

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.avg_pool2d(x, self.kernel, self.stride or self.kernel,
                                  self.pads(x.shape[1:]), self.ceil_mode)

    def torch(self, inp: Shape) -> str:
        return torch_pool("nn.AvgPool2d", "nn.ZeroPad2d({})", self, inp)


@dataclass(frozen=True, eq=False, repr=False)
class GlobalAvgPool(Layer):
    """Average over all of H×W: output 1×1×C.

    >>> GlobalAvgPool().output_shape((7, 7, 2048))
    (1, 1, 2048)
    """

    name: ClassVar[str] = "gap"
    aliases: ClassVar[tuple[str, ...]] = ("globalavgpool", "globalaveragepooling2d")
    formula: ClassVar[str] = "1×1×C; no params"

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def output_shape(self, inp: Shape) -> Shape:
        return 1, 1, inp[2]

    def step(self, inp: Shape) -> Step | None:
        return Step((inp[0], inp[1]), (inp[0], inp[1]))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.global_avg_pool(x)

    def torch(self, inp: Shape) -> str:
        return "nn.AdaptiveAvgPool2d(1)"


@dataclass(frozen=True, eq=False, repr=False)
class GlobalMaxPool(GlobalAvgPool):
    """Maximum over all of H×W: output 1×1×C."""

    name: ClassVar[str] = "globalmaxpool"
    aliases: ClassVar[tuple[str, ...]] = ("globalmaxpooling2d",)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
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

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.adaptive_avg_pool2d(x, self.size)

    def torch(self, inp: Shape) -> str:
        return f"nn.AdaptiveAvgPool2d({self.size})"


# --------------------------------------------------------------------------- normalisation

@dataclass(frozen=True, eq=False, repr=False)
class BatchNorm(Layer):
    """Batch normalisation: γ (weights) and β (biases) per channel, plus running mean and
    variance (2C non-trainable).

    >>> BatchNorm().counts((112, 112, 64), (112, 112, 64))
    Counts(weights=64, biases=64, non_trainable=128, macs=0)
    """

    name: ClassVar[str] = "bn"
    aliases: ClassVar[tuple[str, ...]] = ("batchnorm", "batchnorm2d", "batchnormalization")
    formula: ClassVar[str] = "same shape; params 2C (γ, β), non-trainable 2C (running mean, var)"

    affine: bool = arg(v.boolean, True)
    eps: float = arg(v.positive_real, 1e-5)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        c = inp[-1]
        return Counts(c if self.affine else 0, c if self.affine else 0, 2 * c, 0)

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        c: tuple[int, ...] = (inp[-1],)
        stats = {"mean": c, "var": c}
        return {"gamma": c, "beta": c, **stats} if self.affine else stats

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.batch_norm(x, w.get("gamma"), w.get("beta"), w["mean"], w["var"], self.eps)

    def torch(self, inp: Shape) -> str:
        kind = "nn.BatchNorm2d" if is_volume(inp) else "nn.BatchNorm1d"
        return f"{kind}({inp[-1]}, eps={py_float(self.eps)}, affine={self.affine})"


# --------------------------------------------------------------------------- element-wise

@dataclass(frozen=True, eq=False, repr=False)
class ReLU(Layer):
    """max(0, x): same shape, no parameters."""

    name: ClassVar[str] = "relu"
    torch_module: ClassVar[str] = "nn.ReLU()"
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.relu(x)


@dataclass(frozen=True, eq=False, repr=False)
class ReLU6(Layer):
    """min(max(0, x), 6)."""

    name: ClassVar[str] = "relu6"
    torch_module: ClassVar[str] = "nn.ReLU6()"
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.relu6(x)


@dataclass(frozen=True, eq=False, repr=False)
class LeakyReLU(Layer):
    """x if x > 0 else slope·x."""

    name: ClassVar[str] = "leakyrelu"
    slope: float = arg(v.real, 0.01, positional=True)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.leaky_relu(x, self.slope)

    def torch(self, inp: Shape) -> str:
        return f"nn.LeakyReLU({py_float(self.slope)})"


@dataclass(frozen=True, eq=False, repr=False)
class PReLU(Layer):
    """x if x > 0 else a·x with one learned a.

    >>> PReLU().counts((8, 8, 3), (8, 8, 3)).params
    1
    """

    name: ClassVar[str] = "prelu"
    torch_module: ClassVar[str] = "nn.PReLU()"
    formula: ClassVar[str] = "same shape; 1 param"

    def counts(self, inp: Shape, out: Shape) -> Counts:
        return Counts(weights=1)

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        return {"a": (1,)}

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.prelu(x, w["a"])


@dataclass(frozen=True, eq=False, repr=False)
class ELU(Layer):
    """x if x > 0 else α·(eˣ − 1)."""

    name: ClassVar[str] = "elu"
    alpha: float = arg(v.real, 1.0, positional=True)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.elu(x, self.alpha)

    def torch(self, inp: Shape) -> str:
        return f"nn.ELU({py_float(self.alpha)})"


@dataclass(frozen=True, eq=False, repr=False)
class GELU(Layer):
    """x·Φ(x)."""

    name: ClassVar[str] = "gelu"
    torch_module: ClassVar[str] = "nn.GELU()"
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.gelu(x)


@dataclass(frozen=True, eq=False, repr=False)
class SiLU(Layer):
    """x·σ(x) (swish)."""

    name: ClassVar[str] = "silu"
    torch_module: ClassVar[str] = "nn.SiLU()"
    aliases: ClassVar[tuple[str, ...]] = ("swish",)
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.silu(x)


@dataclass(frozen=True, eq=False, repr=False)
class Sigmoid(Layer):
    """1/(1 + e⁻ˣ)."""

    name: ClassVar[str] = "sigmoid"
    torch_module: ClassVar[str] = "nn.Sigmoid()"
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.sigmoid(x)


@dataclass(frozen=True, eq=False, repr=False)
class Tanh(Layer):
    """tanh(x)."""

    name: ClassVar[str] = "tanh"
    torch_module: ClassVar[str] = "nn.Tanh()"
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.tanh(x)


@dataclass(frozen=True, eq=False, repr=False)
class HardSwish(Layer):
    """x·relu6(x + 3)/6."""

    name: ClassVar[str] = "hardswish"
    torch_module: ClassVar[str] = "nn.Hardswish()"
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.hardswish(x)


@dataclass(frozen=True, eq=False, repr=False)
class Softmax(Layer):
    """eˣ/Σeˣ over the channels."""

    name: ClassVar[str] = "softmax"
    torch_module: ClassVar[str] = "nn.Softmax(dim=1)"
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.softmax(x)


@dataclass(frozen=True, eq=False, repr=False)
class LRN(Layer):
    """Local response normalisation across ``size`` neighbouring channels (AlexNet)."""

    name: ClassVar[str] = "lrn"
    aliases: ClassVar[tuple[str, ...]] = ("localresponsenorm",)
    size: int = arg(v.count, 5, positional=True)
    alpha: float = arg(v.real, 1e-4)
    beta: float = arg(v.real, 0.75)
    k: float = arg(v.real, 1.0)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.lrn(x, self.size, self.alpha, self.beta, self.k)

    def torch(self, inp: Shape) -> str:
        lrn = (f"nn.LocalResponseNorm({self.size}, alpha={py_float(self.alpha)}, "
               f"beta={py_float(self.beta)}, k={py_float(self.k)})")
        if is_volume(inp):
            return lrn
        # PyTorch's LRN needs N×C×…; a flat vector is N×C: give it a length-1 axis and back.
        return f"nn.Sequential(nn.Unflatten(1, ({inp[0]}, 1)), {lrn}, nn.Flatten())"


@dataclass(frozen=True, eq=False, repr=False)
class Identity(Layer):
    """Passes its input through."""

    name: ClassVar[str] = "identity"
    torch_module: ClassVar[str] = "nn.Identity()"


@dataclass(frozen=True, eq=False, repr=False)
class Dropout(Layer):
    """Zeroes a fraction p of activations in training; the identity at inference."""

    name: ClassVar[str] = "dropout"
    p: float = arg(v.probability, 0.5, positional=True)

    def torch(self, inp: Shape) -> str:
        return f"nn.Dropout({py_float(self.p)})"


# --------------------------------------------------------------------------- reshaping

@dataclass(frozen=True, eq=False, repr=False)
class Flatten(Layer):
    """H×W×C → one vector of H·W·C.

    >>> Flatten().output_shape((7, 7, 512))
    (25088,)
    """

    name: ClassVar[str] = "flatten"
    torch_module: ClassVar[str] = "nn.Flatten()"
    formula: ClassVar[str] = "H·W·C; no params"

    def output_shape(self, inp: Shape) -> Shape:
        return (elements(inp),)

    def step(self, inp: Shape) -> Step | None:
        return None

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.flatten(x)


@dataclass(frozen=True, eq=False, repr=False)
class FC(Layer):
    """Fully connected: every unit sees the whole (flattened) input.

    Output ``units``; weights in·units, biases units; MACs in·units.

    >>> FC(10).counts((7, 7, 64), (10,))
    Counts(weights=31360, biases=10, non_trainable=0, macs=31360)
    """

    name: ClassVar[str] = "fc"
    aliases: ClassVar[tuple[str, ...]] = ("linear", "dense")
    formula: ClassVar[str] = "units (flattens a volume first); params in·units + units"

    units: int = arg(v.count, positional=True, help="number of output units")
    bias: bool = arg(v.boolean, True)

    def output_shape(self, inp: Shape) -> Shape:
        return (self.units,)

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

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.linear(x, w["w"], w.get("b"))  # flattens a volume as a view

    def torch(self, inp: Shape) -> str:
        linear = f"nn.Linear({elements(inp)}, {self.units}, bias={self.bias})"
        return linear if len(inp) == 1 else f"nn.Sequential(nn.Flatten(), {linear})"


@dataclass(frozen=True, eq=False, repr=False)
class Pad(Layer):
    """Zero padding: (H + 2p)×(W + 2p)×C.

    >>> Pad((1, 2)).output_shape((5, 5, 3))
    (7, 9, 3)
    """

    name: ClassVar[str] = "pad"
    aliases: ClassVar[tuple[str, ...]] = ("zeropad", "zeropadding2d")
    formula: ClassVar[str] = "(H+2p)×(W+2p)×C; no params"

    p: Pair = arg(v.natural_pair, positional=True)

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def output_shape(self, inp: Shape) -> Shape:
        return inp[0] + 2 * self.p[0], inp[1] + 2 * self.p[1], inp[2]

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.pad2d(x, (self.p[0], self.p[0], self.p[1], self.p[1]))

    def torch(self, inp: Shape) -> str:
        return f"nn.ZeroPad2d({(self.p[1], self.p[1], self.p[0], self.p[0])})"


@dataclass(frozen=True, eq=False, repr=False)
class Upsample(Layer):
    """Nearest-neighbour upsampling: (H·s)×(W·s)×C.

    >>> Upsample((2, 2)).output_shape((7, 7, 3))
    (14, 14, 3)
    """

    name: ClassVar[str] = "upsample"
    aliases: ClassVar[tuple[str, ...]] = ("upsampling2d",)
    formula: ClassVar[str] = "(H·s)×(W·s)×C; no params"

    scale: Pair = arg(v.pair, positional=True)

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from needs_volume(self, inp)

    def output_shape(self, inp: Shape) -> Shape:
        return inp[0] * self.scale[0], inp[1] * self.scale[1], inp[2]

    def step(self, inp: Shape) -> Step | None:
        return None

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        from . import kernels
        return kernels.upsample_nearest(x, self.scale)

    def torch(self, inp: Shape) -> str:
        return f"nn.Upsample(scale_factor={self.scale}, mode='nearest')"


# --------------------------------------------------------------------------- blocks

@dataclass(frozen=True, eq=False, repr=False)
class Repeat(Block):
    """The group N times, one after another (``[...] * N``)."""

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

    def expanded_size(self, size_of: Callable[[Group], int]) -> int:
        return self.times * size_of(self.layers)  # without building the N-item list


def first_flattener(group: Group) -> Node | None:
    """The first fc or flatten in ``group`` (pre-order, blocks searched), or None."""
    stack = list(reversed(group))
    while stack:
        node = stack.pop()
        if isinstance(node, FC | Flatten):
            return node
        if isinstance(node, Block):
            for g in reversed([node.layers] if isinstance(node, Repeat) else node.groups()):
                stack.extend(reversed(g))
    return None


@dataclass(frozen=True, eq=False, repr=False)
class Residual(Block):
    """body(x) + shortcut(x); the shortcut is the identity unless given.

    Both must give the same shape; params are the sum.
    """

    name: ClassVar[str] = "residual"
    formula: ClassVar[str] = "body(x) + shortcut(x): shapes must match; params body + shortcut"

    body: Group = arg(GROUP, positional=True)
    shortcut: Group = arg(GROUP, ())

    def groups(self) -> Sequence[Group]:
        return [self.body, self.shortcut]

    def label(self) -> str:
        return "residual (projection shortcut)" if self.shortcut else "residual"

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        body, shortcut = outs
        if body == shortcut:
            return body, []
        fixes: list[Fix] = []
        if is_volume(inp) and is_volume(body):
            sh, sw = inp[0] // body[0], inp[1] // body[1]
            if body[0] * sh == inp[0] and body[1] * sw == inp[1]:
                projection = (Conv(body[2], (1, 1), stride=(sh, sw), bias=False), BatchNorm())
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
            keep = (f"or use conv({other[2]}, 1) to mix channels and keep H×W"
                    if is_volume(other) and isinstance(flattener, FC) else "")
            prose.append(f"a residual adds volumes: move {flattener.describe()} after the "
                         f"residual{', ' + keep if keep else ''}")
        return None, [Finding("G007", f"the body gives {format_shape(body)}{notes[0]} but {what} "
                              f"gives {format_shape(shortcut)}{notes[1]}: they cannot be added",
                              tuple(prose), fatal=True, fixes=tuple(fixes))]

    def merge(self, arrays: Sequence[Array]) -> Array:
        from . import kernels
        return kernels.add(arrays[0], arrays[1])


@dataclass(frozen=True, eq=False, repr=False)
class Concat(Block):
    """Branches side by side along the channels (Inception, DenseNet).

    All branches must agree on H×W; channels add up.
    """

    name: ClassVar[str] = "concat"
    formula: ClassVar[str] = "branches stacked along C: H×W must agree; params the sum"

    branches: tuple[Group, ...] = arg(GROUP, positional=True, variadic=True)

    def groups(self) -> Sequence[Group]:
        return self.branches

    def label(self) -> str:
        return f"concat ({len(self.branches)} branches)"

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        if all(len(o) == 1 for o in outs):
            return (sum(o[0] for o in outs),), []
        if all(is_volume(o) and o[:2] == outs[0][:2] for o in outs):
            return (*outs[0][:2], sum(o[2] for o in outs)), []
        listed = ", ".join(format_shape(o) for o in outs)
        return None, [Finding("G008", f"the branches give {listed}: concatenated branches must "
                              "agree on H×W", ("give every branch the same stride and padding",),
                              fatal=True)]

    def merge(self, arrays: Sequence[Array]) -> Array:
        from . import kernels
        return kernels.concat(list(arrays))


LAYERS: dict[str, type[Node]] = {
    "conv": Conv, "conv2d": Conv,
    "dwconv": DepthwiseConv, "depthwise": DepthwiseConv, "depthwiseconv": DepthwiseConv,
    "deconv": Deconv, "convtranspose": Deconv, "convtranspose2d": Deconv,
    "conv2dtranspose": Deconv,
    "maxpool": MaxPool, "maxpool2d": MaxPool, "maxpooling2d": MaxPool,
    "avgpool": AvgPool, "avgpool2d": AvgPool, "averagepooling2d": AvgPool,
    "gap": GlobalAvgPool, "globalavgpool": GlobalAvgPool,
    "globalaveragepooling2d": GlobalAvgPool,
    "globalmaxpool": GlobalMaxPool, "globalmaxpooling2d": GlobalMaxPool,
    "adaptiveavgpool": AdaptiveAvgPool, "adaptiveavgpool2d": AdaptiveAvgPool,
    "bn": BatchNorm, "batchnorm": BatchNorm, "batchnorm2d": BatchNorm,
    "batchnormalization": BatchNorm,
    "relu": ReLU, "relu6": ReLU6, "leakyrelu": LeakyReLU, "prelu": PReLU, "elu": ELU,
    "gelu": GELU, "silu": SiLU, "swish": SiLU, "sigmoid": Sigmoid, "tanh": Tanh,
    "hardswish": HardSwish, "softmax": Softmax,
    "lrn": LRN, "localresponsenorm": LRN,
    "identity": Identity,
    "dropout": Dropout,
    "flatten": Flatten,
    "fc": FC, "linear": FC, "dense": FC,
    "pad": Pad, "zeropad": Pad, "zeropadding2d": Pad,
    "upsample": Upsample, "upsampling2d": Upsample,
    "repeat": Repeat, "residual": Residual, "concat": Concat,
}
"""Every name a spec may use (lower case), mapped to its kind."""
