"""Tests of cnncalc.kernels against naive loop references and against PyTorch.

Every kernel is checked on many seeded random configurations (odd sizes, strides larger
than the kernel, asymmetric padding, dilation, groups, depthwise, ceil-mode edges, ...)
twice: against a straightforward loop implementation written here, independent of the
kernels (padding by index checks, window bounds by PyTorch's formulas), and against
PyTorch with the same inputs and weights (NHWC <-> NCHW, HWIO <-> OIHW transposed here).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

try:  # torch is the second, independent truth; the NumPy-only tests run without it
    import torch
    import torch.nn.functional as tf
except ImportError:  # pragma: no cover - CI installs torch (.ci/run)
    torch = None  # type: ignore[assignment]
    tf = None  # type: ignore[assignment]

from cnncalc import kernels as K
from cnncalc import layers as L
from cnncalc.values import Padding

# the conv module (its tunables and its `windows`): by module path, since the package's
# `conv` attribute is the N-D conv function
KC = importlib.import_module("cnncalc.kernels.conv")
KD = importlib.import_module("cnncalc.kernels.deconv")  # the transposed conv's tunables

pytestmark = pytest.mark.filterwarnings("error")  # no overflow/invalid-value warnings
needs_torch = pytest.mark.skipif(
    torch is None, reason="torch is not installed (pip install -e '.[test]'); comparisons "
    "against torch are skipped, the NumPy reference tests still run")

Arr = np.ndarray[Any, np.dtype[np.float32]]
Pairs = tuple[tuple[int, int], ...]
"""Per spatial axis ``(begin, end)`` padding, as the N-D kernels take it."""
SEEDS_CONV = range(80)
SEEDS = range(50)
# Tolerances, from the documented accuracy of each operation (not from one machine):
# * ULP = 2**-23 is float32's spacing at 1 (unit roundoff u = 2**-24).
# * Dot products of K float32 terms (conv, deconv, linear): element by element,
#   |error| <= gamma_K * sum|a*b|, gamma_K = K*u/(1 - K*u) (Higham, Accuracy and Stability
#   of Numerical Algorithms, sec. 3.1), for each side, times DOT_SAFETY: `dot_close`.
# * Other sums of K terms (pooling sums, LRN's window, batch norm): the same bound with
#   K <= ~100 and values ~N(0,1) is ~1e-5 of the sum's size; RTOL = ATOL = 1e-4.
# * Correctly rounded or 1-ulp operations (max, copies, padding, nearest upsampling,
#   concat): exact (0, 0).
# * float32 libm functions (exp, expm1, tanh, erf) in vectorised implementations: a few
#   ulp relative (SLEEF documents 1.0 ulp; composed ops like sigmoid = 1/(1 + e) add a few
#   roundings): RTOL_FN = 64 ulp ~ 7.6e-6, and an absolute floor ATOL_FN = 1e-6 for
#   results that cancel to near 0 (hardswish at -3, elu/expm1 at 0) where a relative bound
#   means nothing.
# * torch's GELU is 0.5*x*(1 + erf(x/sqrt 2)) with a float32 erf whose absolute error is
#   implementation dependent (a polynomial on AVX2/AVX-512; ~1e-6 absolute observed):
#   see `test_gelu_dense_vs_torch`.
ULP = 2.0**-23
RTOL = 1e-4
ATOL = 1e-4
RTOL_FN = 64 * ULP
ATOL_FN = 1e-6
ERF_ABS_ERROR = 2.0**-18
"""Absolute error allowed for torch's float32 erf (~3.8e-6: 4x the largest seen)."""

# ------------------------------------------------------------------------------ helpers


def rng_for(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, sum(map(ord, name))])


def randn(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> Arr:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def to_t(x: Arr) -> torch.Tensor:
    """NHWC numpy -> NCHW torch (a 2-D array is passed through)."""
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(x))


def from_t(t: torch.Tensor) -> Arr:
    """NCHW torch -> NHWC numpy."""
    a: Arr = t.detach().numpy()
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)) if a.ndim == 4 else a


DOT_SAFETY = 4.0
"""Multiple of the direct summation bound allowed: BLAS blocking, FMA and the fast
algorithms a library may pick (Winograd, FFT) have error bounds a small multiple of it."""


def dot_close(got: Arr, want: Arr, absdot: Any, k: int) -> None:
    """``|got - want| <= 2 * DOT_SAFETY * gamma_k * sum|a*b|`` element by element:
    Higham's bound for a k-term float32 dot product (gamma_k = k*u / (1 - k*u),
    u = 2**-24), once for each side; ``absdot`` is the same product on |a| and |b|."""
    u = 2.0**-24
    gamma = k * u / (1 - k * u)
    bound = 2 * DOT_SAFETY * gamma * np.asarray(absdot, dtype=np.float64) + 1e-30
    assert got.dtype == np.float32, got.dtype
    assert got.shape == want.shape, (got.shape, want.shape)
    err = np.abs(got.astype(np.float64) - np.asarray(want, dtype=np.float64))
    assert np.all(err <= bound), f"error up to {float(np.max(err / bound)):.2f}x the bound"


def conv_close(got: Arr, want: Arr, cfg: dict[str, Any]) -> None:
    """`dot_close` for a conv: k = kh*kw*C/groups products plus the bias."""
    a = {**cfg, "x": np.abs(cfg["x"]), "w": np.abs(cfg["w"]),
         "b": None if cfg["b"] is None else np.abs(cfg["b"])}
    kh, kw, cg, _ = cfg["w"].shape
    dot_close(got, want, ref_conv2d(**a), kh * kw * cg + 1)


