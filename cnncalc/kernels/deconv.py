"""Transposed convolution (tap by tap, chunked GEMMs) for channels-last volumes with 1, 2
or 3 spatial axes."""

from __future__ import annotations

from itertools import product
from math import prod

import numpy as np

from .window import _TAP_GEMM_BYTES, F32, Pads, _f32, _tap_range


def deconv_rows(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> int:
    """Input rows (first spatial axis) per chunk of `conv_transpose`."""
    n, *sizes, _ = x_shape
    cin, fg = w_shape[-2:]
    return max(1, _TAP_GEMM_BYTES // (4 * n * prod(sizes[1:]) * (cin + fg)))


def scratch_conv_transpose(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> int:
    """Bytes `conv_transpose` allocates besides its output: one gathered input chunk and
    one product chunk (at least one input row); independent of stride, padding and
    dilation."""
    n, *sizes, _ = x_shape
    cin, fg = w_shape[-2:]
    return 4 * n * deconv_rows(x_shape, w_shape) * prod(sizes[1:]) * (cin + fg)


def conv_transpose(
    x: F32,
    w: F32,
    b: F32 | None,
    stride: tuple[int, ...],
    padding: Pads,
    output_padding: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> F32:
    """Transposed convolution with PyTorch ``ConvTranspose1d/2d/3d`` semantics,
    channels-last: ``x`` is ``(N, *spatial, C_in)``, ``w`` is ``(*kernel, C_in, F/G)``
    (PyTorch's ``(C_in, F/G, *kernel)`` moved kernel-first), ``padding`` one
    ``(begin, end)`` pair per axis (PyTorch's ``padding=p`` is ``(p, p)``).

    Every input cell scatters ``x[n, *i, :] @ w[*p]`` to output cell
    ``i*s - begin + p*d`` per axis (per group), i.e.
    ``L' = (L-1)*s - begin - end + d*(k-1) + output_padding + 1``.
    Computed tap by tap: one GEMM per tap and chunk of input rows, added straight into
    the strided output cells it lands on (only where it lands inside the output), so no
    work is spent on inserted zeros and nothing larger than a chunk is allocated.
    """
    x = _f32(x)
    w = _f32(w)
    n, *sizes, cin = x.shape
    *ks, _, fg = w.shape
    g = groups
    cg = cin // g
    f = fg * g
    outs = [(s - 1) * st - b0 - e0 + d * (k - 1) + op + 1 for s, st, (b0, e0), d, k, op
            in zip(sizes, stride, padding, dilation, ks, output_padding, strict=True)]
    out = np.zeros((n, *outs, f), dtype=np.float32)
    rows = deconv_rows(x.shape, w.shape)
    per_axis = []
    for k, d, st, (b0, _), o, s in zip(ks, dilation, stride, padding, outs, sizes, strict=True):
        taps = []
        for p in range(k):
            lo, hi = _tap_range(p * d - b0, st, o, s)
            if lo < hi:
                taps.append((p, lo, hi))
        per_axis.append(taps)
    sh, dh, ph = stride[0], dilation[0], padding[0][0]
    for p, i_lo, i_hi in per_axis[0]:
        for rest in product(*per_axis[1:]):
            xs = tuple(slice(lo, hi) for _, lo, hi in rest)
            ys = tuple(slice(lo * st + q * d - b0, lo * st + q * d - b0 + (hi - lo - 1) * st + 1,
                             st)
                       for (q, lo, hi), st, d, (b0, _) in zip(rest, stride[1:], dilation[1:],
                                                              padding[1:], strict=True))
            counts = tuple(hi - lo for _, lo, hi in rest)
            tap = (p, *(q for q, _, _ in rest))
            for i0 in range(i_lo, i_hi, rows):
                i1 = min(i_hi, i0 + rows)
                y0 = i0 * sh + p * dh - ph
                y_sl = slice(y0, y0 + (i1 - i0 - 1) * sh + 1, sh)
                for gi in range(g):
                    a = np.ascontiguousarray(
                        x[(slice(None), slice(i0, i1), *xs, slice(gi * cg, (gi + 1) * cg))])
                    prod_ = np.matmul(a.reshape(-1, cg), w[tap][gi * cg : (gi + 1) * cg])
                    out[(slice(None), y_sl, *ys, slice(gi * fg, (gi + 1) * fg))] += (
                        prod_.reshape(n, i1 - i0, *counts, fg))
    if b is not None:
        out += _f32(b)
    return out
