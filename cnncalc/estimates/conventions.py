"""Other tools' MACs, from cnncalc's own rows: what torchinfo, fvcore, ptflops (both
backends) and thop print for the network cnncalc exports (``cnncalc export``).

Each tool counts by the exported module's class (torchinfo, thop, ptflops' default backend)
or by the operators it runs (fvcore, ptflops' ``aten`` backend), with rules of its own; a
kind says what its module is (:meth:`~cnncalc.layers.Node.torch_view`) and each tool's
rule below turns that and the row's counts into the tool's number. None of the tools counts
a block's join (the residual add, the concatenation, the gate's product). Read from the
tools' source (torchinfo 1.8.0, fvcore 0.1.5, ptflops 0.7.5, thop 0.1.1); the tests run
them on every zoo network and compare to the unit.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..cost import TorchOp, TorchView
from ..report import LayerRow, Report
from ..shapes import elements, is_volume
from .tensors import Tensors

CNNCALC = "cnncalc"
TOOLS: dict[str, str] = {
    "cnncalc": "weights × output positions of conv, deconv (× input positions) and fc; "
               "nothing else",
    "torchinfo": "Mult-Adds: every leaf module's parameters × output positions for Conv "
                 "classes, × 1 otherwise (biases, norm γ/β, layer scale)",
    "fvcore": "conv and linear without bias; batch norm 1 or 2 per element (affine), layer/"
              "group/instance norm 4 or 5; 2-D adaptive average pools and nearest upsampling "
              "1 per element; activations and other pools 0",
    "ptflops": "the default (pytorch) backend: conv and nn.Linear with bias; norms 1–2 per "
               "element; ReLU, GELU, ELU, PReLU and every pool counted twice (module hook and "
               "patched functional); nn.Linear/LayerNorm subclasses 0",
    "ptflops-aten": "the aten backend: convolutions and matrix products only, biases included",
    "thop": "conv and nn.Linear without bias (transposed conv × output positions); batch/"
            "layer/instance norm 2 per element, 4 when affine; average pools; exact classes "
            "only (subclasses, GroupNorm, GELU, SiLU… count 0)",
}
"""Each convention in one line (``--macs-as``, README)."""


@dataclass(frozen=True, slots=True)
class Site:
    """One leaf row as the tools see it: its exported module (and the input that module is
    called on), its output shape, counts and cnncalc's MACs."""

    view: TorchView
    out_shape: tuple[int, ...]
    weights: int
    biases: int
    macs: int
    dense_channels_last: bool = False
    """Its module's input is contiguous once the channels are moved last (it follows a
    ChannelsLastLinear or ChannelsLastLayerNorm, through element-wise layers)."""

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def rank(self) -> int:
        return len(self.view.inp) - 1

    @property
    def inp(self) -> int:
        return elements(self.view.inp)

    @property
    def out(self) -> int:
        return elements(self.out_shape)

    @property
    def pos_in(self) -> int:
        return _positions(self.view.inp)

    @property
    def pos_out(self) -> int:
        return _positions(self.out_shape)

    @property
    def channels(self) -> int:
        return self.view.inp[-1]


def _positions(shape: tuple[int, ...]) -> int:
    return elements(shape) // shape[-1] if is_volume(shape) else 1


def site(row: LayerRow, dense_channels_last: bool = False) -> Site | None:
    """The row as a counting tool sees it, or None when its shapes are unknown."""
    if row.node is None or row.input_shape is None or row.output_shape is None \
            or row.macs is None or row.weights is None or row.biases is None:
        return None
    return Site(row.node.torch_view(row.input_shape), row.output_shape, row.weights,
                row.biases, row.macs, dense_channels_last)


CHANNELS_LAST = (TorchOp.LINEAR_PER_POSITION, TorchOp.LAYERNORM_PER_POSITION)


def sites(report: Report) -> list[Site | None]:
    """Each leaf row as the tools see it (None for a block or an unknown shape), with the
    memory layout of its input: channels-last after a per-position fc or layer norm, through
    element-wise layers; contiguous after anything else (conv, a join)."""
    tensors = Tensors(report)
    layout = [False] * len(report.layers)  # each row's output lies channels-last in memory
    out: list[Site | None] = [None] * len(report.layers)
    for i, row in enumerate(report.layers):
        if row.is_block or row.node is None or row.input_shape is None:
            continue
        src = tensors.inputs[i]
        before = src >= 0 and layout[src]
        node = row.node
        view = node.torch_view(row.input_shape)
        layout[i] = view.op in CHANNELS_LAST or (before and (
            node.activation or node.inference_identity or node.reshapes_only or node.keeps_layout))
        # a size-1 axis does not count for contiguity: one position or one channel is both
        trivial = _positions(view.inp) == 1 or view.inp[-1] == 1
        out[i] = site(row, before or trivial)
    return out