def deconv_close(got: Arr, want: Arr, cfg: dict[str, Any]) -> None:
    """`dot_close` for a transposed conv: at most kh*kw*C/groups products plus the bias."""
    a = {**cfg, "x": np.abs(cfg["x"]), "w": np.abs(cfg["w"]),
         "b": None if cfg["b"] is None else np.abs(cfg["b"])}
    kh, kw, cin, _ = cfg["w"].shape
    dot_close(got, want, ref_conv_transpose2d(**a), kh * kw * cin // cfg["groups"] + 1)


def close(got: Arr, want: Arr, rtol: float = RTOL, atol: float = ATOL) -> None:
    assert got.dtype == np.float32, got.dtype
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def pool_out(size: int, k: int, s: int, pb: int, pe: int, ceil: bool) -> int:
    """Output size as the caller computes it (PyTorch's rule; in ceil mode the last
    window must start inside the input or its left padding)."""
    span = size + pb + pe - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pb:
        out -= 1
    return out


# ---------------------------------------------------------------------- loop references


def ref_conv2d(
    x: Arr,
    w: Arr,
    b: Arr | None,
    stride: tuple[int, int],
    padding: Pairs,
    dilation: tuple[int, int],
    groups: int,
) -> Arr:
    n, h, wd, _ = x.shape
    kh, kw, cg, f = w.shape
    fg = f // groups
    (top, bottom), (left, right) = padding
    oh = (h + top + bottom - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + left + right - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    xd = x.astype(np.float64)
    wdd = w.astype(np.float64)
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            for p in range(kh):
                y = i * stride[0] - top + p * dilation[0]
                if not 0 <= y < h:
                    continue
                for q in range(kw):
                    xx = j * stride[1] - left + q * dilation[1]
                    if not 0 <= xx < wd:
                        continue
                    for g in range(groups):
                        pix = xd[:, y, xx, g * cg : (g + 1) * cg]
                        out[:, i, j, g * fg : (g + 1) * fg] += pix @ wdd[p, q, :, g * fg : (g + 1) * fg]
    if b is not None:
        out += b
    return out.astype(np.float32)


def ref_conv_transpose2d(
    x: Arr,
    w: Arr,
    b: Arr | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    output_padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> Arr:
    n, h, wd, cin = x.shape
    kh, kw, _, fg = w.shape
    cg = cin // groups
    oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    ow = (wd - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    out = np.zeros((n, oh, ow, fg * groups))
    for i in range(h):
        for j in range(wd):
            for p in range(kh):
                y = i * stride[0] - padding[0] + p * dilation[0]
                if not 0 <= y < oh:
                    continue
                for q in range(kw):
                    xx = j * stride[1] - padding[1] + q * dilation[1]
                    if not 0 <= xx < ow:
                        continue
                    for g in range(groups):
                        pix = x[:, i, j, g * cg : (g + 1) * cg].astype(np.float64)
                        out[:, y, xx, g * fg : (g + 1) * fg] += pix @ w[p, q, g * cg : (g + 1) * cg]
    if b is not None:
        out += b
    return out.astype(np.float32)


def ref_pool(
    x: Arr,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Pairs,
    out_hw: tuple[int, int],
    mode: str,
    count_include_pad: bool = True,
) -> Arr:
    """PyTorch's CPU pooling loops (window clipped to input+padding, then to input)."""
    n, h, w, c = x.shape
    (top, bottom), (left, right) = padding
    out = np.zeros((n, *out_hw, c))
    for i in range(out_hw[0]):
        hs = i * stride[0] - top
        he = min(hs + kernel[0], h + bottom)
        for j in range(out_hw[1]):
            ws = j * stride[1] - left
            we = min(ws + kernel[1], w + right)
            pool_size = (he - hs) * (we - ws)
            hs0, he0, ws0, we0 = max(hs, 0), min(he, h), max(ws, 0), min(we, w)
            win = x[:, hs0:he0, ws0:we0, :].astype(np.float64)
            if mode == "max":
                out[:, i, j] = win.max(axis=(1, 2))
            else:
                div = pool_size if count_include_pad else (he0 - hs0) * (we0 - ws0)
                out[:, i, j] = win.sum(axis=(1, 2)) / div
    return out.astype(np.float32)


def ref_adaptive(x: Arr, out_hw: tuple[int, int]) -> Arr:
    n, h, w, c = x.shape
    out = np.zeros((n, *out_hw, c))
    for i in range(out_hw[0]):
        hs, he = math.floor(i * h / out_hw[0]), math.ceil((i + 1) * h / out_hw[0])
        for j in range(out_hw[1]):
            ws, we = math.floor(j * w / out_hw[1]), math.ceil((j + 1) * w / out_hw[1])
            out[:, i, j] = x[:, hs:he, ws:we].astype(np.float64).mean(axis=(1, 2))
    return out.astype(np.float32)


def elementwise(fn: Callable[[float], float], x: Arr) -> Arr:
    return np.array([fn(float(v)) for v in x.ravel()]).reshape(x.shape).astype(np.float32)


def ref_lrn(x: Arr, size: int, alpha: float, beta: float, k: float) -> Arr:
    c = x.shape[-1]
    xd = x.astype(np.float64)
    out = np.empty_like(xd)
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c, ch + (size - 1) // 2 + 1)
        s = (xd[..., lo:hi] ** 2).sum(axis=-1)
        out[..., ch] = xd[..., ch] / (k + alpha / size * s) ** beta
    return out.astype(np.float32)


# --------------------------------------------------------------------- random configs


def conv_config(seed: int) -> dict[str, Any]:
    rng = rng_for("conv", seed)
    kind = ["dense", "dense", "grouped", "depthwise"][seed % 4]
    groups = 1
    cg = int(rng.integers(1, 5))
    if kind == "grouped":
        groups = int(rng.integers(2, 4))
    elif kind == "depthwise":
        groups = int(rng.integers(1, 9))
        cg = 1
    c = groups * cg
    mult = int(rng.integers(1, 4))  # depthwise multiplier / filters per group
    f = groups * mult
    kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
    stride = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    dilation = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if seed % 3 == 0 else (1, 1)
    top, bottom, left, right = (int(v) for v in rng.integers(0, 4, size=4))
    padding = ((top, bottom), (left, right))
    if seed % 5 == 0:
        padding = ((0, 0), (0, 0))
    keff_h = dilation[0] * (kh - 1) + 1
    keff_w = dilation[1] * (kw - 1) + 1
    h = max(int(rng.integers(1, 13)), keff_h - sum(padding[0]))
    w = max(int(rng.integers(1, 13)), keff_w - sum(padding[1]))
    n = int(rng.integers(1, 3))
    return {
        "x": randn(rng, n, h, w, c),
        "w": randn(rng, kh, kw, cg, f),
        "b": randn(rng, f) if seed % 2 else None,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
    }


def torch_conv2d(cfg: dict[str, Any]) -> Arr:
    (top, bottom), (left, right) = cfg["padding"]
    xt = tf.pad(to_t(cfg["x"]), (left, right, top, bottom))
    wt = torch.from_numpy(np.ascontiguousarray(cfg["w"].transpose(3, 2, 0, 1)))
    bt = None if cfg["b"] is None else torch.from_numpy(cfg["b"])
    yt = tf.conv2d(xt, wt, bt, stride=cfg["stride"], dilation=cfg["dilation"], groups=cfg["groups"])
    return from_t(yt)


def deconv_config(seed: int) -> dict[str, Any]:
    rng = rng_for("deconv", seed)
    groups = int(rng.integers(1, 4)) if seed % 2 else 1
    cg, fg = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    out_pad = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation, strict=True))
    padding = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    h, w = int(rng.integers(1, 8)), int(rng.integers(1, 8))

    def size(i: int, hw: int) -> int:
        k = (kh, kw)[i]
        return (hw - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k - 1) + out_pad[i] + 1

    while size(0, h) < 1:
        h += 1
    while size(1, w) < 1:
        w += 1
    n = int(rng.integers(1, 3))
    return {
        "x": randn(rng, n, h, w, groups * cg),
        "w": randn(rng, kh, kw, groups * cg, fg),
        "b": randn(rng, groups * fg) if seed % 3 else None,
        "stride": stride,
        "padding": padding,
        "output_padding": out_pad,
        "dilation": dilation,
        "groups": groups,
    }


def deconv_args(cfg: dict[str, Any]) -> dict[str, Any]:
    """The N-D kernel's arguments: PyTorch's symmetric ``(pad_h, pad_w)`` (which the
    config, the loop reference and torch take) as per-axis ``(begin, end)`` pairs."""
    return {**cfg, "padding": tuple((p, p) for p in cfg["padding"])}


def pool_args(cfg: dict[str, Any]) -> dict[str, Any]:
    """The kernel's arguments: everything but the expected ``out_hw`` (the kernels derive
    the output size themselves; `close` compares it with the reference's)."""
    return {k: v for k, v in cfg.items() if k != "out_hw"}


def pool_config(seed: int, symmetric: bool) -> dict[str, Any]:
    rng = rng_for("pool" + str(symmetric), seed)
    big = seed % 5 == 4  # windows above 4: the doubling (max) and prefix-sum (avg) paths
    kernel = (int(rng.integers(1, 6 + 8 * big)), int(rng.integers(1, 6 + 8 * big)))
    stride = (int(rng.integers(1, kernel[0] + 3)), int(rng.integers(1, kernel[1] + 3)))
    if symmetric:
        ph, pw = int(rng.integers(0, kernel[0] // 2 + 1)), int(rng.integers(0, kernel[1] // 2 + 1))
        padding = ((ph, ph), (pw, pw))
    else:
        padding = (
            (int(rng.integers(0, kernel[0] // 2 + 1)), int(rng.integers(0, kernel[0] // 2 + 1))),
            (int(rng.integers(0, kernel[1] // 2 + 1)), int(rng.integers(0, kernel[1] // 2 + 1))),
        )
    ceil = bool(seed % 2)
    h = max(int(rng.integers(1, 14 + 10 * big)), kernel[0] - sum(padding[0]))
    w = max(int(rng.integers(1, 14 + 10 * big)), kernel[1] - sum(padding[1]))
    out_hw = (
        pool_out(h, kernel[0], stride[0], *padding[0], ceil),
        pool_out(w, kernel[1], stride[1], *padding[1], ceil),
    )
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 6))
    return {
        "x": randn(rng, n, h, w, c),
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "ceil_mode": ceil,
        "out_hw": out_hw,
    }


# Hand-picked ceil-mode edges: (H, k, s, p). E.g. 5/2/2/1 would give a 4th window starting
# in the right padding, which PyTorch drops; 6/3/2/0 and 7/2/3/0 overhang the edge.
CEIL_EDGES = [(5, 2, 2, 1), (6, 3, 2, 0), (7, 2, 3, 0), (4, 3, 2, 1), (5, 3, 3, 1), (1, 2, 2, 1),
              (8, 3, 2, 1), (9, 4, 3, 2), (13, 3, 2, 0), (2, 3, 1, 1)]  # fmt: skip


# -------------------------------------------------------------------------------- tests


def test_windows_matches_indexing() -> None:
    rng = rng_for("windows", 0)
    x = randn(rng, 2, 11, 9, 3)
    v = K.windows(x, (3, 2), (2, 3), (2, 1), (3, 3))
    assert v.shape == (2, 3, 3, 3, 2, 3)
    for i in range(3):
        for j in range(3):
            for p in range(3):
                for q in range(2):
                    np.testing.assert_array_equal(v[:, i, j, p, q], x[:, i * 2 + p * 2, j * 3 + q])
    assert not v.flags.writeable
    assert np.shares_memory(v, x)  # a view, not a copy
    K.windows(x, (3, 2), (2, 3), (2, 1), (4, 3))  # last window ends exactly at row 10
    with pytest.raises(ValueError):
        K.windows(x, (3, 2), (2, 3), (2, 1), (5, 3))  # would read past the last row
    with pytest.raises(ValueError):
        K.windows(x, (3, 2), (2, 3), (2, 1), (4, 4))


def test_convs_share_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []
    real = K.windows

    def spy(*args: Any) -> Arr:
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(KC, "windows", spy)
    x = randn(rng_for("spy", 0), 1, 6, 6, 4)
    K.conv(x, randn(rng_for("spy", 1), 3, 3, 4, 2), None, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    K.conv(x, randn(rng_for("spy", 2), 3, 3, 1, 4), None, (1, 1), ((0, 0), (0, 0)), (1, 1), 4)
    K.conv(x, randn(rng_for("spy", 3), 3, 3, 2, 4), None, (1, 1), ((0, 0), (0, 0)), (1, 1), 2)
    assert len(calls) == 4  # the grouped conv: one im2col per group


@pytest.mark.parametrize("seed", SEEDS_CONV)
def test_conv2d_vs_reference(seed: int) -> None:
    cfg = conv_config(seed)
    got = K.conv(**cfg)
    conv_close(got, ref_conv2d(**cfg), cfg)


@needs_torch
@pytest.mark.parametrize("seed", SEEDS_CONV)
def test_conv2d_vs_torch(seed: int) -> None:
    cfg = conv_config(seed)
    conv_close(K.conv(**cfg), torch_conv2d(cfg), cfg)


@needs_torch
@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "padding", "groups", "f"),
    [
        ((1, 7, 7, 960), (3, 3), (1, 1), ((1, 1), (1, 1)), 960, 960),  # MobileNetV2 depthwise
        ((2, 15, 13, 96), (3, 3), (2, 2), ((0, 1), (0, 1)), 96, 96),  # TF 'same', stride 2
        ((1, 9, 9, 32), (5, 5), (1, 1), ((2, 2), (2, 2)), 32, 64),  # depthwise multiplier 2
        ((2, 8, 8, 64), (3, 3), (1, 1), ((1, 1), (1, 1)), 32, 128),  # ResNeXt-style groups
        ((2, 10, 10, 24), (1, 1), (1, 1), ((0, 0), (0, 0)), 1, 40),  # 1x1 fast path
        ((2, 10, 10, 24), (1, 1), (2, 2), ((0, 0), (0, 0)), 1, 40),  # 1x1 stride-2 projection
        ((1, 11, 11, 3), (7, 7), (2, 2), ((3, 3), (3, 3)), 1, 16),  # ResNet stem
        ((1, 8, 9, 5), (2, 3), (1, 1), ((0, 1), (1, 1)), 1, 6),  # TF 'same', even kernel
    ],
)
def test_conv2d_named_cases(
    shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Pairs,
    groups: int,
    f: int,
) -> None:
    rng = rng_for("conv-named", shape[-1] + f)
    cfg = {
        "x": randn(rng, *shape),
        "w": randn(rng, *kernel, shape[-1] // groups, f),
        "b": randn(rng, f),
        "stride": stride,
        "padding": padding,
        "dilation": (1, 1),
        "groups": groups,
    }
    got = K.conv(**cfg)
    if shape[-1] <= 96:
        conv_close(got, torch_conv2d(cfg), cfg)
        conv_close(got, ref_conv2d(**cfg), cfg)
    else:  # too big for the loop reference: the bound from torch on |x| and |w|
        a = {**cfg, "x": np.abs(cfg["x"]), "w": np.abs(cfg["w"]),
             "b": None if cfg["b"] is None else np.abs(cfg["b"])}
        kh, kw, cg, _ = cfg["w"].shape
        dot_close(got, torch_conv2d(cfg), torch_conv2d(a), kh * kw * cg + 1)


@pytest.mark.parametrize("block_bytes", [64, 4096, 50_000])
def test_conv2d_im2col_blocking(monkeypatch: pytest.MonkeyPatch, block_bytes: int) -> None:
    """Row blocks within an image (each padding only its own input slab), several images
    per block, and the cache-sized chunks of the tap loops all give the same result."""
    monkeypatch.setattr(KC, "_IM2COL_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(KC, "_IM2COL_MIN_ROWS", 1)
    monkeypatch.setattr(KC, "_TAP_CHUNK_ELEMS", block_bytes // 8)
    rng = rng_for("blocking", block_bytes)
    cases = [
        # n, h, c, f, kernel, stride, padding, dilation, groups
        (3, 13, 4, 5, 3, 1, ((1, 0), (1, 2)), 1, 1),
        (2, 17, 6, 4, 2, 2, ((1, 0), (1, 2)), 1, 1),
        (2, 9, 6, 12, 3, 1, ((1, 0), (1, 2)), 1, 6),  # depthwise, multiplier 2
        (2, 6, 3, 4, 1, 1, ((3, 2), (0, 1)), 1, 1),  # 1x1 with padding: all-padding rows
        (1, 12, 2, 3, 3, 2, ((4, 3), (2, 2)), 2, 1),  # dilation, more padding than reach
        (2, 10, 5, 2, 4, 3, ((0, 0), (0, 0)), 1, 1),  # no padding, stride > 1
    ]
    for n, h, c, f, k, s, pad, d, g in cases:
        cfg = {
            "x": randn(rng, n, h, h + 2, c),
            "w": randn(rng, k, k, c // g, f),
            "b": randn(rng, f),
            "stride": (s, s),
            "padding": pad,
            "dilation": (d, d),
            "groups": g,
        }
        conv_close(K.conv(**cfg), ref_conv2d(**cfg), cfg)
        x = cfg["x"]
        out_hw = (pool_out(h, 3, 2, 1, 1, True), pool_out(h + 2, 3, 2, 1, 1, True))
        close(
            K.max_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)), True),
            ref_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)), out_hw, "max"),
        )
    for seed in range(0, 80, 2):  # the random configurations again, now blocked
        cfg = conv_config(seed)
        conv_close(K.conv(**cfg), ref_conv2d(**cfg), cfg)


def test_conv2d_keeps_float32_and_inputs() -> None:
    rng = rng_for("dtype", 0)
    x = randn(rng, 1, 6, 6, 4)
    w = randn(rng, 3, 3, 4, 8)
    b = randn(rng, 8)
    before = (x.copy(), w.copy(), b.copy())
    for groups, wt in [(1, w), (4, randn(rng, 3, 3, 1, 8)), (2, randn(rng, 3, 3, 2, 8))]:
        y = K.conv(x, wt, b, (1, 1), ((1, 1), (1, 1)), (1, 1), groups)
        assert y.dtype == np.float32 and y.shape == (1, 6, 6, 8) and y.flags.c_contiguous
    for a, a0 in zip((x, w, b), before, strict=True):
        np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_transpose2d_vs_reference(seed: int) -> None:
    cfg = deconv_config(seed)
    deconv_close(K.conv_transpose(**deconv_args(cfg)), ref_conv_transpose2d(**cfg), cfg)


@pytest.mark.parametrize("gemm_bytes", [1, 200])
def test_conv_taps_path_and_chunks(monkeypatch: pytest.MonkeyPatch, gemm_bytes: int) -> None:
    """The tap-by-tap conv (taken for huge kernels, paddings or dilations) and the chunked
    transposed conv agree with the loop references on every random configuration."""
    monkeypatch.setattr(KC, "_SLAB_MAX_BYTES", -1)
    monkeypatch.setattr(KC, "_IM2COL_MAX_BYTES", -(1 << 40))
    monkeypatch.setattr(KC, "_TAP_GEMM_BYTES", gemm_bytes)
    monkeypatch.setattr(KD, "_TAP_GEMM_BYTES", gemm_bytes)
    paths = set()
    for seed in SEEDS_CONV:
        cfg = conv_config(seed)
        paths.add(K.conv_plan(cfg["x"].shape, cfg["w"].shape, cfg["stride"], cfg["padding"],
                              cfg["dilation"], cfg["groups"]).path)
        conv_close(K.conv(**cfg), ref_conv2d(**cfg), cfg)
    assert "taps" in paths
    for seed in SEEDS:
        cfg = deconv_config(seed)
        deconv_close(K.conv_transpose(**deconv_args(cfg)), ref_conv_transpose2d(**cfg), cfg)


def test_conv_with_far_reaching_dilation_reads_only_real_input() -> None:
    """An 8x8 input, a 3x3 kernel dilated by 5000 with 'same' padding: only the centre tap
    ever reads the input, so the result is the 1x1 conv with the centre weights."""
    rng = rng_for("dilated", 0)
    x, w = randn(rng, 1, 8, 8, 3), randn(rng, 3, 3, 3, 4)
    pad = ((5000, 5000), (5000, 5000))
    plan = K.conv_plan(x.shape, w.shape, (1, 1), pad, (5000, 5000), 1)
    assert plan.path == "taps" and plan.scratch < 1 << 20
    got = K.conv(x, w, None, (1, 1), pad, (5000, 5000), 1)
    close(got, K.conv(x, w[1:2, 1:2], None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1), 1e-6, 1e-6)


@pytest.mark.parametrize(("h", "k", "s"), [(300, 300, 1), (301, 150, 7), (64, 9, 1), (50, 17, 16)])
def test_big_pool_windows(h: int, k: int, s: int) -> None:
    """Windows far above 4 taps (doubling for max, prefix sums for avg) against the loops."""
    x = randn(rng_for("bigpool", h + k + s), 1, h, 5, 2)
    for ceil in (False, True):
        out_hw = (pool_out(h, k, s, 1, 1, ceil), pool_out(5, 3, 1, 1, 1, ceil))
        pads = ((1, 1), (1, 1))
        args = (x, (k, 3), (s, 1), pads, ceil)
        close(K.max_pool(*args), ref_pool(x, (k, 3), (s, 1), pads, out_hw, "max"))
        close(K.avg_pool(*args), ref_pool(x, (k, 3), (s, 1), pads, out_hw, "avg"))


def test_lrn_window_wider_than_the_channels() -> None:
    x = randn(rng_for("widelrn", 0), 2, 3, 7, scale=3.0)
    for size in (1, 2, 7, 13, 10**8):
        close(K.lrn(x, size, 0.5, 0.75, 1.0), ref_lrn(x, size, 0.5, 0.75, 1.0), 1e-5, 1e-6)


def test_huge_strides_do_not_overflow() -> None:
    x = randn(rng_for("stride", 0), 1, 5, 5, 2)
    big = 10**300
    assert K.max_pool(x, (5, 5), (big, big), ((0, 0), (0, 0)), False).shape == (1, 1, 1, 2)
    assert K.avg_pool(x, (2, 2), (big, big), ((0, 0), (0, 0)), True).shape == (1, 1, 1, 2)
    w = randn(rng_for("stride", 1), 2, 2, 2, 3)
    assert K.conv(x, w, None, (big, big), ((0, 0), (0, 0)), (1, 1), 1).shape == (1, 1, 1, 3)
    one = randn(rng_for("stride", 2), 1, 1, 2, 3)  # 1x1 kernel, one output: not a plain GEMM
    got = K.conv(x, one, None, (100000, 100000), ((0, 0), (0, 0)), (1, 1), 1)
    close(got, (x[:, :1, :1] @ one[0, 0]).astype(np.float32), 1e-6, 1e-6)


@needs_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_conv_transpose2d_vs_torch(seed: int) -> None:
    cfg = deconv_config(seed)
    wt = torch.from_numpy(np.ascontiguousarray(cfg["w"].transpose(2, 3, 0, 1)))
    bt = None if cfg["b"] is None else torch.from_numpy(cfg["b"])
    want = tf.conv_transpose2d(
        to_t(cfg["x"]),
        wt,
        bt,
        stride=cfg["stride"],
        padding=cfg["padding"],
        output_padding=cfg["output_padding"],
        groups=cfg["groups"],
        dilation=cfg["dilation"],
    )
    deconv_close(K.conv_transpose(**deconv_args(cfg)), from_t(want), cfg)


def test_conv_transpose_is_adjoint_of_conv() -> None:
    """<conv(x), y> == <x, conv_transpose(y)> for the same weights (no bias)."""
    rng = rng_for("adjoint", 0)
    x = randn(rng, 2, 9, 8, 6)
    w = randn(rng, 3, 2, 3, 4)  # conv: C=6, groups=2, F=4 -> transposed: C_in=4, F/g=3
    y = K.conv(x, w, None, (2, 2), ((1, 1), (0, 0)), (1, 2), 2)
    r = randn(rng, *y.shape)
    wt = np.ascontiguousarray(w.transpose(0, 1, 3, 2))  # (kh, kw, F, C/groups)
    out_pad = (9 - ((y.shape[1] - 1) * 2 - 2 + 3), 8 - ((y.shape[2] - 1) * 2 + 2 + 1))
    xt = K.conv_transpose(r, wt, None, (2, 2), ((1, 1), (0, 0)), out_pad, (1, 2), 2)
    assert xt.shape == x.shape
    np.testing.assert_allclose(float((y * r).sum()), float((x * xt).sum()), rtol=1e-4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("symmetric", [True, False])
def test_max_pool2d_vs_reference(seed: int, symmetric: bool) -> None:
    cfg = pool_config(seed, symmetric)
    want = ref_pool(cfg["x"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["out_hw"], "max")
    close(K.max_pool(**pool_args(cfg)), want)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("symmetric", [True, False])
def test_avg_pool2d_vs_reference(seed: int, include_pad: bool, symmetric: bool) -> None:
    cfg = pool_config(seed, symmetric)
    want = ref_pool(cfg["x"], cfg["kernel"], cfg["stride"], cfg["padding"], cfg["out_hw"], "avg", include_pad)
    close(K.avg_pool(**pool_args(cfg), count_include_pad=include_pad), want)


def torch_pools(cfg: dict[str, Any], include_pad: bool) -> tuple[Arr, Arr]:
    xt = to_t(cfg["x"])
    pad = (cfg["padding"][0][0], cfg["padding"][1][0])
    args = (cfg["kernel"], cfg["stride"], pad)
    mx = tf.max_pool2d(xt, *args, ceil_mode=cfg["ceil_mode"])
    av = tf.avg_pool2d(xt, *args, ceil_mode=cfg["ceil_mode"], count_include_pad=include_pad)
    return from_t(mx), from_t(av)


@needs_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_pools_vs_torch(seed: int) -> None:
    cfg = pool_config(seed, symmetric=True)
    for include_pad in (True, False):
        mx, av = torch_pools(cfg, include_pad)
        assert mx.shape[1:3] == cfg["out_hw"]  # the caller's out_hw rule is PyTorch's
        close(K.max_pool(**pool_args(cfg)), mx)
        close(K.avg_pool(**pool_args(cfg), count_include_pad=include_pad), av)


@needs_torch
@pytest.mark.parametrize(("h", "k", "s", "p"), CEIL_EDGES)
def test_pool_ceil_mode_edges(h: int, k: int, s: int, p: int) -> None:
    rng = rng_for("ceil", h * 1000 + k * 100 + s * 10 + p)
    x = randn(rng, 2, h, h + 1, 3) - 3.0  # all-negative: a stray 0 or -inf would show
    for ceil in (True, False):
        out_hw = (pool_out(h, k, s, p, p, ceil), pool_out(h + 1, k, s, p, p, ceil))
        if min(out_hw) < 1 or h + 2 * p < k:
            continue
        cfg = {"x": x, "kernel": (k, k), "stride": (s, s), "padding": ((p, p), (p, p))}
        cfg |= {"ceil_mode": ceil, "out_hw": out_hw}
        for include_pad in (True, False):
            mx, av = torch_pools(cfg, include_pad)
            close(K.max_pool(**pool_args(cfg)), mx)
            close(K.avg_pool(**pool_args(cfg), count_include_pad=include_pad), av)
            want = ref_pool(x, (k, k), (s, s), ((p, p), (p, p)), out_hw, "avg", include_pad)
            close(K.avg_pool(**pool_args(cfg), count_include_pad=include_pad), want)


@needs_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_adaptive_and_global_pools(seed: int) -> None:
    rng = rng_for("adaptive", seed)
    n, h, w, c = 2, int(rng.integers(1, 14)), int(rng.integers(1, 14)), int(rng.integers(1, 5))
    x = randn(rng, n, h, w, c)
    out_hw = (int(rng.integers(1, h + 3)), int(rng.integers(1, w + 3)))  # non-divisible too
    got = K.adaptive_avg_pool(x, out_hw)
    close(got, ref_adaptive(x, out_hw))
    close(got, from_t(tf.adaptive_avg_pool2d(to_t(x), out_hw)))
    close(K.global_avg_pool(x), ref_adaptive(x, (1, 1)))
    close(K.global_avg_pool(x), from_t(tf.adaptive_avg_pool2d(to_t(x), 1)))
    close(K.global_max_pool(x), x.max(axis=(1, 2), keepdims=True))
    close(K.global_max_pool(x), from_t(tf.adaptive_max_pool2d(to_t(x), 1)))


@needs_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_pad2d(seed: int) -> None:
    rng = rng_for("pad", seed)
    x = randn(rng, 2, int(rng.integers(1, 8)), int(rng.integers(1, 8)), 3)
    top, bottom, left, right = (int(v) for v in rng.integers(0, 4, size=4))
    pad = ((top, bottom), (left, right))
    value = float(rng.standard_normal())
    got = K.pad(x, pad, value)
    want = np.full((2, x.shape[1] + top + bottom, x.shape[2] + left + right, 3), value, np.float32)
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            want[:, top + i, left + j] = x[:, i, j]
    close(got, want, 0, 0)
    close(K.pad(x, pad), from_t(tf.pad(to_t(x), (left, right, top, bottom))), 0, 0)
    assert not np.shares_memory(K.pad(x, ((0, 0), (0, 0))), x)


@needs_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_batch_norm(seed: int) -> None:
    rng = rng_for("bn", seed)
    c = int(rng.integers(1, 9))
    shape = (2, int(rng.integers(1, 6)), int(rng.integers(1, 6)), c) if seed % 2 else (3, c)
    x = randn(rng, *shape, scale=3.0)
    mean, var = randn(rng, c), np.abs(randn(rng, c)) + 0.1
    affine = seed % 3 != 0
    gamma, beta = (randn(rng, c), randn(rng, c)) if affine else (None, None)
    eps = [1e-5, 1e-3, 0.1][seed % 3]
    got = K.batch_norm(x, gamma, beta, mean, var, eps)
    g = np.ones(c) if gamma is None else gamma.astype(np.float64)
    bb = np.zeros(c) if beta is None else beta.astype(np.float64)
    want = np.empty(shape)
    for idx in np.ndindex(*shape):
        ch = idx[-1]
        want[idx] = (x[idx] - mean[ch]) / math.sqrt(var[ch] + eps) * g[ch] + bb[ch]
    close(got, want.astype(np.float32))
    tg = None if gamma is None else torch.from_numpy(gamma)
    tb = None if beta is None else torch.from_numpy(beta)
    yt = tf.batch_norm(to_t(x), torch.from_numpy(mean), torch.from_numpy(var), tg, tb, False, 0.1, eps)
    close(got, from_t(yt))


Activation = tuple[Callable[[Arr], Arr], Callable[[float], float], Callable[..., Any]]
ACTIVATIONS: dict[str, Activation] = {
    "relu": (K.relu, lambda v: max(v, 0.0), lambda t: tf.relu(t)),
    "relu6": (K.relu6, lambda v: min(max(v, 0.0), 6.0), lambda t: tf.relu6(t)),
    "leaky_relu": (K.leaky_relu, lambda v: v if v > 0 else 0.01 * v, lambda t: tf.leaky_relu(t)),
    "leaky_relu_0.2": (
        lambda x: K.leaky_relu(x, negative_slope=0.2),
        lambda v: v if v > 0 else 0.2 * v,
        lambda t: tf.leaky_relu(t, 0.2),
    ),
    "elu": (K.elu, lambda v: v if v > 0 else math.expm1(v), lambda t: tf.elu(t)),
    "elu_0.5": (
        lambda x: K.elu(x, alpha=0.5),
        lambda v: v if v > 0 else 0.5 * math.expm1(v),
        lambda t: tf.elu(t, 0.5),
    ),
    "gelu": (K.gelu, lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))), lambda t: tf.gelu(t)),
    "silu": (K.silu, lambda v: v / (1 + math.exp(-v)) if v > -700 else 0.0, lambda t: tf.silu(t)),
    "sigmoid": (
        K.sigmoid,
        lambda v: 1 / (1 + math.exp(-v)) if v > -700 else 0.0,
        lambda t: torch.sigmoid(t),
    ),
    "tanh": (K.tanh, math.tanh, lambda t: torch.tanh(t)),
    "hardswish": (K.hardswish, lambda v: v * min(max(v + 3, 0.0), 6.0) / 6, lambda t: tf.hardswish(t)),
    "hardsigmoid": (K.hardsigmoid, lambda v: min(max(v + 3, 0.0), 6.0) / 6,
                    lambda t: tf.hardsigmoid(t)),
    "mish": (K.mish, lambda v: _mish(v), lambda t: tf.mish(t)),
}


@needs_torch
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations(name: str, seed: int) -> None:
    kern, scalar, torch_fn = ACTIVATIONS[name]
    rng = rng_for(name, seed)
    scale = [0.5, 1.0, 3.0, 10.0, 100.0, 1.0, 4.0, 30.0][seed]
    x = randn(rng, 2, int(rng.integers(1, 6)), int(rng.integers(1, 6)), 3, scale=scale)
    if seed == 0:  # exact breakpoints and extremes
        special = [0.0, -0.0, 1e-4, -1e-4, -3.0, 3.0, 6.0, -100.0, 100.0, 1e-30][: x.size]
        x.ravel()[: len(special)] = special
    x0 = x.copy()
    got = kern(x)
    close(got, elementwise(scalar, x), rtol=RTOL_FN, atol=ATOL_FN)
    close(got, torch_fn(torch.from_numpy(x.copy())).numpy(), rtol=RTOL_FN, atol=ATOL_FN)
    np.testing.assert_array_equal(x, x0)  # input untouched


@needs_torch
@pytest.mark.parametrize("seed", range(10))
def test_prelu(seed: int) -> None:
    rng = rng_for("prelu", seed)
    c = int(rng.integers(1, 6))
    x = randn(rng, 2, 3, 4, c)
    a = randn(rng, c) if seed % 2 else np.array([0.25], dtype=np.float32)
    got = K.prelu(x, a)
    av = np.broadcast_to(a, (c,))
    want = np.where(x > 0, x, x * av)
    for idx in np.ndindex(*x.shape):  # loop reference
        v = float(x[idx])
        assert math.isclose(float(got[idx]), v if v > 0 else float(av[idx[-1]]) * v, rel_tol=1e-6)
    close(got, want.astype(np.float32))
    close(got, from_t(tf.prelu(to_t(x), torch.from_numpy(a))))
    close(K.prelu(x, 0.1), from_t(tf.prelu(to_t(x), torch.tensor([0.1]))))


def test_erf_accuracy() -> None:
    z = np.concatenate([np.linspace(-8, 8, 40001), [0.0, 1e-20, -1e-8, 5.9, 6.0, 6.1, 30.0]])
    want = np.array([math.erf(v) for v in z])
    assert np.max(np.abs(K.erf(z) - want)) < 1e-10
    small = np.array([1e-3, -2e-5, 0.3])
    rel = np.abs(K.erf(small) - [math.erf(v) for v in small]) / np.abs(small)
    assert np.max(rel) < 1e-13
    inf = K.erf(np.array([np.inf, -np.inf]))
    np.testing.assert_array_equal(inf, [1.0, -1.0])


@needs_torch
@pytest.mark.parametrize("seed", range(10))
def test_gelu_dense_vs_torch(seed: int) -> None:
    x = randn(rng_for("gelu", seed), 4000, scale=[0.1, 1.0, 3.0, 8.0, 50.0][seed % 5])
    got = K.gelu(x)
    exact = elementwise(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))), x)
    close(got, exact, rtol=1e-6, atol=1e-30)  # float64 inside: ~correctly rounded
    # torch: y = 0.5*x*(1 + erf(x/sqrt 2)) with a float32 erf of absolute error e: the
    # result is off by up to 0.5*|x|*e, plus the float32 rounding of the product (2 ulp of y)
    want = tf.gelu(torch.from_numpy(x)).numpy()
    bound = 0.5 * np.abs(x.astype(np.float64)) * ERF_ABS_ERROR + 2 * np.spacing(np.abs(want))
    assert np.all(np.abs(got.astype(np.float64) - want) <= bound)


@needs_torch
@pytest.mark.parametrize("seed", range(20))
def test_softmax(seed: int) -> None:
    rng = rng_for("softmax", seed)
    shape = (2, 3, 2, int(rng.integers(1, 12))) if seed % 2 else (3, int(rng.integers(1, 30)))
    x = randn(rng, *shape, scale=[1.0, 10.0, 100.0][seed % 3])
    got = K.softmax(x)
    want = np.empty(shape)
    for idx in np.ndindex(*shape[:-1]):
        row = [float(v) for v in x[idx]]
        m = max(row)
        e = [math.exp(v - m) for v in row]
        want[idx] = [v / sum(e) for v in e]
    close(got, want.astype(np.float32), rtol=1e-5, atol=1e-7)
    close(got, torch.softmax(torch.from_numpy(x), dim=-1).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-5)


@needs_torch
@pytest.mark.parametrize("seed", range(20))
def test_lrn(seed: int) -> None:
    rng = rng_for("lrn", seed)
    c = int(rng.integers(1, 12))
    x = randn(rng, 2, 3, 4, c, scale=5.0)
    size = int(rng.integers(1, 8))
    alpha, beta, k = [(1e-4, 0.75, 1.0), (0.1, 0.5, 2.0), (1.0, 1.3, 0.5)][seed % 3]
    got = K.lrn(x, size, alpha, beta, k) if seed else K.lrn(x)
    if not seed:
        size, alpha, beta, k = 5, 1e-4, 0.75, 1.0
    close(got, ref_lrn(x, size, alpha, beta, k), rtol=1e-5, atol=1e-6)
    close(got, from_t(tf.local_response_norm(to_t(x), size, alpha, beta, k)), rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("seed", range(20))
def test_flatten_and_linear(seed: int) -> None:
    rng = rng_for("linear", seed)
    n, h, w, c = 2, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
    x = randn(rng, n, h, w, c)
    flat = K.flatten(x)
    want = np.empty((n, h * w * c), dtype=np.float32)
    for i, j, ch in np.ndindex(h, w, c):
        want[:, (i * w + j) * c + ch] = x[:, i, j, ch]
    close(flat, want, 0, 0)
    close(flat, torch.from_numpy(x).flatten(1).numpy(), 0, 0)
    units = int(rng.integers(1, 9))
    wt, b = randn(rng, h * w * c, units), (randn(rng, units) if seed % 2 else None)
    got = K.linear(flat, wt, b)
    ref = np.zeros((n, units))
    for r in range(n):
        for u in range(units):
            ref[r, u] = sum(float(flat[r, i]) * float(wt[i, u]) for i in range(h * w * c))
            ref[r, u] += 0.0 if b is None else float(b[u])
    absdot = np.abs(flat).astype(np.float64) @ np.abs(wt) + (0.0 if b is None else np.abs(b))
    dot_close(got, ref, absdot, h * w * c + 1)
    tb = None if b is None else torch.from_numpy(b)
    want = tf.linear(torch.from_numpy(flat), torch.from_numpy(wt.T.copy()), tb).numpy()
    dot_close(got, want, absdot, h * w * c + 1)
    close(K.linear(x, wt, b), got)  # a volume is flattened first


@needs_torch
@pytest.mark.parametrize("seed", range(20))
def test_upsample_nearest(seed: int) -> None:
    rng = rng_for("upsample", seed)
    x = randn(rng, 2, int(rng.integers(1, 6)), int(rng.integers(1, 6)), 3)
    scale = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    got = K.upsample_nearest(x, scale)
    want = np.empty((2, x.shape[1] * scale[0], x.shape[2] * scale[1], 3), dtype=np.float32)
    for i, j in np.ndindex(*want.shape[1:3]):
        want[:, i, j] = x[:, i // scale[0], j // scale[1]]
    close(got, want, 0, 0)
    sf = (float(scale[0]), float(scale[1]))
    close(got, from_t(tf.interpolate(to_t(x), scale_factor=sf, mode="nearest")), 0, 0)


@needs_torch
@pytest.mark.parametrize("seed", range(10))
def test_add_and_concat(seed: int) -> None:
    rng = rng_for("concat", seed)
    h, w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    xs = [randn(rng, 2, h, w, int(rng.integers(1, 5))) for _ in range(int(rng.integers(1, 4)))]
    got = K.concat(xs)
    offset = 0
    for part in xs:
        close(got[..., offset : offset + part.shape[-1]], part, 0, 0)
        offset += part.shape[-1]
    assert got.shape[-1] == offset
    close(got, from_t(torch.cat([to_t(v) for v in xs], dim=1)), 0, 0)
    a, b = randn(rng, 2, h, w, 3), randn(rng, 2, h, w, 3)
    close(K.add(a, b), (torch.from_numpy(a) + torch.from_numpy(b)).numpy(), 0, 0)
    close(K.add(a, b), np.array([x + y for x, y in zip(a.ravel(), b.ravel(), strict=True)],
                                dtype=np.float32).reshape(a.shape), 0, 0)  # fmt: skip


def test_float32_everywhere() -> None:
    """No kernel upcasts float32 to float64."""
    rng = rng_for("dtype", 1)
    x = randn(rng, 1, 5, 5, 4)
    outs = [
        K.pad(x, ((1, 0), (2, 1))),
        K.conv_transpose(x, randn(rng, 3, 3, 4, 2), None, (2, 2), ((1, 1), (1, 1)), (1, 1), (1, 1), 1),
        K.max_pool(x, (2, 2), (2, 2), ((0, 0), (0, 0)), True),
        K.avg_pool(x, (3, 3), (2, 2), ((1, 1), (1, 1)), True),
        K.global_avg_pool(x), K.global_max_pool(x), K.adaptive_avg_pool(x, (2, 3)),
        K.batch_norm(x, None, None, randn(rng, 4), np.ones(4, np.float32), 1e-5),
        K.lrn(x), K.softmax(x), K.flatten(x), K.upsample_nearest(x, (2, 2)),
        K.linear(x, randn(rng, 100, 3), randn(rng, 3)), K.prelu(x, randn(rng, 4)),
    ] + [fn(x) for fn, _, _ in ACTIVATIONS.values()]  # fmt: skip
    for out in outs:
        assert out.dtype == np.float32


# --------------------------------------------------------------------- every kind's forward

# One example per layer kind (non-default arguments where the kind has them) and a naive
# reference for its forward pass, written here from the definitions above. Keyed by the
# kind's name: tests/test_contracts.py fails for a kind of the registry missing here.
Ref = Callable[[Any, Arr, dict[str, Arr]], Arr]


def _scalar(fn: Callable[[Any, float], float]) -> Ref:
    return lambda layer, x, w: elementwise(lambda v: fn(layer, v), x)


def _softmax(x: Arr) -> Arr:
    e = np.exp(x.astype(np.float64) - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def _bn(layer: Any, x: Arr, w: dict[str, Arr]) -> Arr:
    y = (x.astype(np.float64) - w["mean"]) / np.sqrt(w["var"].astype(np.float64) + layer.eps)
    if "gamma" in w:
        y = y * w["gamma"] + w["beta"]
    return y.astype(np.float32)


def _fc(layer: Any, x: Arr, w: dict[str, Arr]) -> Arr:
    y = x.reshape(len(x), -1).astype(np.float64) @ w["w"].astype(np.float64)
    return (y + w["b"] if "b" in w else y).astype(np.float32)


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v)) if v > -700 else 0.0


def ref_group_norm(x: Arr, groups: int, gamma: Arr | None, beta: Arr | None, eps: float) -> Arr:
    """Loop reference: each sample's group of C/groups channels normalised over those
    channels and every position (any rank; layer norm over C is one group per position,
    instance norm one channel per group)."""
    n, c = x.shape[0], x.shape[-1]
    k = c // groups
    flat = x.reshape(n, -1, c)
    out = np.empty(flat.shape, dtype=np.float64)
    for i in range(n):
        for g in range(groups):
            vals = [float(flat[i, p, ch]) for p in range(flat.shape[1])
                    for ch in range(g * k, (g + 1) * k)]
            mean = sum(vals) / len(vals)
            var = sum((v - mean) ** 2 for v in vals) / len(vals)
            for p in range(flat.shape[1]):
                for ch in range(g * k, (g + 1) * k):
                    y = (float(flat[i, p, ch]) - mean) / math.sqrt(var + eps)
                    if gamma is not None and beta is not None:
                        y = y * float(gamma[ch]) + float(beta[ch])
                    out[i, p, ch] = y
    return out.reshape(x.shape).astype(np.float32)


def ref_layer_norm(x: Arr, gamma: Arr | None, beta: Arr | None, eps: float) -> Arr:
    """Loop reference: every position's C channels normalised together."""
    rows = x.reshape(-1, 1, x.shape[-1])  # each position a sample with one position
    return ref_group_norm(rows, 1, gamma, beta, eps).reshape(x.shape)


def ref_shuffle(x: Arr, groups: int) -> Arr:
    c = x.shape[-1]
    k = c // groups
    out = np.empty_like(x)
    for i in range(groups):
        for j in range(k):
            out[..., j * groups + i] = x[..., i * k + j]
    return out


def _mish(v: float) -> float:
    softplus = v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))
    return v * math.tanh(softplus)


