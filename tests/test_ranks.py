"""1-D, 2-D and 3-D networks (spec §1, Ranks): torch decides, cnncalc must agree.

Random architectures of every rank are drawn together with the same network built from
``torch.nn`` (``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``, the pools, ``BatchNorm1d/2d/3d``,
…). Torch alone decides what is valid: a candidate layer torch rejects (or whose output is
empty) is re-drawn. Every row of ``cnncalc.analyze(spec, mode="lenient")`` is then compared
with what torch did, layer by layer: input and output shape ((N, C, *spatial) → (*spatial, C)),
weights, biases, params and running statistics; then the totals.

Besides: hand arithmetic (C3D/R3D-style 3-D convs, an M5-style audio net), the rank errors
(G010) and their fixes by (line, column, code), the exported PyTorch of 1-D and 3-D specs
run in torch, and the rank named in the outputs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc.api import analyze_spec
from cnncalc.cli import main
from cnncalc.spec.parse import read_spec
from tests.test_fixes import check_fixes_apply, layer

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[test]')")
from torch import nn  # noqa: E402

SEEDS = range(120)
MAX_ELEMENTS = 40_000
MAX_LEAF_PARAMS = 200_000
Sizes = tuple[int, ...]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Reject(Exception):
    """Not a network torch would build and run: draw another."""


@dataclass
class Leaf:
    kind: str
    text: str
    make: Callable[[torch.Size], nn.Module]
    volume_only: bool = True
    tags: frozenset[str] = frozenset()


@dataclass
class Entry:
    module: nn.Module
    is_block: bool
    kind: str
    text: str


# --------------------------------------------------------------------------- spelling


def fmt(t: Sizes, g: random.Random) -> str:
    """One number when every axis agrees (mostly), else one per axis."""
    if len(set(t)) == 1 and g.random() < 0.85:
        return str(t[0])
    return "x".join(map(str, t))


def tf_same(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    out = -(-n // s)
    total = max(0, (out - 1) * s + d * (k - 1) + 1 - n)
    return total // 2, total - total // 2


def const_pad(r: int, pads: Sequence[tuple[int, int]], value: float = 0.0) -> nn.Module:
    flat = tuple(n for pair in reversed(pads) for n in pair)
    return (nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)[r - 1](flat, value)


def pick_name(g: random.Random, base: str, r: int, *extra: str) -> str:
    """The bare name, its rank-explicit alias, or another alias."""
    roll = g.random()
    if roll < 0.35:
        return f"{base}{r}d"
    if extra and roll < 0.5:
        return g.choice(extra)
    return base


# --------------------------------------------------------------------------- leaves


def tup(g: random.Random, r: int, lo: int, hi: int) -> Sizes:
    a = g.randint(lo, hi)
    return (a,) * r if g.random() < 0.6 else tuple(g.randint(lo, hi) for _ in range(r))


def draw_conv(g: random.Random, r: int, x: torch.Tensor, depthwise: bool = False) -> Leaf:
    c = x.shape[1]
    k = tup(g, r, 1, 4)
    s = (1,) * r if g.random() < 0.5 else tup(g, r, 1, 3)
    d = (1,) * r if g.random() < 0.8 else tup(g, r, 1, 2)
    roll = g.random()
    p: Sizes | str = "same" if roll < 0.2 else (0,) * r if roll < 0.5 else tup(g, r, 0, 2)
    bias = g.random() > 0.2
    if depthwise:
        m = 1 if g.random() < 0.7 else 2
        groups, filters = c, c * m
        name = pick_name(g, "dwconv", r, "depthwise")
        args = [fmt(k, g)] + ([f"m={m}"] if m > 1 else [])
    else:
        groups = 1 if g.random() < 0.7 else g.choice([i for i in range(1, c + 1) if c % i == 0])
        filters = groups * g.randint(1, max(1, 12 // groups))
        name = pick_name(g, "conv", r)
        args = [str(filters), fmt(k, g)] + ([f"g={groups}"] if groups > 1 else [])
    args += [f"s={fmt(s, g)}"] if set(s) != {1} else []
    args += [f"p={p if isinstance(p, str) else fmt(p, g)}"] if p != (0,) * r else []
    args += [f"d={fmt(d, g)}"] if set(d) != {1} else []
    args += [] if bias else ["bias=false"]
    conv_nd = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[r - 1]

    def make(shape: torch.Size) -> nn.Module:
        if p == "same":
            pads = [tf_same(n, *a) for n, *a in zip(shape[2:], k, s, d, strict=True)]
            return nn.Sequential(const_pad(r, pads), conv_nd(
                c, filters, k, stride=s, dilation=d, groups=groups, bias=bias))
        return conv_nd(c, filters, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias)

    kind = "dwconv" if depthwise else "conv"
    return Leaf(kind, f"{name}({', '.join(args)})", make, tags=frozenset({f"{kind}:{r}d"}))


def draw_deconv(g: random.Random, r: int, x: torch.Tensor) -> Leaf:
    c = x.shape[1]
    k, s = tup(g, r, 1, 3), tup(g, r, 1, 3)
    d = (1,) * r if g.random() < 0.8 else tup(g, r, 1, 2)
    p = (0,) * r if g.random() < 0.5 else tuple(g.randint(0, ki - 1) for ki in k)
    op = (0,) * r if g.random() < 0.6 else tuple(
        g.randrange(max(si, di)) for si, di in zip(s, d, strict=True))
    filters = g.randint(1, 8)
    name = pick_name(g, "deconv", r, f"convtranspose{r}d", "convtranspose")
    args = [str(filters), fmt(k, g), f"s={fmt(s, g)}", f"p={fmt(p, g)}", f"op={fmt(op, g)}",
            f"d={fmt(d, g)}"]
    module = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[r - 1]
    return Leaf("deconv", f"{name}({', '.join(args)})",
                lambda shape: module(c, filters, k, stride=s, padding=p, output_padding=op,
                                     dilation=d), tags=frozenset({f"deconv:{r}d"}))


def draw_pool(g: random.Random, r: int, x: torch.Tensor) -> Leaf:
    kind = g.choice(["maxpool", "avgpool"])
    k = tup(g, r, 1, 3)
    s = k if g.random() < 0.6 else tup(g, r, 1, 3)
    roll = g.random()
    p: Sizes | str = "same" if roll < 0.15 else tuple(g.randint(0, ki // 2) for ki in k)
    ceil = g.random() < 0.3
    name = pick_name(g, kind, r, f"maxpooling{r}d" if kind == "maxpool" else
                     f"averagepooling{r}d")
    args = [fmt(k, g)] + ([f"s={fmt(s, g)}"] if s != k else [])
    args += [f"p={p if isinstance(p, str) else fmt(p, g)}"] if p != (0,) * r else []
    args += ["ceil=true"] if ceil else []
    nd = ((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d) if kind == "maxpool" else
          (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d))[r - 1]

    def make(shape: torch.Size) -> nn.Module:
        if p == "same":
            pads = [tf_same(n, ki, si, 1) for n, ki, si in zip(shape[2:], k, s, strict=True)]
            padded = [n + a + b for n, (a, b) in zip(shape[2:], pads, strict=True)]
        else:
            pads, padded = [], [n + 2 * pi for n, pi in zip(shape[2:], p, strict=True)]
        if ceil and any(ki > n for ki, n in zip(k, padded, strict=True)):
            raise Reject("ceil window larger than the padded input (spec §6: an error)")
        if p == "same":
            value = float("-inf") if kind == "maxpool" else 0.0
            return nn.Sequential(const_pad(r, pads, value), nd(k, stride=s, ceil_mode=ceil))
        return nd(k, stride=s, padding=p, ceil_mode=ceil)

    return Leaf(kind, f"{name}({', '.join(args)})", make, tags=frozenset({f"pool:{r}d"}))


def simple(kind: str, text: str, factory: Callable[[], nn.Module], volume_only: bool = True
           ) -> Leaf:
    return Leaf(kind, text, lambda shape: factory(), volume_only)


def draw_other(g: random.Random, r: int, x: torch.Tensor) -> Leaf:
    c = x.shape[1]
    which = g.choice(["gap", "globalmaxpool", "adaptiveavgpool", "upsample", "pad", "bn",
                      "relu", "lrn", "dropout", "flatten", "fc", "instancenorm", "groupnorm",
                      "shuffle"])
    divisor = g.choice([i for i in range(1, c + 1) if c % i == 0])
    if which == "instancenorm":
        affine = g.random() < 0.5
        name = pick_name(g, "instancenorm", r)
        return simple("instancenorm", f"{name}(affine=true)" if affine else name,
                      lambda: (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)[r - 1](
                          c, affine=affine))
    if which == "groupnorm":
        return simple("groupnorm", f"groupnorm({divisor})", lambda: nn.GroupNorm(divisor, c))
    if which == "shuffle":
        return simple("shuffle", f"shuffle({divisor})", lambda: nn.ChannelShuffle(divisor))
    if which == "gap":
        return simple("gap", g.choice(["gap", "globalavgpool", f"globalaveragepooling{r}d"]),
                      lambda: (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                               nn.AdaptiveAvgPool3d)[r - 1](1))
    if which == "globalmaxpool":
        return simple("globalmaxpool", "globalmaxpool",
                      lambda: (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
                               nn.AdaptiveMaxPool3d)[r - 1](1))
    if which == "adaptiveavgpool":
        size = tup(g, r, 1, 4)
        return simple("adaptiveavgpool",
                      f"{pick_name(g, 'adaptiveavgpool', r)}({fmt(size, g)})",
                      lambda: (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                               nn.AdaptiveAvgPool3d)[r - 1](size))
    if which == "upsample":
        scale = tup(g, r, 1, 2)
        return simple("upsample", f"upsample({fmt(scale, g)})", lambda: nn.Upsample(
            scale_factor=tuple(float(v) for v in scale), mode="nearest"))
    if which == "pad":
        amounts = tup(g, r, 0, 2)
        return simple("pad", f"pad({fmt(amounts, g)})",
                      lambda: const_pad(r, [(a, a) for a in amounts]))
    if which == "bn":
        affine = g.random() < 0.8
        name = pick_name(g, "bn", r, f"batchnorm{r}d", "batchnorm")
        text = name if affine else f"{name}(affine=false)"
        return simple("bn", text, lambda: (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[
            r - 1](c, affine=affine))
    if which == "relu":
        return simple("relu", "relu", nn.ReLU, volume_only=False)
    if which == "lrn":
        return simple("lrn", "lrn(3)", lambda: nn.LocalResponseNorm(3))
    if which == "dropout":
        return simple("dropout", "dropout", nn.Dropout, volume_only=False)
    if which == "flatten":
        return simple("flatten", "flatten", nn.Flatten, volume_only=False)
    units = g.randint(1, 12)
    n_in = x[0].numel()
    if n_in * units > MAX_LEAF_PARAMS:
        raise Reject("too large")
    linear = nn.Linear(n_in, units)
    return Leaf("fc", f"fc({units})", lambda shape: nn.Sequential(nn.Flatten(), linear)
                if len(shape) > 2 else linear, volume_only=False)


def draw_leaf(g: random.Random, r: int, x: torch.Tensor) -> Leaf:
    roll = g.random()
    if x.dim() == 2:  # a flat vector: what still applies
        return g.choice([simple("relu", "relu", nn.ReLU, False),
                         simple("bn", "bn1d", lambda: nn.BatchNorm1d(x.shape[1]), False),
                         simple("dropout", "dropout", nn.Dropout, False),
                         draw_other(g, r, x) if g.random() < 0.3 else
                         simple("relu", "relu", nn.ReLU, False)])
    if roll < 0.3:
        return draw_conv(g, r, x)
    if roll < 0.4:
        return draw_conv(g, r, x, depthwise=True)
    if roll < 0.5:
        return draw_deconv(g, r, x)
    if roll < 0.7:
        return draw_pool(g, r, x)
    return draw_other(g, r, x)


# --------------------------------------------------------------------------- generating


@dataclass
class Case:
    spec: str
    model: nn.Module
    entries: list[Entry]
    x: torch.Tensor
    tags: set[str] = field(default_factory=set)


def instantiate(leaf: Leaf, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    if leaf.volume_only and x.dim() < 3:
        raise Reject("needs a volume")
    m = leaf.make(x.shape).eval()
    if sum(p.numel() for p in m.parameters()) > MAX_LEAF_PARAMS:
        raise Reject("too many parameters")
    y = m(x)
    if y.numel() == 0 or min(y.shape) < 1 or y[0].numel() > MAX_ELEMENTS:
        raise Reject("empty or too large")
    return m, y


def generate(seed: int) -> Case:
    g = random.Random(seed)
    r = (1, 2, 3)[seed % 3]
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        hi = {1: 200, 2: 24, 3: 10}[r]
        sides = [g.randint(1, hi) if g.random() < 0.8 else g.randint(1, 4) for _ in range(r)]
        x = torch.randn(g.choice([1, 2]), g.randint(1, 6), *sides)
        start = x.shape
        inp = "x".join(map(str, (*sides, x.shape[1])))
        mods, entries, texts, tags = [], [], [], {f"input:{r}d"}
        for _ in range(g.randint(2, 7)):
            for _attempt in range(60):
                try:
                    leaf = draw_leaf(g, r, x)
                    m, y = instantiate(leaf, x)
                except (Reject, RuntimeError, ValueError):
                    continue
                mods.append(m)
                entries.append(Entry(m, False, leaf.kind, leaf.text))
                texts.append(leaf.text)
                tags |= {leaf.kind, *leaf.tags}
                x = y
                break
        model = nn.Sequential(*mods).eval()
    return Case(f"{inp} -> " + " -> ".join(texts), model, entries, torch.randn(start), tags)


def channels_last(shape: Sequence[int]) -> tuple[int, ...]:
    """(N, C, *spatial) → (*spatial, C); (N, F) → (F,)."""
    return (*shape[2:], shape[1]) if len(shape) > 2 else (shape[1],)


def counted(module: nn.Module) -> dict[str, int]:
    named = list(module.named_parameters())
    weights = sum(p.numel() for n, p in named if n.endswith("weight"))
    biases = sum(p.numel() for n, p in named if n.endswith("bias"))
    stats = sum(b.numel() for n, b in module.named_buffers()
                if n.endswith(("running_mean", "running_var")))
    return {"weights": weights, "biases": biases, "params": weights + biases,
            "non_trainable": stats}


def compare(case: Case) -> None:
    seen: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    handles = [e.module.register_forward_hook(
        lambda mod, args, out, i=i: seen.__setitem__(i, (tuple(args[0].shape), tuple(out.shape))))
        for i, e in enumerate(case.entries)]
    try:
        with torch.no_grad():
            y = case.model(case.x)
    finally:
        for h in handles:
            h.remove()
    report = cnncalc.analyze(case.spec, mode="lenient")
    assert report.ok, f"{case.spec}\ncnncalc rejects a network torch runs: {report.errors}"
    assert len(report.layers) == len(case.entries), case.spec
    bad = []
    for i, (row, e) in enumerate(zip(report.layers, case.entries, strict=True)):
        inp, out = seen[i]
        want = {"kind": e.kind, "input_shape": channels_last(inp),
                "output_shape": channels_last(out), **counted(e.module)}
        for key, value in want.items():
            if getattr(row, key) != value:
                bad.append(f"  {row.path} {row.spec}: {key} cnncalc {getattr(row, key)} vs "
                           f"torch {value}")
    total = counted(case.model)
    for key in ("params", "non_trainable", "weights", "biases"):
        if getattr(report.totals, key) != total[key]:
            bad.append(f"  totals {key}: cnncalc {getattr(report.totals, key)} vs {total[key]}")
    if report.totals.output_shape != channels_last(y.shape):
        bad.append(f"  output: cnncalc {report.totals.output_shape} vs {channels_last(y.shape)}")
    assert not bad, case.spec + "\n" + "\n".join(bad)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_network_of_every_rank_matches_torch(seed: int) -> None:
    compare(generate(seed))


def test_the_random_corpus_covers_every_rank_and_spatial_kind() -> None:
    seen: dict[str, int] = {}
    for seed in SEEDS:
        for tag in generate(seed).tags:
            seen[tag] = seen.get(tag, 0) + 1
    wanted = {f"{k}:{r}d" for k in ("conv", "dwconv", "deconv", "pool", "input")
              for r in (1, 2, 3)} | {"gap", "globalmaxpool", "adaptiveavgpool", "upsample", "pad",
                                     "bn", "flatten", "fc", "lrn", "maxpool", "avgpool",
                                     "instancenorm", "groupnorm", "shuffle"}
    rare = {t: seen.get(t, 0) for t in wanted if seen.get(t, 0) < 3}
    assert not rare, f"too few generated cases with {rare}"


# --------------------------------------------------------------------------- hand arithmetic


def test_conv3d_on_a_clip_by_hand() -> None:
    """R3D/C3D's first conv: 3×3×3 on 16×112×112×3 with p=1."""
    r = cnncalc.analyze("16x112x112x3 -> conv3d(64, 3, p=1)")
    (row,) = r.layers
    assert row.output_shape == (16, 112, 112, 64)
    assert (row.weights, row.biases) == (3 * 3 * 3 * 3 * 64, 64)
    assert row.params == 3 * 3 * 3 * 3 * 64 + 64
    assert row.macs == 27 * 3 * 64 * 16 * 112 * 112
    assert (row.receptive_field, row.jump) == ((3, 3, 3), (1, 1, 1))


