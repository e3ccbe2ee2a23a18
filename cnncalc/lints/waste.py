"""Parameters and computation that buy nothing: a dominant fc (L005), a bias batch norm
cancels (L007), too much dropout (L008), layers that compute nothing (L009), and linear
layers with no activation between them (L014)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ..diagnostics import Finding, Fix
from ..layers import FC, Conv, DepthwiseConv, Dropout, Flatten, GlobalAvgPool, Layer, Pool, ReLU
from ..report import LayerRow, Report
from ..shapes import Shape, elements, format_shape, is_volume
from ..values import percent
from .common import shape_after
from .flow import Flow, leaves, node_of


def dominant_fc(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L005: one fc layer on an unpooled H×W×C feature map holding most of a CNN's
    parameters (VGG's fc6). An fc after global pooling is not flagged: pooling cannot
    shrink it."""
    total = report.totals.params
    rows = list(leaves(report))
    if not total or not any(isinstance(r.node, Conv | DepthwiseConv) for r in rows):
        return
    for row in rows:
        node, params = row.node, row.params or 0
        if not isinstance(node, FC) or 2 * params <= total:
            continue
        inp = row.input_shape
        assert inp is not None
        if node.per_position(inp):
            continue  # fc(flatten=false) sees one position's channels: pooling cannot shrink it
        volume: Shape | None = inp if is_volume(inp) else None
        flattener: LayerRow | None = None
        prev = flow.before.get(row.path)
        while volume is None and prev is not None and prev.input_shape is not None:
            if isinstance(prev.node, Flatten) and is_volume(prev.input_shape):
                volume, flattener = prev.input_shape, prev
            elif not (node_of(prev).inference_identity or node_of(prev).activation):
                break
            prev = flow.before.get(prev.path)
        if volume is None or elements(volume[:-1]) == 1:
            continue  # already pooled: its size is the widths', not the feature map's
        n_in, c = elements(inp), volume[-1]
        new = c * node.units + (node.units if node.bias else 0)
        yield row, Finding(
            "L005", f"{row.spec} holds {params:,} of the network's {total:,} parameters "
            f"({percent(params, total)}): each of its {n_in:,} inputs ({format_shape(volume)}) "
            f"connects to all {node.units:,} units",
            fixes=(Fix(f"global average pooling before it (gap -> {row.spec}): {c:,} inputs "
                       f"instead of {n_in:,}, {new:,} parameters instead of {params:,}",
                       *((flattener.node, (GlobalAvgPool(), flattener.node)) if flattener
                         else (node, (GlobalAvgPool(), node)))),))


def bias_before_bn(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L007: a conv/fc bias that the norm right after cancels: one that subtracts each
    channel's own mean (batch norm, instance norm, group norm with one channel per group;
    not layer norm, which normalises across the channels; each norm kind answers
    ``cancels_channel_bias``)."""
    for row in leaves(report):
        node = row.node
        plain = node.without_bias() if isinstance(node, Layer) else None  # leaves hold layers
        if plain is None or not node_of(row).weighted or not row.biases:
            continue
        nxt = flow.next(row)
        if nxt is None or not isinstance(nxt.node, Layer) or nxt.input_shape is None:
            continue
        why = nxt.node.cancels_channel_bias(nxt.input_shape)
        if not why:
            continue
        yield row, Finding(
            "L007", f"{row.spec} adds {row.biases:,} biases that the {nxt.spec} right after removes: "
            f"{why}, so a per-channel constant cannot "
            f"survive it ({row.biases:,} wasted parameters)",
            fixes=(Fix(plain.describe(), node, (plain,)),))


def excessive_dropout(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L008: dropout with p ≥ 0.9, or two dropouts in a row."""
    for row in leaves(report):
        node = row.node
        if not isinstance(node, Dropout):
            continue
        if node.p >= 0.9:
            yield row, Finding(
                "L008", f"{row.spec} zeroes {node.p:.0%} of the activations and scales the "
                f"survivors by 1/(1 − {node.p:g}) = {1 / (1 - node.p):.0f}: a signal this thin "
                "and noisy rarely trains",
                fixes=tuple(Fix(f"dropout({q})", node, (replace(node, p=q),)) for q in (0.5, 0.2)))
        nxt = flow.next(row)
        if nxt is not None and isinstance(nxt.node, Dropout):
            q = 1 - (1 - node.p) * (1 - nxt.node.p)
            yield nxt, Finding(
                "L008", f"dropout({node.p:g}) -> dropout({nxt.node.p:g}): two "
                "dropouts in a row drop "
                f"1 − (1 − {node.p:g})·(1 − {nxt.node.p:g}) = {q:.4g} of the activations; "
                "one dropout does the same",
                (f"one dropout({q:.4g}) instead of both",))


def identity_layer(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L009: a layer that computes nothing (pooling that does not pool, dropout(0), ...).

    The explicit ``identity`` layer is deliberate and is not flagged, and neither is an
    ``adaptiveavgpool`` whose size equals its input: torchvision's VGG and AlexNet keep
    one so that other input sizes work, and at the nominal size it is meant to be a no-op.
    """
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        assert inp is not None
        fixes: tuple[Fix, ...] = (Fix(f"remove {row.spec}"),)
        why = node.does_nothing(inp) if isinstance(node, Layer) else ""  # leaves hold layers
        if why and isinstance(node, Pool) and min(inp[:-1]) >= 2:
            halve = replace(node, kernel=(2,), stride=None)
            fixes += (Fix(f"{halve.describe()}{shape_after(halve, inp)}, if "
                          "downsampling was meant", node, (halve,)),)
        if why:
            yield row, Finding("L009", f"{row.spec} does nothing: {why}", fixes=fixes)


def linear_stack(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L014: two conv/fc layers with no nonlinearity between them (a depthwise conv
    followed by a pointwise one is a separable conv and is not flagged)."""
    for row in leaves(report):
        first = row.node
        if not isinstance(first, Conv | FC):
            continue
        nxt = flow.next_skipping(row, lambda n: n.inference_identity or n.reshapes_only)
        if nxt is None or not isinstance(nxt.node, Conv | FC) or nxt.params is None:
            continue
        both = (row.params or 0) + nxt.params
        message = (f"{row.spec} -> {nxt.spec} with no activation between: two linear layers "
                   f"compose into one linear map, so the pair adds {both:,} parameters but no "
                   "expressive power beyond one layer")
        fixes: list[Fix | str] = [Fix(f"{row.spec} -> relu -> {nxt.spec}", first, (first, ReLU()))]
        second = nxt.node
        inp = row.input_shape
        if isinstance(first, FC) and isinstance(second, FC) and inp is not None:
            # the pair is one fc that flattens when either does (flatten=false: per position)
            one = replace(second, flatten=not (first.per_position(inp)
                                               and second.per_position(first.output_shape(inp))))
            n_in = one.fan_in(inp)
            if first.units >= min(n_in, second.units):
                merged = one.counts(inp, one.output_shape(inp)).params
                fixes.append(f"one {one.describe()} on the {n_in:,} inputs: {merged:,} "
                             f"parameters instead of {both:,}")
        yield row, Finding("L014", message, fixes=tuple(
            f if isinstance(f, Fix) else Fix(f) for f in fixes))


