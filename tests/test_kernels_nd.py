"""The N-D kernels (1, 2 and 3 spatial axes, channels last) against naive loop references
written here (itertools.product over output positions, padding by index checks, float64)
and against PyTorch (conv1d/3d, conv_transpose1d/3d, max/avg/adaptive pools 1d/3d,
nearest interpolation); and their ``scratch_*`` bounds against what tracemalloc sees.

Tolerances, from float32 accuracy (see tests/test_kernels.py): a K-term dot product or
sum is within ``gamma_K * sum|terms|`` (Higham, sec. 3.1) per side, times a safety
factor for blocked BLAS / FMA / the algorithms a library may pick; max, copies and
nearest upsampling are exact.
"""

from __future__ import annotations

import importlib
import itertools
import tracemalloc
from collections.abc import Callable
from math import prod
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

try:  # torch is the second, independent truth
    import torch
    import torch.nn.functional as tf
except ImportError:  # pragma: no cover - CI installs torch (.ci/run)
    torch = None  # type: ignore[assignment]
    tf = None  # type: ignore[assignment]

from cnncalc import kernels as K

KC = importlib.import_module("cnncalc.kernels.conv")  # the module (tunables), not `K.conv`

pytestmark = pytest.mark.filterwarnings("error")
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

Arr = np.ndarray[Any, np.dtype[Any]]
RANKS = (1, 2, 3)
SEEDS = range(24)
U = 2.0**-24
SAFETY = 4.0


def rng_for(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, sum(map(ord, name))])


def randn(rng: np.random.Generator, *shape: int) -> Arr:
    return rng.standard_normal(shape).astype(np.float32)


def sum_close(got: Arr, want: Arr, absref: Arr, k: int) -> None:
    """``|got - want| <= 2 * SAFETY * gamma_k * absref`` element by element (``absref`` is
    the same computation on absolute values: the sum of |terms|)."""
    assert got.dtype == np.float32, got.dtype
    assert got.shape == want.shape, (got.shape, want.shape)
    gamma = k * U / (1 - k * U)
    bound = 2 * SAFETY * gamma * np.asarray(absref, dtype=np.float64) + 1e-30
    err = np.abs(got.astype(np.float64) - np.asarray(want, dtype=np.float64))
    assert np.all(err <= bound), f"error up to {float(np.max(err / bound)):.2f}x the bound"


def exact(got: Arr, want: Arr) -> None:
    assert got.dtype == np.float32 and got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------- loop references


def cells(shape: tuple[int, ...] | list[int]) -> Any:
    return itertools.product(*(range(s) for s in shape))


def ref_conv(x: Arr, w: Arr, b: Arr | None, stride: tuple[int, ...],
             padding: tuple[tuple[int, int], ...], dilation: tuple[int, ...],
             groups: int) -> Arr:
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    n, *sizes, _ = x.shape
    *ks, cg, f = w.shape
    fg = f // groups
    outs = [(s + b0 + e0 - d * (k - 1) - 1) // st + 1
            for s, (b0, e0), d, k, st in zip(sizes, padding, dilation, ks, stride, strict=True)]
    out = np.zeros((n, *outs, f))
    for o in cells(outs):
        for p in cells(ks):
            idx = [oi * st + pi * d - b0 for oi, pi, st, d, (b0, _)
                   in zip(o, p, stride, dilation, padding, strict=True)]
            if all(0 <= i < s for i, s in zip(idx, sizes, strict=True)):
                v = x64[(slice(None), *idx)]
                for g in range(groups):
                    out[(slice(None), *o, slice(g * fg, (g + 1) * fg))] += (
                        v[:, g * cg : (g + 1) * cg] @ w64[(*p, slice(None), slice(g * fg, (g + 1) * fg))])
    if b is not None:
        out += b
    return out


