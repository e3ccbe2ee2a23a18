"""What each unknown may be: a finite domain per role, and how common a value is.

``cnncalc solve`` is exact over these domains (the README's table states them):

| role | domain |
|---|---|
| kernel | 1 … the largest spatial input size (at most 64) |
| dilation | 1 … what still fits the input (at most 16) |
| stride | 1 … the dilated kernel d·(k−1)+1 (a longer stride skips input by design) |
| padding | 0 … the dilated kernel − 1 (pooling: the rule p ≤ k/2 prunes more) |
| output_padding | 0 … max(stride, dilation) − 1 (PyTorch's rule) |
| scale, adaptive size | 1 … 8; 1 … the input size |
| filters, units, groups, multiplier, input channels, other block arguments | 1 … 1024 |
| input height, width, … | ``--range`` (1 … 1024 by default) |

Ranking prefers common choices: kernels 1, 3, 5, 7; strides 1, 2; dilation 1; output padding
0 or 1; counts and input sizes that are powers of two (and 224, 299 for inputs).
"""

from __future__ import annotations

from ..layers import Layer, Node
from ..shapes import Shape
from ..spec.unknowns import Open, Site

MAX_KERNEL = 64
MAX_DILATION = 16
MAX_SCALE = 8
MAX_COUNT = 1024
"""The largest filters/units/groups (and other counts) the solver tries."""
BLOCK_SMALL = {"stride": 4, "padding": 3, "kernel": 7, "dilation": 4}
"""A block's argument named like a window's: tried up to these (its use is the body's)."""

ROLES = {
    "kernel": "kernel", "k": "kernel", "stride": "stride", "s": "stride",
    "padding": "padding", "p": "padding", "pad": "padding", "dilation": "dilation",
    "d": "dilation", "output_padding": "output_padding", "op": "output_padding",
    "scale": "scale", "size": "size",
}
"""What an argument stands for, by its name (a layer's or a block's parameter)."""

ORDER = {"kernel": 0, "dilation": 1, "size": 2, "scale": 2, "stride": 3,
         "output_padding": 4, "padding": 5, "count": 6, "input": 6}
"""Sites of one node are given values in this order: a stride's domain needs the kernel."""

COMMON = {"kernel": (1, 3, 5, 7), "stride": (1, 2), "dilation": (1,), "output_padding": (0, 1),
          "padding": (0,), "scale": (2,), "size": (1,)}
COMMON_INPUT = (224, 299)


def role(s: Site) -> str:
    """``padding``, ``stride``, … ; ``input`` for the input's spatial sizes; ``count`` for
    the rest (filters, channels, a block's other arguments).

    >>> role(Site(0, None, None, "conv", "padding")), role(Site(0, None, None, "input", "height"))
    ('padding', 'input')
    """
    if s.owner == "input":
        return "count" if s.argument == "channels" else "input"
    return ROLES.get(s.argument.lower(), "count")


def _power_distance(value: int) -> int:
    """How far ``value`` is from the nearest power of two.

    >>> _power_distance(64), _power_distance(96), _power_distance(3)
    (0, 32, 1)
    """
    low = 1 << (value.bit_length() - 1) if value > 0 else 1
    return min(abs(value - low), abs(2 * low - value))


def distance(s: Site, value: int) -> int:
    """How far ``value`` is from the common choices for what ``s`` stands for."""
    r = role(s)
    if r in COMMON:
        return min(abs(value - c) for c in COMMON[r])
    if r == "input":
        return min(_power_distance(value), *(abs(value - c) for c in COMMON_INPUT))
    return _power_distance(value)


def is_padding(s: Site) -> bool:
    return role(s) in ("padding", "output_padding")


def _extent(node: Node, inp: Shape) -> tuple[tuple[int, ...], ...] | None:
    if not isinstance(node, Layer):  # a block call: its body decides
        return None
    try:
        return node.extent(inp)
    except ValueError:  # a per-axis size of another rank: the walk reports it
        return None


def domain(s: Site, node: Open, inp: Shape | None, chosen: dict[Site, int]) -> range:
    """The values ``s`` may take at a node with input ``inp``, given the values ``chosen`` so
    far for the node's other sites (those not chosen yet are 1 in the probe)."""
    r = role(s)
    spatial = inp[:-1] if inp is not None and len(inp) >= 2 else ()
    largest = max(spatial, default=1)
    if r == "count":
        return range(1, MAX_COUNT + 1)
    if r == "size":
        return range(1, largest + 1)
    if r == "scale":
        return range(1, MAX_SCALE + 1)
    probe = node.bind({x: chosen.get(x, 1) for x in node.sites()})
    reach = _extent(probe, inp) if inp is not None and spatial else None
    if reach is None:  # a block's argument, or no kernel to go by
        if r == "kernel":
            return range(1, min(MAX_KERNEL, largest) + 1)
        limit = BLOCK_SMALL.get(r, MAX_COUNT)
        return range(0 if r in ("padding", "output_padding") else 1, limit + 1)
    k_eff, stride, dilation = reach
    if r == "kernel":
        return range(1, min(MAX_KERNEL, largest) + 1)
    if r == "dilation":
        k = max(k_eff)
        return range(1, min(MAX_DILATION, max(1, (largest - 1) // max(1, k - 1))) + 1) \
            if k > 1 else range(1, 2)
    if r == "stride":
        return range(1, max(k_eff) + 1)
    if r == "output_padding":
        return range(0, max(*stride, *dilation))
    return range(0, max(k_eff))


__all__ = ["ORDER", "distance", "domain", "is_padding", "role"]