def test_per_axis_sizes_in_3d_by_hand() -> None:
    """R(2+1)D's factorised conv: 1×7×7 spatial, stride 1×2×2, padding 0×3×3; then 3×1×1."""
    r = cnncalc.analyze("16x112x112x3 -> conv(45, 1x7x7, s=1x2x2, p=0x3x3, bias=false) -> "
                        "conv(64, 3x1x1, p=1x0x0, bias=false) -> maxpool(2) -> gap")
    a, b, pool, gap = r.layers
    assert a.output_shape == (16, 56, 56, 45) and a.params == 7 * 7 * 3 * 45
    assert a.macs == 7 * 7 * 3 * 45 * 16 * 56 * 56
    assert b.output_shape == (16, 56, 56, 64) and b.params == 3 * 45 * 64
    assert pool.output_shape == (8, 28, 28, 64)
    assert gap.output_shape == (1, 1, 1, 64)          # keeps the rank
    # r' = r + (k − 1)·j, j' = j·s, per axis (depth, height, width)
    assert (a.receptive_field, a.jump) == ((1, 7, 7), (1, 2, 2))
    assert (b.receptive_field, b.jump) == ((3, 7, 7), (1, 2, 2))
    assert (pool.receptive_field, pool.jump) == ((4, 9, 9), (2, 4, 4))
    assert r.to_dict()["layers"][0]["receptive_field"] == [1, 7, 7]