def ref_conv_transpose(x: Arr, w: Arr, b: Arr | None, stride: tuple[int, ...],
                       padding: tuple[tuple[int, int], ...], output_padding: tuple[int, ...],
                       dilation: tuple[int, ...], groups: int) -> Arr:
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    n, *sizes, cin = x.shape
    *ks, _, fg = w.shape
    cg = cin // groups
    outs = [(s - 1) * st - b0 - e0 + d * (k - 1) + op + 1 for s, st, (b0, e0), d, k, op
            in zip(sizes, stride, padding, dilation, ks, output_padding, strict=True)]
    out = np.zeros((n, *outs, fg * groups))
    for i in cells(sizes):
        for p in cells(ks):
            o = [ii * st - b0 + pi * d for ii, pi, st, d, (b0, _)
                 in zip(i, p, stride, dilation, padding, strict=True)]
            if all(0 <= oi < s for oi, s in zip(o, outs, strict=True)):
                for g in range(groups):
                    out[(slice(None), *o, slice(g * fg, (g + 1) * fg))] += (
                        x64[(slice(None), *i, slice(g * cg, (g + 1) * cg))]
                        @ w64[(*p, slice(g * cg, (g + 1) * cg))])
    if b is not None:
        out += b
    return out


def pool_out(size: int, k: int, s: int, pb: int, pe: int, ceil: bool) -> int:
    """PyTorch's output size (ceil mode: the last window starts in the input or the left
    padding)."""
    span = size + pb + pe - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pb:
        out -= 1
    return out


def ref_pool(x: Arr, kernel: tuple[int, ...], stride: tuple[int, ...],
             padding: tuple[tuple[int, int], ...], ceil_mode: bool, kind: str,
             include_pad: bool = True) -> Arr:
    """Max, or the average dividing by the window cells inside ``[-begin, L + end)``
    (``include_pad``) or inside the input, per PyTorch."""
    x64 = x.astype(np.float64)
    n, *sizes, c = x.shape
    outs = [pool_out(s, k, st, b0, e0, ceil_mode)
            for s, k, st, (b0, e0) in zip(sizes, kernel, stride, padding, strict=True)]
    out = np.zeros((n, *outs, c))
    for o in cells(outs):
        vals, count = [], 0
        for p in cells(kernel):
            idx = [oi * st + pi - b0 for oi, pi, st, (b0, _)
                   in zip(o, p, stride, padding, strict=True)]
            real = all(0 <= i < s for i, s in zip(idx, sizes, strict=True))
            if real:
                vals.append(x64[(slice(None), *idx)])
            if real or (include_pad and all(i < s + e0 for i, s, (_, e0)
                                            in zip(idx, sizes, padding, strict=True))):
                count += 1
        stack = np.stack(vals)
        out[(slice(None), *o)] = stack.max(axis=0) if kind == "max" else stack.sum(axis=0) / count
    return out


def ref_adaptive(x: Arr, outs: tuple[int, ...]) -> Arr:
    n, *sizes, c = x.shape
    out = np.zeros((n, *outs, c))
    for o in cells(outs):
        box = tuple(slice(i * s // m, -(-(i + 1) * s // m))
                    for i, s, m in zip(o, sizes, outs, strict=True))
        out[(slice(None), *o)] = x.astype(np.float64)[(slice(None), *box)].mean(
            axis=tuple(range(1, len(sizes) + 1)))
    return out


# ---------------------------------------------------------------------- configurations


def conv_cfg(rank: int, seed: int, transpose: bool = False) -> dict[str, Any]:
    """Odd sizes, strides larger than the kernel, dilation, asymmetric padding, groups
    and depthwise, bias or none."""
    rng = rng_for(f"nd{rank}{transpose}", seed)
    small = {1: 9, 2: 7, 3: 5}[rank]
    ks = tuple(int(v) for v in rng.integers(1, 4, rank))
    stride = tuple(int(v) for v in rng.integers(1, 5 if seed % 3 == 0 else 3, rank))
    dilation = tuple(int(v) for v in rng.integers(1, 3, rank))
    groups = int(rng.choice([1, 1, 2, 3]))
    cg = int(rng.integers(1, 3))
    fg = int(rng.integers(1, 3))
    if seed % 4 == 3:  # depthwise (with a channel multiplier)
        groups, cg = int(rng.integers(2, 5)), 1
    sizes = []
    for k, d in zip(ks, dilation, strict=True):
        sizes.append(int(rng.integers(max(1, d * (k - 1) + 1), small + 1)))
    n = int(rng.integers(1, 3))
    x = randn(rng, n, *sizes, cg * groups)
    b = randn(rng, fg * groups) if seed % 2 else None
    if transpose:
        padding = tuple((p, p) for p in (int(rng.integers(0, d * (k - 1) + 1))
                                          for k, d in zip(ks, dilation, strict=True)))
        output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d
                               in zip(stride, dilation, strict=True))
        w = randn(rng, *ks, cg * groups, fg)
        return {"x": x, "w": w, "b": b, "stride": stride, "padding": padding,
                "output_padding": output_padding, "dilation": dilation, "groups": groups}
    padding = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(rank))
    w = randn(rng, *ks, cg, fg * groups)
    return {"x": x, "w": w, "b": b, "stride": stride, "padding": padding,
            "dilation": dilation, "groups": groups}


