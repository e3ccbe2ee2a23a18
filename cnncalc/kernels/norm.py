"""Normalisation: batch norm (inference), local response normalisation, and the
per-sample norms (layer, group and instance norm), for volumes of any rank
``(N, *spatial, C)`` and flat vectors ``(N, F)``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

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


# The per-sample norms work in float64 on chunks of whole channel rows (at least one
# position's C values), so their temporaries are chunk-sized: `scratch_norm` bytes.


def _norm_rows(c: int) -> int:
    return max(1, _TAP_CHUNK_ELEMS // max(1, c))


def scratch_norm(shape: tuple[int, ...]) -> int:
    """Bytes `layer_norm`, `group_norm` and `instance_norm` allocate besides their
    output: four float64 chunks of whole channel rows, and per-channel statistics."""
    c = shape[-1] if shape else 1
    return 4 * 8 * _norm_rows(c) * c + 10 * 8 * c


def _affine(y: npt.NDArray[np.float64], gamma: F32 | None, beta: F32 | None) -> None:
    if gamma is not None:
        y *= np.asarray(gamma, dtype=np.float64)
    if beta is not None:
        y += np.asarray(beta, dtype=np.float64)


def layer_norm(x: F32, gamma: F32 | None, beta: F32 | None, eps: float) -> F32:
    """Layer norm over the last axis (the C channels at each position of a volume of any
    rank, or the F features of a flat vector), PyTorch's ``F.layer_norm`` on channels-last:
    ``y = (x - mean) / sqrt(var + eps) * gamma + beta`` (biased variance)."""
    x = _f32(x)
    c = x.shape[-1]
    src = x.reshape(-1, c)
    out = np.empty(src.shape, dtype=np.float32)
    step = _norm_rows(c)
    for r0 in range(0, src.shape[0], step):
        part = src[r0 : r0 + step].astype(np.float64)
        part -= part.mean(axis=1, keepdims=True)
        var = np.square(part).mean(axis=1, keepdims=True)
        part /= np.sqrt(var + eps)
        _affine(part, gamma, beta)
        out[r0 : r0 + step] = part
    return out.reshape(x.shape)


def group_norm(x: F32, groups: int, gamma: F32 | None, beta: F32 | None, eps: float) -> F32:
    """Group norm (PyTorch's ``F.group_norm`` on channels-last): the C channels split
    into ``groups`` runs of C/groups; each sample's group is normalised over its channels
    and every position (any rank; a flat vector has one position), then the per-channel
    affine. Two float64 passes over chunks of whole positions give per-channel sums (then
    per group) of x and of (x − group mean)², a third writes the output."""
    x = _f32(x)
    n, c = x.shape[0], x.shape[-1]
    k = c // groups
    src = x.reshape(n, -1, c)
    positions = src.shape[1]
    out = np.empty(src.shape, dtype=np.float32)
    step = _norm_rows(c)
    count = positions * k

    def per_group(per_channel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Per-channel totals → each channel's group total, repeated over its channels."""
        return np.repeat(per_channel.reshape(groups, k).sum(axis=1), k)

    for i in range(n):
        total = np.zeros(c, dtype=np.float64)
        for p0 in range(0, positions, step):
            total += src[i, p0 : p0 + step].sum(axis=0, dtype=np.float64)
        mean = per_group(total) / count
        sq = np.zeros(c, dtype=np.float64)
        for p0 in range(0, positions, step):
            part = src[i, p0 : p0 + step].astype(np.float64)
            part -= mean
            sq += np.square(part, out=part).sum(axis=0)
        scale = 1.0 / np.sqrt(per_group(sq) / count + eps)
        if gamma is not None:
            scale *= np.asarray(gamma, dtype=np.float64)
        shift = -mean * scale
        if beta is not None:
            shift += np.asarray(beta, dtype=np.float64)
        for p0 in range(0, positions, step):
            part = src[i, p0 : p0 + step].astype(np.float64)
            part *= scale
            part += shift
            out[i, p0 : p0 + step] = part
    return out.reshape(x.shape)


def instance_norm(x: F32, gamma: F32 | None, beta: F32 | None, eps: float) -> F32:
    """Instance norm (PyTorch's ``F.instance_norm`` without running statistics): each
    sample's channel normalised over its positions — group norm with one channel per group."""
    return group_norm(x, _f32(x).shape[-1], gamma, beta, eps)


def layer_scale(x: F32, gamma: F32) -> F32:
    """``y = x * gamma`` with one ``gamma`` per channel (the last axis), any rank."""
    return np.multiply(_f32(x), _f32(gamma))