def test_m5_audio_network_by_hand() -> None:
    """M5 (Dai et al. 2017) on 8 kHz audio, in 1-D: no size-1 axis to emulate, no fixes."""
    spec = ("8000x1 -> conv1d(128, 80, s=4) -> bn1d -> relu -> maxpool1d(4) -> "
            "conv1d(128, 3) -> bn1d -> relu -> maxpool1d(4) -> conv1d(256, 3) -> bn1d -> relu -> "
            "maxpool1d(4) -> conv1d(512, 3) -> bn1d -> relu -> maxpool1d(4) -> gap -> fc(10)")
    r = cnncalc.analyze(spec, mode="lenient")
    assert r.ok, r.problems
    shapes = [row.output_shape for row in r.layers if row.kind in ("conv", "maxpool", "gap")]
    # (8000 − 80)/4 + 1 = 1981; ⌊1981/4⌋ = 495; 493; ⌊493/4⌋ = 123; 121; 30; 28; 7
    assert shapes == [(1981, 128), (495, 128), (493, 128), (123, 128), (121, 256), (30, 256),
                      (28, 512), (7, 512), (1, 512)]
    convs = 80 * 1 * 128 + 128 + 3 * 128 * 128 + 128 + 3 * 128 * 256 + 256 + 3 * 256 * 512 + 512
    bns = 2 * (128 + 128 + 256 + 512)
    assert r.totals.params == convs + bns + 512 * 10 + 10
    assert r.totals.non_trainable == bns
    assert r.totals.macs == (80 * 128 * 1981 + 3 * 128 * 128 * 493 + 3 * 128 * 256 * 121
                             + 3 * 256 * 512 * 28 + 512 * 10)
    # the lost input is reported per axis and fixed on the length alone
    problems = {p.code for p in cnncalc.analyze(spec).problems}
    assert "G001" in problems


