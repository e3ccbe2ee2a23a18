"""cnncalc against PyTorch: the same network, layer by layer.

Random 1-D, 2-D and 3-D architectures (every kind and block of the registry, in every
rank: spec §1, Ranks) are generated together with the same network built from torch modules
(``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``, the pools, ``BatchNorm1d/2d/3d``, …). Torch
alone decides what a valid network is: every candidate layer is built and run on the
current activation, and one torch rejects (or one whose output would be empty) is re-drawn.
cnncalc never takes part in that decision. The only other re-draws are by construction:
size caps that keep the run fast, spatial layers on a flat vector (no torch equivalent),
and a ceil-mode pooling window larger than its padded input (torch gives one output;
spec §6 makes it an error in every mode: a documented divergence).

The finished torch model is run once more with forward hooks on every layer, and every row
of ``cnncalc.analyze(spec, mode="lenient")`` (leaf layers and blocks, in pre-order) is
compared with what torch did: input and output shape ((N, C, *spatial) → (*spatial, C),
(N, F) → F), weights, biases, params and the batch norm running statistics; then the
totals. ``report.ok`` must hold for every such network.

Named tensors (spec §9): a third of the networks get a named skip, ``[] as sN -> … ->
add(@sN)`` or ``concat([], @sN)`` around a run of their top-level layers whose shapes fit,
drawn from a random stream of its own (so the draws above are unchanged); its rows (the
named ``[]``, the join, the route inside it) are compared like every other.

Blocks with parameters (spec §10): a third get a run of their top-level layers moved into a
YAML ``blocks:`` definition ``uN(first, n=1): first -> [rest…] * n [-> conv(C, 1)]`` and
called with a random layer as ``first`` and a random ``n`` (``C``: the call's input channels),
again from a stream of its own; the call's row and the rows inside it are compared too.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (pip install -e '.[test]'; CI installs it): "
    "this module compares every layer with torch")
from torch import nn  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.layers import KINDS, LAYERS, ranked_name  # noqa: E402

SEEDS = range(500)
"""One generated architecture per seed."""

MAX_ELEMENTS = 60_000
"""Largest activation (per sample) a generated network may produce: keeps the run fast."""
MAX_SIDE = {1: 2_000, 2: 160, 3: 40}
"""Longest spatial axis per rank (1-D, 2-D, 3-D)."""
MAX_LEAF_PARAMS = 400_000

Sizes = tuple[int, ...]

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny tensors: torch's thread pool only costs time (a lot on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Reject(Exception):
    """The candidate is not a network torch would build and run; draw another."""


# --------------------------------------------------------------------------- spec nodes


@dataclass
class Leaf:
    """One spec layer: its text, its cnncalc kind, and how to build it in torch."""

    kind: str
    text: str
    make: Callable[[torch.Size], nn.Module]
    volume_only: bool = True
    tags: frozenset[str] = frozenset()


@dataclass
class Residual:
    body: list[Node]
    shortcut: list[Node]
    kind: str = "residual"
    word: str = ""
    """``auto`` or ``if_same``: the spec says the word, ``shortcut`` is what it should become."""
    adds: bool = True
    """False: ``if_same`` on a body that changes the shape (no shortcut, no add)."""

    @property
    def text(self) -> str:
        if self.word:
            return f"residual([{chain_text(self.body)}], shortcut={self.word})"
        extra = f", shortcut=[{chain_text(self.shortcut)}]" if self.shortcut else ""
        return f"residual([{chain_text(self.body)}]{extra})"


@dataclass
class Concat:
    branches: list[list[Node]]
    kind: str = "concat"

    @property
    def text(self) -> str:
        return "concat(" + ", ".join(f"[{chain_text(b)}]" for b in self.branches) + ")"


@dataclass
class Repeat:
    group: list[Node]
    times: int
    kind: str = "repeat"
    bare: bool = False
    """A single layer written without brackets (``relu * 2``)."""

    @property
    def text(self) -> str:
        if self.bare:
            return f"{chain_text(self.group)} * {self.times}"
        return f"[{chain_text(self.group)}] * {self.times}"


@dataclass
class Gate:
    body: list[Node]
    style: str = "same"
    kind: str = "gate"

    @property
    def text(self) -> str:
        return f"gate([{chain_text(self.body)}])"


@dataclass
class Split:
    branches: list[list[Node]]
    kind: str = "split"

    @property
    def text(self) -> str:
        return "split(" + ", ".join(f"[{chain_text(b)}]" for b in self.branches) + ")"


@dataclass
class Skip:
    """Named tensors (spec §9): ``[] as NAME -> inner… -> concat([], @NAME)`` (or
    ``add(@NAME)``): the tensor before ``inner`` joined to what ``inner`` made of it."""

    inner: list[Node]
    join: str  # "concat" or "add"
    name: str
    kind: str = "skip"

    @property
    def text(self) -> str:
        join = f"concat([], @{self.name})" if self.join == "concat" else f"add(@{self.name})"
        return f"[] as {self.name} -> {chain_text(self.inner)} -> {join}"


@dataclass
class Call:
    """A user block (spec §10) defined as ``NAME(first, n=1): first -> [rest…] * n`` (and
    ``-> conv(C, 1)`` back to the call's input channels when ``back``), called with the
    layer ``first`` (a layer-valued argument) and the number ``n``."""

    first: Node
    rest: list[Node]
    n: int
    name: str
    back: bool = False
    kind: str = "call"

    @property
    def text(self) -> str:
        return f"{self.name}({self.first.text}" + (f", n={self.n})" if self.n != 1 else ")")

    @property
    def definition(self) -> str:
        body = f"first -> [{chain_text(self.rest)}] * n" + (" -> conv(C, 1)" if self.back else "")
        return f"{self.name}(first, n=1): {json.dumps(body)}"


Node = Leaf | Residual | Concat | Repeat | Gate | Split | Skip | Call


def chain_text(nodes: Sequence[Node]) -> str:
    return " -> ".join(n.text for n in nodes)


def own_tags(n: Node) -> set[str]:
    """A node's kind and options (not those of the layers inside a block)."""
    if isinstance(n, Leaf):
        return {n.kind, *n.tags}
    out = {n.kind}
    if isinstance(n, Residual) and n.shortcut:
        out.add("residual:projection")
    if isinstance(n, Residual) and n.word:
        out.add(f"residual:{n.word}" + ("" if n.adds else ":none"))
        if n.shortcut:
            out.add("residual:auto:projection")
    if isinstance(n, Repeat) and n.bare:
        out.add("repeat:single-layer")
    if isinstance(n, Repeat) and not n.times:
        out.add("repeat:zero")
    if isinstance(n, Concat) and any(not b for b in n.branches):
        out.add("concat:identity-branch")
    if isinstance(n, Gate):
        out.add(f"gate:{n.style}")
    if isinstance(n, Split) and any(not b for b in n.branches):
        out.add("split:identity-branch")
    if isinstance(n, Skip):
        out.add(f"named:{n.join}")
    if isinstance(n, Call):
        out.add("call:input-channels" if n.back else "call")
    return out


def tags_of(nodes: Sequence[Node]) -> set[str]:
    out: set[str] = set()
    for n in nodes:
        out |= own_tags(n)
        if not isinstance(n, Leaf):
            groups = ([n.body, n.shortcut] if isinstance(n, Residual) else
                      n.branches if isinstance(n, Concat | Split) else
                      [n.body] if isinstance(n, Gate) else
                      [n.inner] if isinstance(n, Skip) else
                      [[n.first], n.rest] if isinstance(n, Call) else [n.group])
            for grp in groups:
                out |= tags_of(grp)
    return out


# --------------------------------------------------------------------------- torch blocks


class ResidualAdd(nn.Module):
    def __init__(self, body: nn.Module, shortcut: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.body(x), self.shortcut(x)
        if a.shape != b.shape:  # torch would broadcast some mismatches: not a residual
            raise Reject(f"residual shapes {tuple(a.shape)} and {tuple(b.shape)}")
        return a + b


class ConcatChannels(nn.Module):
    def __init__(self, branches: Sequence[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


class GateMul(nn.Module):
    """x * body(x), the body's output broadcast as cnncalc's gate allows (same shape,
    N×C×1×…×1 or N×C, N×1×(spatial)), in any rank; anything else torch might broadcast is
    rejected."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        n, c = x.shape[:2]
        if y.dim() == 2 and x.dim() > 2 and y.shape == (n, c):
            y = y.reshape(n, c, *[1] * (x.dim() - 2))
        ok = y.shape == x.shape or (y.dim() == x.dim() and (
            y.shape == (n, c, *[1] * (x.dim() - 2)) or y.shape == (n, 1, *x.shape[2:])))
        if not ok:
            raise Reject(f"gate shapes {tuple(x.shape)} and {tuple(y.shape)}")
        return x * y


class Joiner(nn.Module):
    """The join of a :class:`Skip`: its hook sees the current tensor and the joined one."""

    def __init__(self, join: str) -> None:
        super().__init__()
        self.join = join

    def forward(self, y: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([y, skip], dim=1) if self.join == "concat" else y + skip


class SkipJoin(nn.Module):
    """A :class:`Skip` in torch: ``mark`` is the ``[] as NAME`` row, ``route`` the ``@NAME``
    row inside the join."""

    def __init__(self, inner: nn.Module, join: str) -> None:
        super().__init__()
        self.mark, self.inner, self.route, self.joiner = (
            nn.Identity(), inner, nn.Identity(), Joiner(join))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.mark(x)
        return self.joiner(self.inner(s), self.route(s))


class SplitChannels(nn.Module):
    def __init__(self, branches: Sequence[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.chunk(x, len(self.branches), dim=1)
        return torch.cat([b(p) for b, p in zip(self.branches, parts, strict=True)], dim=1)


@dataclass
class Entry:
    """What one cnncalc row must match: a torch module (a leaf layer or a block)."""

    module: nn.Module
    is_block: bool
    kind: str
    text: str
    rank: int
    """Its input's rank: 1–3 (a volume), 0 (a flat vector)."""
    tags: frozenset[str]
    """Its kind and options (:func:`own_tags`)."""


def check_size(y: torch.Tensor, quick: bool) -> None:
    if y.numel() == 0 or min(y.shape) < 1:
        raise Reject("empty output")
    if quick and (y[0].numel() > MAX_ELEMENTS or (
            y.dim() > 2 and max(y.shape[2:]) > MAX_SIDE[y.dim() - 2])):
        raise Reject("too large for a quick test")


def instantiate(node: Node, x: torch.Tensor, quick: bool = True
                ) -> tuple[nn.Module, torch.Tensor, list[Entry]]:
    """Build ``node`` in torch for input ``x``; run it; return module, output, rows.

    ``quick``: reject what is too large for a fast random test."""
    if isinstance(node, Leaf):
        if node.volume_only and x.dim() < 3:
            raise Reject(f"{node.kind} needs a volume")
        m = node.make(x.shape).eval()
        if quick and sum(p.numel() for p in m.parameters()) > MAX_LEAF_PARAMS:
            raise Reject("too many parameters for a quick test")
        y = m(x)
        check_size(y, quick)
        return m, y, [Entry(m, False, node.kind, node.text, x.dim() - 2, frozenset(own_tags(node)))]
    if isinstance(node, Repeat):
        reps, entries, y = [], [], x
        for _ in range(node.times):
            m, y, e = instantiate_chain(node.group, y, quick)
            reps.append(m)
            entries += e
        block: nn.Module = nn.Sequential(*reps)
    elif isinstance(node, Residual) and not node.adds:
        block, y, entries = instantiate_chain(node.body, x, quick)
    elif isinstance(node, Residual):
        body, _, eb = instantiate_chain(node.body, x, quick)
        short, _, es = instantiate_chain(node.shortcut, x, quick)
        block = ResidualAdd(body, short)
        y = block(x)
        entries = eb + es
    elif isinstance(node, Gate):
        body, _, entries = instantiate_chain(node.body, x, quick)
        block = GateMul(body)
        y = block(x)
    elif isinstance(node, Skip):
        inner, _, inside = instantiate_chain(node.inner, x, quick)
        skip = SkipJoin(inner, node.join)
        y = skip(x)
        check_size(y, quick)
        rank, tags = x.dim() - 2, frozenset(own_tags(node))
        return skip, y, [Entry(skip.mark, True, "repeat", f"[] as {node.name}", rank, tags),
                         *inside, Entry(skip.joiner, True, node.join, node.text, y.dim() - 2,
                                        tags),
                         Entry(skip.route, False, "route", f"@{node.name}", rank, tags)]
    elif isinstance(node, Call):
        first, y, entries = instantiate(node.first, x, quick)
        reps, y, inner = instantiate(Repeat(node.rest, node.n), y, quick)
        parts = [first, reps]
        entries += inner
        if node.back:
            if y.dim() < 3:
                raise Reject("conv(C, 1) needs a volume")
            back = nd(CONV, y.shape)(y.shape[1], x.shape[1], 1)
            y = back(y)
            parts.append(back)
            entries.append(Entry(back, False, "conv", "conv(C, 1)", y.dim() - 2,
                                 frozenset({"conv"})))
        block = nn.Sequential(*parts)
    elif isinstance(node, Split):
        if x.shape[1] % len(node.branches):
            raise Reject("split does not divide the channels")
        mods, entries = [], []
        for branch, part in zip(node.branches, torch.chunk(x, len(node.branches), dim=1),
                                strict=True):
            m, _, e = instantiate_chain(branch, part, quick)
            mods.append(m)
            entries += e
        block = SplitChannels(mods)
        y = block(x)
    else:
        mods, entries = [], []
        for branch in node.branches:
            m, _, e = instantiate_chain(branch, x, quick)
            mods.append(m)
            entries += e
        block = ConcatChannels(mods)
        y = block(x)
    check_size(y, quick)
    return block, y, [Entry(block, True, node.kind, node.text, x.dim() - 2,
                               frozenset(own_tags(node))), *entries]


def instantiate_chain(nodes: Sequence[Node], x: torch.Tensor, quick: bool = True
                      ) -> tuple[nn.Sequential, torch.Tensor, list[Entry]]:
    mods, entries = [], []
    for node in nodes:
        m, x, e = instantiate(node, x, quick)
        mods.append(m)
        entries += e
    return nn.Sequential(*mods), x, entries


# --------------------------------------------------------------------------- spelling


def ones(r: int) -> Sizes:
    return (1,) * r


def zeros(r: int) -> Sizes:
    return (0,) * r


def fmt_sizes(p: Sizes, style: random.Random | None = None) -> str:
    """One number when every axis agrees (mostly), else one per axis (``3x5``, ``1x3x3``)."""
    if len(set(p)) == 1 and not (style and style.random() < 0.1):
        return str(p[0])
    return "x".join(map(str, p))


def names_of(kind: str, rank: int) -> list[str]:
    """The kind's name, its aliases and (for an input of ``rank`` 1–3) its rank-explicit
    aliases, from the registry (``conv``, ``conv3d``; ``bn1d`` also on a flat vector)."""
    cls = LAYERS[kind]
    r = rank or (1 if cls.takes_flat else 0)
    return [cls.name, *cls.aliases, *(ranked_name(b, r) for b in cls.ranked if r)]


def spell(style: random.Random | None, names: Sequence[str], positional: Sequence[str],
          keywords: Sequence[tuple[str, str, str, bool]]) -> str:
    """A layer call; ``keywords`` are (short, long, value, is_default); defaults are mostly
    left out, long keyword names and aliases are used now and then."""
    name = names[0]
    if style:
        if len(names) > 1 and style.random() < 0.25:
            name = style.choice(names[1:])
        if style.random() < 0.05:
            name = name.upper()
    parts = list(positional)
    for short, long, value, is_default in keywords:
        if is_default and not (style and style.random() < 0.1):
            continue
        key = long if style and style.random() < 0.3 else short
        parts.append(f"{key}={value}")
    return f"{name}({', '.join(parts)})" if parts else name


def fmt_padding(p: Sizes | str, style: random.Random | None) -> str:
    return p if isinstance(p, str) else fmt_sizes(p, style)


def tf_same(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's ``same``: output ceil(n/s), the odd pixel at the end of the axis."""
    out = -(-n // s)
    total = max(0, (out - 1) * s + d * (k - 1) + 1 - n)
    return total // 2, total - total // 2


def const_pad(pads: Sequence[tuple[int, int]], value: float = 0.0) -> nn.Module:
    """``(before, after)`` per spatial axis, first axis first, as torch's ConstantPadNd."""
    flat = tuple(n for pair in reversed(pads) for n in pair)
    return (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)[len(pads) - 1](flat, value)


def same_pad(shape: torch.Size, k: Sizes, s: Sizes, d: Sizes) -> nn.Module:
    return const_pad([tf_same(n, *a) for n, *a in zip(shape[2:], k, s, d, strict=True)])


def uneven(p: Sizes | str) -> bool:
    return not isinstance(p, str) and len(set(p)) > 1


def window_tags(name: str, k: Sizes, s: Sizes, p: Sizes | str, d: Sizes | None = None
                ) -> set[str]:
    tags = set()
    if uneven(k) or uneven(s) or uneven(p):
        tags.add(f"{name}:asymmetric")
    if any(si > ki for si, ki in zip(s, k, strict=True)):
        tags.add(f"{name}:stride>kernel")
    if p == "same":
        tags.add(f"{name}:same")
        if set(s) != {1}:
            tags.add(f"{name}:same-strided")
    if d is not None and set(d) != {1}:
        tags.add(f"{name}:dilation")
    return tags


def nd(modules: Sequence[type[nn.Module]], shape: torch.Size) -> type[nn.Module]:
    """The 1-D, 2-D or 3-D torch module for an N×C×… input ``shape``."""
    return modules[len(shape) - 3]


CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
DECONV = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
AVGPOOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
ADAPTIVE_AVG = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
ADAPTIVE_MAX = (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
INSTANCENORM = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)


# --------------------------------------------------------------------------- leaf layers
# Each builds the spec text and the torch module from explicit arguments; the random
# drawers below and the fixed cases share them. The rank is the length of the sizes (or
# ``rank``: only for spelling a rank-explicit alias), the torch module's from the input.


def conv(filters: int, k: Sizes, s: Sizes | None = None, p: Sizes | str | None = None,
         d: Sizes | None = None, g: int = 1, bias: bool = True, *,
         style: random.Random | None = None, native_same: bool = False) -> Leaf:
    r = len(k)
    s, p, d = s or ones(r), zeros(r) if p is None else p, d or ones(r)
    text = spell(style, names_of("conv", r), [str(filters), fmt_sizes(k, style)], [
        ("s", "stride", fmt_sizes(s, style), s == ones(r)),
        ("p", "padding", fmt_padding(p, style), p == zeros(r)),
        ("d", "dilation", fmt_sizes(d, style), d == ones(r)),
        ("g", "groups", str(g), g == 1),
        ("bias", "bias", str(bias).lower(), bias)])

    def make(shape: torch.Size) -> nn.Module:
        c, module = shape[1], nd(CONV, shape)
        if p == "same" and not (native_same and s == ones(r)):
            return nn.Sequential(same_pad(shape, k, s, d), module(
                c, filters, k, stride=s, padding=0, dilation=d, groups=g, bias=bias))
        pad: Sizes | str = zeros(r) if p == "valid" else p
        return module(c, filters, k, stride=s, padding=pad, dilation=d, groups=g, bias=bias)

    tags = window_tags("conv", k, s, p, d) | ({"conv:groups"} if g > 1 else set()) | (
        {"bias=false"} if not bias else set())
    return Leaf("conv", text, make, tags=frozenset(tags))


def dwconv(k: Sizes, s: Sizes | None = None, p: Sizes | str | None = None,
           d: Sizes | None = None, m: int = 1, bias: bool = True, *,
           style: random.Random | None = None) -> Leaf:
    r = len(k)
    s, p, d = s or ones(r), zeros(r) if p is None else p, d or ones(r)
    text = spell(style, names_of("dwconv", r), [fmt_sizes(k, style)], [
        ("s", "stride", fmt_sizes(s, style), s == ones(r)),
        ("p", "padding", fmt_padding(p, style), p == zeros(r)),
        ("d", "dilation", fmt_sizes(d, style), d == ones(r)),
        ("m", "multiplier", str(m), m == 1),
        ("bias", "bias", str(bias).lower(), bias)])

    def make(shape: torch.Size) -> nn.Module:
        c, module = shape[1], nd(CONV, shape)
        if p == "same":
            return nn.Sequential(same_pad(shape, k, s, d), module(
                c, c * m, k, stride=s, dilation=d, groups=c, bias=bias))
        pad = zeros(r) if p == "valid" else p
        return module(c, c * m, k, stride=s, padding=pad, dilation=d, groups=c, bias=bias)

    tags = window_tags("dwconv", k, s, p, d) | ({"dwconv:multiplier"} if m > 1 else set())
    return Leaf("dwconv", text, make, tags=frozenset(tags))


def deconv(filters: int, k: Sizes, s: Sizes | None = None, p: Sizes | None = None,
           op: Sizes | None = None, d: Sizes | None = None, g: int = 1, bias: bool = True, *,
           style: random.Random | None = None) -> Leaf:
    r = len(k)
    s, p, op, d = s or ones(r), p or zeros(r), op or zeros(r), d or ones(r)
    text = spell(style, names_of("deconv", r), [str(filters), fmt_sizes(k, style)], [
        ("s", "stride", fmt_sizes(s, style), s == ones(r)),
        ("p", "padding", fmt_sizes(p, style), p == zeros(r)),
        ("op", "output_padding", fmt_sizes(op, style), op == zeros(r)),
        ("d", "dilation", fmt_sizes(d, style), d == ones(r)),
        ("g", "groups", str(g), g == 1),
        ("bias", "bias", str(bias).lower(), bias)])

    def make(shape: torch.Size) -> nn.Module:
        return nd(DECONV, shape)(shape[1], filters, k, stride=s, padding=p, output_padding=op,
                                 groups=g, bias=bias, dilation=d)

    tags = window_tags("deconv", k, s, p, d)
    tags |= {"deconv:output_padding"} if op != zeros(r) else set()
    tags |= {"deconv:groups"} if g > 1 else set()
    return Leaf("deconv", text, make, tags=frozenset(tags))


def pool(kind: str, k: Sizes, s: Sizes | None = None, p: Sizes | str | None = None,
         ceil: bool = False, *, style: random.Random | None = None) -> Leaf:
    r = len(k)
    p = zeros(r) if p is None else p
    text = spell(style, names_of(kind, r), [fmt_sizes(k, style)], [
        ("s", "stride", fmt_sizes(s or k, style), s is None),
        ("p", "padding", fmt_padding(p, style), p == zeros(r)),
        ("ceil", "ceil_mode", str(ceil).lower(), not ceil)])

    def make(shape: torch.Size) -> nn.Module:
        torch_pool = nd(MAXPOOL if kind == "maxpool" else AVGPOOL, shape)
        padded = tuple(shape[2:]) if isinstance(p, str) else tuple(
            n + 2 * pi for n, pi in zip(shape[2:], p, strict=True))
        if ceil and any(ki > n for ki, n in zip(k, padded, strict=True)):
            # torch's ceil_mode gives one output for a window larger than the padded input;
            # spec §6 makes that an error in every mode (a documented divergence)
            raise Reject("window larger than the padded input")
        if p == "same":
            return nn.Sequential(same_pad(shape, k, s or k, ones(r)),
                                 torch_pool(k, stride=s, ceil_mode=ceil))
        pad = zeros(r) if p == "valid" else p
        return torch_pool(k, stride=s, padding=pad, ceil_mode=ceil)

    tags = window_tags("pool", k, s or k, p) | ({"pool:ceil"} if ceil else set()) | (
        {"pool:padding"} if not isinstance(p, str) and p != zeros(r) else set())
    return Leaf(kind, text, make, tags=frozenset(tags))


def simple(kind: str, text: str, factory: Callable[[], nn.Module], volume_only: bool = False,
           tags: Sequence[str] = ()) -> Leaf:
    return Leaf(kind, text, lambda shape: factory(), volume_only, frozenset(tags))


def ranked(kind: str, text: str, modules: Sequence[type[nn.Module]], *args: object,
           **kwargs: object) -> Leaf:
    """A volume-only layer whose torch module is the input's rank's (``AdaptiveAvgPool3d``)."""
    return Leaf(kind, text, lambda shape: nd(modules, shape)(*args, **kwargs))


def batchnorm(affine: bool = True, *, style: random.Random | None = None, rank: int = 0
              ) -> Leaf:
    text = spell(style, names_of("bn", rank), [], [
        ("affine", "affine", str(affine).lower(), affine)])

    def make(shape: torch.Size) -> nn.Module:
        norm = BATCHNORM[max(0, len(shape) - 3)]  # (N, F) and (N, C, L): BatchNorm1d
        return norm(shape[1], affine=affine)

    return Leaf("bn", text, make, volume_only=False,
                tags=frozenset({"bn:affine=false"} if not affine else ()))


def fc(units: int, bias: bool = True, *, style: random.Random | None = None) -> Leaf:
    text = spell(style, names_of("fc", 0), [str(units)],
                 [("bias", "bias", str(bias).lower(), bias)])

    def make(shape: torch.Size) -> nn.Module:
        n_in = shape[1:].numel()
        if n_in * units > MAX_LEAF_PARAMS:
            raise Reject("too many parameters for a quick test")
        if len(shape) > 2:
            return nn.Sequential(nn.Flatten(), nn.Linear(n_in, units, bias=bias))
        return nn.Linear(n_in, units, bias=bias)

    return Leaf("fc", text, make, volume_only=False,
                tags=frozenset({"bias=false"} if not bias else ()))


class ChannelsLast(nn.Module):
    """``inner`` applied to the channels of an N×C×… tensor at every position (moved last
    and back): ``nn.LayerNorm(C)`` on channels-last, ``nn.Linear`` at every pixel."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.movedim(1, -1)).movedim(-1, 1)


class ScaleChannels(nn.Module):
    """x·γ per channel (ConvNeXt's layer scale), γ a parameter named ``weight``."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(-1, *([1] * (x.dim() - 2)))


def fc_per_position(units: int, bias: bool = True, *, style: random.Random | None = None) -> Leaf:
    text = spell(style, names_of("fc", 0), [str(units)],
                 [("bias", "bias", str(bias).lower(), bias), ("flatten", "flatten", "false", False)])
    return Leaf("fc", text, lambda shape: ChannelsLast(nn.Linear(shape[1], units, bias=bias)),
                tags=frozenset({"fc:per-position", *({"bias=false"} if not bias else ())}))


def layernorm(affine: bool = True, *, style: random.Random | None = None) -> Leaf:
    text = spell(style, names_of("layernorm", 0), [], [
        ("affine", "affine", str(affine).lower(), affine)])

    def make(shape: torch.Size) -> nn.Module:
        norm = nn.LayerNorm(shape[1], elementwise_affine=affine)
        return ChannelsLast(norm) if len(shape) > 2 else norm

    return Leaf("layernorm", text, make, volume_only=False)


def groupnorm(groups: int, affine: bool = True, *, style: random.Random | None = None) -> Leaf:
    text = spell(style, names_of("groupnorm", 0), [str(groups)],
                 [("affine", "affine", str(affine).lower(), affine)])

    def make(shape: torch.Size) -> nn.Module:
        if shape[2:].numel() * shape[1] == groups:
            # one value per group: the output is β whatever the input; torch runs it for a
            # batch of 2 (not of 1), spec G013 makes it an error (a documented divergence)
            raise Reject("one value per group")
        return nn.GroupNorm(groups, shape[1], affine=affine)

    return Leaf("groupnorm", text, make, volume_only=False)


def instancenorm(affine: bool = False, *, style: random.Random | None = None, rank: int = 0
                 ) -> Leaf:
    text = spell(style, names_of("instancenorm", rank), [], [
        ("affine", "affine", str(affine).lower(), not affine)])
    return Leaf("instancenorm", text, lambda shape: nd(INSTANCENORM, shape)(
        shape[1], affine=affine, track_running_stats=False))


def layerscale(init: float | None = None) -> Leaf:
    text = "layerscale" if init is None else f"layerscale(init={init})"
    return Leaf("layerscale", text,
                lambda shape: ScaleChannels(shape[1], 1e-6 if init is None else init))


def shuffle(groups: int, *, style: random.Random | None = None) -> Leaf:
    text = spell(style, names_of("shuffle", 0), [str(groups)], [])
    return Leaf("shuffle", text, lambda shape: nn.ChannelShuffle(groups))


def fc_tags(leaf: Leaf, x: torch.Tensor) -> Leaf:
    extra = "fc:on-volume" if x.dim() > 2 else "fc:on-flat"
    return Leaf(leaf.kind, leaf.text, leaf.make, leaf.volume_only, leaf.tags | {extra})


def flatten() -> Leaf:
    return simple("flatten", "flatten", nn.Flatten)


def pad(p: Sizes, *, style: random.Random | None = None) -> Leaf:
    text = spell(style, names_of("pad", len(p)), [fmt_sizes(p, style)], [])
    return Leaf("pad", text, lambda shape: const_pad([(a, a) for a in p]),
                tags=frozenset({"pad:asymmetric"} if uneven(p) else ()))


def upsample(scale: Sizes, *, style: random.Random | None = None) -> Leaf:
    text = spell(style, names_of("upsample", len(scale)), [fmt_sizes(scale, style)], [])
    return Leaf("upsample", text, lambda shape: nn.Upsample(
        scale_factor=tuple(float(v) for v in scale), mode="nearest"),
        tags=frozenset({"upsample:asymmetric"} if uneven(scale) else ()))


def adaptive(size: Sizes, *, style: random.Random | None = None) -> Leaf:
    text = spell(style, names_of("adaptiveavgpool", len(size)), [fmt_sizes(size, style)], [])
    return ranked("adaptiveavgpool", text, ADAPTIVE_AVG, size)


def global_pool(kind: str, rank: int, *, style: random.Random | None = None) -> Leaf:
    return ranked(kind, spell(style, names_of(kind, rank), [], []),
                  ADAPTIVE_AVG if kind == "gap" else ADAPTIVE_MAX, 1)


def relu() -> Leaf:
    return simple("relu", "relu", nn.ReLU)


def dropout(p: float | None = None) -> Leaf:
    return simple("dropout", "dropout" if p is None else f"dropout({p})",
                  lambda: nn.Dropout(0.5 if p is None else p))


ACTIVATIONS: dict[str, tuple[Callable[[random.Random], tuple[str, Callable[[], nn.Module]]],
                             bool]] = {
    # kind: (draw the text and a module factory, volume only)
    "relu": (lambda g: ("relu", nn.ReLU), False),
    "relu6": (lambda g: ("relu6", nn.ReLU6), False),
    "leakyrelu": (lambda g: ("leakyrelu", nn.LeakyReLU) if g.random() < 0.5
                  else ("leakyrelu(0.2)", lambda: nn.LeakyReLU(0.2)), False),
    "prelu": (lambda g: ("prelu", nn.PReLU), False),
    "elu": (lambda g: ("elu", nn.ELU), False),
    "gelu": (lambda g: ("gelu", nn.GELU), False),
    "silu": (lambda g: (g.choice(["silu", "swish"]), nn.SiLU), False),
    "sigmoid": (lambda g: ("sigmoid", nn.Sigmoid), False),
    "tanh": (lambda g: ("tanh", nn.Tanh), False),
    "hardswish": (lambda g: ("hardswish", nn.Hardswish), False),
    "hardsigmoid": (lambda g: ("hardsigmoid", nn.Hardsigmoid), False),
    "mish": (lambda g: ("mish", nn.Mish), False),
    "softmax": (lambda g: ("softmax", lambda: nn.Softmax(dim=1)), False),
    "lrn": (lambda g: ("lrn", lambda: nn.LocalResponseNorm(5)) if g.random() < 0.5
            else ("lrn(3)", lambda: nn.LocalResponseNorm(3)), True),
    "identity": (lambda g: ("identity", nn.Identity), False),
    "dropout": (lambda g: ("dropout", nn.Dropout) if g.random() < 0.5
                else ("dropout(0.25)", lambda: nn.Dropout(0.25)), False),
}


def activation(g: random.Random, x: torch.Tensor) -> Leaf:
    kinds = [k for k, (_, vol) in ACTIVATIONS.items() if x.dim() > 2 or not vol]
    kind = g.choice(kinds)
    draw, vol = ACTIVATIONS[kind]
    text, factory = draw(g)
    return simple(kind, text, factory, vol)


# --------------------------------------------------------------------------- random drawing
# ``mode``: "free" (anything), "keep" (output shape = input shape, for an identity
# residual's body or a repeated group), "keep_hw" (spatial sizes kept, channels free:
# concat and split branches). The rank is the current activation's: ``x.dim() - 2``.


def rank_of(x: torch.Tensor) -> int:
    return x.dim() - 2


def rand_sizes(g: random.Random, r: int, lo: int, hi: int, square: float = 0.7) -> Sizes:
    a = g.randint(lo, hi)
    return (a,) * r if g.random() < square else (a, *(g.randint(lo, hi) for _ in range(r - 1)))


def divisors(n: int) -> list[int]:
    return [i for i in range(1, n + 1) if n % i == 0]


def keep_padding(g: random.Random, k: Sizes, d: Sizes) -> Sizes | str:
    """A stride-1 padding that keeps the sizes: ``same``, or half the (odd) effective kernel."""
    if g.random() < 0.4 or any(di * (ki - 1) % 2 for ki, di in zip(k, d, strict=True)):
        return "same"
    return tuple(di * (ki - 1) // 2 for ki, di in zip(k, d, strict=True))


def free_padding(g: random.Random, k: Sizes) -> Sizes | str:
    roll, r = g.random(), len(k)
    if roll < 0.35:
        return zeros(r)
    if roll < 0.5:
        return "same"
    if roll < 0.55:
        return "valid"
    return rand_sizes(g, r, 0, max(k) + 1)


def draw_conv(g: random.Random, x: torch.Tensor, mode: str) -> Leaf:
    c, r = x.shape[1], rank_of(x)
    k = rand_sizes(g, r, 1, 5)
    d = ones(r) if g.random() < 0.75 else rand_sizes(g, r, 1, 3)
    if mode == "free":
        s = ones(r) if g.random() < 0.5 else rand_sizes(g, r, 1, 4)
        p = free_padding(g, k)
    else:
        s, p = ones(r), keep_padding(g, k, d)
    grp = 1 if g.random() < 0.6 else g.choice(divisors(c))
    filters = c if mode == "keep" else grp * g.randint(1, max(1, 24 // grp))
    return conv(filters, k, s, p, d, grp, g.random() > 0.2, style=g,
                native_same=g.random() < 0.5)


def draw_dwconv(g: random.Random, x: torch.Tensor, mode: str) -> Leaf:
    r = rank_of(x)
    k = rand_sizes(g, r, 1, 5)
    d = ones(r) if g.random() < 0.8 else rand_sizes(g, r, 1, 3)
    if mode == "free":
        s = ones(r) if g.random() < 0.5 else rand_sizes(g, r, 1, 3)
        p = free_padding(g, k)
    else:
        s, p = ones(r), keep_padding(g, k, d)
    m = 1 if mode == "keep" or g.random() < 0.6 else g.randint(2, 3)
    return dwconv(k, s, p, d, m, g.random() > 0.2, style=g)


def draw_deconv(g: random.Random, x: torch.Tensor, mode: str) -> Leaf:
    c, r = x.shape[1], rank_of(x)
    d = ones(r) if g.random() < 0.8 else rand_sizes(g, r, 1, 2)
    if mode == "free":
        k = rand_sizes(g, r, 1, 4)
        s = ones(r) if g.random() < 0.3 else rand_sizes(g, r, 1, 3)
        p = zeros(r) if g.random() < 0.4 else rand_sizes(g, r, 0, max(k) - 1)
        # torch: output_padding smaller than the stride or the dilation
        op = zeros(r) if g.random() < 0.5 else tuple(
            g.randrange(max(si, di)) for si, di in zip(s, d, strict=True))
    else:
        k = (g.choice([1, 3, 5]),) * r
        s, op = ones(r), zeros(r)
        p = tuple(di * (ki - 1) // 2 for ki, di in zip(k, d, strict=True))
    grp = 1 if g.random() < 0.7 else g.choice(divisors(c))
    filters = c if mode == "keep" else grp * g.randint(1, max(1, 16 // grp))
    return deconv(filters, k, s, p, op, d, grp, g.random() > 0.2, style=g)


def draw_pool(g: random.Random, x: torch.Tensor, mode: str) -> Leaf:
    kind, r = g.choice(["maxpool", "avgpool"]), rank_of(x)
    if mode != "free":
        k = g.choice([1, 3, 5])
        return pool(kind, (k,) * r, ones(r), "same" if g.random() < 0.3 else (k // 2,) * r,
                    g.random() < 0.3, style=g)
    k = rand_sizes(g, r, 1, 4)
    s = None if g.random() < 0.4 else rand_sizes(g, r, 1, 4)
    ceil = g.random() < 0.35
    roll = g.random()
    if roll < 0.15 and not ceil:
        p: Sizes | str = "same"
    elif roll < 0.5:
        p = zeros(r)
    else:  # torch: padding at most half the kernel
        p = tuple(g.randint(0, ki // 2) for ki in k)
    return pool(kind, k, s, p, ceil, style=g)


def draw_leaf(g: random.Random, kind: str, x: torch.Tensor, mode: str) -> Leaf:
    r = rank_of(x)
    if kind == "conv":
        return draw_conv(g, x, mode)
    if kind == "dwconv":
        return draw_dwconv(g, x, mode)
    if kind == "deconv":
        return draw_deconv(g, x, mode)
    if kind == "pool":
        return draw_pool(g, x, mode)
    if kind == "global":
        return global_pool("gap" if g.random() < 0.5 else "globalmaxpool", r, style=g)
    if kind == "adaptiveavgpool":
        return adaptive(rand_sizes(g, r, 1, 7, square=0.6), style=g)
    if kind == "bn":
        return batchnorm(g.random() > 0.15, style=g, rank=max(r, 0))
    if kind == "activation":
        return activation(g, x)
    if kind == "flatten":
        return flatten()
    if kind == "fc":
        units = x.shape[1] if mode == "keep" else g.randint(1, 32)
        if x.dim() > 2 and (mode == "keep_hw" or g.random() < 0.3):
            return fc_per_position(units, g.random() > 0.2, style=g)
        return fc_tags(fc(units, g.random() > 0.2, style=g), x)
    if kind == "layernorm":
        return layernorm(g.random() > 0.15, style=g)
    if kind == "groupnorm":  # mostly a divisor of C; torch rejects the others (re-drawn)
        c = x.shape[1]
        groups = g.choice(divisors(c)) if g.random() < 0.9 else g.randint(1, c + 1)
        return groupnorm(groups, g.random() > 0.15, style=g)
    if kind == "instancenorm":
        return instancenorm(g.random() < 0.4, style=g, rank=r)
    if kind == "layerscale":
        return layerscale(None if g.random() < 0.5 else g.choice([0.1, 1.0, 2.5]))
    if kind == "shuffle":
        return shuffle(g.choice(divisors(x.shape[1])), style=g)
    if kind == "pad":
        return pad(rand_sizes(g, r, 0, 3), style=g)
    if kind == "upsample":
        return upsample(rand_sizes(g, r, 1, 3, square=0.6), style=g)
    raise AssertionError(kind)


V2_NORMS = {"layernorm": 0.8, "groupnorm": 0.8, "instancenorm": 0.6, "layerscale": 0.6,
            "shuffle": 0.6}
"""The v2 kinds that keep the shape of a volume (spec §4's v2 table)."""

WEIGHTS: dict[tuple[bool, str], dict[str, float]] = {
    (True, "free"): {"conv": 8, "dwconv": 3, "deconv": 3, "pool": 7, "global": 1.5,
                     "adaptiveavgpool": 1.5, "bn": 3, "activation": 6.5, "flatten": 1.5,
                     "fc": 1.5, "pad": 1.5, "upsample": 1.5, "residual": 3, "concat": 2.5,
                     "repeat": 1.5, "gate": 2.2, "split": 1.5, **V2_NORMS},
    (True, "keep"): {"conv": 5, "dwconv": 2, "deconv": 1, "pool": 2, "bn": 3, "activation": 4,
                     "residual": 1, "repeat": 0.5, "gate": 0.7, "split": 0.7, "fc": 0.5,
                     **V2_NORMS},
    (True, "keep_hw"): {"conv": 6, "dwconv": 2, "deconv": 1, "pool": 2, "bn": 2,
                        "activation": 4, "residual": 1, "concat": 0.7, "fc": 0.7, **V2_NORMS},
    (False, "free"): {"fc": 5, "bn": 2, "activation": 4, "flatten": 0.5, "residual": 1.5,
                      "concat": 1.5, "repeat": 1, "layernorm": 0.7, "groupnorm": 0.7},
    (False, "keep"): {"fc": 3, "bn": 2, "activation": 3, "flatten": 0.3, "residual": 0.5,
                      "repeat": 0.3, "layernorm": 0.5, "groupnorm": 0.5},
}
WEIGHTS[False, "keep_hw"] = WEIGHTS[False, "free"]

BLOCKS = ("residual", "concat", "repeat", "gate", "split")
Built = tuple[Node, nn.Module, torch.Tensor, list[Entry]]


def draw(g: random.Random, x: torch.Tensor, depth: int, mode: str) -> Built:
    weights = {k: w * (0.4 if depth and k in BLOCKS else 1)
               for k, w in WEIGHTS[x.dim() > 2, mode].items() if depth < 2 or k not in BLOCKS}
    kind = g.choices(list(weights), list(weights.values()))[0]
    if kind == "residual":
        return draw_residual(g, x, depth, mode)
    if kind == "concat":
        return draw_concat(g, x, depth)
    if kind == "repeat":
        return draw_repeat(g, x, depth, mode)
    if kind == "gate":
        return draw_gate(g, x, depth)
    if kind == "split":
        return draw_split(g, x, depth)
    node = draw_leaf(g, kind, x, mode)
    return (node, *instantiate(node, x))


def draw_residual(g: random.Random, x: torch.Tensor, depth: int, mode: str) -> Built:
    if x.dim() > 2 and g.random() < 0.5:
        return draw_residual_word(g, x, depth, mode)
    if mode == "keep" or g.random() < 0.5:  # body keeps the shape: identity shortcut
        body, _, y, _ = gen_chain(g, x, g.randint(1, 3), depth + 1, "keep")
        shortcut: list[Node] = []
        if g.random() < 0.15 and x.dim() > 2:
            shortcut = [conv(x.shape[1], ones(rank_of(x)), bias=False, style=g),
                        batchnorm(style=g, rank=rank_of(x))]
    else:  # a projection shortcut that gives the body's shape
        body, _, y, _ = gen_chain(g, x, g.randint(1, 3), depth + 1, mode)
        shortcut = projection(g, x, y)
    if not body:
        raise Reject("empty body")
    node = Residual(body, shortcut)
    return (node, *instantiate(node, x))


def draw_residual_word(g: random.Random, x: torch.Tensor, depth: int, mode: str) -> Built:
    """``shortcut=auto`` (the identity or torchvision's projection, worked out here from
    the shapes alone) or ``shortcut=if_same`` (the identity or no shortcut)."""
    word = g.choice(["auto", "if_same"])
    body_mode = "keep" if g.random() < 0.2 else mode
    if mode == "free" and g.random() < 0.3:  # a downsampling block (ResNet's): strided conv
        r, k = rank_of(x), g.choice([1, 3])
        body = [conv(g.randint(1, 24), (k,) * r, rand_sizes(g, r, 1, 3), (k // 2,) * r,
                     bias=False, style=g), batchnorm(style=g, rank=r)]
        _, y, _ = instantiate_chain(body, x)
    else:
        body, _, y, _ = gen_chain(g, x, g.randint(1, 3), depth + 1, body_mode)
    if not body:
        raise Reject("empty body")
    shortcut: list[Node] = []
    adds = True
    if y.shape != x.shape and word == "if_same":
        adds = False
    elif y.shape != x.shape:
        if y.dim() != x.dim():
            raise Reject("no automatic projection onto a flat vector")
        strides = tuple(-(-n // o) for n, o in zip(x.shape[2:], y.shape[2:], strict=True))
        if any((n - 1) // s + 1 != o for n, o, s in zip(x.shape[2:], y.shape[2:], strides,
                                                         strict=True)):
            raise Reject("the body grows: no automatic projection")
        shortcut = [conv(y.shape[1], ones(rank_of(x)), strides, bias=False), batchnorm()]
    node = Residual(body, shortcut, word=word, adds=adds)
    return (node, *instantiate(node, x))


def projection(g: random.Random, x: torch.Tensor, y: torch.Tensor) -> list[Node]:
    after: list[Node] = [batchnorm(style=g, rank=rank_of(y))] if g.random() < 0.5 else []
    if y.dim() == 2:
        return [fc(y.shape[1], style=g), *after]
    if x.dim() != y.dim():
        raise Reject("no projection from a flat vector to a volume")
    r, co = rank_of(x), y.shape[1]
    strides = [[s for s in range(1, n + 1) if (n - 1) // s + 1 == o]
               for n, o in zip(x.shape[2:], y.shape[2:], strict=True)]
    if all(strides):
        return [conv(co, ones(r), tuple(s[0] for s in strides), bias=g.random() < 0.3,
                     style=g), *after]
    if all(o % n == 0 for n, o in zip(x.shape[2:], y.shape[2:], strict=True)):
        scale = tuple(o // n for n, o in zip(x.shape[2:], y.shape[2:], strict=True))
        return [upsample(scale, style=g), conv(co, ones(r), style=g), *after]
    raise Reject("no simple projection")


def draw_concat(g: random.Random, x: torch.Tensor, depth: int) -> Built:
    branches: list[list[Node]] = []
    for _ in range(g.randint(2, 3)):
        if g.random() < 0.25:
            branches.append([])
        else:
            mode = "keep_hw" if g.random() < 0.85 else "free"
            nodes, _, _, _ = gen_chain(g, x, g.randint(1, 2), depth + 1, mode)
            branches.append(nodes)
    if all(not b for b in branches):
        raise Reject("nothing but identity branches")
    node = Concat(branches)
    return (node, *instantiate(node, x))


def draw_gate(g: random.Random, x: torch.Tensor, depth: int) -> Built:
    """Squeeze-and-excitation (conv 1×1 on the pooled map, or fc on the pooled vector),
    spatial attention (a 1-channel map), or a body that keeps the shape; in any rank."""
    c, style, r = x.shape[1], g.random(), rank_of(x)
    scale = simple("sigmoid", "sigmoid", nn.Sigmoid) if g.random() < 0.7 else activation(g, x)
    body: list[Node]
    if style < 0.45:
        squeeze = max(1, c // g.choice([1, 2, 4]))
        if g.random() < 0.5:
            body = [draw_leaf(g, "global", x, "free"), conv(squeeze, ones(r), style=g), relu(),
                    conv(c, ones(r), style=g), scale]
        else:
            body = [global_pool("gap", r, style=g), fc(squeeze, style=g), relu(),
                    fc(c, style=g), scale]
        tag = "channel"
    elif style < 0.7:
        k = g.choice([1, 3, 5])
        body = [conv(1, (k,) * r, p=(k // 2,) * r, style=g), scale]
        tag = "spatial"
    else:
        body, _, _, _ = gen_chain(g, x, g.randint(1, 2), depth + 1, "keep")
        tag = "same"
    if not body:
        raise Reject("empty body")
    node = Gate(body, tag)
    return (node, *instantiate(node, x))


def draw_split(g: random.Random, x: torch.Tensor, depth: int) -> Built:
    ways = [n for n in (2, 3, 4) if x.shape[1] % n == 0]
    if not ways:
        raise Reject("no branch count divides the channels")
    n = g.choice(ways)
    part = torch.chunk(x, n, dim=1)[0]
    branches: list[list[Node]] = []
    for _ in range(n):
        if g.random() < 0.35:
            branches.append([])
        else:
            nodes, _, _, _ = gen_chain(g, part, g.randint(1, 2), depth + 1, "keep_hw")
            branches.append(nodes)
    node = Split(branches)
    return (node, *instantiate(node, x))


def draw_repeat(g: random.Random, x: torch.Tensor, depth: int, mode: str) -> Built:
    group_mode = mode if mode != "free" else g.choice(["keep", "keep", "free"])
    nodes, _, _, _ = gen_chain(g, x, g.randint(1, 3), depth + 1, group_mode)
    if not nodes:
        raise Reject("empty group")
    bare = len(nodes) == 1 and isinstance(nodes[0], Leaf) and g.random() < 0.5
    node = Repeat(nodes, 0 if g.random() < 0.1 else g.randint(2, 3), bare=bare)
    return (node, *instantiate(node, x))


def gen_chain(g: random.Random, x: torch.Tensor, length: int, depth: int, mode: str
              ) -> tuple[list[Node], nn.Sequential, torch.Tensor, list[Entry]]:
    """``length`` layers drawn one after another; torch re-draws what it rejects."""
    nodes: list[Node] = []
    mods: list[nn.Module] = []
    entries: list[Entry] = []
    for _ in range(length):
        for _attempt in range(60):
            try:
                node, m, y, e = draw(g, x, depth, mode)
            except (Reject, RuntimeError, ValueError):
                continue
            if mode == "keep" and y.shape != x.shape:
                continue
            if mode == "keep_hw" and (y.dim() != x.dim() or y.shape[2:] != x.shape[2:]):
                continue
            nodes.append(node)
            mods.append(m)
            entries += e
            x = y
            break
    return nodes, nn.Sequential(*mods), x, entries


@dataclass
class Case:
    spec: str
    model: nn.Module
    entries: list[Entry]
    x: torch.Tensor
    tags: set[str] = field(default_factory=set)


RANKS = (1, 2, 3)
SIDES = {1: (16, 400), 2: (16, 64), 3: (6, 16)}
"""Input sides per rank: small (40 %) or up to the second number."""


def generate(seed: int) -> Case:
    g = random.Random(seed)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        batch = g.choice([1, 2])
        r = g.choices([0, *RANKS], [0.06, 0.3, 0.32, 0.32])[0]
        if r == 0:
            x = torch.randn(batch, g.randint(1, 300))
            inp = str(x.shape[1])
        else:
            small, large = SIDES[r]
            sides = [g.randint(1, small) if g.random() < 0.4 else g.randint(1, large)
                     for _ in range(r)]
            x = torch.randn(batch, g.randint(1, 16), *sides)
            inp = "x".join(map(str, (*sides, x.shape[1])))
            if g.random() < 0.1:
                inp = f"input({inp})"
        nodes, model, _, entries = gen_chain(g, x, g.randint(2, 8), 0, "free")
        assert nodes, f"seed {seed}: nothing could be generated"
        # a third of the networks get a named skip (its own random stream: the draws above,
        # and so the catalog's coverage, stay as they were)
        h = random.Random(seed * 7919 + 1)
        if h.random() < 0.35 and (skipped := add_skip(h, nodes, x)) is not None:
            nodes, model, entries = skipped
        u = random.Random(seed * 7919 + 2)  # user blocks: a stream of their own too
        if u.random() < 0.35 and (called := add_call(u, nodes, x)) is not None:
            nodes, model, entries = called
        x = torch.randn(x.shape)
    tags = tags_of(nodes) | {f"input:{r}d"} | {
        f"{tag}@{e.rank}d" for e in entries if e.rank for tag in e.tags}
    return Case(spec_text(inp, nodes), model.eval(), entries, x, tags)


def add_skip(h: random.Random, nodes: list[Node], x: torch.Tensor
             ) -> tuple[list[Node], nn.Sequential, list[Entry]] | None:
    """``nodes`` with a run of them wrapped in a :class:`Skip` whose join fits (the same
    shape for add; the same spatial sizes for concat), built again in torch; or None."""
    xs = [x]
    for n in nodes:
        try:
            xs.append(instantiate(n, xs[-1])[1])
        except (Reject, RuntimeError, ValueError):
            return None
    fits = [(i, j, join) for i in range(len(nodes)) for j in range(i + 1, len(nodes) + 1)
            for join in ("add", "concat")
            if (xs[i].shape == xs[j].shape if join == "add" else
                xs[i].dim() == xs[j].dim() and xs[i].shape[2:] == xs[j].shape[2:])]
    if not fits:
        return None
    i, j, join = h.choice(fits)
    new = [*nodes[:i], Skip(nodes[i:j], join, f"s{h.randint(0, 999)}"), *nodes[j:]]
    try:
        model, _, entries = instantiate_chain(new, x)
    except (Reject, RuntimeError, ValueError):
        return None
    return new, model, entries


def add_call(h: random.Random, nodes: list[Node], x: torch.Tensor
             ) -> tuple[list[Node], nn.Sequential, list[Entry]] | None:
    """``nodes`` with a run of two or more of them (no named skip among them: names do not
    cross a call) moved into a :class:`Call`, built again in torch; or None."""
    runs = [(i, j) for i in range(len(nodes)) for j in range(i + 2, len(nodes) + 1)
            if not any(isinstance(n, Skip) for n in nodes[i:j])]
    if not runs:
        return None
    i, j = h.choice(runs)
    name = f"u{h.randint(0, 99)}"
    for n, back in ((h.choice([1, 1, 2, 3]), h.random() < 0.5), (1, False)):
        call = Call(nodes[i], nodes[i + 1:j], n, name, back)
        new = [*nodes[:i], call, *nodes[j:]]
        try:
            model, _, entries = instantiate_chain(new, x)
        except (Reject, RuntimeError, ValueError):
            continue  # the rest does not chain n times (or no volume for conv(C, 1))
        return new, model, entries
    return None


def spec_text(inp: str, nodes: Sequence[Node]) -> str:
    """The one-line spec, or (with user blocks) the YAML spec defining them."""
    calls = [n for n in nodes if isinstance(n, Call)]
    if not calls:
        return f"{inp} -> {chain_text(nodes)}"
    shape = inp.removeprefix("input(").removesuffix(")")
    defs = "".join(f"  {c.definition}\n" for c in calls)
    return f"input: {shape}\nblocks:\n{defs}layers:\n  - {json.dumps(chain_text(nodes))}\n"


# --------------------------------------------------------------------------- comparing


def channels_last(shape: Sequence[int]) -> tuple[int, ...]:
    """A torch shape with the batch as cnncalc writes it: (N, C, *spatial) → (*spatial, C),
    (N, F) → (F,)."""
    return (*shape[2:], shape[1]) if len(shape) > 2 else (shape[1],)


def counted(module: nn.Module) -> dict[str, int]:
    """weights, biases (γ counts as a weight, β as a bias), params, non-trainable."""
    named = list(module.named_parameters())
    assert all(n.endswith(("weight", "bias")) for n, _ in named), [n for n, _ in named]
    weights = sum(p.numel() for n, p in named if n.endswith("weight"))
    biases = sum(p.numel() for n, p in named if n.endswith("bias"))
    stats = sum(b.numel() for n, b in module.named_buffers()
                if n.endswith(("running_mean", "running_var")))
    return {"weights": weights, "biases": biases, "params": weights + biases,
            "non_trainable": stats}


def compare(spec: str, model: nn.Module, entries: Sequence[Entry], x: torch.Tensor) -> None:
    """Run ``model`` on ``x`` with hooks and check every cnncalc row and the totals."""
    seen: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    handles = [e.module.register_forward_hook(
        lambda mod, args, out, i=i: seen.__setitem__(i, (tuple(args[0].shape), tuple(out.shape))))
        for i, e in enumerate(entries)]
    try:
        with torch.no_grad():
            y = model.eval()(x)
    finally:
        for h in handles:
            h.remove()
    assert len(seen) == len(entries), "a module was not run"

    report = cnncalc.analyze(spec, mode="lenient")
    assert report.ok, f"{spec}\ncnncalc rejects a network torch runs: {report.errors}"
    rows = report.layers
    assert len(rows) == len(entries), (
        f"{spec}\n{len(rows)} rows, {len(entries)} torch layers:\n"
        + "\n".join(f"  {r.path} {r.spec}" for r in rows))
    bad = []
    for i, (row, e) in enumerate(zip(rows, entries, strict=True)):
        inp, out = seen[i]
        want = {"kind": e.kind, "is_block": e.is_block, "input_shape": channels_last(inp),
                "output_shape": channels_last(out), **counted(e.module)}
        got = {key: getattr(row, key) for key in want}
        for key in want:
            if got[key] != want[key]:
                bad.append(f"  {row.path} {row.spec} [{e.text}]: {key} cnncalc {got[key]} "
                           f"vs torch {want[key]}")
    total = counted(model)
    for key in ("params", "non_trainable", "weights", "biases"):
        if getattr(report.totals, key) != total[key]:
            bad.append(f"  totals: {key} cnncalc {getattr(report.totals, key)} vs torch "
                       f"{total[key]}")
    if report.totals.output_shape != channels_last(y.shape):
        bad.append(f"  totals: output_shape cnncalc {report.totals.output_shape} vs torch "
                   f"{channels_last(y.shape)}")
    assert not bad, f"{spec}\n" + "\n".join(bad)


# --------------------------------------------------------------------------- tests

_TAGS: dict[int, set[str]] = {}


@pytest.mark.parametrize("seed", SEEDS)
def test_random_architecture_matches_torch(seed: int) -> None:
    case = generate(seed)
    _TAGS[seed] = case.tags
    compare(case.spec, case.model, case.entries, case.x)


OPTION_TAGS = {
    "conv:asymmetric", "conv:stride>kernel", "conv:same", "conv:same-strided", "conv:dilation",
    "conv:groups", "dwconv:multiplier", "dwconv:same", "dwconv:dilation",
    "deconv:output_padding", "deconv:groups", "deconv:dilation", "deconv:asymmetric",
    "pool:ceil", "pool:padding", "pool:same", "pool:stride>kernel", "pool:asymmetric",
    "bias=false", "bn:affine=false", "fc:on-volume", "fc:on-flat", "fc:per-position",
    "pad:asymmetric",
    "upsample:asymmetric", "residual:projection", "concat:identity-branch", "gate:channel",
    "gate:spatial", "gate:same", "split:identity-branch", "residual:auto", "residual:if_same",
    "residual:auto:projection",
    "residual:if_same:none", "repeat:single-layer", "repeat:zero", "named:add", "named:concat",
    "call", "call:input-channels",
}
JOINS = {"gate:channel", "gate:spatial", "gate:same", "residual:auto", "residual:if_same",
         "residual:if_same:none", "residual:projection", "residual:auto:projection",
         "concat:identity-branch", "split:identity-branch"}
"""How blocks join their groups (broadcast, add, project, concatenate), wanted in every rank."""
RANK_TAGS = {f"{tag}@{r}d" for tag in {kind.name for kind in KINDS} | JOINS for r in RANKS} | {
    f"input:{r}d" for r in (0, *RANKS)}
"""Every kind and block of the registry (and every way a block joins) drawn on a 1-D, a 2-D
and a 3-D input (the rank of its own input: a kind after a flatten is on a flat vector,
counted as none of them)."""
REQUIRED_TAGS = {kind.name for kind in KINDS} | OPTION_TAGS | RANK_TAGS
"""Every kind of the registry (a kind the generator cannot draw fails the coverage test
below) in every rank, and the options worth drawing."""


def generated_tags() -> dict[str, int]:
    """How many generated cases have each tag (a kind's name, an option)."""
    seen: dict[str, int] = {}
    for seed in SEEDS:
        if seed not in _TAGS:
            _TAGS[seed] = generate(seed).tags
        for tag in _TAGS[seed]:
            seen[tag] = seen.get(tag, 0) + 1
    return seen


def test_generated_architectures_cover_the_catalog() -> None:
    """The random corpus really exercises every layer kind and option (so that the
    re-drawing of what torch rejects cannot silently hollow it out)."""
    seen = generated_tags()
    rare = {t: seen.get(t, 0) for t in REQUIRED_TAGS if seen.get(t, 0) < 3}
    assert not rare, f"too few generated cases with {rare}"


@pytest.mark.parametrize("seed", SEEDS[::4])
def test_random_architecture_exports_as_torch(seed: int) -> None:
    """``cnncalc export`` of the random networks of every rank builds and runs in torch on
    the same input, with the output shape, params and running statistics of the network
    torch was given (the one built here)."""
    from cnncalc.output.export import to_pytorch
    from tests.test_export import build

    case = generate(seed)
    exported = build(to_pytorch(cnncalc.analyze(case.spec, mode="lenient")))
    with torch.no_grad():
        got, want = exported(case.x), case.model(case.x)
    assert got.shape == want.shape, case.spec
    assert ({k: counted(exported)[k] for k in ("params", "non_trainable")}
            == {k: counted(case.model)[k] for k in ("params", "non_trainable")}), case.spec


def test_generation_is_deterministic() -> None:
    assert [generate(s).spec for s in (0, 1, 2)] == [generate(s).spec for s in (0, 1, 2)]


# --------------------------------------------------------------------------- fixed cases


def fixed(spec_input: str, hwc_shape: tuple[int, ...], nodes: list[Node]
          ) -> tuple[str, nn.Module, list[Entry], torch.Tensor]:
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        x = torch.zeros(2, hwc_shape[2], hwc_shape[0], hwc_shape[1])
        model, _, entries = instantiate_chain(nodes, x, quick=False)
    return f"{spec_input} -> {chain_text(nodes)}", model.eval(), entries, x


def test_lecture_conv() -> None:
    spec, model, entries, x = fixed("32x32x3", (32, 32, 3), [conv(10, (5, 5), p=(2, 2))])
    assert spec == "32x32x3 -> conv(10, 5, p=2)"
    assert sum(p.numel() for p in model.parameters()) == 760
    assert model(x).shape == (2, 10, 32, 32)
    compare(spec, model, entries, x)
    assert cnncalc.analyze(spec).totals.params == 760


def test_keras_mnist_net() -> None:
    spec, model, entries, x = fixed("28x28x1", (28, 28, 1), [
        conv(32, (3, 3)), relu(), pool("maxpool", (2, 2)), conv(64, (3, 3)), relu(),
        pool("maxpool", (2, 2)), flatten(), dropout(), fc(10)])
    assert spec == ("28x28x1 -> conv(32, 3) -> relu -> maxpool(2) -> conv(64, 3) -> relu -> "
                    "maxpool(2) -> flatten -> dropout -> fc(10)")
    assert sum(p.numel() for p in model.parameters()) == 34_826
    compare(spec, model, entries, x)
    report = cnncalc.analyze(spec, mode="lenient")
    assert report.totals.params == 34_826
    assert report.totals.output_shape == (10,)


FIXED: dict[str, tuple[str, tuple[int, int, int], Callable[[], list[Node]]]] = {
    "resnet-basic-block-projection": ("56x56x64", (56, 56, 64), lambda: [Residual(
        [conv(128, (3, 3), (2, 2), (1, 1), bias=False), batchnorm(), relu(),
         conv(128, (3, 3), p=(1, 1), bias=False), batchnorm()],
        [conv(128, (1, 1), (2, 2), bias=False), batchnorm()]), relu()]),
    "resnet-stem-same": ("224x224x3", (224, 224, 3), lambda: [
        conv(64, (7, 7), (2, 2), "same", bias=False), batchnorm(), relu(),
        pool("maxpool", (3, 3), (2, 2), "same")]),
    "inception-concat": ("28x28x192", (28, 28, 192), lambda: [Concat([
        [conv(64, (1, 1))], [conv(96, (1, 1)), conv(128, (3, 3), p=(1, 1))],
        [conv(16, (1, 1)), conv(32, (5, 5), p=(2, 2))],
        [pool("maxpool", (3, 3), (1, 1), (1, 1)), conv(32, (1, 1))]])]),
    "densenet-identity-branch": ("16x16x8", (16, 16, 8), lambda: [Repeat([Concat([
        [], [batchnorm(), relu(), conv(4, (3, 3), p=(1, 1), bias=False)]])], 3)]),
    "ceil-pool-odd": ("11x7x3", (11, 7, 3), lambda: [
        pool("maxpool", (2, 2), ceil=True), pool("avgpool", (3, 2), (2, 3), (1, 1), True)]),
    "strided-same-odd": ("7x9x5", (7, 9, 5), lambda: [
        conv(6, (4, 3), (2, 3), "same", (2, 1)), dwconv((3, 3), (2, 2), "same", m=2)]),
    "deconv-output-padding": ("7x5x8", (7, 5, 8), lambda: [
        deconv(16, (3, 3), (2, 2), (1, 1), (1, 0), g=4),
        deconv(4, (2, 4), (3, 2), (0, 1), (2, 1), (2, 1))]),
    "stride-outruns-kernel": ("13x13x4", (13, 13, 4), lambda: [
        conv(8, (1, 1), (3, 3), g=4), pool("maxpool", (2, 2), (3, 3), (1, 1), True)]),
    "convnext-block": ("14x14x96", (14, 14, 96), lambda: [Residual(
        [dwconv((7, 7), p=(3, 3)), layernorm(), fc_per_position(384),
         simple("gelu", "gelu", nn.GELU), fc_per_position(96), layerscale()], [])]),
    "norms-shuffle-activations": ("9x7x16", (9, 7, 16), lambda: [
        conv(32, (3, 3), p=(1, 1)), groupnorm(8), simple("mish", "mish", nn.Mish), shuffle(4),
        instancenorm(True), simple("hardsigmoid", "hardsigmoid", nn.Hardsigmoid),
        layernorm(False), fc(10), layernorm(), groupnorm(5)]),
    "pad-upsample-adaptive-fc": ("5x6x3", (5, 6, 3), lambda: [
        pad((1, 2)), upsample((2, 3)), adaptive((3, 2)), batchnorm(affine=False), fc(7),
        batchnorm(), fc(3, bias=False)]),
}


@pytest.mark.parametrize("name", FIXED)
def test_fixed_architecture_matches_torch(name: str) -> None:
    spec_input, shape, nodes = FIXED[name]
    compare(*fixed(spec_input, shape, nodes()))


def test_same_padding_matches_torch_native_same() -> None:
    """Our TF ``same`` emulation agrees with torch's own padding='same' at stride 1."""
    for n, k, d in ((7, 4, 1), (8, 3, 2), (5, 2, 3), (1, 5, 1)):
        top, bottom = tf_same(n, k, 1, d)
        native = nn.Conv2d(1, 1, (k, 1), padding="same", dilation=(d, 1))
        padded = nn.Conv2d(1, 1, (k, 1), dilation=(d, 1))
        padded.load_state_dict(native.state_dict())
        x = torch.arange(float(n)).reshape(1, 1, n, 1)
        with torch.no_grad():
            want = native(x)
            got = padded(nn.ZeroPad2d((0, 0, top, bottom))(x))
        assert torch.equal(want, got), (n, k, d)
    assert tf_same(224, 7, 2, 1) == (2, 3)
