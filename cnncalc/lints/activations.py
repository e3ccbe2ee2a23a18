"""Likely mistakes around what flows in and out: the input's layout (L002), softmax that is
not last (L004), activations stacked (L011) or squashing the logits before softmax (L012)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from ..diagnostics import Finding, Fix
from ..layers import Dropout, Softmax
from ..report import LayerRow, Report
from ..shapes import LETTERS, format_shape, is_volume, rank
from .common import label
from .flow import Flow, leaves, node_of


def channels_first_input(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L002: an input that looks like C×H×W typed in H×W×C order (``3x224x224``)."""
    shape = report.input_shape
    if shape is None or not is_volume(shape):
        return
    r, first, c = rank(shape), shape[0], shape[-1]
    # The last spatial axis and C look like two sizes of one image (within 2× of each other).
    square = r == 1 or (shape[-2] >= 16 and shape[-2] <= 2 * c and c <= 2 * shape[-2])
    if first <= 4 and c >= 16 and square:
        noun = {1: "position", 2: "row", 3: "slice"}[r]
        first_letters = "C×" + LETTERS[r].removesuffix("×C")
        moved = (*shape[1:], first)
        yield None, Finding(
            "L002", f"the input {format_shape(shape)} has {first} {noun}{'s' if first > 1 else ''} "
            f"and {c} channels: it looks like a {first_letters} shape ({first} "
            f"channel{'s' if first > 1 else ''} of {format_shape(shape[1:])}, PyTorch's order) "
            f"typed where cnncalc reads {LETTERS[r]}",
            fixes=(Fix(f"input {'x'.join(map(str, moved))}", network_input=moved),))


def layer_after_softmax(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L004: softmax that is not the last layer (an activation, dropout or more after it)."""
    for row in leaves(report):
        if not isinstance(row.node, Softmax):
            continue
        where, nxt = flow.after(row)
        while where == "row" and nxt is not None and node_of(nxt).reshapes_only:
            where, nxt = flow.after(nxt)  # reshaping the probabilities changes nothing
        if where == "end" or nxt is None or (where == "join" and node_of(nxt).join_scales):
            continue  # a gate multiplies by the softmax's weights: attention, not a slip
        fixes = ("remove the softmax and give the loss logits (CrossEntropyLoss, or "
                 "from_logits=True in Keras, apply it themselves)",)
        if where == "join":
            op = "added to the shortcut" if nxt.kind == "residual" else "concatenated"
            yield row, Finding(
                "L004", f"softmax is {op} in the enclosing {nxt.kind}: probabilities that no "
                "longer sum to 1 go on through the network; softmax belongs at the very end",
                fixes)
            continue
        if isinstance(nxt.node, Dropout):
            why = (f"{nxt.spec} zeroes probabilities and scales the rest by "
                   f"1/(1 − {nxt.node.p:g}), so they no longer sum to 1")
        elif node_of(nxt).activation:
            why = f"{nxt.spec} on probabilities in (0, 1) only distorts them"
        else:
            why = f"{nxt.spec} then works on probabilities instead of features"
        yield row, Finding(
            "L004", f"softmax is followed by {nxt.spec}: {why}; softmax belongs at the very "
            "end", (f"move the softmax after {label(nxt)}", *fixes))



def stacked_activations(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L011: two element-wise activations in a row."""
    for row in leaves(report):
        first = node_of(row)
        if not first.activation:
            continue
        nxt = flow.next(row)
        if nxt is None or not node_of(nxt).activation:
            continue
        second, rng = node_of(nxt), first.output_range
        if type(first) is type(second) and first.idempotent:
            why = f"{first.name}({first.name}(x)) = {first.name}(x), the second changes nothing"
        elif rng is not None and rng.non_negative and second.identity_on_non_negative:
            why = (f"{nxt.spec} is the identity on {row.spec}'s non-negative output, "
                   "so it changes nothing")
        else:
            seen = f" outputs in {rng.text}" if rng else " output"
            why = f"{nxt.spec} only ever sees {row.spec}'s{seen}: keep one nonlinearity"
        yield nxt, Finding("L011", f"{row.spec} -> {nxt.spec}: two activations in a row; {why}",
                           (f"remove {nxt.spec} at {nxt.path}",
                            f"remove {row.spec} at {row.path}"))


def activation_before_softmax(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L012: an activation squashing the logits right before softmax."""
    for row in leaves(report):
        node = node_of(row)
        if not node.activation:
            continue
        nxt = flow.next_skipping(row, lambda n: n.inference_identity)
        if nxt is None or not isinstance(nxt.node, Softmax) or nxt.output_shape is None:
            continue
        n = nxt.output_shape[-1]
        rng = node.output_range
        if rng is not None and rng.high is not None and rng.low is not None and n > 1:
            low, high = rng.low, rng.high
            top = math.exp(high) / (math.exp(high) + (n - 1) * math.exp(low))
            why = (f"the logits are squashed into {rng.text}, so over {n:,} classes softmax can "
                   f"never give any class more than e^{high:g}/(e^{high:g} + {n - 1:,}·"
                   f"e^{low:g}) = {top:.3g}")
        else:  # unbounded above: negative logits lose their differences
            what = "clipped to 0" if rng is not None and rng.low == 0 else "squashed towards 0"
            why = (f"negative logits are {what}, so the classes the network rules out all get "
                   "nearly the same probability and it cannot push them apart")
        yield row, Finding(
            "L012", f"{row.spec} right before softmax: {why}",
            (f"remove {row.spec}: the layer before softmax should output raw logits",))


