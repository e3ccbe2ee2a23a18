"""Layer kinds: one class each, one module per family, in the registry :data:`LAYERS`.

Every kind owns its rules: the arguments it takes (dataclass fields declared with
:func:`~cnncalc.layers.base.arg`), the checks it runs (``check`` yields findings), its
output shape, its weights/biases/non-trainable counts and MACs, its receptive-field step,
its NumPy forward pass, its PyTorch module and its traits (what lints ask of it).

- :mod:`.base` — arguments, results, ``Node``/``Layer``/``Block`` and shared helpers
- :mod:`.window` — the sliding window conv and pooling share, with its fix suggestions
- :mod:`.conv`, :mod:`.pool`, :mod:`.norm`, :mod:`.activation`, :mod:`.reshape` — leaves
- :mod:`.blocks` — ``repeat``, ``residual``, ``concat``
- :mod:`.graph` — named tensors' ``@NAME`` routes and ``add(@a, …)`` (spec §9; syntax the
  builder makes, not kinds in :data:`LAYERS`)

A kind registers itself: :data:`LAYERS` maps each kind's own ``name`` and ``aliases``
to it, so a new kind is one class in its family's module (plus its tests; the contract
tests in ``tests/test_contracts.py`` say which are missing).

NumPy glue: a kind's ``forward`` calls :mod:`cnncalc.kernels` through ``base.kernels``,
a stand-in that imports the real module at the first use of one of its names. The call
stays beside the arithmetic it mirrors (one place to read a kind), mypy sees the real
module's types, and numpy stays off the import path of ``cnncalc check`` — without a
function-level import in every kind.

>>> conv = Conv(filters=10, kernel=(5,), padding=Padding((2,)))
>>> conv.output_shape((32, 32, 3)), conv.counts((32, 32, 3), (32, 32, 10)).params
((32, 32, 10), 760)
"""

from __future__ import annotations

from ..values import Padding
from . import activation, blocks, conv, norm, pool, reshape
from .activation import (
    ELU,
    GELU,
    HardSigmoid,
    HardSwish,
    LeakyReLU,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from .base import (
    DEFINED,
    GROUP,
    IDENTITY_STEP,
    Argument,
    Block,
    Counts,
    Group,
    Layer,
    Node,
    OutputRange,
    Step,
    arg,
    arguments,
    count_lines,
    describe_group,
    needs_volume,
    py_float,
)
from .blocks import Concat, Gate, Repeat, Residual, Split, first_flattener
from .conv import Conv, Deconv, DepthwiseConv, common_divisors, torch_conv
from .graph import Add, Route
from .norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm, LayerScale
from .pool import (
    AdaptiveAvgPool,
    AvgPool,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool,
    Pool,
    torch_pool,
    widest_adaptive_window,
)
from .ranks import ranked_name
from .reshape import FC, Dropout, Flatten, Identity, Pad, Shuffle, Upsample
from .window import SEARCH, Windowed, arithmetic, division_findings, suggest_fixes, window_lines

FAMILIES = (conv, pool, norm, activation, reshape, blocks)
"""The family modules, in the catalog's order."""

KINDS: tuple[type[Node], ...] = tuple(
    kind for family in FAMILIES for kind in DEFINED
    if kind.__module__ == family.__name__ and "name" in vars(kind))
"""Every layer kind: family by family, each in the order its module defines them."""

RANKS: dict[str, int] = {
    ranked_name(base, r): r for kind in KINDS for base in kind.ranked for r in (1, 2, 3)}
"""Every rank-explicit alias (``conv3d``; a kind's ``ranked`` names), mapped to its rank."""

LAYERS: dict[str, type[Node]] = {
    **{name: kind for kind in KINDS for name in (kind.name, *kind.aliases)},
    **{ranked_name(base, r): kind for kind in KINDS for base in kind.ranked for r in (1, 2, 3)}}
"""Every name a spec may use (lower case), mapped to its kind."""

__all__ = [
    "ELU",
    "FC",
    "GELU",
    "GROUP",
    "IDENTITY_STEP",
    "KINDS",
    "LAYERS",
    "LRN",
    "RANKS",
    "SEARCH",
    "AdaptiveAvgPool",
    "Add",
    "Argument",
    "AvgPool",
    "BatchNorm",
    "Block",
    "Concat",
    "Conv",
    "Counts",
    "Deconv",
    "DepthwiseConv",
    "Dropout",
    "Flatten",
    "Gate",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "Group",
    "GroupNorm",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "InstanceNorm",
    "Layer",
    "LayerNorm",
    "LayerScale",
    "LeakyReLU",
    "MaxPool",
    "Mish",
    "Node",
    "OutputRange",
    "PReLU",
    "Pad",
    "Padding",
    "Pool",
    "ReLU",
    "ReLU6",
    "Repeat",
    "Residual",
    "Route",
    "Shuffle",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Split",
    "Step",
    "Tanh",
    "Upsample",
    "Windowed",
    "arg",
    "arguments",
    "arithmetic",
    "common_divisors",
    "count_lines",
    "describe_group",
    "division_findings",
    "first_flattener",
    "needs_volume",
    "py_float",
    "ranked_name",
    "suggest_fixes",
    "torch_conv",
    "torch_pool",
    "widest_adaptive_window",
    "window_lines",
]