Rule = Callable[[Site], int]
CONVS = (TorchOp.CONV, TorchOp.DECONV)


def _affine(s: Site, yes: int, no: int) -> int:
    return s.inp * (yes if s.params else no)


def _torchinfo(s: Site) -> int:
    # LayerInfo.calculate_macs: each leaf's parameters × output positions in a class whose
    # name has "Conv", × the batch otherwise
    return s.params * (s.pos_out if s.view.op in CONVS else 1)


_FVCORE: dict[TorchOp, Rule] = {
    TorchOp.CONV: lambda s: s.macs, TorchOp.DECONV: lambda s: s.macs,
    TorchOp.LINEAR: lambda s: s.macs, TorchOp.LINEAR_PER_POSITION: lambda s: s.macs,
    TorchOp.BATCHNORM: lambda s: _affine(s, 2, 1),  # eval mode
    TorchOp.LAYERNORM: lambda s: _affine(s, 5, 4),
    TorchOp.LAYERNORM_PER_POSITION: lambda s: _affine(s, 5, 4),
    TorchOp.GROUPNORM: lambda s: _affine(s, 5, 4),
    TorchOp.INSTANCENORM: lambda s: _affine(s, 5, 4),
    TorchOp.ADAPTIVE_AVGPOOL: lambda s: s.inp if s.rank == 2 else 0,  # adaptive_avg_pool2d only
    TorchOp.UPSAMPLE: lambda s: s.out if s.rank == 2 else 0,  # upsample_nearest2d only
}

_ATEN: dict[TorchOp, Rule] = {  # mm, addmm, bmm, convolution; biases included
    TorchOp.CONV: lambda s: s.macs + s.biases * s.pos_out,
    TorchOp.DECONV: lambda s: s.macs + s.biases * s.pos_out,
    TorchOp.LINEAR: lambda s: s.macs + s.biases,
    # torch's linear fuses the bias into addmm only for a contiguous input: ChannelsLastLinear
    # moves the channels last as a view, contiguous only where the previous layer left them so
    TorchOp.LINEAR_PER_POSITION: lambda s: s.macs + (s.biases * s.pos_in
                                                     if s.dense_channels_last else 0),
}

_PTFLOPS: dict[TorchOp, Rule] = {  # module hooks of exact classes + patched F.* functions
    TorchOp.CONV: lambda s: s.macs + s.biases * s.pos_out,
    TorchOp.DECONV: lambda s: s.macs + s.biases * s.pos_out,
    TorchOp.LINEAR: lambda s: s.macs + s.biases,
    TorchOp.BATCHNORM: lambda s: _affine(s, 2, 1),
    TorchOp.GROUPNORM: lambda s: _affine(s, 2, 1),
    TorchOp.INSTANCENORM: lambda s: _affine(s, 2, 1),
    TorchOp.LAYERNORM: lambda s: s.inp,  # nn.LayerNorm has no `affine` attribute
    TorchOp.RELU: lambda s: 2 * s.out, TorchOp.GELU: lambda s: 2 * s.out,  # hook + F.*
    TorchOp.ELU: lambda s: 2 * s.out, TorchOp.PRELU: lambda s: 2 * s.out,
    TorchOp.LEAKYRELU: lambda s: s.out, TorchOp.RELU6: lambda s: s.out,  # hook only
    TorchOp.SILU: lambda s: s.inp, TorchOp.SOFTMAX: lambda s: s.inp,  # F.* only
    TorchOp.MAXPOOL: lambda s: 2 * s.inp, TorchOp.AVGPOOL: lambda s: 2 * s.inp,
    TorchOp.ADAPTIVE_AVGPOOL: lambda s: 2 * s.inp, TorchOp.ADAPTIVE_MAXPOOL: lambda s: 2 * s.inp,
    TorchOp.UPSAMPLE: lambda s: 2 * s.out,  # hook + F.interpolate
    # F.local_response_norm: Tensor.mul twice, Tensor.add, and avg_pool on the squares
    # padded by size − 1 channels
    TorchOp.LRN: lambda s: 3 * s.inp + s.pos_in * (s.channels + s.view.window - 1),
}


