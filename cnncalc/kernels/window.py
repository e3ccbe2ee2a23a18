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


def _f32(a: Any) -> F32:
    """Return ``a`` as a float32 ndarray (no copy when it already is one)."""
    return np.asarray(a, dtype=np.float32)


# --------------------------------------------------------------------------------------
# sliding windows and padding
# --------------------------------------------------------------------------------------


def windows(
    x: F32,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> F32:
    """Read-only view of the sliding windows of an (already padded) NHWC volume.

    ``v[n, i, j, p, q, c] = x[n, i*s_h + p*d_h, j*s_w + q*d_w, c]`` with shape
    ``(N, H', W', kh, kw, C)``; no data is copied.  Shared by convolution (im2col is
    one contiguous copy of it) and pooling (a max/sum over axes 3 and 4).
    Raises ValueError if the windows would reach past ``x`` (never reads out of bounds).
    """
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    oh, ow = out_hw
    n, h, w, c = x.shape
    if min(oh, ow, kh, kw, sh, sw, dh, dw) < 1 or (
        (oh - 1) * sh + (kh - 1) * dh >= h or (ow - 1) * sw + (kw - 1) * dw >= w
    ):
        raise ValueError(
            f"windows: {out_hw} windows of {kernel} (stride {stride}, dilation {dilation})"
            f" do not fit in a {h}x{w} input"
        )
    s_n, s_h, s_w, s_c = x.strides
    view: F32 = as_strided(
        x,
        shape=(n, oh, ow, kh, kw, c),
        strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c),
        writeable=False,
    )
    return view


def _pad(x: F32, padding: tuple[int, int, int, int], value: float) -> F32:
    """Pad H and W of an NHWC volume; returns ``x`` itself when there is no padding."""
    top, bottom, left, right = padding
    if top == bottom == left == right == 0:
        return x
    n, h, w, c = x.shape
    out = np.full((n, h + top + bottom, w + left + right, c), value, dtype=np.float32)
    out[:, top : top + h, left : left + w, :] = x
    return out


def pad2d(x: F32, padding: tuple[int, int, int, int], value: float = 0.0) -> F32:
    """Constant padding of an NHWC volume: ``(H + top + bottom) x (W + left + right) x C``.

    ``padding`` is ``(top, bottom, left, right)``; new cells hold ``value``.
    """
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
    """An NHWC index selecting ``s`` along ``axis`` and everything elsewhere."""
    idx = [slice(None)] * 4
    idx[axis] = s
    return tuple(idx)


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
