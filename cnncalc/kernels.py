"""NumPy compute kernels for cnncalc's forward pass.

Conventions (the caller validates arguments; nothing here re-checks them):

* Volumes are NHWC ``(batch, height, width, channels)``; flat vectors are ``(N, F)``.
* Everything is float32 in and float32 out; no kernel mutates its inputs.
* Conv weights are HWIO ``(kh, kw, C // groups, F)``; transposed-conv weights are
  ``(kh, kw, C_in, F // groups)`` (PyTorch's ``(C_in, F // groups, kh, kw)`` moved
  to HW-first); linear weights are ``(in, out)``.
* 2-D paddings of convs and pools are ``(top, bottom, left, right)``.
* Sliding windows of every conv and pool come from the one helper `windows`, a
  zero-copy ``(N, H', W', kh, kw, C)`` view of an already padded input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

F32 = npt.NDArray[np.float32]

__all__ = [
    "adaptive_avg_pool2d",
    "add",
    "avg_pool2d",
    "batch_norm",
    "concat",
    "conv2d",
    "conv_transpose2d",
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
    "prelu",
    "relu",
    "relu6",
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


# --------------------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------------------


def _conv_gemm(
    x: F32,
    padding: tuple[int, int, int, int],
    wmat: F32,
    b: F32 | None,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out: F32,
) -> None:
    """Dense (groups=1) conv: im2col in cache-sized row blocks, one GEMM per block.

    The padded input is never materialised whole: each block of output rows pads just
    the input rows it reads (a small slab that stays in cache), takes its `windows` view
    and copies that into the im2col block.
    """
    n, oh, ow, f = out.shape
    _, h, w, c = x.shape
    kh, kw = kernel
    sh = stride[0]
    top, _, left, _ = padding
    k = kh * kw * c
    padded = any(padding)
    if kh == kw == 1 and stride == (1, 1) and not padded:
        # 1x1 stride-1: the input already is the im2col matrix
        o2 = out.reshape(n * oh * ow, f)
        np.matmul(x.reshape(n * oh * ow, c), wmat, out=o2)
        if b is not None:
            o2 += b
        return
    rows_budget = max(1, _IM2COL_BLOCK_BYTES // (4 * k), _IM2COL_MIN_ROWS)
    per_image = oh * ow
    if per_image <= rows_budget:
        # several whole (small) images per block
        nb = max(1, rows_budget // per_image)
        buf = np.empty((min(nb, n) * per_image, k), dtype=np.float32)
        for n0 in range(0, n, nb):
            n1 = min(n, n0 + nb)
            col = buf[: (n1 - n0) * per_image]
            view = windows(_pad(x[n0:n1], padding, 0.0), kernel, stride, dilation, (oh, ow))
            np.copyto(col.reshape(n1 - n0, oh, ow, kh, kw, c), view)
            o2 = out[n0:n1].reshape(-1, f)
            np.matmul(col, wmat, out=o2)
            if b is not None:
                o2 += b
        return
    # blocks of output rows within one image
    ry = min(oh, max(1, rows_budget // ow))
    keff_h = dilation[0] * (kh - 1) + 1
    buf = np.empty((ry * ow, k), dtype=np.float32)
    slab = np.zeros((1, (ry - 1) * sh + keff_h, w + padding[2] + padding[3], c), dtype=np.float32)
    for i in range(n):
        for y0 in range(0, oh, ry):
            y1 = min(oh, y0 + ry)
            r0 = y0 * sh - top  # first input row read by this block (may be padding)
            nr = (y1 - 1 - y0) * sh + keff_h
            if padded:
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
            o2 = out[i, y0:y1].reshape(-1, f)
            np.matmul(col, wmat, out=o2)
            if b is not None:
                o2 += b


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


def _conv_grouped(
    xp: F32,
    w: F32,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    out: F32,
) -> None:
    """Grouped conv with C/groups > 1: one im2col copy, then a batched GEMM per group."""
    n, oh, ow, f = out.shape
    kh, kw = kernel
    c = xp.shape[3]
    cg = c // groups
    fg = f // groups
    k = kh * kw * cg
    m = n * oh * ow
    view = windows(xp, kernel, stride, dilation, (oh, ow))
    v7 = view.reshape(n, oh, ow, kh, kw, groups, cg).transpose(5, 0, 1, 2, 3, 4, 6)
    col = np.empty((groups, n, oh, ow, kh, kw, cg), dtype=np.float32)
    np.copyto(col, v7)
    wg = np.ascontiguousarray(w.reshape(k, groups, fg).transpose(1, 0, 2))
    og = np.matmul(col.reshape(groups, m, k), wg)
    np.copyto(out.reshape(m, groups, fg), og.transpose(1, 0, 2))


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
    Output ``H' = floor((H + top + bottom - d_h*(kh-1) - 1) / s_h) + 1`` (same for W).
    Depthwise conv is ``groups == C`` (``F = C * multiplier``).
    """
    x = _f32(x)
    w = _f32(w)
    bb = None if b is None else _f32(b)
    kh, kw, cg, f = w.shape
    n, h, wd, _ = x.shape
    top, bottom, left, right = padding
    oh = _out_size(h + top + bottom, kh, stride[0], dilation[0])
    ow = _out_size(wd + left + right, kw, stride[1], dilation[1])
    out = np.empty((n, oh, ow, f), dtype=np.float32)
    if groups == 1:
        wmat = np.ascontiguousarray(w.reshape(kh * kw * cg, f))
        _conv_gemm(x, padding, wmat, bb, (kh, kw), stride, dilation, out)
        return out
    xp = _pad(x, padding, 0.0)
    if cg == 1:
        _conv_depthwise(xp, w, (kh, kw), stride, dilation, out)
    else:
        _conv_grouped(xp, w, (kh, kw), stride, dilation, groups, out)
    if bb is not None:
        out += bb
    return out


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
    Computed as one GEMM (``x @ w`` for all taps) followed by kh*kw strided adds
    (col2im), so no work is spent on inserted zeros.
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
    m = n * h * wd
    # cols[g, m, p, q, fo] = sum_c x[m, g*cg + c] * w[p, q, g*cg + c, fo]
    xg = x.reshape(m, g, cg).transpose(1, 0, 2)
    wg = np.ascontiguousarray(
        w.reshape(kh, kw, g, cg, fg).transpose(2, 3, 0, 1, 4).reshape(g, cg, kh * kw * fg)
    )
    cols = np.matmul(xg, wg).reshape(g, n, h, wd, kh, kw, fg)
    full_h = max((h - 1) * sh + dh * (kh - 1) + 1, ph + oh)
    full_w = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + ow)
    full = np.zeros((n, full_h, full_w, g, fg), dtype=np.float32)
    for p in range(kh):
        for q in range(kw):
            y0 = p * dh
            x0 = q * dw
            tgt = full[:, y0 : y0 + (h - 1) * sh + 1 : sh, x0 : x0 + (wd - 1) * sw + 1 : sw]
            tgt += cols[:, :, :, :, p, q, :].transpose(1, 2, 3, 0, 4)
    out = np.ascontiguousarray(full[:, ph : ph + oh, pw : pw + ow].reshape(n, oh, ow, f))
    if b is not None:
        out += _f32(b)
    return out


