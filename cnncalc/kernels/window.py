"""The helpers every kernel shares: float32 coercion, zero-copy sliding windows (a
convolution is a pooling op with weights), padding, tap ranges and the chunked map that
keeps element-wise temporaries cache-sized."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

F32 = npt.NDArray[np.float32]

# Elements per chunk of the tap-by-tap (depthwise, pooling) loops, sized for L2.
_TAP_CHUNK_ELEMS = 1 << 16
# Bytes of the gathered input and product chunks of the tap-by-tap (transposed) convs.
_TAP_GEMM_BYTES = 1 << 20


def _f32(a: Any) -> F32:
    """Return ``a`` as a float32 ndarray (no copy when it already is one)."""
    return np.asarray(a, dtype=np.float32)


# --------------------------------------------------------------------------------------
# sliding windows and padding
# --------------------------------------------------------------------------------------


Pads = tuple[tuple[int, int], ...]
"""Per spatial axis ``(begin, end)`` padding."""


def windows(
    x: F32,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    out: tuple[int, ...],
) -> F32:
    """Read-only view of the sliding windows of an (already padded) channels-last volume
    ``(N, *spatial, C)`` with ``r = len(kernel)`` spatial axes (1-D, 2-D or 3-D).

    ``v[n, *i, *p, c] = x[n, *(i_a*s_a + p_a*d_a), c]`` with shape
    ``(N, *out, *kernel, C)``; no data is copied.  Shared by convolution (im2col is
    one contiguous copy of it) and pooling (a max/sum over the kernel axes).
    Raises ValueError if the windows would reach past ``x`` (never reads out of bounds).
    """
    r = len(kernel)
    n, *sizes, c = x.shape
    if (len(sizes) != r or min(*out, *kernel, *stride, *dilation) < 1
            or any((o - 1) * s + (k - 1) * d >= size
                   for o, s, k, d, size in zip(out, stride, kernel, dilation, sizes, strict=True))):
        raise ValueError(
            f"windows: {out} windows of {kernel} (stride {stride}, dilation {dilation})"
            f" do not fit in a {'x'.join(map(str, sizes))} input"
        )
    s_n, *s_sp, s_c = x.strides
    view: F32 = as_strided(
        x,
        shape=(n, *out, *kernel, c),
        strides=(s_n, *(a * s for a, s in zip(s_sp, stride, strict=True)),
                 *(a * d for a, d in zip(s_sp, dilation, strict=True)), s_c),
        writeable=False,
    )
    return view


def _pad(x: F32, padding: Pads, value: float) -> F32:
    """Pad the spatial axes of ``(N, *spatial, C)``; returns ``x`` itself when there is
    no padding."""
    if not any(b or e for b, e in padding):
        return x
    n, *sizes, c = x.shape
    out = np.full((n, *(s + b + e for s, (b, e) in zip(sizes, padding, strict=True)), c), value,
                  dtype=np.float32)
    out[(slice(None), *(slice(b, b + s) for s, (b, _) in zip(sizes, padding, strict=True)))] = x
    return out


def pad(x: F32, padding: Pads, value: float = 0.0) -> F32:
    """Constant padding of a channels-last volume ``(N, *spatial, C)``: spatial axis ``a``
    grows by ``padding[a][0]`` cells before and ``padding[a][1]`` after; new cells hold
    ``value`` (always a new array)."""
    x = _f32(x)
    out = _pad(x, padding, value)
    return out.copy() if out is x else out


def _out_size(size: int, k: int, s: int, d: int) -> int:
    """``floor((size - d*(k-1) - 1) / s) + 1`` for an already padded axis."""
    return (size - d * (k - 1) - 1) // s + 1


def _tap_range(offset: int, stride: int, size: int, n_out: int) -> tuple[int, int]:
    """Indices ``i`` in ``[lo, hi)`` (``0 <= i < n_out``) with ``0 <= i*stride + offset < size``.

    >>> _tap_range(-3, 2, 5, 10)   # i*2 - 3 in 0..4: i = 2, 3
    (2, 4)
    """
    lo = max(0, -(offset // stride))
    hi = min(n_out, (size - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


def _sl(axis: int, s: slice) -> tuple[slice, ...]:
    """An index selecting ``s`` along ``axis`` and everything elsewhere (any rank)."""
    return (slice(None),) * axis + (s,)


def _map(x: F32, fn: Callable[[F32], F32], row: int = 1) -> F32:
    """``fn`` applied to chunks of ``x`` (whole runs of ``row`` elements, e.g. channels),
    so its temporaries stay chunk-sized (cache-resident, and a bounded allocation)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty(x.shape, dtype=np.float32)
    src, dst = x.reshape(-1, row), out.reshape(-1, row)
    step = max(1, _TAP_CHUNK_ELEMS // row)
    for i in range(0, src.shape[0], step):
        dst[i : i + step] = fn(src[i : i + step])
    return out