def absolute(cfg: dict[str, Any]) -> dict[str, Any]:
    return {**cfg, "x": np.abs(cfg["x"]), "w": np.abs(cfg["w"]),
            "b": None if cfg["b"] is None else np.abs(cfg["b"])}


def check_conv(cfg: dict[str, Any]) -> None:
    *ks, cg, _ = cfg["w"].shape
    sum_close(K.conv(**cfg), ref_conv(**cfg), ref_conv(**absolute(cfg)), prod(ks) * cg + 1)


def check_deconv(cfg: dict[str, Any]) -> None:
    *ks, cin, _ = cfg["w"].shape
    sum_close(K.conv_transpose(**cfg), ref_conv_transpose(**cfg),
              ref_conv_transpose(**absolute(cfg)), prod(ks) * cin // cfg["groups"] + 1)


def pool_cfg(rank: int, seed: int) -> dict[str, Any]:
    rng = rng_for(f"pool{rank}", seed)
    small = {1: 11, 2: 8, 3: 6}[rank]
    ks = tuple(int(v) for v in rng.integers(1, 4 if rank == 3 else 5, rank))
    stride = tuple(int(v) for v in rng.integers(1, 5, rank))
    padding = tuple((int(rng.integers(0, k // 2 + 1)), int(rng.integers(0, k // 2 + 1)))
                    for k in ks)
    sizes = tuple(int(rng.integers(k, small + 1)) for k in ks)
    x = randn(rng, int(rng.integers(1, 3)), *sizes, int(rng.integers(1, 4)))
    return {"x": x, "kernel": ks, "stride": stride, "padding": padding,
            "ceil_mode": bool(seed % 2)}


# ---------------------------------------------------------------------- vs references


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv_vs_reference(rank: int, seed: int) -> None:
    check_conv(conv_cfg(rank, seed))


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", SEEDS)
def test_conv_transpose_vs_reference(rank: int, seed: int) -> None:
    check_deconv(conv_cfg(rank, seed, transpose=True))


def test_conv_transpose_asymmetric_padding() -> None:
    """Per-axis (begin, end) pairs: output cell ``i*s - begin + p*d``, size shrinks by
    begin + end."""
    rng = rng_for("deconv-asym", 0)
    cfg = {"x": randn(rng, 1, 4, 3, 2), "w": randn(rng, 3, 2, 2, 3), "b": None,
           "stride": (2, 3), "padding": ((2, 0), (0, 1)), "output_padding": (1, 0),
           "dilation": (1, 2), "groups": 1}
    check_deconv(cfg)


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("path", ["taps", "rows", "images"])
def test_conv_paths(monkeypatch: pytest.MonkeyPatch, rank: int, path: str) -> None:
    """Each dense path, forced by its tunables, with tiny chunks (many blocks)."""
    if path == "taps":
        monkeypatch.setattr(KC, "_SLAB_MAX_BYTES", -1)
        monkeypatch.setattr(KC, "_IM2COL_MAX_BYTES", -(1 << 40))
        monkeypatch.setattr(KC, "_TAP_GEMM_BYTES", 1)
    elif path == "rows":
        monkeypatch.setattr(KC, "_IM2COL_BLOCK_BYTES", 1)
        monkeypatch.setattr(KC, "_IM2COL_MIN_ROWS", 1)
    else:
        monkeypatch.setattr(KC, "_IM2COL_MIN_ROWS", 1 << 20)
    seen = set()
    for seed in range(16):
        cfg = conv_cfg(rank, seed)
        if cfg["w"].shape[-2] == 1 and cfg["groups"] > 1:
            continue  # depthwise has its own path
        plan = K.conv_plan(cfg["x"].shape, cfg["w"].shape, cfg["stride"], cfg["padding"],
                           cfg["dilation"], cfg["groups"])
        seen.add(plan.path)
        check_conv(cfg)
    assert path in seen, seen


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", SEEDS)
def test_pools_vs_reference(rank: int, seed: int) -> None:
    cfg = pool_cfg(rank, seed)
    x = cfg["x"]
    exact(K.max_pool(**cfg), ref_pool(**cfg, kind="max").astype(np.float32))
    k = prod(cfg["kernel"]) + 1
    for include in (True, False):
        got = K.avg_pool(**cfg, count_include_pad=include)
        sum_close(got, ref_pool(**cfg, kind="avg", include_pad=include),
                  ref_pool(**{**cfg, "x": np.abs(x)}, kind="avg", include_pad=include), k)


@pytest.mark.parametrize(("size", "k", "s", "p"), [(5, 2, 2, 1), (6, 3, 2, 1), (7, 3, 3, 0),
                                                   (4, 4, 3, 2), (9, 2, 4, 1)])
def test_pool_ceil_mode_edges_3d(size: int, k: int, s: int, p: int) -> None:
    """Ceil-mode windows that start in the right padding are dropped; overhang past the
    padded edge is not counted by the average (a different geometry on each axis)."""
    rng = rng_for("ceil3", size * 100 + k * 10 + s)
    x = randn(rng, 1, size, size + 1, 3, 2)
    kernel, stride = (k, k, 1), (s, s, 1)
    padding = ((p, p), (p, 0), (0, 0))
    cfg = {"x": x, "kernel": kernel, "stride": stride, "padding": padding, "ceil_mode": True}
    exact(K.max_pool(**cfg), ref_pool(**cfg, kind="max").astype(np.float32))
    sum_close(K.avg_pool(**cfg), ref_pool(**cfg, kind="avg"),
              ref_pool(**{**cfg, "x": np.abs(x)}, kind="avg"), k * k + 1)


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(8))
def test_adaptive_global_upsample_pad_vs_reference(rank: int, seed: int) -> None:
    rng = rng_for(f"adapt{rank}", seed)
    sizes = tuple(int(v) for v in rng.integers(1, 8, rank))
    x = randn(rng, 2, *sizes, 3)
    outs = tuple(int(v) for v in rng.integers(1, 9, rank))
    axes = tuple(range(1, rank + 1))
    sum_close(K.adaptive_avg_pool(x, outs), ref_adaptive(x, outs),
              ref_adaptive(np.abs(x), outs), prod(sizes) + 1)
    sum_close(K.global_avg_pool(x), x.astype(np.float64).mean(axis=axes, keepdims=True),
              np.abs(x).astype(np.float64).mean(axis=axes, keepdims=True), prod(sizes) + 1)
    exact(K.global_max_pool(x), x.max(axis=axes, keepdims=True))
    scale = tuple(int(v) for v in rng.integers(1, 4, rank))
    up = K.upsample_nearest(x, scale)
    want = np.empty((2, *(s * f for s, f in zip(sizes, scale, strict=True)), 3), np.float32)
    for o in cells(want.shape[1:-1]):
        want[(slice(None), *o)] = x[(slice(None), *(i // f for i, f in zip(o, scale, strict=True)))]
    exact(up, want)
    padding = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(rank))
    padded = K.pad(x, padding, -2.5)
    want = np.full((2, *(s + b + e for s, (b, e) in zip(sizes, padding, strict=True)), 3), -2.5,
                   np.float32)
    for i in cells(sizes):
        want[(slice(None), *(ii + b for ii, (b, _) in zip(i, padding, strict=True)))] = (
            x[(slice(None), *i)])
    exact(padded, want)
    assert not np.shares_memory(K.pad(x, ((0, 0),) * rank), x)


def test_windows_3d_and_1d_match_indexing() -> None:
    x = randn(rng_for("win3", 0), 2, 9, 7, 8, 3)
    v = K.windows(x, (2, 3, 2), (3, 1, 2), (2, 1, 3), (3, 5, 2))
    assert v.shape == (2, 3, 5, 2, 2, 3, 2, 3)
    for o in cells((3, 5, 2)):
        for p in cells((2, 3, 2)):
            i = (o[0] * 3 + p[0] * 2, o[1] + p[1], o[2] * 2 + p[2] * 3)
            exact(v[(slice(None), *o, *p)], x[(slice(None), *i)])
    with pytest.raises(ValueError, match="do not fit"):
        K.windows(x, (2, 3, 2), (3, 1, 2), (2, 1, 3), (3, 5, 4))  # 3*2 + 3 = 9 > 7
    y = randn(rng_for("win1", 0), 1, 10, 2)
    exact(K.windows(y, (3,), (4,), (2,), (2,))[0, 1, 2], y[0, 4 + 4])


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(rank=st.integers(1, 3), data=st.data())
def test_conv_random_geometry(rank: int, data: st.DataObject) -> None:
    ks = data.draw(st.tuples(*[st.integers(1, 4)] * rank))
    dil = data.draw(st.tuples(*[st.integers(1, 3)] * rank))
    stride = data.draw(st.tuples(*[st.integers(1, 6)] * rank))
    pads = data.draw(st.tuples(*[st.tuples(st.integers(0, 4), st.integers(0, 4))] * rank))
    sizes = [data.draw(st.integers(max(1, d * (k - 1) + 1 - b - e), 6))
             for k, d, (b, e) in zip(ks, dil, pads, strict=True)]
    groups = data.draw(st.sampled_from([1, 2]))
    rng = rng_for("hyp", len(sizes) + sum(sizes))
    cfg = {"x": randn(rng, 1, *sizes, 2 * groups), "w": randn(rng, *ks, 2, 3 * groups),
           "b": randn(rng, 3 * groups), "stride": stride, "padding": pads, "dilation": dil,
           "groups": groups}
    check_conv(cfg)


# ---------------------------------------------------------------------- vs torch


def to_t(x: Arr) -> torch.Tensor:
    """Channels-last numpy (N, *S, C) -> torch (N, C, *S)."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))


def from_t(t: torch.Tensor) -> Arr:
    return np.ascontiguousarray(np.moveaxis(t.detach().numpy(), 1, -1))


TORCH_CONV: dict[int, Callable[..., Any]] = {}
if tf is not None:
    TORCH_CONV = {1: tf.conv1d, 2: tf.conv2d, 3: tf.conv3d}
    TORCH_DECONV = {1: tf.conv_transpose1d, 2: tf.conv_transpose2d, 3: tf.conv_transpose3d}
    TORCH_MAX = {1: tf.max_pool1d, 2: tf.max_pool2d, 3: tf.max_pool3d}
    TORCH_AVG = {1: tf.avg_pool1d, 2: tf.avg_pool2d, 3: tf.avg_pool3d}
    TORCH_ADAPT = {1: tf.adaptive_avg_pool1d, 2: tf.adaptive_avg_pool2d,
                   3: tf.adaptive_avg_pool3d}


@needs_torch
@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(12))
def test_convs_vs_torch(rank: int, seed: int) -> None:
    cfg = conv_cfg(rank, seed)
    x, w, b = cfg["x"], cfg["w"], cfg["b"]
    padding = cfg["padding"]
    xp = K.pad(x, padding)  # torch's conv pads symmetrically: pad first, pass 0
    r = rank
    wt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(w, (r, r + 1), (1, 0))))
    want = from_t(TORCH_CONV[r](to_t(xp), wt, None if b is None else torch.from_numpy(b),
                                stride=cfg["stride"], dilation=cfg["dilation"],
                                groups=cfg["groups"]))
    *ks, cg, _ = w.shape
    sum_close(K.conv(**cfg), want, ref_conv(**absolute(cfg)), prod(ks) * cg + 1)
    d = conv_cfg(rank, seed, transpose=True)
    wt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(d["w"], (r, r + 1), (0, 1))))
    want = from_t(TORCH_DECONV[r](
        to_t(d["x"]), wt, None if d["b"] is None else torch.from_numpy(d["b"]),
        stride=d["stride"], padding=tuple(p for p, _ in d["padding"]),
        output_padding=d["output_padding"], groups=d["groups"], dilation=d["dilation"]))
    *ks, cin, _ = d["w"].shape
    sum_close(K.conv_transpose(**d), want, ref_conv_transpose(**absolute(d)),
              prod(ks) * cin // d["groups"] + 1)


@needs_torch
@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(16))
def test_pools_vs_torch(rank: int, seed: int) -> None:
    cfg = pool_cfg(rank, seed)
    if any(b != e for b, e in cfg["padding"]):  # torch pads symmetrically
        cfg["padding"] = tuple((b, b) for b, _ in cfg["padding"])
    x, ks, stride, ceil = cfg["x"], cfg["kernel"], cfg["stride"], cfg["ceil_mode"]
    pad = tuple(b for b, _ in cfg["padding"])
    exact(K.max_pool(**cfg), from_t(TORCH_MAX[rank](to_t(x), ks, stride, pad, ceil_mode=ceil)))
    for include in (True, False):
        want = from_t(TORCH_AVG[rank](to_t(x), ks, stride, pad, ceil_mode=ceil,
                                      count_include_pad=include))
        sum_close(K.avg_pool(**cfg, count_include_pad=include), want,
                  ref_pool(**{**cfg, "x": np.abs(x)}, kind="avg", include_pad=include),
                  prod(ks) + 1)
    rng = rng_for("adapt-torch", seed)
    outs = tuple(int(v) for v in rng.integers(1, 7, rank))
    sum_close(K.adaptive_avg_pool(x, outs), from_t(TORCH_ADAPT[rank](to_t(x), outs)),
              ref_adaptive(np.abs(x), outs), prod(x.shape[1:-1]) + 1)
    scale = tuple(int(v) for v in rng.integers(1, 4, rank))
    exact(K.upsample_nearest(x, scale),
          from_t(tf.interpolate(to_t(x), scale_factor=scale, mode="nearest")))


# ---------------------------------------------------------------------- memory


def extra_bytes(fn: Callable[[], Arr]) -> int:
    """Peak bytes ``fn`` allocates (tracemalloc sees NumPy's buffers) besides its result."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak - out.nbytes


SLACK = 4096  # index arrays, small Python objects


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(10))
def test_scratch_bounds_allocations(rank: int, seed: int) -> None:
    rng = rng_for(f"mem{rank}", seed)
    sizes = tuple(int(v) for v in rng.integers({1: 200, 2: 20, 3: 8}[rank],
                                                {1: 400, 2: 40, 3: 14}[rank], rank))
    c = int(rng.integers(4, 17))
    x = randn(rng, 2, *sizes, c)
    ks = tuple(int(v) for v in rng.integers(1, 4, rank))
    stride = tuple(int(v) for v in rng.integers(1, 3, rank))
    dil = tuple(int(v) for v in rng.integers(1, 3, rank))
    pads = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(rank))
    groups = int(rng.choice([1, 2, c]) if c % 2 == 0 else rng.choice([1, c]))
    w = randn(rng, *ks, c // groups, groups * int(rng.integers(1, 3)))
    got = extra_bytes(lambda: K.conv(x, w, None, stride, pads, dil, groups))
    assert got <= K.scratch_conv(x.shape, w.shape, stride, pads, dil, groups) + SLACK
    wt = randn(rng, *ks, c, 3)
    sym = tuple((b, b) for b, _ in pads)
    got = extra_bytes(lambda: K.conv_transpose(x, wt, None, stride, sym, (0,) * rank, dil, 1))
    assert got <= K.scratch_conv_transpose(x.shape, wt.shape) + SLACK
    ppads = tuple((min(b, k // 2), min(e, k // 2)) for (b, e), k in zip(pads, ks, strict=True))
    for ceil in (False, True):
        scratch = K.scratch_pool(x.shape, ks, stride, ppads, ceil)
        assert extra_bytes(lambda c=ceil: K.max_pool(x, ks, stride, ppads, c)) <= scratch + SLACK
        assert extra_bytes(lambda c=ceil: K.avg_pool(x, ks, stride, ppads, c, False)) <= (
            scratch + SLACK)
    outs = tuple(int(v) for v in rng.integers(1, 6, rank))
    assert extra_bytes(lambda: K.adaptive_avg_pool(x, outs)) <= (
        K.scratch_adaptive_avg_pool(x.shape, outs) + SLACK)


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize(("path", "groups"), [("images", 1), ("images", 2), ("rows", 1),
                                              ("rows", 2), ("direct", 1)])
def test_conv_transposed_gemm(monkeypatch: pytest.MonkeyPatch, rank: int, path: str,
                              groups: int) -> None:
    """A GEMM block with fewer rows than filters runs as ``w.T @ col.T`` (R3D-18's
    layer4: 98 rows, 512 filters): same answer as the loop reference, bias included,
    within its scratch figure; a block with more rows than filters does not."""
    if path == "rows":
        monkeypatch.setattr(KC, "_IM2COL_BLOCK_BYTES", 1)
        monkeypatch.setattr(KC, "_IM2COL_MIN_ROWS", 1)
    rng = rng_for(f"gemm-t{rank}{path}{groups}", 0)
    sizes = {1: (5,), 2: (3, 4), 3: (2, 3, 3)}[rank]
    ks = (1,) * rank if path == "direct" else {1: (2,), 2: (2, 3), 3: (2, 1, 2)}[rank]
    pads = tuple((0, 0) if path == "direct" else (1, 0) for _ in range(rank))
    x = randn(rng, 2, *sizes, 3 * groups)
    for fg, transposed in ((2048, True), (1, False)):
        w, b = randn(rng, *ks, 3, fg * groups), randn(rng, fg * groups)
        cfg = {"x": x, "w": w, "b": b, "stride": (1,) * rank, "padding": pads,
               "dilation": (1,) * rank, "groups": groups}
        plan = K.conv_plan(x.shape, w.shape, cfg["stride"], pads, cfg["dilation"], groups)
        assert (plan.path, plan.transposed) == (path, transposed)
        check_conv(cfg)
        got = extra_bytes(lambda cfg=cfg: K.conv(**cfg))
        assert got <= plan.scratch + SLACK, (got, plan.scratch)


@pytest.mark.parametrize("rank", RANKS)
def test_channel_kernels_are_rank_agnostic(rank: int) -> None:
    """Batch norm, LRN, PReLU and the activations act on the channels (last axis) alone:
    a 1-D or 3-D volume gives what its cells give as a flat (N*cells, C) batch."""
    rng = rng_for(f"chan{rank}", 0)
    c = 6
    x = randn(rng, 2, *([3] * rank), c)
    flat = x.reshape(-1, c)
    mean, var = randn(rng, c), np.abs(randn(rng, c)) + 0.1
    gamma, beta, slope = randn(rng, c), randn(rng, c), randn(rng, c)
    for fn in (lambda v: K.batch_norm(v, gamma, beta, mean, var, 1e-5),
               lambda v: K.lrn(v, 3, 1e-2, 0.75, 2.0), lambda v: K.prelu(v, slope),
               K.relu, K.gelu, K.softmax, K.hardswish):
        exact(fn(x), fn(flat).reshape(x.shape))
    exact(K.flatten(x), x.reshape(2, -1))  # channels-last (row-major) order