# --------------------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------------------


def _pool_input(
    x: F32,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    out_hw: tuple[int, int],
    value: float,
) -> F32:
    """Pad ``x`` for pooling so that all ``out_hw`` windows fit (ceil mode may need
    extra bottom/right cells beyond ``padding``; they hold ``value``)."""
    top, bottom, left, right = padding
    _, h, w, _ = x.shape
    need_h = (out_hw[0] - 1) * stride[0] + kernel[0]
    need_w = (out_hw[1] - 1) * stride[1] + kernel[1]
    bottom = max(bottom, need_h - h - top)
    right = max(right, need_w - w - left)
    return _pad(x, (top, bottom, left, right), value)


def _tap_reduce(view: F32, op: np.ufunc) -> F32:
    """Fold ``op`` over the kh*kw window taps of a `windows` view, in L2-sized chunks."""
    n, oh, ow, kh, kw, c = view.shape
    out = np.empty((n, oh, ow, c), dtype=np.float32)
    ry = max(1, _TAP_CHUNK_ELEMS // max(1, ow * c))
    for i in range(n):
        for y0 in range(0, oh, ry):
            y1 = min(oh, y0 + ry)
            acc = out[i, y0:y1]
            vv = view[i, y0:y1]
            np.copyto(acc, vv[:, :, 0, 0])
            for p in range(kh):
                for q in range(kw):
                    if p or q:
                        op(acc, vv[:, :, p, q], out=acc)
    return out


def max_pool2d(
    x: F32,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    ceil_mode: bool,
    out_hw: tuple[int, int],
) -> F32:
    """Max pooling, PyTorch ``max_pool2d`` semantics (padding cells are -inf).

    ``y[n, i, j, c] = max_{p,q} xp[n, i*s_h + p, j*s_w + q, c]``.  ``out_hw`` comes
    from the caller; in ceil mode the last window may run past the padded edge (those
    cells are -inf as well).  ``ceil_mode`` only documents how ``out_hw`` was derived.
    """
    del ceil_mode  # fully described by out_hw
    x = _f32(x)
    xp = _pool_input(x, kernel, stride, padding, out_hw, -np.inf)
    return _tap_reduce(windows(xp, kernel, stride, (1, 1), out_hw), np.maximum)


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
    out_hw: tuple[int, int],
    count_include_pad: bool = True,
) -> F32:
    """Average pooling, PyTorch ``avg_pool2d`` semantics.

    ``y[n, i, j, c] = sum_{window} xp / D[i, j]`` (padding counts as 0).  The divisor
    ``D = D_h[i] * D_w[j]``, where per axis ``start = i*s - pad_begin`` and
    ``end = min(start + k, in + pad_end)``: ``D = end - start`` with
    ``count_include_pad`` (so ceil-mode overhang past the padded edge is not counted),
    otherwise ``min(end, in) - max(start, 0)`` (real input cells only).
    """
    del ceil_mode  # fully described by out_hw
    x = _f32(x)
    _, h, w, _ = x.shape
    top, bottom, left, right = padding
    xp = _pool_input(x, kernel, stride, padding, out_hw, 0.0)
    out = _tap_reduce(windows(xp, kernel, stride, (1, 1), out_hw), np.add)
    dh = _avg_divisor(h, kernel[0], stride[0], top, bottom, out_hw[0], count_include_pad)
    dw = _avg_divisor(w, kernel[1], stride[1], left, right, out_hw[1], count_include_pad)
    div = np.outer(dh, dw).astype(np.float32)
    out /= div[None, :, :, None]
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