def test_batchnorm1d_takes_a_flat_vector_as_pytorch() -> None:
    r = cnncalc.analyze("512 -> fc(256) -> batchnorm1d -> relu -> fc(10)")
    assert r.ok and r.layers[1].params == 512 and r.layers[1].non_trainable == 512


# --------------------------------------------------------------------------- bad input


def located(spec: str) -> list[tuple[int, int, str]]:
    return [(p.location.line, p.location.column, p.code) for p in cnncalc.analyze(spec).problems
            if p.severity.value == "error" and p.location is not None]


@pytest.mark.parametrize("spec,where,words", [
    ("16x112x112x3 -> conv(8, 3x5)", (1, 17, "G010"),
     "kernel 3x5 has 2 sizes but the input 16×112×112×3 is 3-D (D×H×W×C): give one number or 3 "
     "(3x3x3)"),
    ("16000x1 -> relu -> maxpool(2x2)", (1, 20, "G010"), "kernel 2x2 has 2 sizes but the input "
     "16000×1 is 1-D (L×C): give one number (2)"),
    ("32x32x3 -> conv(8, 3, p=1x1x1)", (1, 12, "G010"), "padding 1x1x1 has 3 sizes"),
    ("32x32x3 -> conv3d(8, 3)", (1, 12, "G010"),
     "conv3d needs a 3-D D×H×W×C input, but its input 32×32×3 is 2-D (H×W×C)"),
    ("16x112x112x3 -> maxpool2d(2)", (1, 17, "G010"),
     "maxpool2d needs a 2-D H×W×C input, but its input 16×112×112×3 is 3-D (D×H×W×C)"),
    ("4096 -> conv1d(8, 3)", (1, 9, "G010"), "conv1d needs a 1-D L×C input, but its input 4096 "
     "is a flat vector"),
    ("4x64x64x3 -> conv(8, 5)", (1, 14, "G003"), "the 5-pixel window is larger than the padded "
     "input depth 4 + 0 + 0 = 4"),
])
def test_rank_errors_are_located_with_the_arithmetic(spec: str, where: tuple[int, int, str],
                                                     words: str) -> None:
    assert located(spec)[0] == where
    (p,) = [p for p in cnncalc.analyze(spec).problems if p.code == where[2]]
    assert words in p.message