def _layer_examples() -> dict[str, tuple[Any, tuple[int, ...], Ref]]:
    def pooled(mode: str) -> Ref:
        return lambda layer, x, w: ref_pool(x, *layer.axes(x.shape[1:])[:2],
                                            layer.pads(x.shape[1:]),
                                            layer.output_shape(x.shape[1:])[:2], mode)

    return {
        "conv": (L.Conv(6, (3, 3), stride=(2, 1), padding=Padding((1, 1)), dilation=(1, 2),
                        groups=2), (9, 8, 4),
                 lambda ly, x, w: ref_conv2d(x, w["w"], w.get("b"), ly.axes(x.shape[1:])[1],
                                             ly.pads(x.shape[1:]),
                                             ly.axes(x.shape[1:])[2], ly.groups)),
        "dwconv": (L.DepthwiseConv((3, 3), padding=Padding((1, 1)), multiplier=2), (7, 6, 3),
                   lambda ly, x, w: ref_conv2d(x, w["w"], w.get("b"), ly.axes(x.shape[1:])[1],
                                               ly.pads(x.shape[1:]),
                                               ly.axes(x.shape[1:])[2], x.shape[3])),
        "deconv": (L.Deconv(4, (3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1),
                            groups=2), (5, 4, 4),
                   lambda ly, x, w: ref_conv_transpose2d(x, w["w"], w.get("b"),
                                                         *ly.axes(x.shape[1:])[1:],
                                                         ly.groups)),
        "maxpool": (L.MaxPool((3, 3), stride=(2, 2), padding=Padding((1, 1)), ceil_mode=True),
                    (8, 7, 3), pooled("max")),
        "avgpool": (L.AvgPool((3, 3), stride=(2, 2), padding=Padding((1, 1))), (8, 7, 3),
                    pooled("avg")),
        "gap": (L.GlobalAvgPool(), (5, 4, 3),
                lambda ly, x, w: x.astype(np.float64).mean(axis=(1, 2), keepdims=True)
                .astype(np.float32)),
        "globalmaxpool": (L.GlobalMaxPool(), (5, 4, 3),
                          lambda ly, x, w: x.max(axis=(1, 2), keepdims=True)),
        "adaptiveavgpool": (L.AdaptiveAvgPool((3, 2)), (7, 5, 2),
                            lambda ly, x, w: ref_adaptive(x, ly.size)),
        "bn": (L.BatchNorm(eps=1e-3), (4, 3, 5), _bn),
        "lrn": (L.LRN(3, alpha=0.5), (3, 3, 6),
                lambda ly, x, w: ref_lrn(x, ly.size, ly.alpha, ly.beta, ly.k)),
        "relu": (L.ReLU(), (4, 3, 2), _scalar(lambda ly, v: max(v, 0.0))),
        "relu6": (L.ReLU6(), (4, 3, 2), _scalar(lambda ly, v: min(max(v, 0.0), 6.0))),
        "leakyrelu": (L.LeakyReLU(0.2), (4, 3, 2),
                      _scalar(lambda ly, v: v if v > 0 else ly.slope * v)),
        "prelu": (L.PReLU(), (4, 3, 2),
                  lambda ly, x, w: elementwise(lambda v: v if v > 0 else float(w["a"][0]) * v, x)),
        "elu": (L.ELU(0.5), (4, 3, 2),
                _scalar(lambda ly, v: v if v > 0 else ly.alpha * math.expm1(v))),
        "gelu": (L.GELU(), (4, 3, 2),
                 _scalar(lambda ly, v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))),
        "silu": (L.SiLU(), (4, 3, 2), _scalar(lambda ly, v: v * _sigmoid(v))),
        "sigmoid": (L.Sigmoid(), (4, 3, 2), _scalar(lambda ly, v: _sigmoid(v))),
        "tanh": (L.Tanh(), (4, 3, 2), _scalar(lambda ly, v: math.tanh(v))),
        "hardswish": (L.HardSwish(), (4, 3, 2),
                      _scalar(lambda ly, v: v * min(max(v + 3, 0.0), 6.0) / 6)),
        "softmax": (L.Softmax(), (4, 3, 5), lambda ly, x, w: _softmax(x)),
        "layernorm": (L.LayerNorm(eps=1e-3), (4, 3, 6),
                      lambda ly, x, w: ref_layer_norm(x, w.get("gamma"), w.get("beta"), ly.eps)),
        "groupnorm": (L.GroupNorm(3), (4, 3, 6),
                      lambda ly, x, w: ref_group_norm(x, ly.groups, w.get("gamma"), w.get("beta"),
                                                      ly.eps)),
        "instancenorm": (L.InstanceNorm(affine=True), (4, 3, 5),
                         lambda ly, x, w: ref_group_norm(x, x.shape[-1], w.get("gamma"),
                                                         w.get("beta"), ly.eps)),
        "layerscale": (L.LayerScale(), (4, 3, 5),
                       lambda ly, x, w: (x.astype(np.float64) * w["gamma"]).astype(np.float32)),
        "hardsigmoid": (L.HardSigmoid(), (4, 3, 2),
                        _scalar(lambda ly, v: min(max(v + 3, 0.0), 6.0) / 6)),
        "mish": (L.Mish(), (4, 3, 2), _scalar(lambda ly, v: _mish(v))),
        "shuffle": (L.Shuffle(3), (4, 3, 6), lambda ly, x, w: ref_shuffle(x, ly.groups)),
        "identity": (L.Identity(), (4, 3, 2), lambda ly, x, w: x),
        "dropout": (L.Dropout(0.3), (4, 3, 2), lambda ly, x, w: x),  # inference
        "flatten": (L.Flatten(), (4, 3, 2), lambda ly, x, w: x.reshape(len(x), -1)),
        "fc": (L.FC(5), (4, 3, 2), _fc),
        "pad": (L.Pad((1, 2)), (4, 3, 2),
                lambda ly, x, w: np.pad(x, ((0, 0), (ly.p[0],) * 2, (ly.p[1],) * 2, (0, 0)))),
        "upsample": (L.Upsample((2, 3)), (4, 3, 2),
                     lambda ly, x, w: x.repeat(ly.scale[0], axis=1).repeat(ly.scale[1], axis=2)),
    }