def adaptive_avg_pool2d(x: F32, out_hw: tuple[int, int]) -> F32:
    """PyTorch ``adaptive_avg_pool2d``: cell ``(i, j)`` averages rows
    ``floor(i*H/oh) .. ceil((i+1)*H/oh) - 1`` and the analogous columns.

    Computed separably (rows first, then columns): a rectangle's mean is the mean of
    its row means.
    """
    x = _f32(x)
    n, h, w, c = x.shape
    oh, ow = out_hw
    rows = np.empty((n, oh, w, c), dtype=np.float32)
    for i in range(oh):
        s, e = (i * h) // oh, -((-(i + 1) * h) // oh)
        rows[:, i] = x[:, s:e].mean(axis=1, dtype=np.float64)
    out = np.empty((n, oh, ow, c), dtype=np.float32)
    for j in range(ow):
        s, e = (j * w) // ow, -((-(j + 1) * w) // ow)
        out[:, :, j] = rows[:, :, s:e].mean(axis=2, dtype=np.float64)
    return out


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
    (channels outside ``0..C-1`` count as zero).
    """
    x = _f32(x)
    c = x.shape[-1]
    lo = size // 2
    sq = np.square(x)
    padded = np.zeros((*x.shape[:-1], c + size - 1), dtype=np.float32)
    padded[..., lo : lo + c] = sq
    acc = padded[..., 0:c].copy()
    for t in range(1, size):
        acc += padded[..., t : t + c]
    acc *= np.float32(alpha / size)
    acc += np.float32(k)
    np.power(acc, np.float32(beta), out=acc)
    return np.divide(x, acc)


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


def leaky_relu(x: F32, negative_slope: float = 0.01) -> F32:
    """``y = x if x > 0 else negative_slope * x``."""
    x = _f32(x)
    return np.where(x > 0, x, x * np.float32(negative_slope))


def prelu(x: F32, a: F32 | float) -> F32:
    """``y = x if x > 0 else a * x``; ``a`` is a scalar or one slope per channel (last axis)."""
    x = _f32(x)
    return np.where(x > 0, x, x * _f32(a))


def elu(x: F32, alpha: float = 1.0) -> F32:
    """``y = x if x > 0 else alpha * (exp(x) - 1)``."""
    x = _f32(x)
    neg = np.expm1(np.minimum(x, np.float32(0.0)))
    neg *= np.float32(alpha)
    return np.where(x > 0, x, neg)


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


def sigmoid(x: F32) -> F32:
    """``y = 1 / (1 + exp(-x))``, evaluated without overflow."""
    x = _f32(x)
    e = np.exp(-np.abs(x))
    den = 1.0 + e
    return np.where(x >= 0, 1.0 / den, e / den).astype(np.float32, copy=False)


def silu(x: F32) -> F32:
    """``y = x * sigmoid(x)`` (swish)."""
    x = _f32(x)
    return np.multiply(x, sigmoid(x))


def tanh(x: F32) -> F32:
    """``y = tanh(x)``."""
    return np.tanh(_f32(x))


def hardswish(x: F32) -> F32:
    """``y = x * min(max(x + 3, 0), 6) / 6``."""
    x = _f32(x)
    r: F32 = np.clip(x + np.float32(3.0), np.float32(0.0), np.float32(6.0))
    r *= x
    r /= np.float32(6.0)
    return r


def softmax(x: F32) -> F32:
    """``y_c = exp(x_c - max x) / sum_c' exp(x_c' - max x)`` over the last axis."""
    x = _f32(x)
    e: F32 = np.exp(x - x.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


# --------------------------------------------------------------------------------------
# shape plumbing and dense layers
# --------------------------------------------------------------------------------------


def flatten(x: F32) -> F32:
    """``(N, H, W, C) -> (N, H*W*C)`` in NHWC (row-major) order."""
    x = _f32(x)
    return np.ascontiguousarray(x).reshape(x.shape[0], -1).copy()


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