@pytest.mark.parametrize("spec,fix", [
    ("16x112x112x3 -> conv(8, 3x5)", "conv(8, 3x3x5)"),
    ("32x32x3 -> conv(8, 3, p=1x1x1)", "conv(8, 3, p=1x1)"),
    ("32x32x3 -> conv3d(8, 3)", "conv2d(8, 3)"),
    ("16x112x112x3 -> avgpool2d(2)", "avgpool3d(2)"),
])
def test_rank_fixes_analyse_cleanly(spec: str, fix: str) -> None:
    (p,) = cnncalc.analyze(spec).errors
    assert p.suggestions[0] == fix
    layer = spec.split(" -> ")[1]
    fixed = spec.replace(layer, fix if "(" in fix else fix + layer[layer.index("("):])
    assert cnncalc.analyze(fixed).ok, fixed


def test_3d_input_too_small_for_its_kernel_counts_padding() -> None:
    p = cnncalc.analyze("2x16x16x3 -> conv3d(8, 3)").errors[0]
    assert p.code == "G003" and "depth 2 + 0 + 0 = 2" in p.message
    assert cnncalc.analyze("2x16x16x3 -> conv3d(8, 3, p=1x0x0)").ok


def test_fixes_touch_only_the_axes_that_need_them() -> None:
    # only the depth is inexact: the fix pads the depth alone (p=1x0x0), never H or W
    (p,) = [p for p in cnncalc.analyze("8x32x32x3 -> conv(8, 3x2x2, s=2)").problems
            if p.code in ("G001", "G002")]
    assert any(s.startswith("conv(8, 3x2x2, s=2, p=1x0x0)") for s in p.suggestions), p.suggestions
    assert not any("p=1)" in s or "p=1," in s for s in p.suggestions)
    # M5 emulated in 2-D on an 8001×1×1 input: nothing pads the size-1 axis
    (p,) = [p for p in cnncalc.analyze("8001x1x1 -> conv(8, 80x1, s=4x1)").problems
            if p.code in ("G001", "G002")]
    assert p.suggestions and all("x0" in s or "p=" not in s for s in p.suggestions), p.suggestions
    assert "input height 8000 or 8004 instead of 8001" in p.suggestions


