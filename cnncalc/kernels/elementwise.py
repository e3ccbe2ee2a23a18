"""Activations: element-wise (and row-wise softmax) kernels, chunked by `_map`."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .window import _TAP_CHUNK_ELEMS, F32, _f32, _map


def relu(x: F32) -> F32:
    """``y = max(x, 0)``."""
    return np.maximum(_f32(x), np.float32(0.0))


def relu6(x: F32) -> F32:
    """``y = min(max(x, 0), 6)``."""
    return np.clip(_f32(x), np.float32(0.0), np.float32(6.0))


def leaky_relu(x: F32, negative_slope: float = 0.01) -> F32:
    """``y = x if x > 0 else negative_slope * x``."""
    slope = np.float32(negative_slope)
    return _map(x, lambda v: np.where(v > 0, v, v * slope))


def prelu(x: F32, a: F32 | float) -> F32:
    """``y = x if x > 0 else a * x``; ``a`` is a scalar or one slope per channel (last axis)."""
    x = _f32(x)
    av = _f32(a)
    row = x.shape[-1] if av.size > 1 else 1
    return _map(x, lambda v: np.where(v > 0, v, v * av), row)


def elu(x: F32, alpha: float = 1.0) -> F32:
    """``y = x if x > 0 else alpha * (exp(x) - 1)``."""
    def chunk(v: F32) -> F32:
        neg = np.expm1(np.minimum(v, np.float32(0.0)))
        neg *= np.float32(alpha)
        return np.where(v > 0, v, neg)
    return _map(x, chunk)


# erfc(z) = t * exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0: a degree-14 least-squares fit
# (Numerical Recipes' erfcc form with more terms) to math.erfc on 0 <= z <= 6; absolute
# error below 5e-12 there, and erf(z) = 1 to double precision beyond z = 6.
_ERFC_COEFFS = (
    -1.265485089255999,
    0.9992188367792217,
    0.3852376234293272,
    0.0029094767925094897,
    0.335273663243978,
    -1.6886453642911312,
    3.9520226711232485,
    -7.4819585024821045,
    9.663466550145275,
    -7.264788136649383,
    2.139567989235273,
    1.1120149888540811,
    -1.3158842463040374,
    0.4985250597779747,
    -0.07147552040227993,
)


# Maclaurin series erf(z) = 2/sqrt(pi) * sum_n (-1)^n z^(2n+1) / (n! (2n+1)), used for
# |z| < 0.5 (relative accuracy where erf is tiny); 12 terms reach double precision there.
_ERF_SERIES = tuple(
    2.0 / math.sqrt(math.pi) * (-1.0) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(12)
)


# erf/gelu work in float64 on chunks of this many elements, so that the ~30 passes of
# the polynomial evaluation run in L2 instead of streaming whole tensors through memory.
_ERF_CHUNK = 1 << 14


def _erf_chunk(xd: npt.NDArray[np.float64], series: bool) -> npt.NDArray[np.float64]:
    """erf of a small float64 array: the erfc fit, plus (``series``) the Maclaurin
    series below 0.5 for relative accuracy near 0."""
    z = np.minimum(np.abs(xd), 6.0)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _ERFC_COEFFS[-1])
    for coef in _ERFC_COEFFS[-2::-1]:
        poly *= t
        poly += coef
    poly -= z * z
    np.exp(poly, out=poly)
    poly *= t
    res = 1.0 - poly
    if series:
        z2 = z * z
        ser = np.full_like(z, _ERF_SERIES[-1])
        for coef in _ERF_SERIES[-2::-1]:
            ser *= z2
            ser += coef
        ser *= z
        res = np.where(z < 0.5, ser, res)
    out: npt.NDArray[np.float64] = np.copysign(res, xd)
    return out


def erf(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Vectorised error function ``erf(x) = 2/sqrt(pi) * int_0^x exp(-t^2) dt``.

    float64 result, absolute error < 1e-11 (relative < 1e-14 for |x| < 0.5); numpy has
    no erf and scipy is not a dependency.
    """
    xd = np.asarray(x, dtype=np.float64)
    out = np.empty_like(xd)
    src, dst = xd.reshape(-1), out.reshape(-1)
    for i in range(0, src.size, _ERF_CHUNK):
        dst[i : i + _ERF_CHUNK] = _erf_chunk(src[i : i + _ERF_CHUNK], series=True)
    return out