LAYER_EXAMPLES = _layer_examples()
"""Kind name → (example layer, input H×W×C, naive reference of its forward pass)."""

MERGES: dict[str, tuple[L.Block, Callable[[list[Arr]], Arr]]] = {
    "residual": (L.Residual((L.Identity(),)),
                 lambda arrays: (arrays[0].astype(np.float64) + arrays[1]).astype(np.float32)),
    "concat": (L.Concat(((), ())), lambda arrays: np.concatenate(arrays, axis=-1)),
    # a gate's groups are its body and the identity: it merges (body(x), x) into x ⊙ body(x)
    "gate": (L.Gate((L.Sigmoid(),)),
             lambda arrays: (arrays[1].astype(np.float64) * arrays[0]).astype(np.float32)),
    "split": (L.Split(((), ())), lambda arrays: np.concatenate(arrays, axis=-1)),
}
"""Parallel block kind name → (example, naive reference of how it merges its groups'
outputs). Chained blocks (repeat) merge nothing."""


@pytest.mark.parametrize("name", sorted(LAYER_EXAMPLES))
def test_layer_forward_vs_reference(name: str) -> None:
    layer, inp, ref = LAYER_EXAMPLES[name]
    assert layer.name == name and layer.output_shape(inp) is not None
    rng = rng_for("layer:" + name, 0)
    x = randn(rng, 2, *inp, scale=2.0)
    w = {k: randn(rng, *s) for k, s in layer.weight_shapes(inp).items()}
    if "var" in w:
        w["var"] = np.abs(w["var"]) + np.float32(0.5)
    got = layer.forward(x.copy(), w)
    assert got.shape == (2, *layer.output_shape(inp))
    close(got, ref(layer, x, w), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MERGES))