@pytest.mark.parametrize("spec", [
    "8x32x32x3 -> conv(8, 3x2x2, s=2)",
    "8001x1 -> conv(8, 80, s=4) -> maxpool(3)",
    "15x15x15x2 -> maxpool(2) -> conv(4, 3, s=2)",
    "30x4 -> conv(4, 4, s=3) -> avgpool(2)",
    "8x8x8x2 -> residual([conv(2, 3, s=2, p=1)])",
])
def test_every_fix_in_1d_and_3d_analyses_cleanly(spec: str) -> None:
    parsed, _ = read_spec(spec)
    report = analyze_spec(parsed, "default")
    shown = 0
    for p in report.problems:
        shown += check_fixes_apply(report, p)
    assert shown, report.problems


# --------------------------------------------------------------------------- export and output


@pytest.mark.parametrize("spec", [
    "16000x1 -> conv1d(16, 80, s=16, p=same) -> bn1d -> relu -> maxpool(4, p=same) -> "
    "dwconv(3, p=1) -> avgpool(2, ceil=true) -> deconv(8, 2, s=2) -> upsample(2) -> pad(1) -> "
    "adaptiveavgpool(5) -> globalmaxpool -> flatten -> fc(10)",
    "8x28x28x3 -> conv3d(8, 3x5x5, s=1x2x2, p=same) -> batchnorm3d -> relu -> "
    "maxpool3d(1x3x3, s=1x2x2, p=0x1x1) -> residual([conv(8, 3, p=1) -> bn]) -> "
    "concat([conv(4, 1)], [dwconv(3, p=1, m=2)]) -> deconv(4, 2, s=2) -> "
    "adaptiveavgpool(2x3x3) -> pad(1x0x1) -> upsample(1x2x2) -> gap -> fc(5)",
])
def test_exported_1d_and_3d_networks_run_in_torch(spec: str) -> None:
    from cnncalc.output.export import to_pytorch
    from tests.test_export import build

    report = cnncalc.analyze(spec, mode="lenient")
    assert report.ok, report.problems
    source = to_pytorch(report)
    assert f"nn.Conv{len(report.input_shape or ()) - 1}d(" in source
    model = build(source)
    shape = report.input_shape
    assert shape is not None
    with torch.no_grad():
        y = model(torch.randn(2, shape[-1], *shape[:-1]))
    assert channels_last(y.shape) == report.totals.output_shape
    counts = counted(model)
    assert (counts["params"], counts["non_trainable"]) == (report.totals.params,
                                                          report.totals.non_trainable)


def test_the_summary_names_the_rank() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["summary", "16000x1 -> conv(8, 80, s=16)", "--no-verify"])
    assert out.exit_code == 0 and "Input: 16000×1 (1-D)" in out.output
    out = runner.invoke(main, ["summary", "16x112x112x3 -> conv(8, 3, p=1)", "--no-verify",
                               "--format", "markdown"])
    assert out.exit_code == 0 and "Input: 16×112×112×3 (3-D)" in out.output
    out = runner.invoke(main, ["summary", "16x112x112x3 -> conv(8, 3, p=1)", "--no-verify",
                               "--format", "json"])
    row = json.loads(out.output)["layers"][0]
    assert row["input_shape"] == [16, 112, 112, 3] and row["receptive_field"] == [3, 3, 3]
    out = runner.invoke(main, ["summary", "16x112x112x3 -> conv(8, 1x3x3)", "--no-verify",
                               "--format", "csv"])
    assert "16x112x112x3,16x110x110x8" in out.output and ",1x3x3," in out.output


