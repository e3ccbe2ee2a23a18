"""Windows that do not fit the map: taps on padding (L003), strides that skip input (L006,
L010), and large kernels that stacked 3×3 convs would do for fewer weights (L013)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

from ..diagnostics import Finding, Fix
from ..layers import (
    Conv,
    Deconv,
    DepthwiseConv,
    Node,
    Pool,
    ReLU,
    Repeat,
    Upsample,
    Windowed,
    describe_group,
)
from ..report import LayerRow, Report
from ..shapes import format_shape, is_volume
from ..values import Padding, percent
from .common import label, largest_full_stride, per_axis, shape_after, unread_per_stride
from .flow import Flow, leaves


def collapsed_spatial(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L003: a k > 1 conv or pool on a 1-pixel-high or -wide input: most taps see padding."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if not isinstance(node, Windowed) or inp is None or not is_volume(inp):
            continue
        wh, ww = node.windows(inp)
        thin = [inp[0] == 1 and wh.k_eff > 1, inp[1] == 1 and ww.k_eff > 1]
        if not any(thin):
            continue
        kh, kw = node.geometry()[0]
        real = (1 if thin[0] else kh) * (1 if thin[1] else kw)
        source = ""
        prev = flow.reduced_by(row)
        if prev is not None:
            source = f" ({label(prev)} reduced it to {format_shape(prev.output_shape)})"
        elif report.input_shape is not None and report.input_shape[:2] == inp[:2]:
            source = " (the network's input)"
        message = (f"{row.spec} slides a {kh}×{kw} window over a {inp[0]}×{inp[1]} input"
                   f"{source}: {kh * kw - real} of its {kh * kw} taps only ever see padding")
        fixes: list[Fix] = []
        prose: list[str] = []
        if isinstance(node, Conv | DepthwiseConv):
            k1 = (1 if thin[0] else kh, 1 if thin[1] else kw)
            pad = node.padding if node.padding.same else Padding(
                (0 if thin[0] else node.padding.hw[0], 0 if thin[1] else node.padding.hw[1]))
            small = replace(node, kernel=k1, padding=pad)
            w_old = row.weights or 0
            w_new = w_old // (kh * kw) * k1[0] * k1[1]
            fixes.append(Fix(f"{small.describe()}: the same output shape with {w_new:,} instead "
                             f"of {w_old:,} weights", node, (small,)))
        else:
            prose.append(f"remove {row.spec}: on a {inp[0]}×{inp[1]} input it pools padding")
        if prev is not None:
            prose.append(f"downsample less before it ({label(prev)}), or use a larger input")
        yield row, Finding("L003", message, tuple(prose), fixes=tuple(fixes))


def stride_exceeds_kernel(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L006: conv/dwconv windows further apart than they are wide (1×1 projections aside),
    and transposed convs whose stride leaves output pixels no tap reaches."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        assert inp is not None
        if isinstance(node, Conv | DepthwiseConv):
            if node.kernel == (1, 1):
                continue  # ResNet's 1×1/2 projection subsamples by design
            unread = [unread_per_stride(node.kernel[a], node.stride[a], node.dilation[a])
                      for a in (0, 1)]
            if not any(unread):
                continue
            dil = f" (dilation {node.dilation[0]})" if node.dilation != (1, 1) else ""
            message = (f"{row.spec}: its {node.kernel[0]}×{node.kernel[1]} window{dil} moves "
                       f"{node.stride[0]}×{node.stride[1]} pixels at a time, so "
                       f"{per_axis(unread[0], unread[1], node.stride)} of the input are never "
                       "read")
            strides = tuple(largest_full_stride(node.kernel[a], node.stride[a], node.dilation[a])
                            for a in (0, 1))
            kernels = tuple(
                max(node.kernel[a], node.stride[a])
                if math.gcd(node.dilation[a], node.stride[a]) == 1 else node.kernel[a]
                for a in (0, 1))
            fixes = []
            restrided = replace(node, stride=(strides[0], strides[1]))
            fixes.append(Fix(f"{restrided.describe()}{shape_after(restrided, inp)}", node,
                             (restrided,)))
            if (kernels[0], kernels[1]) != node.kernel:
                grown = replace(node, kernel=(kernels[0], kernels[1]))
                fixes.append(Fix(f"{grown.describe()}{shape_after(grown, inp)}", node, (grown,)))
            yield row, Finding("L006", message, fixes=tuple(fixes))
        elif isinstance(node, Deconv):
            holes = [unread_per_stride(node.kernel[a], node.stride[a], node.dilation[a])
                     for a in (0, 1)]
            if not any(holes):
                continue
            message = (f"{row.spec}: with stride {node.stride[0]}×{node.stride[1]} and a "
                       f"{node.kernel[0]}×{node.kernel[1]} kernel, "
                       f"{per_axis(holes[0], holes[1], node.stride)} of the output get no input "
                       "at all (only the bias): a grid of holes")
            even = replace(node, kernel=node.stride)
            fixes = [Fix(f"{even.describe()}: a kernel that is a multiple of the stride covers "
                         "every output pixel evenly", node, (even,))]
            resize = (Upsample(node.stride), Conv(node.filters, (3, 3), padding=Padding((1, 1))))
            fixes.append(Fix(f"{describe_group(resize)[1:-1]} instead", node, resize))
            yield row, Finding("L006", message, fixes=tuple(fixes))


def pool_skips_input(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L010: max/avg pooling windows further apart than they are wide."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if not isinstance(node, Pool) or inp is None or not is_volume(inp):
            continue
        kernel, stride, _, _ = node.geometry()
        unread = [unread_per_stride(kernel[a], stride[a]) for a in (0, 1)]
        if not any(unread):
            continue
        kind = "max" if node.name == "maxpool" else "average"
        if kernel == (1, 1):
            message = (f"{row.spec}: a 1×1 {kind}-pool with stride {stride[0]}×{stride[1]} "
                       f"pools nothing, it just drops {per_axis(unread[0], unread[1], stride)}")
        else:
            message = (f"{row.spec}: {kernel[0]}×{kernel[1]} windows {stride[0]}×{stride[1]} "
                       f"apart never look at {per_axis(unread[0], unread[1], stride)}; "
                       f"those activations never reach the {kind}")
        candidates = [replace(node, kernel=stride, stride=None)]
        if kernel != (1, 1):
            candidates.append(replace(node, stride=None))
        fixes = tuple(Fix(f"{c.describe()}{shape_after(c, inp)}", node, (c,)) for c in candidates)
        yield row, Finding("L010", message, fixes=fixes)


def large_kernel(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L013: a k×k conv (k ≥ 5, past the stem) that stacked 3×3 convs would do for fewer
    weights (VGG's argument)."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if (type(node) is not Conv or inp is None or not is_volume(inp) or node.groups != 1
                or node.dilation != (1, 1)):
            continue
        k = node.kernel[0]
        if node.kernel != (k, k) or k < 5 or k % 2 == 0:
            continue
        if row.receptive_field == (k, k) and row.jump == node.stride:
            continue  # the stem reads the raw image: a large first kernel is standard
        n, c, f = (k - 1) // 2, inp[2], node.filters
        big = k * k * c * f
        stacked = 9 * c * c * (n - 1) + 9 * c * f
        if stacked >= big:
            continue
        fixes: tuple[Fix, ...] = ()
        p = node.padding
        if p.same or p.hw in ((0, 0), (n, n)):
            each = p if p.same else Padding((p.hw[0] // n, p.hw[1] // n))
            mid = Conv(c, (3, 3), padding=each, bias=node.bias)
            last = replace(node, kernel=(3, 3), padding=each)
            stack: tuple[Node, ...] = (mid, ReLU()) if n == 2 else (Repeat(n - 1, (mid, ReLU())),)
            fixes = (Fix(f"{describe_group((*stack, last))[1:-1]}: {stacked:,} weights, the same "
                         f"{k}×{k} receptive field and output shape", node, (*stack, last)),)
        yield row, Finding(
            "L013", f"{row.spec}: one {k}×{k} conv on {c} channels has {big:,} weights; {n} "
            f"stacked 3×3 convs see the same {k}×{k} field with {stacked:,} "
            f"({percent(big - stacked, big, 0)} fewer) and add {n - 1} more nonlinearit"
            f"{'y' if n == 2 else 'ies'}", fixes=fixes)