def test_block_merge_vs_reference(name: str) -> None:
    block, ref = MERGES[name]
    assert block.name == name
    rng = rng_for("merge:" + name, 0)
    arrays = [randn(rng, 2, 3, 4, 5), randn(rng, 2, 3, 4, 5)]
    close(block.merge(arrays), ref(arrays))


@pytest.mark.parametrize("body_shape", [(2, 3, 4, 5), (2, 1, 1, 5), (2, 5), (2, 3, 4, 1)])
def test_gate_broadcasts_as_its_shape_rule_allows(body_shape: tuple[int, ...]) -> None:
    """Every form of §4's broadcast (same, 1×1×C, C, H×W×1) against a naive loop."""
    rng = rng_for("gate:" + "x".join(map(str, body_shape)), 0)
    x, y = randn(rng, 2, 3, 4, 5), randn(rng, *body_shape)
    want = np.empty((2, 3, 4, 5), dtype=np.float64)
    for n, i, j, c in np.ndindex(*want.shape):
        f = (y[n, c] if y.ndim == 2 else
             y[n, min(i, y.shape[1] - 1), min(j, y.shape[2] - 1), min(c, y.shape[3] - 1)])
        want[n, i, j, c] = float(x[n, i, j, c]) * float(f)
    close(L.Gate((L.Sigmoid(),)).merge([y, x]), want.astype(np.float32))


@pytest.mark.parametrize("ways", [1, 2, 3, 6])
def test_split_slices_are_the_channel_runs_a_loop_cuts(ways: int) -> None:
    rng = rng_for(f"split:{ways}", 0)
    x = randn(rng, 2, 3, 4, 6)
    block = L.Split(tuple(() for _ in range(ways)))
    parts = block.slices(x)
    width = 6 // ways
    assert len(parts) == ways
    for k, part in enumerate(parts):
        for c in range(width):
            assert np.array_equal(part[..., c], x[..., k * width + c])
    assert np.array_equal(block.merge(parts), x)
