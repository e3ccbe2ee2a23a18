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
from ..layers.window import written
from ..report import LayerRow, Report
from ..shapes import format_shape, is_volume, rank
from ..values import Padding, per_axis, percent
from .common import every_nth, label, largest_full_stride, shape_after, times, unread_per_stride
from .flow import Flow, leaves


def collapsed_spatial(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L003: a k > 1 conv or pool on an input of size 1 along an axis: most taps see padding."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if not isinstance(node, Windowed) or inp is None or not is_volume(inp) or \
                row.output_shape is None:
            continue
        ws = node.windows(inp)
        thin = [n == 1 and w.k_eff > 1 for n, w in zip(inp[:-1], ws, strict=True)]
        if not any(thin):
            continue
        kernel = node.axes(inp)[0]
        taps = math.prod(kernel)
        real = math.prod(1 if t else k for t, k in zip(thin, kernel, strict=True))
        source = ""
        prev = flow.reduced_by(row)
        if prev is not None:
            source = f" ({label(prev)} reduced it to {format_shape(prev.output_shape)})"
        elif report.input_shape is not None and report.input_shape[:-1] == inp[:-1]:
            source = " (the network's input)"
        message = (f"{row.spec} slides a {times(kernel)} window over a {times(inp[:-1])} input"
                   f"{source}: {taps - real} of its {taps} taps only ever see padding")
        fixes: list[Fix] = []
        prose: list[str] = []
        if isinstance(node, Conv | DepthwiseConv):
            k1 = written(tuple(1 if t else k for t, k in zip(thin, kernel, strict=True)))
            pad = node.padding if node.padding.same else Padding(written(tuple(
                0 if t else p for t, p in zip(thin, per_axis(node.padding.sizes, rank(inp)),
                                              strict=True))))
            small = replace(node, kernel=k1, padding=pad)
            w_old = row.weights or 0
            w_new = w_old // taps * real
            fixes.append(Fix(f"{small.describe()}: the same output shape with {w_new:,} instead "
                             f"of {w_old:,} weights", node, (small,)))
        else:
            prose.append(f"remove {row.spec}: on a {times(inp[:-1])} input it pools padding")
        if prev is not None:
            prose.append(f"downsample less before it ({label(prev)}), or use a larger input")
        yield row, Finding("L003", message, tuple(prose), fixes=tuple(fixes))


def stride_exceeds_kernel(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L006: conv/dwconv windows further apart than they are wide (1×1 projections aside),
    and transposed convs whose stride leaves output pixels no tap reaches."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if inp is None or row.output_shape is None:
            continue
        if isinstance(node, Conv | DepthwiseConv):
            kernel, stride, dilation = node.axes(inp)
            if set(kernel) == {1}:
                continue  # ResNet's 1×1/2 projection subsamples by design
            axes = tuple(zip(kernel, stride, dilation, strict=True))
            unread = [unread_per_stride(k, s, d) for k, s, d in axes]
            if not any(unread):
                continue
            dil = f" (dilation {times(written(dilation))})" if set(dilation) != {1} else ""
            message = (f"{row.spec}: its {times(kernel)} window{dil} moves "
                       f"{times(stride)} pixels at a time, so "
                       f"{every_nth(unread, stride)} of the input are never read")
            strides = tuple(largest_full_stride(k, s, d) for k, s, d in axes)
            kernels = tuple(max(k, s) if math.gcd(d, s) == 1 else k for k, s, d in axes)
            fixes = []
            restrided = replace(node, stride=written(strides))
            fixes.append(Fix(f"{restrided.describe()}{shape_after(restrided, inp)}", node,
                             (restrided,)))
            if kernels != kernel and not any(  # a grown kernel reads every row of every axis
                    unread_per_stride(k, s, d)
                    for k, s, d in zip(kernels, stride, dilation, strict=True)):
                grown = replace(node, kernel=written(kernels))
                fixes.append(Fix(f"{grown.describe()}{shape_after(grown, inp)}", node, (grown,)))
            yield row, Finding("L006", message, fixes=tuple(fixes))
        elif isinstance(node, Deconv):
            kernel, stride, _, _, dilation = node.axes(inp)
            holes = [unread_per_stride(k, s, d)
                     for k, s, d in zip(kernel, stride, dilation, strict=True)]
            if not any(holes):
                continue
            message = (f"{row.spec}: with stride {times(stride)} and a "
                       f"{times(kernel)} kernel, "
                       f"{every_nth(holes, stride)} of the output get no input "
                       "at all (only the bias): a grid of holes")
            # the taps j·d reach every residue of s only when gcd(d, s) = 1: elsewhere no
            # kernel fills the holes, dilation 1 does
            dilations = tuple(d if math.gcd(d, s) == 1 else 1
                              for s, d in zip(stride, dilation, strict=True))
            even = replace(node, kernel=written(stride))
            if dilations != dilation:
                even = replace(even, dilation=written(dilations))
            fixes = [Fix(f"{even.describe()}: a kernel that is a multiple of the stride covers "
                         "every output pixel evenly", node, (even,))]
            resize = (Upsample(written(stride)), Conv(node.filters, (3,), padding=Padding((1,))))
            fixes.append(Fix(f"{describe_group(resize)[1:-1]} instead", node, resize))
            yield row, Finding("L006", message, fixes=tuple(fixes))


def pool_skips_input(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L010: max/avg pooling windows further apart than they are wide."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if not isinstance(node, Pool) or inp is None or not is_volume(inp) or \
                row.output_shape is None:
            continue
        kernel, stride, _ = node.axes(inp)
        unread = [unread_per_stride(k, s) for k, s in zip(kernel, stride, strict=True)]
        if not any(unread):
            continue
        kind = "max" if node.name == "maxpool" else "average"
        if set(kernel) == {1}:
            message = (f"{row.spec}: a {times(kernel)} {kind}-pool with stride {times(stride)} "
                       f"pools nothing, it just drops {every_nth(unread, stride)}")
        else:
            message = (f"{row.spec}: {times(kernel)} windows {times(stride)} "
                       f"apart never look at {every_nth(unread, stride)}; "
                       f"those activations never reach the {kind}")
        candidates = [replace(node, kernel=written(stride), stride=None)]
        if set(kernel) != {1}:
            candidates.append(replace(node, stride=None))
        fixes = tuple(Fix(f"{c.describe()}{shape_after(c, inp)}", node, (c,)) for c in candidates)
        yield row, Finding("L010", message, fixes=fixes)


def large_kernel(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L013: a k×k conv (k ≥ 5, past the stem) that stacked 3×3 convs would do for fewer
    weights (VGG's argument); k×k×k and 3×3×3 in 3-D, k and 3 in 1-D."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if (type(node) is not Conv or inp is None or not is_volume(inp) or node.groups != 1
                or row.output_shape is None):
            continue
        r = rank(inp)
        kernel, stride, dilation = node.axes(inp)
        k = kernel[0]
        if set(dilation) != {1} or set(kernel) != {k} or k < 5 or k % 2 == 0:
            continue
        if row.receptive_field == kernel and row.jump == stride:
            continue  # the stem reads the raw image: a large first kernel is standard
        n, c, f = (k - 1) // 2, inp[-1], node.filters
        big = k**r * c * f
        stacked = 3**r * c * c * (n - 1) + 3**r * c * f
        if stacked >= big:
            continue
        fixes: tuple[Fix, ...] = ()
        p = node.padding
        sizes = per_axis(p.sizes, r)
        if p.same or set(sizes) in ({0}, {n}):
            each = p if p.same else Padding((sizes[0] // n,))
            mid = Conv(c, (3,), padding=each, bias=node.bias)
            last = replace(node, kernel=(3,), padding=each)
            stack: tuple[Node, ...] = (mid, ReLU()) if n == 2 else (Repeat(n - 1, (mid, ReLU())),)
            fixes = (Fix(f"{describe_group((*stack, last))[1:-1]}: {stacked:,} weights, the same "
                         f"{times(kernel)} receptive field and output shape", node,
                         (*stack, last)),)
        three = times((3,) * r)
        yield row, Finding(
            "L013", f"{row.spec}: one {times(kernel)} conv on {c} channels has {big:,} weights; "
            f"{n} stacked {three} convs see the same {times(kernel)} field with {stacked:,} "
            f"({percent(big - stacked, big, 0)} fewer) and add {n - 1} more nonlinearit"
            f"{'y' if n == 2 else 'ies'}", fixes=fixes)