def test_yaml_mapping_inputs_of_every_rank() -> None:
    for text, shape in (("{length: 16000, channels: 1}", (16000, 1)),
                        ("{depth: 16, height: 112, width: 112, channels: 3}", (16, 112, 112, 3)),
                        ("[16, 112, 112, 3]", (16, 112, 112, 3)), ("512x300", (512, 300))):
        r = cnncalc.analyze(f"input: {text}\nlayers:\n  - conv(8, 3)\n")
        assert r.input_shape == shape and r.ok


@pytest.mark.parametrize("spec,code", [
    ("1x16000 -> conv(8, 1)", "L002"),
    ("3x16x112x112 -> conv(8, 3)", "L002"),
    ("1x8x8x16 -> conv(8, 3, p=1)", "L003"),
    ("65x8 -> conv(8, 2, s=3)", "L006"),
    ("17x17x17x8 -> maxpool(2, s=3)", "L010"),
    ("8x16x16x32 -> conv(32, 3, p=1) -> conv(32, 5, p=2)", "L013"),
])
def test_lints_are_rank_aware(spec: str, code: str) -> None:
    found = {p.code for p in cnncalc.analyze(spec).problems}
    assert code in found, found


@st.composite
def ranked_specs(draw: st.DrawFn) -> str:
    r = draw(st.sampled_from([1, 3]))
    sides = [draw(st.integers(1, 12 if r == 3 else 40)) for _ in range(r)]
    c = draw(st.sampled_from([1, 3, 4, 8]))
    layers = draw(st.lists(layer(), min_size=1, max_size=5))
    tail = draw(st.sampled_from(["", " -> gap -> fc(10)", " -> flatten -> fc(10)"]))
    return "x".join(map(str, (*sides, c))) + " -> " + " -> ".join(layers) + tail


@settings(max_examples=120, deadline=None, derandomize=True)
@given(ranked_specs(), st.sampled_from(["default", "strict", "lenient"]))
def test_every_shown_fix_in_1d_and_3d_analyses_cleanly(text: str, mode: str) -> None:
    """The random fix test of tests/test_fixes.py on 1-D and 3-D inputs (its 2-x-sized pool
    kernels are G010 there, whose fixes must apply too)."""
    spec, _ = read_spec(text)
    report = analyze_spec(spec, mode)  # type: ignore[arg-type]
    for p in report.problems:
        assert len(p.suggestions) >= len({f.template or f.text for f in p.fixes})
        check_fixes_apply(report, p)


# --------------------------------------------------------------------------- forward pass


@pytest.mark.parametrize("seed", SEEDS[::4])
def test_forward_pass_verifies_every_rank(seed: int) -> None:
    """The NumPy pass runs the random 1-D/2-D/3-D networks and proves every shape."""
    case = generate(seed)
    report = cnncalc.analyze(case.spec, mode="lenient", verify=True)
    assert report.ok, report.problems
    assert all(row.verified for row in report.layers), [
        (row.path, row.spec, row.verified) for row in report.layers]


def _torch_weight(kind: str, w: object) -> torch.Tensor:
    t = torch.from_numpy(w)  # type: ignore[call-overload]
    r = t.dim() - 2
    # conv: (*kernel, C/g, F) → (F, C/g, *kernel); deconv: (*kernel, C, F/g) → (C, F/g, *kernel)
    order = (r + 1, r, *range(r)) if kind == "conv" else (r, r + 1, *range(r))
    return t.permute(*order).contiguous()