def _thop_adaptive(s: Site) -> int:
    # count_adap_avgpool: (∏ in/out per axis, in float64) + 1, × output elements, truncated
    kernel = 1.0
    for a, b in zip(s.view.inp[:-1], s.out_shape[:-1], strict=True):
        kernel *= a / b
    return int((kernel + 1) * s.out)


_THOP: dict[TorchOp, Rule] = {  # register_hooks, exact classes only
    TorchOp.CONV: lambda s: s.weights * s.pos_out, TorchOp.DECONV: lambda s: s.weights * s.pos_out,
    TorchOp.LINEAR: lambda s: s.weights,
    TorchOp.BATCHNORM: lambda s: _affine(s, 4, 2), TorchOp.LAYERNORM: lambda s: _affine(s, 4, 2),
    TorchOp.INSTANCENORM: lambda s: _affine(s, 4, 2),
    TorchOp.PRELU: lambda s: s.inp,
    TorchOp.SOFTMAX: lambda s: s.pos_in * (3 * s.channels - 1),
    TorchOp.AVGPOOL: lambda s: s.out, TorchOp.ADAPTIVE_AVGPOOL: _thop_adaptive,
    TorchOp.UPSAMPLE: lambda s: s.out,
}


def _table(table: dict[TorchOp, Rule]) -> Rule:
    return lambda s: table[s.view.op](s) if s.view.op in table else 0


RULES: dict[str, Rule] = {
    "cnncalc": lambda s: s.macs,
    "torchinfo": _torchinfo,
    "fvcore": _table(_FVCORE),
    "ptflops": _table(_PTFLOPS),
    "ptflops-aten": _table(_ATEN),
    "thop": _table(_THOP),
}


def tool_name(name: str) -> str:
    """``name`` as one of :data:`TOOLS` (any case), or a ValueError with a did-you-mean.

    >>> tool_name("FVCore"), tool_name("ptflops_aten")
    ('fvcore', 'ptflops-aten')
    >>> tool_name("torchinf")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: unknown tool 'torchinf' — did you mean torchinfo? (one of cnncalc, ...)
    """
    key = name.strip().lower().replace("_", "-")
    if key in TOOLS:
        return key
    close = difflib.get_close_matches(key, list(TOOLS), n=1, cutoff=0.5)
    hint = f" — did you mean {close[0]}?" if close else ""
    raise ValueError(f"unknown tool {name!r}{hint} (one of {', '.join(TOOLS)})")


def row_macs(report: Report, tool: str) -> list[int | None]:
    """Each row's MACs in ``tool``'s convention: a leaf's by the tool's rule, a block's the
    sum of the leaves inside it (None where a shape is unknown)."""
    rule = RULES[tool]
    out: list[int | None] = [None if s is None else rule(s) for s in sites(report)]
    for i in reversed(range(len(report.layers))):  # children come after their block
        if report.layers[i].is_block:
            inner = [out[c] for c in report.children[i]]
            out[i] = None if any(m is None for m in inner) else sum(m or 0 for m in inner)
    return out


def totals(report: Report) -> dict[str, int] | None:
    """Every tool's total MACs for one input (the tools run on a batch of one), or None when
    the report has errors (shapes unknown)."""
    if not report.ok:
        return None
    leaves = [s for s, r in zip(sites(report), report.layers, strict=True) if not r.is_block]
    if any(s is None for s in leaves):
        return None
    return {tool: sum(rule(s) for s in leaves if s is not None) for tool, rule in RULES.items()}


def as_tool(report: Report, tool: str) -> Report:
    """The report with every row's and the total MACs in ``tool``'s convention."""
    macs = row_macs(report, tool)
    rows = tuple(replace(r, macs=m) for r, m in zip(report.layers, macs, strict=True))
    total = sum(m or 0 for r, m in zip(report.layers, macs, strict=True) if not r.is_block)
    return replace(report, layers=rows, totals=replace(report.totals, macs=total),
                   macs_as=None if tool == CNNCALC else tool)


__all__ = ["CNNCALC", "RULES", "TOOLS", "Site", "as_tool", "row_macs", "site", "sites",
           "tool_name", "totals"]
