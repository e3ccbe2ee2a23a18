"""Convolution (im2col GEMM, tap-by-tap, depthwise) and the dense layer, for channels-last
volumes with 1, 2 or 3 spatial axes."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from math import prod

import numpy as np

from .window import (
    _TAP_CHUNK_ELEMS,
    _TAP_GEMM_BYTES,
    F32,
    Pads,
    _f32,
    _out_size,
    _pad,
    _tap_range,
    windows,
)

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
# Bytes NumPy's buffered ufunc loop may allocate for a strided, broadcast window view
# (the depthwise multiply) or a broadcast bias added onto a (strided) output block:
# bufsize (8192) elements per operand, measured ~66 KB and ~96 KB.
_UFUNC_BUFFER_BYTES = 1 << 17
# ... which the bias add of every dense path may allocate (32 KB for a contiguous block,
# 96 KB for a group's channel slice), while its im2col block is alive.
_BIAS_BYTES = _UFUNC_BUFFER_BYTES


@dataclass(frozen=True, slots=True)
class ConvPlan:
    """How `conv` computes one conv: the path, rows (or images) per block, the bytes
    it allocates besides the output, the Python-level loop steps it takes, the
    multiply-adds it does (the taps path skips taps that only read padding), the bytes
    of the operands of its largest GEMM (0 for the depthwise path, which runs none), and
    whether its GEMMs run transposed (``w.T @ col.T``: a block with fewer rows than
    filters, where OpenBLAS is several times faster that way round)."""

    path: str
    rows: int
    scratch: int
    steps: int
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    macs: int
    gemm: int
    transposed: bool = False


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def conv_plan(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, ...],
    padding: Pads,
    dilation: tuple[int, ...],
    groups: int,
) -> ConvPlan:
    """Choose `conv`'s path for these shapes (the same function decides when it runs).

    Blocks and chunks run along the first spatial axis ("rows"); the other spatial axes
    are whole in every block. ``direct``: a 1x1 stride-1 unpadded dense conv is one GEMM.
    ``images``/``rows``: im2col blocks of whole small images or of output rows (at most
    ``_IM2COL_MAX_BYTES`` plus one output row, with a padded slab of at most
    ``_SLAB_MAX_BYTES``), one GEMM per block and group. ``taps``: otherwise (huge kernels,
    paddings or dilations), one GEMM per tap reading only real input. ``depthwise``:
    C/groups == 1, per-channel multiply-adds on the padded input. A direct, images or
    rows GEMM whose block has fewer rows than filters runs transposed (``w.T @ col.T``,
    2-5x faster in OpenBLAS for R3D-18's 98 x 13824 x 512 layer4 blocks).
    """
    n, *sizes, c = x_shape
    *ks, cg, f = w_shape
    fg = f // groups
    padded_sizes = [s + b + e for s, (b, e) in zip(sizes, padding, strict=True)]
    outs = [_out_size(ps, k, s, d) for ps, k, s, d in zip(padded_sizes, ks, stride, dilation, strict=True)]
    # a stride that fits one window, or a dilation of a 1-tap kernel, changes nothing
    stride = tuple(s if o > 1 else 1 for s, o in zip(stride, outs, strict=True))
    dilation = tuple(d if k > 1 else 1 for d, k in zip(dilation, ks, strict=True))
    padded = any(b or e for b, e in padding)
    taps = prod(ks)
    wcopy = 4 * taps * cg * fg
    per_image = prod(outs)
    inner = prod(outs[1:])  # output cells per output row
    o0 = outs[0]
    macs = n * per_image * taps * cg * f

    def plan(path: str, rows: int, scratch: int, steps: int, gemm_rows: int = 0,
             gemm_depth: int = 0, transposed: bool = False) -> ConvPlan:
        """``gemm_rows`` x ``gemm_depth`` times ``gemm_depth`` x ``fg``: its largest GEMM."""
        gemm = 4 * gemm_depth * (gemm_rows + fg) if gemm_rows else 0
        return ConvPlan(path, rows, scratch, steps, stride, dilation, macs, gemm, transposed)

    if groups > 1 and cg == 1:
        ry = max(1, _TAP_CHUNK_ELEMS // max(1, inner * f))
        pad_bytes = 4 * n * prod(padded_sizes) * c if padded else 0
        return plan("depthwise", ry,
                    pad_bytes + 4 * min(ry, o0) * inner * f + _UFUNC_BUFFER_BYTES,
                    n * _ceil_div(o0, ry) * taps)
    if groups == 1 and taps == 1 and outs == sizes and not padded:
        cells = n * per_image
        return plan("direct", 0, (4 * cells * f if cells < f else 0) + _BIAS_BYTES, 1,
                    cells, cg, cells < f)
    k = taps * cg

    def result(block: int) -> int:
        """Bytes of the GEMM result temporary (per-group results and transposed ones
        go through one: a block of fewer rows than filters runs transposed) and of
        the bias add."""
        return (4 * block * fg if groups > 1 or block < fg else 0) + _BIAS_BYTES
    rows = max(1, min(max(_IM2COL_BLOCK_BYTES // (4 * k), _IM2COL_MIN_ROWS),
                      _IM2COL_MAX_BYTES // (4 * k)))
    row_cells = prod(padded_sizes[1:])  # padded input cells per input row
    if per_image <= rows:
        nb = min(n, max(1, rows // per_image))
        pad_bytes = 4 * nb * prod(padded_sizes) * c if padded else 0
        if pad_bytes <= _SLAB_MAX_BYTES:
            block = nb * per_image
            return plan("images", nb, pad_bytes + 4 * block * k + result(block) + wcopy,
                        groups * _ceil_div(n, nb), block, k, block < fg)
    ry = min(o0, max(1, rows // max(1, inner)))
    slab = (4 * ((ry - 1) * stride[0] + dilation[0] * (ks[0] - 1) + 1) * row_cells * c
            if padded else 0)
    col = 4 * ry * inner * k
    if slab <= _SLAB_MAX_BYTES and col <= _IM2COL_MAX_BYTES + 4 * inner * k:
        return plan("rows", ry, slab + col + result(ry * inner) + wcopy,
                    groups * n * _ceil_div(o0, ry), ry * inner, k, ry * inner < fg)
    ry = max(1, _TAP_GEMM_BYTES // (4 * n * max(1, inner) * (cg + fg)))
    reach = [min(k_a, (s - 1 + b) // d + 1)
             for k_a, s, (b, _), d in zip(ks, sizes, padding, dilation, strict=True)]
    if sum(reach) <= 100_000:  # multiply-adds of the taps that read real input
        macs = n * prod(
            sum(hi - lo for lo, hi in (_tap_range(p * d - b, st, s, o) for p in range(t)))
            for t, d, (b, _), st, s, o in zip(reach, dilation, padding, stride, sizes, outs, strict=True)
        ) * cg * f
    steps = ks[0] + reach[0] * (sum(ks[1:]) + prod(reach[1:]) * _ceil_div(o0, ry))
    return plan("taps", ry, 4 * n * min(ry, o0) * inner * (cg + fg) + _BIAS_BYTES,
                groups * steps, n * min(ry, o0) * inner, cg)


def scratch_conv(
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: tuple[int, ...],
    padding: Pads,
    dilation: tuple[int, ...],
    groups: int,
) -> int:
    """Bytes `conv` allocates besides its output (see `conv_plan`)."""
    return conv_plan(x_shape, w_shape, stride, padding, dilation, groups).scratch


def _gemm_block(col: F32, wmat: F32, b: F32 | None, target: F32, transposed: bool) -> None:
    """``target = col @ wmat + b`` where ``target`` is a block of the output (a
    contiguous one is written in place; a group's channel slice through a temporary).
    ``transposed``: computed as ``(wmat.T @ col.T).T`` through a temporary (both
    operands are transposed views, nothing is copied but the result)."""
    f = wmat.shape[1]
    if transposed:
        res_t = np.matmul(wmat.T, col.T)  # (f, rows), C-contiguous
        target[...] = np.moveaxis(res_t.reshape(f, *target.shape[:-1]), 0, -1)
        if b is not None:
            target += b
        return
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
    padding: Pads,
    wmat: F32,
    b: F32 | None,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    out: F32,
    plan: ConvPlan,
) -> None:
    """Dense conv of one group: im2col in cache-sized blocks, one GEMM per block.

    ``images``: several whole (small) padded images per block; ``rows``: blocks of
    output rows (first spatial axis) within one image, each padding just the input rows
    it reads (a small slab that stays in cache). ``x`` and ``out`` may be channel slices
    (groups).
    """
    n, *outs, _ = out.shape
    _, *sizes, c = x.shape
    k = prod(kernel) * c
    padded = any(b0 or e0 for b0, e0 in padding)
    if plan.path == "images":
        nb = plan.rows
        per_image = prod(outs)
        buf = np.empty((min(nb, n) * per_image, k), dtype=np.float32)
        for n0 in range(0, n, nb):
            n1 = min(n, n0 + nb)
            col = buf[: (n1 - n0) * per_image]
            view = windows(_pad(x[n0:n1], padding, 0.0), kernel, stride, dilation, tuple(outs))
            np.copyto(col.reshape(n1 - n0, *outs, *kernel, c), view)
            _gemm_block(col, wmat, b, out[n0:n1], plan.transposed)
        return
    ry = plan.rows
    o0, rest = outs[0], tuple(outs[1:])
    h, sh, top = sizes[0], stride[0], padding[0][0]
    keff_h = dilation[0] * (kernel[0] - 1) + 1
    inner = prod(rest)
    buf = np.empty((ry * inner, k), dtype=np.float32)
    slab = (np.zeros((1, (ry - 1) * sh + keff_h,
                      *(s + b0 + e0 for s, (b0, e0) in zip(sizes[1:], padding[1:], strict=True)), c),
                     dtype=np.float32) if padded else None)
    interior = tuple(slice(b0, b0 + s) for s, (b0, _) in zip(sizes[1:], padding[1:], strict=True))
    for i in range(n):
        for y0 in range(0, o0, ry):
            y1 = min(o0, y0 + ry)
            r0 = y0 * sh - top  # first input row read by this block (may be padding)
            nr = (y1 - 1 - y0) * sh + keff_h
            if slab is not None:
                src = slab[:, :nr]
                lo = min(max(-r0, 0), nr)
                hi = max(min(h - r0, nr), lo)
                src[(slice(None), slice(0, lo), *interior)] = 0.0
                src[(slice(None), slice(hi, None), *interior)] = 0.0
                src[(slice(None), slice(lo, hi), *interior)] = x[i : i + 1, r0 + lo : r0 + hi]
            else:
                src = x[i : i + 1, r0 : r0 + nr]
            col = buf[: (y1 - y0) * inner]
            view = windows(src, kernel, stride, dilation, (y1 - y0, *rest))
            np.copyto(col.reshape(1, y1 - y0, *rest, *kernel, c), view)
            _gemm_block(col, wmat, b, out[i : i + 1, y0:y1], plan.transposed)


def _axis_taps(k: int, d: int, s: int, pad_begin: int, size: int, n_out: int
               ) -> list[tuple[int, int, int]]:
    """Taps ``(p, lo, hi)`` of one axis that read real input: outputs ``lo <= i < hi``
    read input ``i*s + p*d - pad_begin`` (closed-form tap bounds, then exact ranges)."""
    taps = []
    for p in range(max(0, -((pad_begin - (n_out - 1) * s) // -d)),
                   min(k, (size - 1 + pad_begin) // d + 1)):
        lo, hi = _tap_range(p * d - pad_begin, s, size, n_out)
        if lo < hi:
            taps.append((p, lo, hi))
    return taps


def _conv_taps(
    x: F32,
    w: F32,
    padding: Pads,
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    out: F32,
    rows: int,
) -> None:
    """Dense conv of one group, tap by tap: ``out += x[cells] @ w[tap]`` over the
    output cells where the tap reads real input (padding is never built, taps that only
    read padding cost nothing), in chunks of output rows. ``out`` starts at zero."""
    n, *outs, f = out.shape
    _, *sizes, c = x.shape
    r = len(outs)
    per_axis = [_axis_taps(w.shape[a], dilation[a], stride[a], padding[a][0], sizes[a], outs[a])
                for a in range(r)]
    sh, dh, top = stride[0], dilation[0], padding[0][0]
    for p, i_lo, i_hi in per_axis[0]:
        for rest in product(*per_axis[1:]):
            xs = tuple(slice(lo * s + q * d - b0, lo * s + q * d - b0 + (hi - lo - 1) * s + 1, s)
                       for (q, lo, hi), s, d, (b0, _) in zip(rest, stride[1:], dilation[1:],
                                                             padding[1:], strict=True))
            os = tuple(slice(lo, hi) for _, lo, hi in rest)
            counts = tuple(hi - lo for _, lo, hi in rest)
            wt = w[(p, *(q for q, _, _ in rest))]
            for i0 in range(i_lo, i_hi, rows):
                i1 = min(i_hi, i0 + rows)
                r0 = i0 * sh + p * dh - top
                src = x[(slice(None), slice(r0, r0 + (i1 - i0 - 1) * sh + 1, sh), *xs)]
                prod_ = np.matmul(np.ascontiguousarray(src).reshape(-1, c), wt)
                out[(slice(None), slice(i0, i1), *os)] += prod_.reshape(n, i1 - i0, *counts, f)


def _conv_depthwise(
    xp: F32,
    w: F32,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    out: F32,
) -> None:
    """groups == C conv: per-channel weights times prod(kernel) shifted window slices.

    ``out[n, *y, c*m + j] = sum_{taps p} xp[n, *(y*s + p*d), c] * w[*p, 0, c*m + j]``
    """
    n, *outs, f = out.shape
    r = len(kernel)
    c = xp.shape[-1]
    mult = f // c
    view = windows(xp, kernel, stride, dilation, tuple(outs))
    wr = w.reshape(*kernel, c, mult)
    out5 = out.reshape(n, *outs, c, mult)
    # chunks of output rows keep the accumulator and the temporary in L2
    inner = prod(outs[1:])
    ry = max(1, _TAP_CHUNK_ELEMS // max(1, inner * f))
    tmp_full = np.empty((min(ry, outs[0]), *outs[1:], c, mult), dtype=np.float32)
    lead: tuple[slice, ...] = (slice(None),) * r
    taps = list(product(*(range(k) for k in kernel)))
    for i in range(n):
        for y0 in range(0, outs[0], ry):
            y1 = min(outs[0], y0 + ry)
            acc = out5[i, y0:y1]
            tmp = tmp_full[: y1 - y0]
            vv = view[i, y0:y1, ..., None]
            for j, t in enumerate(taps):
                at: tuple[slice | int, ...] = (*lead, *t)
                np.multiply(vv[at], wr[t], out=tmp if j else acc)
                if j:
                    acc += tmp


def conv(
    x: F32,
    w: F32,
    b: F32 | None,
    stride: tuple[int, ...],
    padding: Pads,
    dilation: tuple[int, ...],
    groups: int,
) -> F32:
    """N-D convolution (cross-correlation, like every framework), channels-last in and
    out: ``x`` is ``(N, *spatial, C)`` with 1-3 spatial axes, ``w`` is
    ``(*kernel, C/G, F)``, ``padding`` is one ``(begin, end)`` pair per spatial axis.

    ``y[n, *i, f] = b[f] + sum_{p, c} xp[n, *(i*s + p*d), g*C/G + c] * w[*p, c, f]``
    with ``g = f // (F/G)`` and ``xp`` = ``x`` zero-padded.  Output size per axis
    ``floor((L + begin + end - d*(k-1) - 1) / s) + 1``, derived here from the input
    alone.  Depthwise conv is ``groups == C`` (``F = C * multiplier``).  Besides the
    output, it allocates exactly what `scratch_conv` reports.
    """
    x = _f32(x)
    w = _f32(w)
    bb = None if b is None else _f32(b)
    *ks, cg, f = w.shape
    kernel = tuple(ks)
    n, *sizes, _ = x.shape
    outs = tuple(_out_size(s + b0 + e0, k, st, d) for s, (b0, e0), k, st, d
                 in zip(sizes, padding, kernel, stride, dilation, strict=True))
    plan = conv_plan(x.shape, w.shape, stride, padding, dilation, groups)
    path, rows, stride, dilation = plan.path, plan.rows, plan.stride, plan.dilation
    fg = f // groups
    if path == "depthwise":
        out = np.empty((n, *outs, f), dtype=np.float32)
        _conv_depthwise(_pad(x, padding, 0.0), w, kernel, stride, dilation, out)
        if bb is not None:
            out += bb
        return out
    if path == "direct":
        out = np.empty((n, *outs, f), dtype=np.float32)
        _gemm_block(x.reshape(-1, cg), w.reshape(cg, f), bb, out, plan.transposed)
        return out
    if path == "taps":
        out = np.zeros((n, *outs, f), dtype=np.float32)
        for g in range(groups):
            _conv_taps(x[..., g * cg : (g + 1) * cg], w[..., g * fg : (g + 1) * fg], padding,
                       stride, dilation, out[..., g * fg : (g + 1) * fg], rows)
        if bb is not None:
            out += bb
        return out
    out = np.empty((n, *outs, f), dtype=np.float32)
    for g in range(groups):
        wmat = np.ascontiguousarray(w[..., g * fg : (g + 1) * fg].reshape(-1, fg))
        _conv_gemm(x[..., g * cg : (g + 1) * cg], padding, wmat,
                   None if bb is None else bb[g * fg : (g + 1) * fg], kernel, stride, dilation,
                   out[..., g * fg : (g + 1) * fg], plan)
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
