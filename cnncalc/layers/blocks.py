"""Blocks: ``repeat``, ``residual``, ``concat``, ``gate`` and ``split`` hold groups of layers
and say how their groups combine."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from .. import values as v
from ..diagnostics import Finding, Fix
from ..shapes import Shape, format_shape, is_volume
from .base import GROUP, Array, Block, Group, Node, arg, arguments, describe_group, kernels
from .conv import Conv
from .norm import BatchNorm
from .reshape import FC
from .window import written


@dataclass(frozen=True, eq=False, repr=False)
class Repeat(Block):
    """The group N times, one after another (``[...] * N``).

    >>> Repeat(3, (Conv(8, (3,)), BatchNorm())).describe()
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
        only = self.layers[0] if len(self.layers) == 1 else None
        if only is not None and only.called() is not None:  # `bottleneck(64) * 3`
            return f"{only.label()} × {self.times}"
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
        if node.flattens_volume():
            return node
        if isinstance(node, Block):
            for g in reversed([node.layers] if isinstance(node, Repeat) else node.groups()):
                stack.extend(reversed(g))
    return None


SHORTCUTS = ("auto", "if_same")
"""The words ``residual``'s shortcut takes instead of a group (spec §4)."""


def projection(inp: Shape, out: Shape, location: object = None) -> Group | None:
    """torchvision's projection shortcut from ``inp`` to ``out``: ``conv(C_out, 1,
    s=⌈in/out⌉ per axis, bias=false) -> bn``, or None when it does not give ``out``.

    >>> projection((56, 56, 64), (28, 28, 128))
    (<Conv conv(128, 1, s=2, bias=false)>, <BatchNorm bn>)
    >>> projection((14, 14, 64), (28, 28, 64)) is None
    True
    """
    if not (is_volume(inp) and is_volume(out)) or len(inp) != len(out):
        return None
    strides = tuple(-(-i // o) for i, o in zip(inp[:-1], out[:-1], strict=True))
    if any((i - 1) // s + 1 != o for i, o, s in zip(inp[:-1], out[:-1], strides, strict=True)):
        return None
    conv = Conv(out[-1], (1,), stride=written(strides), bias=False, location=location)
    return conv, BatchNorm(location=location)


@dataclass(frozen=True, eq=False, repr=False)
class Residual(Block):
    """body(x) + shortcut(x); the shortcut is the identity unless given.

    Both must give the same shape; params are the sum. ``shortcut=auto``: the identity when
    the body keeps the shape, else the projection (:func:`projection`), filled in by
    :meth:`settle`; ``shortcut=if_same``: the identity when the body keeps the shape, else
    no shortcut at all (the block is its body).

    >>> Residual((Conv(64, (3, 3)),)).join((8, 8, 64), [(6, 6, 64), (8, 8, 64)])[1][0].code
    'G007'
    >>> auto = Residual((Conv(16, (1,), stride=(2,)),), "auto")
    >>> auto.settle((8, 8, 4), (4, 4, 16))[0].shortcut
    (<Conv conv(16, 1, s=2, bias=false)>, <BatchNorm bn>)
    >>> auto.describe()
    'residual([conv(16, 1, s=2)], shortcut=auto)'
    """

    name: ClassVar[str] = "residual"
    join_pins_channels: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G007"})
    formula: ClassVar[str] = ("body(x) + shortcut(x): shapes must match; params body + shortcut; "
                              "shortcut=auto: identity or conv(C', 1, s=⌈in/out⌉, bias=false) "
                              "-> bn; shortcut=if_same: identity or none")

    torch_helper: ClassVar[str] = '''\
class Residual(nn.Module):
    """body(x) + shortcut(x)."""

    def __init__(self, body: nn.Module, shortcut: nn.Module) -> None:
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)'''

    body: Group = arg(GROUP, positional=True)
    shortcut: Group = arg(GROUP, (), words=SHORTCUTS,
                          help="a group, or auto (projection when needed) or if_same")
    policy: str = ""
    """``auto`` or ``if_same`` when the shortcut was given as that word (``shortcut`` then
    holds what :meth:`settle` filled in)."""
    adds: bool = True
    """False for ``if_same`` on a body that changes the shape: no shortcut, no add."""

    def __post_init__(self) -> None:
        if isinstance(self.shortcut, str):  # the builder passes the word (`shortcut=auto`)
            object.__setattr__(self, "policy", self.shortcut)
            object.__setattr__(self, "shortcut", ())

    def groups(self) -> Sequence[Group]:
        return [self.body, self.shortcut]

    def describe(self) -> str:
        if self.policy:
            return f"residual({describe_group(self.body)}, shortcut={self.policy})"
        return super().describe()

    def label(self) -> str:
        if not self.adds:
            return f"residual ({self.policy}: no shortcut)"
        if self.policy:
            return f"residual ({self.policy}: {'projection' if self.shortcut else 'identity'})"
        return "residual (projection shortcut)" if self.shortcut else "residual"

    def glyph(self) -> str:
        return "⊕" if self.adds else ""  # if_same on a body that changes the shape: no add

    def settle(self, inp: Shape | None, first: Shape | None) -> tuple[Block, list[Finding]]:
        if not self.policy:
            return self, []
        if inp is None or first is None or first == inp:
            return dataclasses.replace(self, shortcut=(), adds=True), []
        if self.policy == "if_same":
            return dataclasses.replace(self, shortcut=(), adds=False), []
        found = projection(inp, first, self.location)
        if found is not None:
            return dataclasses.replace(self, shortcut=found, adds=True), []
        return dataclasses.replace(self, shortcut=(), adds=True), [Finding(
            "G007", f"shortcut=auto: the body turns {format_shape(inp)} into {format_shape(first)}"
            ", which no 1×1 strided projection conv(C, 1, s=⌈in/out⌉) -> bn can give (it only "
            "keeps or shrinks each axis)",
            (f"write the shortcut explicitly: shortcut=[...] with layers that turn "
             f"{format_shape(inp)} into {format_shape(first)}",), fatal=True)]

    def explain_block(self, inp: Shape, outs: Sequence[Shape], out: Shape) -> list[str]:
        lines = []
        if self.policy and not self.adds:
            lines.append(f"shortcut={self.policy}: the body changes {format_shape(inp)} into "
                         f"{format_shape(out)}, so there is no shortcut: the output is the body's")
        elif self.policy and self.shortcut:
            strides = "·".join(f"⌈{i}/{o}⌉" for i, o in zip(inp[:-1], out[:-1], strict=True))
            lines.append(f"shortcut=auto: the body changes {format_shape(inp)} into "
                         f"{format_shape(out)}, so the shortcut is the projection "
                         f"{describe_group(self.shortcut)} (stride {strides} per axis)")
        elif self.policy:
            lines.append(f"shortcut={self.policy}: the body keeps {format_shape(inp)}, so the "
                         "shortcut is the identity")
        if self.adds:
            lines.append(f"body {format_shape(outs[0])} + shortcut {format_shape(outs[1])} = "
                         f"{format_shape(out)}")
        return lines

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        if not self.adds:
            return parts[0]
        return f"Residual({parts[0]}, {parts[1]})"  # the class: `torch_helper`

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        body, shortcut = outs
        if body == shortcut or not self.adds:
            return body, []
        if self.policy:
            return None, []  # `settle` reported why no shortcut fits
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
        return kernels.add(arrays[0], arrays[1]) if self.adds else arrays[0]

    def torch_join(self, x: str, outs: Sequence[str]) -> str:
        return " + ".join(outs)


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

    def torch_join(self, x: str, outs: Sequence[str]) -> str:
        return f"torch.cat([{', '.join(outs)}], dim=1)"


def channels_fix(group: Group, channels: int) -> Fix | None:
    """The last conv/fc (a kind that sets its channels: its first argument) of ``group``
    set to give ``channels``, as a fix; None when there is none."""
    for node in reversed(group):
        if node.sets_channels:
            knob = arguments(type(node))[0].name
            if getattr(node, knob) == channels:
                return None
            changed = dataclasses.replace(cast(Any, node), **{knob: channels})
            return Fix(f"{changed.describe()} instead of {node.describe()}", node, (changed,))
    return None


def broadcast(inp: Shape, out: Shape) -> str:
    """How a gate's body output ``out`` broadcasts onto its input ``inp``: ``"same"``,
    ``"channel"`` (1×…×1×C or C), ``"spatial"`` (…×1 with the input's spatial sizes), or
    ``""`` when it does not.

    >>> broadcast((56, 56, 64), (1, 1, 64)), broadcast((56, 56, 64), (64,))
    ('channel', 'channel')
    >>> broadcast((56, 56, 64), (56, 56, 1)), broadcast((56, 56, 64), (1, 1, 32))
    ('spatial', '')
    """
    if out == inp:
        return "same"
    if out == (inp[-1],) or (len(out) == len(inp) and out[-1] == inp[-1]
                             and all(n == 1 for n in out[:-1])):
        return "channel"
    if len(inp) > 1 and out == (*inp[:-1], 1):
        return "spatial"
    return ""


@dataclass(frozen=True, eq=False, repr=False)
class Gate(Block):
    """x ⊙ body(x): the body's output scales its input (squeeze-and-excitation, spatial
    attention). It must broadcast onto the input: the same shape, 1×…×1×C or a flat vector
    of C (one factor per channel), or the input's spatial sizes ×1 (one per position). The
    multiply is not a MAC; params are the body's.

    >>> se = Gate((FC(16), FC(64)))
    >>> se.join((56, 56, 64), [(64,), (56, 56, 64)])
    ((56, 56, 64), [])
    >>> se.join((56, 56, 64), [(32,), (56, 56, 64)])[1][0].message
    'the body gives 32 but channel attention on 56×56×64 needs 1×1×64 (or 64)'
    """

    name: ClassVar[str] = "gate"
    join_pins_channels: ClassVar[bool] = True  # the body's channels must be the input's (or 1)
    join_scales: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G011"})
    formula: ClassVar[str] = ("x ⊙ body(x): the body gives H×W×C, 1×1×C, C or H×W×1; "
                              "params the body's; the multiply is not a MAC")
    saves_input: ClassVar[bool] = True  # x · body(x) keeps both factors
    saves_group_outputs: ClassVar[bool] = True

    torch_helper: ClassVar[str] = '''\
class Gate(nn.Module):
    """x * body(x): the body's output broadcasts onto x (channel or spatial attention)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        if y.dim() == 2 and x.dim() > 2:  # a flat vector of C: one factor per channel
            y = y.reshape(*y.shape, *[1] * (x.dim() - 2))
        return x * y'''

    body: Group = arg(GROUP, positional=True)

    def groups(self) -> Sequence[Group]:
        return [self.body, ()]  # the empty group hands the join (and `merge`) the input

    def expanded_size(self, size_of: Callable[[Group], int]) -> int:
        return size_of(self.body)

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        return f"Gate({parts[0]})"  # the class: `torch_helper`

    def join(self, inp: Shape, outs: Sequence[Shape]) -> tuple[Shape | None, list[Finding]]:
        body = outs[0]
        if broadcast(inp, body):
            return inp, []
        c, shown = inp[-1], format_shape(inp)
        spatial = (*inp[:-1], 1)
        if len(body) == len(inp) and body[:-1] == inp[:-1]:
            want, needs = [c, 1], (f"{format_shape(inp)} (or {format_shape(spatial)}, spatial "
                                   "attention)")
            message = f"the body gives {format_shape(body)} but a gate on {shown} needs {needs}"
        elif len(body) == 1 or all(n == 1 for n in body[:-1]):
            want = [c]
            ones = format_shape((*(1,) * (len(inp) - 1), c)) if is_volume(inp) else str(c)
            needs = f"{ones} (or {c})" if is_volume(inp) else ones
            message = (f"the body gives {format_shape(body)} but channel attention on {shown} "
                       f"needs {needs}")
        else:
            want = []
            message = (f"the body gives {format_shape(body)} but a gate on {shown} needs "
                       f"{shown}, 1×…×1×{c} or {c} (one factor per channel) or "
                       f"{format_shape(spatial)} (one per position)")
        fixes = tuple(f for n in want if (f := channels_fix(self.body, n)) is not None)
        hint = (f"end the body with a layer that gives {' or '.join(map(str, want))} "
                "channels" if want else "end the body with a gap and a layer that gives "
                f"{c} channels (channel attention)")
        return None, [Finding("G011", message, (hint,), fatal=True, fixes=fixes)]

    def explain_block(self, inp: Shape, outs: Sequence[Shape], out: Shape) -> list[str]:
        how = {"same": "element by element", "channel": "one factor per channel",
               "spatial": "one factor per position"}[broadcast(inp, outs[0])]
        return [f"{format_shape(inp)} ⊙ {format_shape(outs[0])} ({how}) = {format_shape(out)}",
                "the multiply is not a MAC; params are the body's"]

    def merge(self, arrays: Sequence[Array]) -> Array:
        return kernels.gate(arrays[1], arrays[0])

    def torch_join(self, x: str, outs: Sequence[str]) -> str:
        y, x = outs[0], outs[1]  # the body's factors, and the input they scale
        return f"{x} * {y}.reshape(*{y}.shape, *[1] * ({x}.dim() - {y}.dim()))"


class Split(Concat):
    """The channels cut into equal slices, one per branch; branch n runs on slice n and the
    results are concatenated along C (ShuffleNet V2). ``[]`` passes its slice through.

    >>> Split(((), (Conv(8, (1, 1)),))).inputs((7, 7, 64))
    ([(7, 7, 32), (7, 7, 32)], [])
    >>> Split(((), (), ())).inputs((7, 7, 64))[1][0].message
    'split cuts the channels into 3 equal slices, but 64 channels into 3 branches: 64 = 3·21 + 1'
    """

    name: ClassVar[str] = "split"
    codes: ClassVar[frozenset[str]] = frozenset({"G008", "G012"})
    formula: ClassVar[str] = ("C cut into n equal slices (n branches), branch k on slice k, "
                              "outputs concatenated along C; params the sum")

    torch_helper: ClassVar[str] = '''\
class Split(nn.Module):
    """The channels cut into equal slices, branch n on slice n, concatenated again."""

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.chunk(x, len(self.branches), dim=1)
        return torch.cat([b(p) for b, p in zip(self.branches, parts)], dim=1)'''

    def label(self) -> str:
        return f"split ({len(self.branches)} branches)"

    def size_period(self, inp: Shape) -> tuple[tuple[int, int], ...]:
        """A flat vector's length is its channels: the branches must divide it.

        >>> Split(((), ())).size_period((10,))
        ((2, 1),)
        """
        return super().size_period(inp) if is_volume(inp) else ((len(self.branches), 1),)

    def inputs(self, inp: Shape) -> tuple[list[Shape] | None, list[Finding]]:
        n, c = len(self.branches), inp[-1]
        if c % n == 0:
            return [(*inp[:-1], c // n)] * n, []
        fixes = tuple(Fix(f"conv({m}, 1) before the split", self,
                          (Conv(m, (1, 1), location=self.location), self))
                      for m in (c - c % n, c - c % n + n) if m > 0 and is_volume(inp))
        return None, [Finding(
            "G012", f"split cuts the channels into {n} equal slices, but {c} channels into {n} "
                    f"branches: {c} = {n}·{c // n} + {c % n}",
            (f"give the split a multiple of {n} channels, or use {n} branches that divide "
             f"{c}",), fatal=True, fixes=fixes)]

    def slices(self, x: Array) -> list[Array]:
        return kernels.split(x, len(self.branches))

    def torch_inputs(self, x: str) -> list[str]:
        n = len(self.branches)
        return [f"torch.chunk({x}, {n}, dim=1)[{i}]" for i in range(n)]

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        return f"Split({', '.join(parts)})"  # the class: `torch_helper`

    def explain_block(self, inp: Shape, outs: Sequence[Shape], out: Shape) -> list[str]:
        n = len(self.branches)
        return [f"{inp[-1]} channels into {n} slices of {inp[-1] // n}",
                f"concatenated: {' + '.join(str(o[-1]) for o in outs)} = {out[-1]} channels"]
