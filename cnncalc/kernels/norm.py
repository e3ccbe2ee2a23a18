"""Normalisation: batch norm (inference) and local response normalisation."""

from __future__ import annotations

import numpy as np

from .window import _TAP_CHUNK_ELEMS, F32, _f32


def batch_norm(
    x: F32,
    gamma: F32 | None,
    beta: F32 | None,
    mean: F32,
    var: F32,
    eps: float,
) -> F32:
    """Inference batch norm over the last axis (channels of NHWC, features of (N, F)).

    ``y = (x - mean) / sqrt(var + eps) * gamma + beta``, evaluated as ``x*scale + shift``;
    ``gamma``/``beta`` None means 1/0 (``affine=False``).
    """
    x = _f32(x)
    scale = 1.0 / np.sqrt(np.asarray(var, dtype=np.float64) + eps)
    if gamma is not None:
        scale = scale * np.asarray(gamma, dtype=np.float64)
    shift = -np.asarray(mean, dtype=np.float64) * scale
    if beta is not None:
        shift = shift + np.asarray(beta, dtype=np.float64)
    out = np.multiply(x, scale.astype(np.float32))
    out += shift.astype(np.float32)
    return out


def lrn(x: F32, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> F32:
    """PyTorch ``LocalResponseNorm`` across channels (the last axis).

    ``y_c = x_c / (k + alpha/size * sum_{c'=c-size//2}^{c+(size-1)//2} x_{c'}^2) ** beta``
    (channels outside ``0..C-1`` count as zero).  The window sums come from a float64
    prefix sum over the channels, so the cost is O(C) whatever ``size`` is; pixels are
    processed in chunks (`scratch_lrn` bytes besides the output).
    """
    x = _f32(x)
    c = x.shape[-1]
    src = x.reshape(-1, c)
    out = np.empty(src.shape, dtype=np.float32)
    ch = np.arange(c)
    lo = np.maximum(ch - size // 2, 0)
    hi = np.minimum(ch + (size - 1) // 2, c - 1) + 1
    del ch
    step = _lrn_rows(c)
    for r0 in range(0, src.shape[0], step):
        part = src[r0 : r0 + step].astype(np.float64)
        cs = np.zeros((part.shape[0], c + 1), dtype=np.float64)
        np.cumsum(np.square(part, out=part), axis=1, out=cs[:, 1:])
        acc = cs[:, hi]
        acc -= cs[:, lo]
        acc *= alpha / size
        acc += k
        np.power(acc, beta, out=acc)
        out[r0 : r0 + step] = src[r0 : r0 + step] / acc
    return out.reshape(x.shape)


def _lrn_rows(c: int) -> int:
    return max(1, _TAP_CHUNK_ELEMS // max(1, c))


def scratch_lrn(shape: tuple[int, ...]) -> int:
    """Bytes `lrn` allocates besides its output: the window bounds (int64 per channel)
    and float64 chunks (square, prefix sum, window sums, quotient) of at least one
    pixel's channels."""
    c = shape[-1]
    return 3 * 8 * c + 5 * 8 * _lrn_rows(c) * (c + 1)
