"""Convolution (im2col GEMM, tap-by-tap, depthwise), transposed convolution and the dense layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .window import _TAP_CHUNK_ELEMS, F32, _f32, _out_size, _pad, _tap_range, windows

# Bytes of im2col rows built at a time by the GEMM convolution: a block that stays in
# the last-level cache while the GEMM consumes it (one big im2col of VGG's second layer
# would be 115 MB of fresh memory and traffic on top of the arithmetic).
_IM2COL_BLOCK_BYTES = 3 << 20
# ... but at least this many rows per GEMM, so that packing the weights (which OpenBLAS
# does once per call) stays amortised when kh*kw*C is large (VGG's 3x3x512 layers).
_IM2COL_MIN_ROWS = 1024


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


def linear(x: F32, w: F32, b: F32 | None) -> F32:
    """Fully connected layer ``y = x @ w + b`` with ``w`` ``(in, out)``; a volume is
    flattened (NHWC order) first."""
    x = _f32(x)
    x2 = x.reshape(x.shape[0], -1)
    out: F32 = np.matmul(x2, _f32(w))
    if b is not None:
        out += _f32(b)
    return out


def linear_channels(x: F32, w: F32, b: F32 | None) -> F32:
    """``y = x @ w + b`` over the last axis at every position (``nn.Linear`` on a
    channels-last volume of any rank): ``(N, *spatial, C) -> (N, *spatial, out)``."""
    x = _f32(x)
    out: F32 = np.matmul(x.reshape(-1, x.shape[-1]), _f32(w))
    if b is not None:
        out += _f32(b)
    return out.reshape(*x.shape[:-1], out.shape[-1])