@pytest.mark.parametrize("spec", [
    "20x6 -> conv1d(4, 3, s=2, p=same, d=2, g=2)",
    "5x7x6x4 -> conv3d(6, 3x2x3, s=1x2x1, p=1x0x1, g=2)",
    "5x7x6x4 -> dwconv(3, s=2, p=same, m=2)",
    "9x4 -> deconv1d(3, 3, s=2, p=1, op=1)",
    "3x4x5x4 -> deconv(6, 2x3x2, s=2x1x2, p=0x1x0, g=2)",
    "11x3 -> maxpool(3, s=2, p=1, ceil=true)",
    "5x7x6x2 -> avgpool3d(2x3x2, s=2, p=1x1x0, ceil=true)",
    "5x7x6x2 -> adaptiveavgpool(2x3x4)",
    "13x2 -> upsample(3) -> pad(2)",
])
def test_layer_forward_matches_torch_functional(spec: str) -> None:
    """Each spatial kind's own forward() (its arguments passed on per axis to the N-D
    kernels) against torch.nn.functional on the same input and weights."""
    import numpy as np
    import torch.nn.functional as tf

    report = cnncalc.analyze(spec, mode="lenient")
    assert report.ok, report.problems
    rng = np.random.default_rng(0)
    for row in report.layers:
        layer, inp = row.node, row.input_shape
        assert inp is not None and row.output_shape is not None
        r = len(inp) - 1
        x = rng.standard_normal((2, *inp)).astype(np.float32)
        w = {k: rng.standard_normal(s).astype(np.float32)
             for k, s in layer.weight_shapes(inp).items()}  # type: ignore[union-attr]
        got = layer.forward(x, w)  # type: ignore[union-attr]
        xt = torch.from_numpy(x).movedim(-1, 1)
        kind = row.kind
        if kind in ("conv", "dwconv"):
            _, stride, dilation = layer.axes(inp)  # type: ignore[union-attr]
            pads = [n for pair in reversed(layer.pads(inp)) for n in pair]  # type: ignore[union-attr]
            conv_fn = (tf.conv1d, tf.conv2d, tf.conv3d)[r - 1]
            groups = inp[-1] if kind == "dwconv" else layer.groups  # type: ignore[union-attr]
            want = conv_fn(tf.pad(xt, pads), _torch_weight("conv", w["w"]),
                           torch.from_numpy(w["b"]) if "b" in w else None, stride=stride,
                           dilation=dilation, groups=groups)
        elif kind == "deconv":
            _, stride, padding, op, dilation = layer.axes(inp)  # type: ignore[union-attr]
            fn = (tf.conv_transpose1d, tf.conv_transpose2d, tf.conv_transpose3d)[r - 1]
            want = fn(xt, _torch_weight("deconv", w["w"]), torch.from_numpy(w["b"]),
                      stride=stride, padding=padding, output_padding=op,
                      groups=layer.groups, dilation=dilation)  # type: ignore[union-attr]
        elif kind in ("maxpool", "avgpool"):
            kernel, stride, _ = layer.axes(inp)  # type: ignore[union-attr]
            padding = tuple(b for b, _ in layer.pads(inp))  # type: ignore[union-attr]
            fn = ((tf.max_pool1d, tf.max_pool2d, tf.max_pool3d) if kind == "maxpool" else
                  (tf.avg_pool1d, tf.avg_pool2d, tf.avg_pool3d))[r - 1]
            want = fn(xt, kernel, stride, padding, ceil_mode=True)
        elif kind == "adaptiveavgpool":
            fn = (tf.adaptive_avg_pool1d, tf.adaptive_avg_pool2d, tf.adaptive_avg_pool3d)[r - 1]
            want = fn(xt, row.output_shape[:-1])
        elif kind == "upsample":
            want = tf.interpolate(xt, scale_factor=float(layer.scale[0]), mode="nearest")  # type: ignore[union-attr]
        else:
            want = tf.pad(xt, [layer.p[0]] * (2 * r))  # type: ignore[union-attr]
        want = want.movedim(1, -1).numpy()
        assert got.shape == want.shape == (2, *row.output_shape), row.spec
        # float32 sums of at most a few dozen products: ~1e-6 relative each
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=row.spec)


def test_input_size_fixes_name_the_axes_they_change() -> None:
    (p,) = cnncalc.analyze("16x112x112x3 -> conv(8, 1x7x7, s=1x2x2)").errors
    assert "input height and width 111 or 113 instead of 112" in p.suggestions
    (p,) = [p for p in cnncalc.analyze("16x16x16x3 -> conv(8, 3x2x2, s=2)").problems
            if p.code == "G001"]
    assert "input depth 15 or 17 instead of 16" in p.suggestions   # (15 − 3)/2 + 1 = 7 ✓
    (p,) = cnncalc.analyze("8001x1 -> conv(8, 80, s=4)").errors
    assert "input length 8000 or 8004 instead of 8001" in p.suggestions
    # axes with different arithmetic: one fix changes them all, each to its nearest size
    (p,) = cnncalc.analyze("16x112x112x3 -> conv(8, 3, s=2)").errors
    assert "input 15×111×111×3 instead of 16×112×112×3" in p.suggestions


def test_the_division_message_names_the_axes_in_1d_and_3d() -> None:
    (p,) = cnncalc.analyze("16x112x112x3 -> conv(8, 3, s=2)").errors
    assert p.message.startswith("depth (16 − 3 + 2·0)/2 + 1 = 7.5 and height and width "
                                "(112 − 3 + 2·0)/2 + 1 = 55.5 are not integers: the last slice, "
                                "row and column of the input are never read")
    (p,) = cnncalc.analyze("8001x1 -> conv(8, 80, s=4)").errors
    assert p.message == ("length (8001 − 80 + 2·0)/4 + 1 = 1981.25 is not an integer: the last "
                         "position of the input is never read")
    lines = cnncalc.analyze("16x112x112x3 -> conv(8, 1x3x3, s=1x2x2, p=0x1x1)").layers[0]
    assert lines.output_shape == (16, 56, 56, 8)