def gelu(x: F32) -> F32:
    """``y = x/2 * (1 + erf(x / sqrt(2)))`` (exact GELU, PyTorch's default; float64 inside,
    so the float32 result is correctly rounded up to ~1e-11 absolute)."""
    x = _f32(x)
    out = np.empty_like(x)
    src, dst = x.reshape(-1), out.reshape(-1)
    for i in range(0, src.size, _ERF_CHUNK):
        xd = src[i : i + _ERF_CHUNK].astype(np.float64)
        e = _erf_chunk(xd * (1.0 / math.sqrt(2.0)), series=False)
        e += 1.0
        e *= xd
        e *= 0.5
        dst[i : i + _ERF_CHUNK] = e
    return out


def _sigmoid(x: F32) -> F32:
    e = np.exp(-np.abs(x))
    den = 1.0 + e
    return np.where(x >= 0, 1.0 / den, e / den).astype(np.float32, copy=False)


def sigmoid(x: F32) -> F32:
    """``y = 1 / (1 + exp(-x))``, evaluated without overflow."""
    return _map(x, _sigmoid)


def silu(x: F32) -> F32:
    """``y = x * sigmoid(x)`` (swish)."""
    return _map(x, lambda v: np.multiply(v, _sigmoid(v)))


def tanh(x: F32) -> F32:
    """``y = tanh(x)``."""
    return np.tanh(_f32(x))


def hardswish(x: F32) -> F32:
    """``y = x * min(max(x + 3, 0), 6) / 6``."""
    def chunk(v: F32) -> F32:
        r: F32 = np.clip(v + np.float32(3.0), np.float32(0.0), np.float32(6.0))
        r *= v
        r /= np.float32(6.0)
        return r
    return _map(x, chunk)


def hardsigmoid(x: F32) -> F32:
    """``y = min(max(x + 3, 0), 6) / 6`` (PyTorch's Hardsigmoid), in [0, 1]."""
    def chunk(v: F32) -> F32:
        r: F32 = np.clip(v + np.float32(3.0), np.float32(0.0), np.float32(6.0))
        r /= np.float32(6.0)
        return r
    return _map(x, chunk)


def mish(x: F32) -> F32:
    """``y = x * tanh(softplus(x))``, ``softplus(x) = log(1 + exp(x))``, evaluated as
    ``x * m / (m + 2)`` with ``m = e^x (e^x + 2)`` (the same function: tanh(log u) =
    (u² − 1)/(u² + 1), u = 1 + e^x), which has no cancellation for negative x and, with x
    clamped at 20 inside the exponential (where the ratio is 1 in float32), no overflow."""
    def chunk(v: F32) -> F32:
        e: F32 = np.exp(np.minimum(v, np.float32(20.0)))
        m = e + np.float32(2.0)
        m *= e
        e = m + np.float32(2.0)
        np.divide(m, e, out=m)
        m *= v
        return m
    return _map(x, chunk)


def softmax(x: F32) -> F32:
    """``y_c = exp(x_c - max x) / sum_c' exp(x_c' - max x)`` over the last axis."""
    def chunk(v: F32) -> F32:
        e: F32 = np.exp(v - v.max(axis=-1, keepdims=True))
        e /= e.sum(axis=-1, keepdims=True)
        return e
    x = _f32(x)
    return _map(x, chunk, x.shape[-1])


def scratch_elementwise(shape: tuple[int, ...]) -> int:
    """Bytes the chunked element-wise kernels (`_map`; softmax and prelu keep whole
    channel rows) allocate besides the output: a few chunk temporaries, at least one row."""
    return 6 * 8 * max(_TAP_CHUNK_ELEMS, shape[-1] if shape else 1)
