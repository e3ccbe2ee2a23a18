"""Pooling: separable max/average pools, global pools and adaptive average pooling."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .window import _TAP_CHUNK_ELEMS, F32, _f32, _sl


def pool_out_size(size: int, k: int, s: int, pad_begin: int, pad_end: int, ceil_mode: bool) -> int:
    """Windows a pool produces along one axis, counted from the input: window ``i`` starts
    at padded index ``i*s``; it must end inside the padded axis (floor mode), or, in
    ceil mode, start before ``L - k + s`` and inside the input or its left padding
    (PyTorch's rule).

    >>> pool_out_size(11, 2, 2, 0, 0, False), pool_out_size(11, 2, 2, 0, 0, True)
    (5, 6)
    >>> pool_out_size(5, 2, 2, 1, 1, True)   # a 4th window would start in the right padding
    3
    """
    length = size + pad_begin + pad_end
    if length < k:
        return 0
    if not ceil_mode:
        return (length - k) // s + 1
    limit = min(length - k + s, size + pad_begin)  # starts i*s < limit
    return -(-limit // s)


def _pool_axis(a: F32, axis: int, k: int, s: int, pad: tuple[int, int], n_out: int,
               kind: str) -> F32:
    """Max (``kind="max"``) or sum over windows of ``k`` along ``axis`` (1 or 2) of an
    NHWC array: output ``i`` reduces padded positions ``i*s .. i*s + k - 1``.

    Cost independent of ``k``'s size beyond a logarithm: small windows fold tap by tap;
    large max windows use doubling (``m_2w[i] = max(m_w[i], m_w[i+w])``, log2 k passes);
    large sums use a float64 prefix sum. Padding (and ceil-mode overhang) holds -inf for
    max, 0 for sums. Allocates at most 4 arrays the size of the padded ``a``.
    """
    length = a.shape[axis]
    need = (n_out - 1) * s + k
    lo = pad[0]
    hi = need - length - lo  # may exceed pad[1] (ceil mode) or be negative (unread tail)
    if lo or hi > 0:
        shape = list(a.shape)
        shape[axis] = need
        padded = np.full(shape, -np.inf if kind == "max" else 0.0, dtype=np.float32)
        take = min(length, need - lo)
        padded[_sl(axis, slice(lo, lo + take))] = a[_sl(axis, slice(0, take))]
        a = padded
    else:
        a = a[_sl(axis, slice(0, need))]
    span = (n_out - 1) * s + 1

    def at(arr: Any, start: int) -> F32:
        view: F32 = arr[_sl(axis, slice(start, start + span, s))]
        return view

    op = np.maximum if kind == "max" else np.add
    if k <= 4:
        res: F32 = at(a, 0).copy()
        for t in range(1, k):
            op(res, at(a, t), out=res)
        return res
    if kind == "max":
        m, width = a, 1
        while 2 * width <= k:
            m = np.maximum(m[_sl(axis, slice(0, -width))], m[_sl(axis, slice(width, None))])
            width *= 2
        return np.maximum(at(m, 0), at(m, k - width))
    cs = _prefix_sum(a, axis)
    return np.subtract(at(cs, k), at(cs, 0)).astype(np.float32)


def scratch_pool2d(x_shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int, int, int], ceil_mode: bool) -> int:
    """Bytes `max_pool2d`/`avg_pool2d` allocate besides the output: per axis pass a padded
    copy and up to 4 arrays its size (the largest of the two passes, plus the first
    pass's result, held during the second)."""
    n, h, w, c = x_shape
    top, bottom, left, right = padding
    oh = pool_out_size(h, kernel[0], stride[0], top, bottom, ceil_mode)
    ow = pool_out_size(w, kernel[1], stride[1], left, right, ceil_mode)
    a1 = n * max(h, (oh - 1) * stride[0] + kernel[0]) * w * c
    a2 = n * oh * max(w, (ow - 1) * stride[1] + kernel[1]) * c
    return 4 * (5 * max(a1, a2) + n * oh * w * c)


def _pool_geometry(x: F32, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int, int, int], ceil_mode: bool
                   ) -> tuple[tuple[int, int], tuple[int, int]]:
    _, h, w, _ = x.shape
    top, bottom, left, right = padding
    oh = pool_out_size(h, kernel[0], stride[0], top, bottom, ceil_mode)
    ow = pool_out_size(w, kernel[1], stride[1], left, right, ceil_mode)
    if min(oh, ow) < 1:
        raise ValueError(f"pool: a {kernel} window does not fit in a {h}x{w} input padded by "
                         f"{padding}")
    # one window per axis: its stride never matters (and a huge one must not overflow)
    return (oh, ow), (stride[0] if oh > 1 else 1, stride[1] if ow > 1 else 1)


def max_pool2d(
    x: F32,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    ceil_mode: bool,
) -> F32:
    """Max pooling, PyTorch ``max_pool2d`` semantics (padding cells are -inf).

    ``y[n, i, j, c] = max_{p,q} xp[n, i*s_h + p, j*s_w + q, c]``; the output size comes
    from `pool_out_size` (the input, kernel, stride, padding and ``ceil_mode``); in ceil
    mode the last window may run past the padded edge (those cells are -inf as well).
    Separable: rows first, then columns.
    """
    x = _f32(x)
    (oh, ow), stride = _pool_geometry(x, kernel, stride, padding, ceil_mode)
    top, bottom, left, right = padding
    rows = _pool_axis(x, 1, kernel[0], stride[0], (top, bottom), oh, "max")
    return np.ascontiguousarray(_pool_axis(rows, 2, kernel[1], stride[1], (left, right), ow, "max"))


def _avg_divisor(
    size: int, k: int, s: int, pad_begin: int, pad_end: int, out: int, include_pad: bool
) -> npt.NDArray[np.float64]:
    """Per-output-index window sizes along one axis, as PyTorch's avg_pool2d counts them."""
    start = np.arange(out) * s - pad_begin
    end = np.minimum(start + k, size + pad_end)
    if include_pad:
        return (end - start).astype(np.float64)
    return (np.minimum(end, size) - np.maximum(start, 0)).astype(np.float64)


def avg_pool2d(
    x: F32,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    ceil_mode: bool,
    count_include_pad: bool = True,
) -> F32:
    """Average pooling, PyTorch ``avg_pool2d`` semantics.

    ``y[n, i, j, c] = sum_{window} xp / D[i, j]`` (padding counts as 0).  The divisor
    ``D = D_h[i] * D_w[j]``, where per axis ``start = i*s - pad_begin`` and
    ``end = min(start + k, in + pad_end)``: ``D = end - start`` with
    ``count_include_pad`` (so ceil-mode overhang past the padded edge is not counted),
    otherwise ``min(end, in) - max(start, 0)`` (real input cells only).  Output size as
    `max_pool2d`.
    """
    x = _f32(x)
    (oh, ow), stride = _pool_geometry(x, kernel, stride, padding, ceil_mode)
    _, h, w, _ = x.shape
    top, bottom, left, right = padding
    rows = _pool_axis(x, 1, kernel[0], stride[0], (top, bottom), oh, "sum")
    out = np.ascontiguousarray(_pool_axis(rows, 2, kernel[1], stride[1], (left, right), ow, "sum"))
    del rows
    dh = _avg_divisor(h, kernel[0], stride[0], top, bottom, oh, count_include_pad)
    dw = _avg_divisor(w, kernel[1], stride[1], left, right, ow, count_include_pad)
    out /= dh.astype(np.float32)[None, :, None, None]
    out /= dw.astype(np.float32)[None, None, :, None]
    return out


def global_avg_pool(x: F32) -> F32:
    """``y[n, 0, 0, c] = mean_{i,j} x[n, i, j, c]`` -> ``(N, 1, 1, C)``."""
    x = _f32(x)
    mean: npt.NDArray[np.float64] = x.mean(axis=(1, 2), keepdims=True, dtype=np.float64)
    return mean.astype(np.float32)


def global_max_pool(x: F32) -> F32:
    """``y[n, 0, 0, c] = max_{i,j} x[n, i, j, c]`` -> ``(N, 1, 1, C)``."""
    x = _f32(x)
    return np.asarray(x.max(axis=(1, 2), keepdims=True), dtype=np.float32)


def _prefix_sum(a: F32, axis: int) -> npt.NDArray[np.float64]:
    """float64 ``cs`` with ``cs[i] = sum(a[:i])`` along ``axis`` (one more entry than ``a``);
    cast first, then summed in place (a casting cumsum would allocate a second copy)."""
    shape = list(a.shape)
    shape[axis] += 1
    cs = np.empty(shape, dtype=np.float64)
    cs[_sl(axis, slice(0, 1))] = 0.0
    body = cs[_sl(axis, slice(1, None))]
    body[...] = a
    np.cumsum(body, axis=axis, out=body)
    return cs


def _adaptive_axis(a: F32, axis: int, n_out: int) -> F32:
    """Means over PyTorch's adaptive windows along ``axis``: output ``i`` averages
    ``floor(i*L/n_out) .. ceil((i+1)*L/n_out) - 1``, from a float64 prefix sum, in chunks."""
    length = a.shape[axis]
    cs = _prefix_sum(a, axis)
    shape = list(a.shape)
    shape[axis] = n_out
    out = np.empty(shape, dtype=np.float32)
    per_index = max(1, a.size // max(1, length))
    step = max(1, _TAP_CHUNK_ELEMS // per_index)
    for i0 in range(0, n_out, step):
        i = np.arange(i0, min(n_out, i0 + step))
        start, end = (i * length) // n_out, -((-(i + 1) * length) // n_out)
        seg = np.take(cs, end, axis=axis) - np.take(cs, start, axis=axis)
        div = (end - start).astype(np.float64).reshape([-1 if d == axis else 1 for d in range(4)])
        seg /= div
        out[_sl(axis, slice(i0, i0 + len(i)))] = seg
    return out


def scratch_adaptive_avg_pool2d(x_shape: tuple[int, ...], out_hw: tuple[int, int]) -> int:
    """Bytes `adaptive_avg_pool2d` allocates besides its output: a float64 prefix sum per
    axis pass, the row pass's result, and chunk temporaries (at least one index)."""
    n, h, w, c = x_shape
    oh = out_hw[0]
    rows = 4 * n * oh * w * c
    chunk = 3 * 8 * max(_TAP_CHUNK_ELEMS, n * w * c, n * oh * c)
    return max(8 * n * (h + 1) * w * c, 8 * n * oh * (w + 1) * c) + rows + chunk


def adaptive_avg_pool2d(x: F32, out_hw: tuple[int, int]) -> F32:
    """PyTorch ``adaptive_avg_pool2d``: cell ``(i, j)`` averages rows
    ``floor(i*H/oh) .. ceil((i+1)*H/oh) - 1`` and the analogous columns.

    Computed separably (rows first, then columns): a rectangle's mean is the mean of
    its row means. Work is linear in the input and output sizes (prefix sums).
    """
    x = _f32(x)
    return _adaptive_axis(_adaptive_axis(x, 1, out_hw[0]), 2, out_hw[1])
