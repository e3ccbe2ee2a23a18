"""What every layer kind is made of: arguments (:func:`arg`), results (:class:`Counts`,
:class:`Step`), the base classes :class:`Node`, :class:`Layer` and :class:`Block`, and
the helpers kinds share (``needs_volume``, ``count_lines``, ``py_float``, ``kernels``)."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, cast

from .. import values as v
from ..cost import WORK_ELEMENT, WORK_STEP, Cost, TorchOp, TorchView
from ..diagnostics import Finding
from ..shapes import Shape, elements, format_shape, is_volume
from ..values import Sizes
from . import ranks
from .ranks import ranked_name

if TYPE_CHECKING:  # numpy stays off the import path of `cnncalc check`
    import numpy as np
    from numpy.typing import NDArray

    from .. import kernels as kernels

    Array = NDArray[np.float32]
else:
    class _Kernels:
        """:mod:`cnncalc.kernels`, imported at the first use of one of its names (the
        first forward pass), so that numpy stays off the import path of `cnncalc check`."""

        def __getattr__(self, name: str) -> Any:
            from .. import kernels  # numpy: imported at the first forward pass, not at start-up
            return getattr(kernels, name)

    kernels = _Kernels()
    Array = Any  # only annotations name it


DEFINED: list[type[Node]] = []
"""Every subclass of :class:`Node`, in definition order; the package's ``__init__`` keeps
those that name themselves (a ``name`` of their own) as the registry."""


# --------------------------------------------------------------------------- arguments

def GROUP(text: str) -> str:
    """Converter marker for an argument that is a group of layers (the builder builds them)."""
    return text


def arg(convert: v.Converter, default: Any = dataclasses.MISSING, *, short: str | None = None,
        positional: bool = False, variadic: bool = False, help: str = "",
        words: tuple[str, ...] = ()) -> Any:
    """Declare a layer argument: how its text converts, its short name, its default;
    ``words``: a group argument that also takes one of these words instead of a group
    (``shortcut=auto``), passed to the kind as the lower-case word."""
    meta = {"convert": convert, "short": short, "positional": positional,
            "variadic": variadic, "help": help, "words": words}
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
    words: tuple[str, ...] = ()


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
                            m["short"], m["positional"], m["variadic"], m["help"],
                            m["words"]))
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
    """A receptive-field step per spatial axis: ``r' = r + (k − 1)·j``, ``j' = j·s``
    (one number stands for every axis)."""

    kernel: Sizes = (1,)
    stride: Sizes = (1,)


IDENTITY_STEP = Step()


@dataclass(frozen=True, slots=True)
class Width:
    """A count lint L001 wants a power of two: ``count`` (its ``noun``), set through the
    argument ``knob`` — ``with_knob(k)`` is the layer with ``k`` there, or None when
    ``k`` is not allowed."""

    count: int
    noun: str
    knob: int
    with_knob: Callable[[int], Layer | None]


@dataclass(frozen=True, slots=True)
class OutputRange:
    """Where an activation's outputs lie: its text (``[0, 6]``) and bounds (None: unbounded)."""

    text: str
    low: float | None
    high: float | None

    @property
    def non_negative(self) -> bool:
        return self.low is not None and self.low >= 0


# --------------------------------------------------------------------------- base classes

