"""Pooling: separable max/average pools, global pools and adaptive average pooling, for
channels-last volumes with 1, 2 or 3 spatial axes."""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np
import numpy.typing as npt

from .window import _TAP_CHUNK_ELEMS, F32, Pads, _f32, _sl


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
    """Max (``kind="max"``) or sum over windows of ``k`` along spatial ``axis`` (1..r) of a
    channels-last array: output ``i`` reduces padded positions ``i*s .. i*s + k - 1``.

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


def _pool_passes(sizes: list[int], outs: list[int], kernel: tuple[int, ...],
                 stride: tuple[int, ...]) -> list[tuple[int, int]]:
    """Per separable pass ``a`` (one spatial axis at a time, first axis first): the cells
    (without batch and channels) of its padded working array and of its input."""
    passes = []
    for a in range(len(sizes)):
        shape = [*outs[:a], *sizes[a:]]
        held = prod(shape)
        shape[a] = max(sizes[a], (outs[a] - 1) * stride[a] + kernel[a])
        passes.append((prod(shape), held if a else 0))
    return passes


def scratch_pool(x_shape: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                 padding: Pads, ceil_mode: bool) -> int:
    """Bytes `max_pool`/`avg_pool` allocate besides the output: per axis pass a padded
    copy and up to 4 arrays its size (the largest of the passes, plus the previous
    pass's result, held during the next)."""
    n, *sizes, c = x_shape
    outs = [pool_out_size(s, k, st, b, e, ceil_mode)
            for s, k, st, (b, e) in zip(sizes, kernel, stride, padding, strict=True)]
    passes = _pool_passes(sizes, outs, kernel, stride)
    return 4 * n * c * (5 * max(w for w, _ in passes) + max(h for _, h in passes))


def _pool_geometry(x: F32, kernel: tuple[int, ...], stride: tuple[int, ...],
                   padding: Pads, ceil_mode: bool) -> tuple[list[int], list[int]]:
    _, *sizes, _ = x.shape
    outs = [pool_out_size(s, k, st, b, e, ceil_mode)
            for s, k, st, (b, e) in zip(sizes, kernel, stride, padding, strict=True)]
    if min(outs) < 1:
        raise ValueError(f"pool: a {kernel} window does not fit in a "
                         f"{'x'.join(map(str, sizes))} input padded by {padding}")
    # one window per axis: its stride never matters (and a huge one must not overflow)
    return outs, [st if o > 1 else 1 for st, o in zip(stride, outs, strict=True)]


def _separable(x: F32, kernel: tuple[int, ...], stride: list[int], padding: Pads,
               outs: list[int], kind: str) -> F32:
    """The pool's max or sum over windows, one spatial axis after another."""
    for a, (k, st, pads, o) in enumerate(zip(kernel, stride, padding, outs, strict=True)):
        x = _pool_axis(x, a + 1, k, st, pads, o, kind)
    return np.ascontiguousarray(x)


def max_pool(
    x: F32,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: Pads,
    ceil_mode: bool,
) -> F32:
    """Max pooling of ``(N, *spatial, C)`` (1-3 spatial axes), PyTorch
    ``max_pool1d/2d/3d`` semantics (padding cells are -inf; ``padding`` is one
    ``(begin, end)`` pair per axis).

    ``y[n, *i, c] = max_p xp[n, *(i*s + p), c]``; the output size comes from
    `pool_out_size` (the input, kernel, stride, padding and ``ceil_mode``); in ceil
    mode the last window may run past the padded edge (those cells are -inf as well).
    Separable: one spatial axis after another, first axis first.
    """
    x = _f32(x)
    outs, st = _pool_geometry(x, kernel, stride, padding, ceil_mode)
    return _separable(x, kernel, st, padding, outs, "max")


def _avg_divisor(
    size: int, k: int, s: int, pad_begin: int, pad_end: int, out: int, include_pad: bool
) -> npt.NDArray[np.float64]:
    """Per-output-index window sizes along one axis, as PyTorch's avg_pool counts them."""
    start = np.arange(out) * s - pad_begin
    end = np.minimum(start + k, size + pad_end)
    if include_pad:
        return (end - start).astype(np.float64)
    return (np.minimum(end, size) - np.maximum(start, 0)).astype(np.float64)


def avg_pool(
    x: F32,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: Pads,
    ceil_mode: bool,
    count_include_pad: bool = True,
) -> F32:
    """Average pooling of ``(N, *spatial, C)``, PyTorch ``avg_pool1d/2d/3d`` semantics.

    ``y[n, *i, c] = sum_{window} xp / D[i]`` (padding counts as 0).  The divisor is the
    product over axes of ``D_a[i_a]``, where per axis ``start = i*s - pad_begin`` and
    ``end = min(start + k, in + pad_end)``: ``D = end - start`` with
    ``count_include_pad`` (so ceil-mode overhang past the padded edge is not counted),
    otherwise ``min(end, in) - max(start, 0)`` (real input cells only).  Output size as
    `max_pool`.
    """
    x = _f32(x)
    outs, st = _pool_geometry(x, kernel, stride, padding, ceil_mode)
    _, *sizes, _ = x.shape
    out = _separable(x, kernel, st, padding, outs, "sum")
    r = len(sizes)
    for a, (size, k, s, (b, e), o) in enumerate(zip(sizes, kernel, st, padding, outs, strict=True)):
        div = _avg_divisor(size, k, s, b, e, o, count_include_pad).astype(np.float32)
        out /= div.reshape([-1 if d == a + 1 else 1 for d in range(r + 2)])
    return out


def global_avg_pool(x: F32) -> F32:
    """``y[n, 0.., c] = mean over the spatial axes of x[n, .., c]`` -> ``(N, 1, ..., 1, C)``
    (the rank is kept)."""
    x = _f32(x)
    mean: npt.NDArray[np.float64] = x.mean(axis=tuple(range(1, x.ndim - 1)), keepdims=True,
                                           dtype=np.float64)
    return mean.astype(np.float32)


def global_max_pool(x: F32) -> F32:
    """``y[n, 0.., c] = max over the spatial axes of x[n, .., c]`` -> ``(N, 1, ..., 1, C)``."""
    x = _f32(x)
    return np.asarray(x.max(axis=tuple(range(1, x.ndim - 1)), keepdims=True), dtype=np.float32)


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
        div = (end - start).astype(np.float64).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
        seg /= div
        out[_sl(axis, slice(i0, i0 + len(i)))] = seg
    return out


def scratch_adaptive_avg_pool(x_shape: tuple[int, ...], out: tuple[int, ...]) -> int:
    """Bytes `adaptive_avg_pool` allocates besides its output: per axis pass, a float64
    prefix sum of its input, its input (the previous pass's result) and its result (when
    not the output), and chunk temporaries (at least one index)."""
    n, *sizes, c = x_shape
    r = len(sizes)
    worst = 0
    for a in range(r):
        shape = [*out[:a], *sizes[a:]]
        held = prod(shape) if a else 0
        result = prod([*out[: a + 1], *sizes[a + 1 :]]) if a < r - 1 else 0
        per_index = prod(shape) // max(1, shape[a])
        chunk = 3 * 8 * max(_TAP_CHUNK_ELEMS, n * per_index * c)
        pre = 8 * n * c * prod(shape) // max(1, shape[a]) * (shape[a] + 1)
        worst = max(worst, pre + 4 * n * c * (held + result) + chunk)
    return worst


def adaptive_avg_pool(x: F32, out: tuple[int, ...]) -> F32:
    """PyTorch ``adaptive_avg_pool1d/2d/3d`` of ``(N, *spatial, C)``: along each axis,
    output ``i`` averages input ``floor(i*L/o) .. ceil((i+1)*L/o) - 1``.

    Computed separably (one axis after another): a box's mean is the mean of its row
    means. Work is linear in the input and output sizes (prefix sums).
    """
    x = _f32(x)
    for a, o in enumerate(out):
        x = _adaptive_axis(x, a + 1, o)
    return x
