"""NumPy compute kernels for cnncalc's forward pass.

Conventions (the caller validates arguments; nothing here re-checks them):

* Volumes are NHWC ``(batch, height, width, channels)``; flat vectors are ``(N, F)``.
* Everything is float32 in and float32 out; no kernel mutates its inputs.
* Conv weights are HWIO ``(kh, kw, C // groups, F)``; transposed-conv weights are
  ``(kh, kw, C_in, F // groups)`` (PyTorch's ``(C_in, F // groups, kh, kw)`` moved
  to HW-first); linear weights are ``(in, out)``.
* 2-D paddings of convs and pools are ``(top, bottom, left, right)``.
* Sliding windows of the im2col convolutions come from the one helper `windows`, a
  zero-copy ``(N, H', W', kh, kw, C)`` view of an already padded input; pools are
  separable (rows, then columns).
* Every kernel derives its output size from its input and its own arguments (kernel,
  stride, padding, dilation, ceil mode), never from cnncalc's shape rules: the
  forward pass checks those rules, so it must not reuse them.
* Memory: besides its output, a kernel allocates at most what its ``scratch_*``
  function reports (element-wise kernels: `scratch_elementwise`), so the forward pass
  can check its budget before running it. Large layers run in chunks instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

F32 = npt.NDArray[np.float32]

__all__ = [
    "ConvPlan",
    "adaptive_avg_pool2d",
    "add",
    "avg_pool2d",
    "batch_norm",
    "concat",
    "conv2d",
    "conv2d_plan",
    "conv_transpose2d",
    "deconv_rows",
    "elu",
    "erf",
    "flatten",
    "gelu",
    "global_avg_pool",
    "global_max_pool",
    "hardswish",
    "identity",
    "leaky_relu",
    "linear",
    "lrn",
    "max_pool2d",
    "pad2d",
    "pool_out_size",
    "prelu",
    "relu",
    "relu6",
    "scratch_adaptive_avg_pool2d",
    "scratch_conv2d",
    "scratch_conv_transpose2d",
    "scratch_elementwise",
    "scratch_lrn",
    "scratch_pool2d",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
    "upsample_nearest",
    "windows",
]

# Bytes of im2col rows built at a time by the GEMM convolution: a block that stays in
# the last-level cache while the GEMM consumes it (one big im2col of VGG's second layer
# would be 115 MB of fresh memory and traffic on top of the arithmetic).
_IM2COL_BLOCK_BYTES = 3 << 20
# ... but at least this many rows per GEMM, so that packing the weights (which OpenBLAS
# does once per call) stays amortised when kh*kw*C is large (VGG's 3x3x512 layers).
_IM2COL_MIN_ROWS = 1024
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


# --------------------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------------------

# Largest im2col block (bytes); beyond it (a huge kh*kw*C) the conv goes tap by tap.
_IM2COL_MAX_BYTES = 32 << 20
# Largest padded input slab the im2col path may build; beyond it (huge padding or
# dilation) the conv goes tap by tap, reading only the real input.
_SLAB_MAX_BYTES = 8 << 20
# Bytes of the gathered input and product chunks of the tap-by-tap paths.
_TAP_GEMM_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ConvPlan:
    """How `conv2d` computes one conv: the path, rows (or images) per block, the bytes
    it allocates besides the output, the Python-level loop steps it takes, and the
    multiply-adds it does (the taps path skips taps that only read padding)."""

    path: str
    rows: int
    scratch: int
    steps: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    macs: int


def conv2d_plan(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
    groups: int,
) -> ConvPlan:
    """Choose `conv2d`'s path for these shapes (the same function decides when it runs).

    ``direct``: a 1x1 stride-1 unpadded dense conv is one GEMM. ``images``/``rows``:
    im2col blocks of whole small images or of output rows (at most
    ``_IM2COL_MAX_BYTES`` plus one output row, with a padded slab of at most
    ``_SLAB_MAX_BYTES``), one GEMM per block and group. ``taps``: otherwise (huge kernels,
    paddings or dilations), one GEMM per tap reading only real input. ``depthwise``:
    C/groups == 1, per-channel multiply-adds on the padded input.
    """
    n, h, w, c = x_shape
    kh, kw, cg, f = w_shape
    fg = f // groups
    top, bottom, left, right = padding
    oh = _out_size(h + top + bottom, kh, stride[0], dilation[0])
    ow = _out_size(w + left + right, kw, stride[1], dilation[1])
    # a stride that fits one window, or a dilation of a 1-tap kernel, changes nothing
    stride = (stride[0] if oh > 1 else 1, stride[1] if ow > 1 else 1)
    dilation = (dilation[0] if kh > 1 else 1, dilation[1] if kw > 1 else 1)
    padded = any(padding)
    wcopy = 4 * kh * kw * cg * fg
    macs = n * oh * ow * kh * kw * cg * f

    def plan(path: str, rows: int, scratch: int, steps: int) -> ConvPlan:
        return ConvPlan(path, rows, scratch, steps, stride, dilation, macs)

    if groups > 1 and cg == 1:
        ry = max(1, _TAP_CHUNK_ELEMS // max(1, ow * f))
        pad_bytes = 4 * n * (h + top + bottom) * (w + left + right) * c if padded else 0
        return plan("depthwise", ry, pad_bytes + 4 * min(ry, oh) * ow * f,
                    n * -(-oh // ry) * kh * kw)
    if groups == 1 and kh == kw == 1 and (oh, ow) == (h, w) and not padded:
        return plan("direct", 0, 0, 1)
    k = kh * kw * cg
    result = 0 if groups == 1 else 1  # per-group GEMM results go through a temporary
    rows = max(1, min(max(_IM2COL_BLOCK_BYTES // (4 * k), _IM2COL_MIN_ROWS),
                      _IM2COL_MAX_BYTES // (4 * k)))
    per_image = oh * ow
    wp = w + left + right
    if per_image <= rows:
        nb = min(n, max(1, rows // per_image))
        pad_bytes = 4 * nb * (h + top + bottom) * wp * c if padded else 0
        if pad_bytes <= _SLAB_MAX_BYTES:
            block = nb * per_image
            return plan("images", nb, pad_bytes + 4 * block * (k + result * fg) + wcopy,
                        groups * -(-n // nb))
    ry = min(oh, max(1, rows // ow))
    slab = 4 * ((ry - 1) * stride[0] + dilation[0] * (kh - 1) + 1) * wp * c if padded else 0
    col = 4 * ry * ow * (k + result * fg)
    if slab <= _SLAB_MAX_BYTES and col <= _IM2COL_MAX_BYTES + 4 * ow * k:
        return plan("rows", ry, slab + col + wcopy, groups * n * -(-oh // ry))
    ry = max(1, _TAP_GEMM_BYTES // (4 * n * max(1, ow) * (cg + fg)))
    taps_h = min(kh, (h - 1 + top) // dilation[0] + 1)
    taps_w = min(kw, (w - 1 + left) // dilation[1] + 1)
    if taps_h + taps_w <= 100_000:  # multiply-adds of the taps that read real input
        reach_h = sum(b - a for a, b in (_tap_range(p * dilation[0] - top, stride[0], h, oh)
                                         for p in range(taps_h)))
        reach_w = sum(b - a for a, b in (_tap_range(q * dilation[1] - left, stride[1], w, ow)
                                         for q in range(taps_w)))
        macs = n * reach_h * reach_w * cg * f
    return plan("taps", ry, 4 * n * min(ry, oh) * ow * (cg + fg),
                groups * (kh + taps_h * (kw + taps_w * -(-oh // ry))))


def scratch_conv2d(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
    groups: int,
) -> int:
    """Bytes `conv2d` allocates besides its output (see `conv2d_plan`)."""
    return conv2d_plan(x_shape, w_shape, stride, padding, dilation, groups).scratch


def _gemm_block(col: F32, wmat: F32, b: F32 | None, target: F32) -> None:
    """``target = col @ wmat + b`` where ``target`` is a 4-D block of the output (a
    contiguous one is written in place; a group's channel slice through a temporary)."""
    f = wmat.shape[1]
    if target.flags.c_contiguous:
        o2 = target.reshape(-1, f)
        np.matmul(col, wmat, out=o2)
        if b is not None:
            o2 += b
        return
    res = np.matmul(col, wmat)
    if b is not None:
        res += b
    target[...] = res.reshape(target.shape)


def _conv_gemm(
    x: F32,
    padding: tuple[int, int, int, int],
    wmat: F32,
    b: F32 | None,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out: F32,
    path: str,
    rows: int,
) -> None:
    """Dense conv of one group: im2col in cache-sized blocks, one GEMM per block.

    ``images``: several whole (small) padded images per block; ``rows``: blocks of
    output rows within one image, each padding just the input rows it reads (a small
    slab that stays in cache). ``x`` and ``out`` may be channel slices (groups).
    """
    n, oh, ow, _ = out.shape
    _, h, w, c = x.shape
    kh, kw = kernel
    sh = stride[0]
    top, _, left, _ = padding
    k = kh * kw * c
    padded = any(padding)
    if path == "images":
        nb = rows
        per_image = oh * ow
        buf = np.empty((min(nb, n) * per_image, k), dtype=np.float32)
        for n0 in range(0, n, nb):
            n1 = min(n, n0 + nb)
            col = buf[: (n1 - n0) * per_image]
            view = windows(_pad(x[n0:n1], padding, 0.0), kernel, stride, dilation, (oh, ow))
            np.copyto(col.reshape(n1 - n0, oh, ow, kh, kw, c), view)
            _gemm_block(col, wmat, b, out[n0:n1])
        return
    ry = rows
    keff_h = dilation[0] * (kh - 1) + 1
    buf = np.empty((ry * ow, k), dtype=np.float32)
    slab = (np.zeros((1, (ry - 1) * sh + keff_h, w + padding[2] + padding[3], c), dtype=np.float32)
            if padded else None)
    for i in range(n):
        for y0 in range(0, oh, ry):
            y1 = min(oh, y0 + ry)
            r0 = y0 * sh - top  # first input row read by this block (may be padding)
            nr = (y1 - 1 - y0) * sh + keff_h
            if slab is not None:
                src = slab[:, :nr]
                lo = min(max(-r0, 0), nr)
                hi = max(min(h - r0, nr), lo)
                src[:, :lo, left : left + w] = 0.0
                src[:, hi:, left : left + w] = 0.0
                src[:, lo:hi, left : left + w] = x[i : i + 1, r0 + lo : r0 + hi]
            else:
                src = x[i : i + 1, r0 : r0 + nr]
            col = buf[: (y1 - y0) * ow]
            view = windows(src, kernel, stride, dilation, (y1 - y0, ow))
            np.copyto(col.reshape(1, y1 - y0, ow, kh, kw, c), view)
            _gemm_block(col, wmat, b, out[i : i + 1, y0:y1])


def _conv_taps(
    x: F32,
    w: F32,
    padding: tuple[int, int, int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out: F32,
    rows: int,
) -> None:
    """Dense conv of one group, tap by tap: ``out += x[rows, cols] @ w[p, q]`` over the
    output rows and columns where tap (p, q) reads real input (padding is never built,
    taps that only read padding cost nothing). ``out`` starts at zero."""
    n, oh, ow, f = out.shape
    _, h, wd, c = x.shape
    kh, kw = w.shape[:2]
    sh, sw = stride
    dh, dw = dilation
    top, _, left, _ = padding
    cols = []
    # only taps that read real input for some output: closed-form bounds, then exact ranges
    for q in range(max(0, -((left - (ow - 1) * sw) // -dw)), min(kw, (wd - 1 + left) // dw + 1)):
        j_lo, j_hi = _tap_range(q * dw - left, sw, wd, ow)
        if j_lo < j_hi:
            cols.append((q, j_lo, j_hi))
    for p in range(max(0, -((top - (oh - 1) * sh) // -dh)), min(kh, (h - 1 + top) // dh + 1)):
        i_lo, i_hi = _tap_range(p * dh - top, sh, h, oh)
        for q, j_lo, j_hi in cols if i_lo < i_hi else ():
            c0 = j_lo * sw + q * dw - left
            cs = slice(c0, c0 + (j_hi - j_lo - 1) * sw + 1, sw)
            for i0 in range(i_lo, i_hi, rows):
                i1 = min(i_hi, i0 + rows)
                r0 = i0 * sh + p * dh - top
                xs = x[:, r0 : r0 + (i1 - i0 - 1) * sh + 1 : sh, cs]
                prod = np.matmul(np.ascontiguousarray(xs).reshape(-1, c), w[p, q])
                out[:, i0:i1, j_lo:j_hi] += prod.reshape(n, i1 - i0, j_hi - j_lo, f)


def _conv_depthwise(
    xp: F32,
    w: F32,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out: F32,
) -> None:
    """groups == C conv: per-channel weights times kh*kw shifted window slices.

    ``out[n, y, x, c*m + j] = sum_{p,q} xp[n, y*s_h + p*d_h, x*s_w + q*d_w, c]
    * w[p, q, 0, c*m + j]``
    """
    n, oh, ow, f = out.shape
    kh, kw = kernel
    c = xp.shape[3]
    mult = f // c
    view = windows(xp, kernel, stride, dilation, (oh, ow))
    wr = w.reshape(kh, kw, c, mult)
    out5 = out.reshape(n, oh, ow, c, mult)
    # chunks of output rows keep the accumulator and the temporary in L2
    ry = max(1, _TAP_CHUNK_ELEMS // max(1, ow * f))
    tmp_full = np.empty((min(ry, oh), ow, c, mult), dtype=np.float32)
    for i in range(n):
        for y0 in range(0, oh, ry):
            y1 = min(oh, y0 + ry)
            acc = out5[i, y0:y1]
            tmp = tmp_full[: y1 - y0]
            vv = view[i, y0:y1, :, :, :, :, None]
            np.multiply(vv[:, :, 0, 0], wr[0, 0], out=acc)
            for p in range(kh):
                for q in range(kw):
                    if p == 0 and q == 0:
                        continue
                    np.multiply(vv[:, :, p, q], wr[p, q], out=tmp)
                    acc += tmp


def conv2d(
    x: F32,
    w: F32,
    b: F32 | None,
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
    groups: int,
) -> F32:
    """2-D convolution (cross-correlation, like every framework), NHWC in and out.

    ``y[n, i, j, f] = b[f] + sum_{p,q,c} xp[n, i*s_h + p*d_h, j*s_w + q*d_w, g*C/G + c]
    * w[p, q, c, f]`` with ``g = f // (F/G)`` and ``xp`` = ``x`` zero-padded by
    ``padding = (top, bottom, left, right)``; ``w`` is HWIO ``(kh, kw, C/G, F)``.
    Output ``H' = floor((H + top + bottom - d_h*(kh-1) - 1) / s_h) + 1`` (same for W),
    derived here from the input alone.  Depthwise conv is ``groups == C``
    (``F = C * multiplier``).  Besides the output, it allocates exactly what
    `scratch_conv2d` reports.
    """
    x = _f32(x)
    w = _f32(w)
    bb = None if b is None else _f32(b)
    kh, kw, cg, f = w.shape
    n, h, wd, _ = x.shape
    top, bottom, left, right = padding
    oh = _out_size(h + top + bottom, kh, stride[0], dilation[0])
    ow = _out_size(wd + left + right, kw, stride[1], dilation[1])
    plan = conv2d_plan(x.shape, w.shape, stride, padding, dilation, groups)
    path, rows, stride, dilation = plan.path, plan.rows, plan.stride, plan.dilation
    fg = f // groups
    if path == "depthwise":
        out = np.empty((n, oh, ow, f), dtype=np.float32)
        _conv_depthwise(_pad(x, padding, 0.0), w, (kh, kw), stride, dilation, out)
        if bb is not None:
            out += bb
        return out
    if path == "direct":
        out = np.empty((n, oh, ow, f), dtype=np.float32)
        o2 = out.reshape(n * oh * ow, f)
        np.matmul(x.reshape(n * oh * ow, cg), w.reshape(cg, f), out=o2)
        if bb is not None:
            o2 += bb
        return out
    if path == "taps":
        out = np.zeros((n, oh, ow, f), dtype=np.float32)
        for g in range(groups):
            _conv_taps(x[..., g * cg : (g + 1) * cg], w[..., g * fg : (g + 1) * fg], padding,
                       stride, dilation, out[..., g * fg : (g + 1) * fg], rows)
        if bb is not None:
            out += bb
        return out
    out = np.empty((n, oh, ow, f), dtype=np.float32)
    for g in range(groups):
        wmat = np.ascontiguousarray(w[..., g * fg : (g + 1) * fg].reshape(kh * kw * cg, fg))
        _conv_gemm(x[..., g * cg : (g + 1) * cg], padding, wmat,
                   None if bb is None else bb[g * fg : (g + 1) * fg], (kh, kw), stride, dilation,
                   out[..., g * fg : (g + 1) * fg], path, rows)
    return out


def scratch_conv_transpose2d(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> int:
    """Bytes `conv_transpose2d` allocates besides its output: one gathered input chunk and
    one product chunk (at least one input row)."""
    n, _, wd, _ = x_shape
    cin, fg = w_shape[2:]
    return 4 * n * deconv_rows(x_shape, w_shape) * wd * (cin + fg)


def deconv_rows(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> int:
    n, _, wd, _ = x_shape
    _, _, cin, fg = w_shape
    return max(1, _TAP_GEMM_BYTES // (4 * n * wd * (cin + fg)))


def conv_transpose2d(
    x: F32,
    w: F32,
    b: F32 | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    output_padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> F32:
    """Transposed convolution with PyTorch ``ConvTranspose2d`` semantics, NHWC.

    Every input pixel scatters ``x[n, i, j, :] @ w[p, q]`` to output row
    ``i*s_h - pad_h + p*d_h`` and column ``j*s_w - pad_w + q*d_w`` (per group; ``w``
    is ``(kh, kw, C_in, F/G)``), i.e. ``H' = (H-1)*s - 2*pad + d*(k-1) + output_padding + 1``.
    Computed tap by tap: one GEMM per tap and chunk of input rows, added straight into
    the strided output rows it lands on (only where it lands inside the output), so no
    work is spent on inserted zeros and nothing larger than a chunk is allocated.
    """
    x = _f32(x)
    w = _f32(w)
    n, h, wd, cin = x.shape
    kh, kw, _, fg = w.shape
    g = groups
    cg = cin // g
    f = fg * g
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + output_padding[0] + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + output_padding[1] + 1
    out = np.zeros((n, oh, ow, f), dtype=np.float32)
    rows = deconv_rows(x.shape, w.shape)
    cols = []
    for q in range(kw):
        j_lo, j_hi = _tap_range(q * dw - pw, sw, ow, wd)
        if j_lo < j_hi:
            cols.append((q, j_lo, j_hi))
    for p in range(kh):
        i_lo, i_hi = _tap_range(p * dh - ph, sh, oh, h)
        for q, j_lo, j_hi in cols if i_lo < i_hi else ():
            x0 = j_lo * sw + q * dw - pw
            xs = slice(x0, x0 + (j_hi - j_lo - 1) * sw + 1, sw)
            for i0 in range(i_lo, i_hi, rows):
                i1 = min(i_hi, i0 + rows)
                y0 = i0 * sh + p * dh - ph
                ys = slice(y0, y0 + (i1 - i0 - 1) * sh + 1, sh)
                for gi in range(g):
                    a = np.ascontiguousarray(x[:, i0:i1, j_lo:j_hi, gi * cg : (gi + 1) * cg])
                    prod = np.matmul(a.reshape(-1, cg), w[p, q, gi * cg : (gi + 1) * cg])
                    out[:, ys, xs, gi * fg : (gi + 1) * fg] += prod.reshape(
                        n, i1 - i0, j_hi - j_lo, fg)
    if b is not None:
        out += _f32(b)
    return out


# --------------------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------


def identity(x: F32) -> F32:
    """``y = x`` (a float32 copy)."""
    return np.array(x, dtype=np.float32)


def relu(x: F32) -> F32:
    """``y = max(x, 0)``."""
    return np.maximum(_f32(x), np.float32(0.0))


def relu6(x: F32) -> F32:
    """``y = min(max(x, 0), 6)``."""
    return np.clip(_f32(x), np.float32(0.0), np.float32(6.0))


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


# --------------------------------------------------------------------------------------
# shape plumbing and dense layers
# --------------------------------------------------------------------------------------


def flatten(x: F32) -> F32:
    """``(N, H, W, C) -> (N, H*W*C)`` in NHWC (row-major) order (a copy)."""
    x = _f32(x)
    return np.array(x, dtype=np.float32, order="C").reshape(x.shape[0], -1)


def linear(x: F32, w: F32, b: F32 | None) -> F32:
    """Fully connected layer ``y = x @ w + b`` with ``w`` ``(in, out)``; a volume is
    flattened (NHWC order) first."""
    x = _f32(x)
    x2 = x.reshape(x.shape[0], -1)
    out: F32 = np.matmul(x2, _f32(w))
    if b is not None:
        out += _f32(b)
    return out


def upsample_nearest(x: F32, scale: tuple[int, int]) -> F32:
    """Nearest-neighbour upsampling by integer factors: ``y[n, i, j] = x[n, i//s_h, j//s_w]``."""
    x = _f32(x)
    n, h, w, c = x.shape
    sh, sw = scale
    big = np.broadcast_to(x[:, :, None, :, None, :], (n, h, sh, w, sw, c))
    return big.reshape(n, h * sh, w * sw, c)


def add(a: F32, b: F32) -> F32:
    """Element-wise sum (residual connection): ``y = a + b``."""
    return np.add(_f32(a), _f32(b))


def concat(xs: list[F32] | tuple[F32, ...]) -> F32:
    """Concatenate along the channel (last) axis."""
    return np.concatenate([_f32(v) for v in xs], axis=-1)