@dataclass(frozen=True, eq=False, repr=False)
class Node:
    """Anything that can stand in a sequence: a layer or a block.

    A kind with arguments is a frozen ``@dataclass``; a kind that adds no fields is a plain
    subclass and inherits its base's generated ``__init__`` and frozen ``__setattr__``
    (generating them again costs start-up time on every ``cnncalc check``).
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    formula: ClassVar[str] = "same shape, no parameters"
    chained: ClassVar[bool] = False
    """A block whose groups run one after another (``repeat``)."""
    torch_helper: ClassVar[str] = ""
    """Source of the ``nn.Module`` class this kind's exported module uses, when PyTorch has
    none (a block's ``Residual``); ``cnncalc export`` defines it in the file's header."""

    # Traits: what lints ask of a kind instead of listing kinds.
    codes: ClassVar[frozenset[str]] = frozenset()
    """The problem codes this kind's own checks can raise (``tests/test_contracts.py``
    checks them against its source and :data:`~cnncalc.diagnostics.RULES`)."""
    activation: ClassVar[bool] = False
    """An element-wise nonlinearity (softmax, which normalises across channels, is not)."""
    weighted: ClassVar[bool] = False
    """Has a weight matrix or kernel of its own (and a bias it may switch off)."""
    output_range: ClassVar[OutputRange | None] = None
    """Where a bounded activation's outputs lie."""
    idempotent: ClassVar[bool] = False
    """Applying it twice is applying it once (relu)."""
    identity_on_non_negative: ClassVar[bool] = False
    """Passes non-negative inputs through unchanged (relu, leakyrelu, ...)."""
    inference_identity: ClassVar[bool] = False
    """Passes its input through unchanged at inference (identity, dropout)."""
    reshapes_only: ClassVar[bool] = False
    """Keeps every value, at most changing the shape (identity, flatten)."""
    flattens: ClassVar[bool] = False
    """Turns a volume into a flat vector (flatten, fc)."""
    sets_channels: ClassVar[bool] = False
    """Its output channels are an argument of its own (conv's filters, fc's units)."""
    join_pins_channels: ClassVar[bool] = False
    """A block whose join needs every group to give the same channels (residual's add)."""
    ranked: ClassVar[tuple[str, ...]] = ()
    """Names that take a rank: ``("conv",)`` registers ``conv1d``, ``conv2d`` and ``conv3d``
    (rank-explicit aliases, checked against the input's rank); ``{r}`` marks where the rank
    goes when it is not a ``…1d`` suffix (Keras' ``conv{r}dtranspose``)."""
    takes_flat: ClassVar[bool] = False
    """Its ``…1d`` alias also takes a flat vector (PyTorch's ``BatchNorm1d``)."""
    join_scales: ClassVar[bool] = False
    """A block whose join multiplies its input by its group's output (a gate): a sigmoid,
    hardsigmoid or softmax ending that group is what it asks for, not a misplaced one. Its
    output lies on its input's grid: the jump is the input's, and the receptive field the
    larger of the input's and the group's (the whole input when the group ends flat, as a
    squeeze-and-excitation through ``fc`` does)."""

    torch_op: ClassVar[TorchOp] = TorchOp.NONE
    """What its exported module is to tools that count MACs by module class or operator
    (torchinfo, fvcore, ptflops, thop): `cnncalc.estimates.conventions` applies their rules."""
    saves_input: ClassVar[bool] = False
    """Autograd keeps its input for the backward pass (conv, fc, bn, gelu, max pooling…)."""
    saves_output: ClassVar[bool] = False
    """Autograd keeps its output for the backward pass (relu, sigmoid, tanh, softmax)."""
    saves_group_outputs: ClassVar[bool] = False
    """A block whose join keeps its groups' outputs for the backward pass (a gate's product)."""
    keeps_layout: ClassVar[bool] = False
    """Element-wise like an activation: its exported module's output has its input's memory
    layout (layer scale; activations and pass-throughs say so by their own traits). Whether
    an exported per-position fc reads a contiguous channels-last tensor depends on it
    (ptflops' aten backend then counts its bias)."""

    location: Any = field(default=None, kw_only=True, compare=False, repr=False)
    """Where the node was written (a :class:`~cnncalc.diagnostics.Location`)."""
    alias_rank: int | None = field(default=None, kw_only=True, compare=False, repr=False)
    """The rank a rank-explicit alias (``conv3d``) named, or None."""
    tensor: str | None = field(default=None, kw_only=True, compare=False, repr=False)
    """The name ``as NAME`` gave this node's output (spec §9), or None."""

    reads: ClassVar[bool] = False
    """Its output is a named tensor (``@NAME``, a route), not a function of its input: the
    walk and the forward pass look ``route_target()`` up instead of running it."""
    unknown: ClassVar[bool] = False
    """A layer or block call with ``?`` in it: the solver's walk binds it to numbers."""

    def route_target(self) -> str:
        """The name a route reads (only asked of a kind whose ``reads`` is true)."""
        raise NotImplementedError

    def written(self) -> str:
        """:meth:`describe` with the node's ``as`` name, as a spec would write it."""
        text = self.describe()
        return f"{text} as {self.tensor}" if self.tensor else text

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        DEFINED.append(cls)

    def __repr__(self) -> str:  # layers compare by identity; their text is their repr
        return f"<{type(self).__name__} {self.describe()}>"

    def describe(self) -> str:
        """Canonical spec text: positional arguments, then keywords that differ from defaults.

        >>> from cnncalc.layers import Conv, Padding
        >>> Conv(10, (5,), padding=Padding((2,))).describe()
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
        name = self.written_name()
        return f"{name}({', '.join(parts)})" if parts else name

    def written_name(self) -> str:
        """``conv``, or ``conv3d`` when a rank-explicit alias was written."""
        if self.alias_rank is None or not self.ranked:
            return self.name
        return ranked_name(self.ranked[0], self.alias_rank)

    def label(self) -> str:
        """A short name for a table row (a block's full text can be long)."""
        return self.name

    def called(self) -> str | None:
        """A call of a block (spec §10) says how it was called: the problems inside it are
        then reported at the call, naming the line in the block's body. None here."""
        return None

    def caption(self, inp: Shape | None) -> str:
        """The short text ``cnncalc draw`` writes under the arrow into this node's output:
        the spec text (a block: its label). :class:`~cnncalc.layers.window.Windowed`
        writes the lecture's ``conv 3×3/2, 64``."""
        return self.describe()

    def flattens_volume(self) -> bool:
        """This node turns a volume into a flat vector: the ``flattens`` trait, unless an
        argument of its own says otherwise (``fc(flatten=false)``)."""
        return self.flattens

    def torch_view(self, inp: Shape) -> TorchView:
        """Its exported module as counting tools see it on ``inp`` (:class:`TorchView`)."""
        return TorchView(self.torch_op, inp)

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        """Bytes autograd keeps for its backward pass besides its input or output: max-pool
        indices, a norm's statistics, a dropout mask, a copy it made (default none)."""
        return 0

    def size_period(self, inp: Shape) -> tuple[tuple[int, int], ...]:
        """How this node's findings and output depend on its input's size along each spatial
        axis (a flat vector: its length), the others fixed — ``(period, threshold)`` per axis:
        on sizes ≥ threshold its findings depend only on the size mod period and its output
        size is affine in the size on each residue class; every size below the threshold is
        rejected alike (an error) or there is only one such size. ``cnncalc sizes``
        (:mod:`cnncalc.design.sizes`) splits sets of input sizes by it. Default: any size
        alike, output affine (element-wise layers, norms, fc, upsample, pad, …).

        >>> from cnncalc.layers import Conv, ReLU
        >>> ReLU().size_period((7, 9, 3)), ReLU().size_period((10,))
        (((1, 1), (1, 1)), ((1, 1),))
        >>> Conv(8, (3,), stride=(2,)).size_period((32, 32, 3))  # stride 2, fits from 3
        ((2, 3), (2, 3))
        """
        return ((1, 1),) * max(1, len(inp) - 1)

    def size_runs(self, inp: Shape) -> tuple[tuple[int, tuple[int, ...]] | None, ...]:
        """A finer view of :meth:`size_period`, for a period too long to split sizes by
        residue: ``(phase, offsets)`` per axis — on sizes ≥ the threshold, findings and
        output size are the same for every size in ``[phase + j·period + o_k, phase +
        j·period + o_(k+1))`` (``o_0 = 0``, the last up to the next period); None when the
        kind gives none (default).

        >>> from cnncalc.layers import ReLU
        >>> ReLU().size_runs((7, 9, 3))
        (None, None)
        """
        return (None,) * max(1, len(inp) - 1)

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        """This node's PyTorch module as Python source (``cnncalc export``): ``inp`` is its
        input shape, ``parts`` the source of each of its groups (a block's), ``sequence`` writes an
        ``nn.Sequential`` of modules."""
        raise NotImplementedError


Group = tuple[Node, ...]


def describe_group(group: Group) -> str:
    return "[" + " -> ".join(n.written() for n in group) + "]"


class Layer(Node):
    """A leaf layer. Subclasses override what differs from 'same shape, no parameters'."""

    def validate(self, inp: Shape) -> Iterator[Finding]:
        """Everything wrong with this layer on ``inp``: the rank checks every kind shares
        (a rank-explicit alias on another rank, per-axis sizes of the wrong length — G010,
        see :mod:`.ranks`), then the kind's own :meth:`check`, which may rely on them."""
        wrong = list(ranks.rank_findings(self, inp))
        yield from wrong
        if not wrong:
            yield from self.check(inp)

    def check(self, inp: Shape) -> Iterator[Finding]:
        """Yield what is wrong with this layer on input ``inp`` (of a rank its sizes fit)."""
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

    def window(self, inp: Shape) -> tuple[Sizes, Sizes] | None:
        """(kernel, stride) per spatial axis of a sliding-window layer (the ``kernel`` and
        ``stride`` columns); None for the others."""
        return None

    def extent(self, inp: Shape) -> tuple[Sizes, Sizes, Sizes] | None:
        """(dilated kernel d·(k−1)+1, stride, dilation) per spatial axis of a layer that
        slides a kernel (what bounds ``cnncalc solve``'s strides and paddings); None for
        the others."""
        return None

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        """The arithmetic behind this layer's numbers, one line per fact (``cnncalc explain``)."""
        c = self.counts(inp, out)
        if out == inp and not c.params and not c.non_trainable:
            return ["same shape, no parameters"]
        return [f"output {format_shape(out)}", *count_lines(c)]

    def width(self, inp: Shape) -> Width | None:
        """The output count a GPU tiles in powers of two (filters, units), when this kind
        has one it sets and any power of two is possible (lint L001)."""
        return None

    def does_nothing(self, inp: Shape) -> str:
        """Why this layer computes nothing on ``inp`` (lint L009), or ``""``."""
        return ""

    def cancels_channel_bias(self, inp: Shape) -> str:
        """Why a constant added to each channel just before this layer (a conv's or fc's
        bias) cannot change its output on ``inp`` — it subtracts each channel's own mean
        (lint L007) — or ``""`` when a per-channel bias survives it."""
        return ""

    def without_bias(self) -> Layer | None:
        """This layer with its bias switched off, when it has one that is on."""
        if not getattr(self, "bias", False):
            return None
        return cast(Layer, dataclasses.replace(cast(Any, self), bias=False))

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        """Shapes of the arrays the forward kernel needs (weights, biases, statistics)."""
        return {}

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        """The scratch bytes and work of this kind's kernel on ``batch`` inputs of shape
        ``inp`` (default: a chunked element-wise kernel, e.g. gelu or sigmoid)."""
        ein = batch * elements(inp)
        return Cost(kernels.scratch_elementwise((batch, *inp)),
                    60 * ein * WORK_ELEMENT + (ein // (1 << 16) + 1) * WORK_STEP)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return x

    torch_module: ClassVar[str] = "nn.Identity()"

    def torch(self, inp: Shape) -> str:
        """The equivalent PyTorch module, as Python source (``cnncalc export``)."""
        return self.torch_module

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        return self.torch(inp)


class Block(Node):
    """Holds groups of layers. ``chained`` groups run one after another (``repeat``);
    otherwise every group gets the block's input and :meth:`join` combines them."""

    def groups(self) -> Sequence[Group]:
        raise NotImplementedError

    def caption(self, inp: Shape | None) -> str:
        return self.label()

    def glyph(self) -> str:
        """How ``cnncalc draw`` shows the join of a block whose groups run side by side: ``⊕``
        (a sum), ``⊗`` (a gate's product), ``concat``; ``""``: no join, the groups are drawn
        one after another."""
        if self.chained:
            return ""
        return "⊗" if self.join_scales else "⊕" if self.join_pins_channels else "concat"

    def expanded_size(self, size_of: Callable[[Group], int]) -> int:
        """Rows this block's groups expand to (``size_of`` measures one group)."""
        return sum(size_of(g) for g in self.groups())

    def settle(self, inp: Shape | None, first: Shape | None) -> tuple[Block, list[Finding]]:
        """This block as analysed once its first group gave ``first`` on ``inp`` (None:
        unknown): a block whose later groups depend on that (``residual(shortcut=auto)``)
        returns a copy with them filled in. Every walk calls it after the first group."""
        return self, []

    def inputs(self, inp: Shape) -> tuple[list[Shape] | None, list[Finding]]:
        """Each group's input on the block's input ``inp`` (parallel blocks), or None with
        the findings when the groups cannot be given one (a split that does not divide)."""
        return [inp] * len(self.groups()), []

    def fix_hint(self) -> str | None:
        """What to do instead of a fix inside this block, when a fix of one of its layers
        cannot be applied as shown: a call of a block, whose body is written once for every
        call (or not in the file at all: the library's). None: fixes stand."""
        return None

    def resolve(self, inp: Shape) -> Block:
        """This block with its groups built for the input ``inp``: a call of a user block
        whose body reads ``C``/``H``/``W`` (spec §10) is built only when the walk knows its
        input. Every walk calls it before the groups; the walked block is what its row
        holds. Most blocks are built already: themselves."""
        return self

    def explain_chain(self) -> list[str]:
        """What ``cnncalc explain`` says of a chained block (a repeat): its formula; a call
        of a user block adds its arguments' values and its body as built."""
        return [self.formula]

    def torch_class(self) -> tuple[str, str] | None:
        """(name, source) of a module class this block's exported source uses that is the
        spec's own, not the kind's (``torch_helper``): a call of a user block is an instance
        of a class per block. None here."""
        return None

    def input_tensor(self) -> str | None:
        """The hidden name under which the walk binds this block's input for its body's
        ``@input`` (a call of a user block); None here."""
        return None

    def built(self) -> bool:
        """Whether its groups are known before the walk: every block but a call built per
        input (:meth:`resolve`)."""
        return True

    def slices(self, x: Array) -> list[Array]:
        """The forward pass of :meth:`inputs`."""
        return [x] * len(self.groups())

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        """The block's output shape from its groups' outputs: every parallel (not
        ``chained``) block defines it; a chained block's output is its last group's."""
        raise NotImplementedError

    def explain_block(self, inp: Shape, outs: Sequence[Shape], out: Shape) -> list[str]:
        """The arithmetic of the join (``cnncalc explain``): ``outs`` are the groups' outputs."""
        return [self.formula]

    def merge(self, arrays: Sequence[Array]) -> Array:
        """The forward pass of :meth:`join` (parallel blocks only, as ``join``)."""
        raise NotImplementedError

    def torch_inputs(self, x: str) -> list[str]:
        """Each group's input as PyTorch source, ``x`` naming the block's input: what an
        exported ``forward()`` writes for a block holding named tensors (spec §9)."""
        return [x] * len(self.groups())

    def torch_join(self, x: str, outs: Sequence[str]) -> str:
        """:meth:`join` as a PyTorch expression on the groups' outputs ``outs`` (parallel
        blocks only): the exported ``forward()`` of a block holding named tensors."""
        raise NotImplementedError


# --------------------------------------------------------------------------- windows

def needs_volume(layer: Node, inp: Shape) -> Iterator[Finding]:
    if not is_volume(inp):
        yield Finding("G006", f"{layer.name} needs a volume (L×C, H×W×C or D×H×W×C), but its "
                      f"input is a flat "
                      f"vector of {format_shape(inp)}", ("put it before the first fc/flatten",),
                      fatal=True)


def power_of_two(n: int) -> bool:
    """
    >>> power_of_two(64), power_of_two(96), power_of_two(0)
    (True, False, False)
    """
    return n > 0 and n & (n - 1) == 0


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
