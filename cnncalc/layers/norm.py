"""Normalisation: ``bn`` (batch norm), ``lrn`` (local response norm), the per-sample
norms ``layernorm``, ``groupnorm`` and ``instancenorm``, and ``layerscale``.

Every kind here works on a volume of any rank ``(*spatial, C)``: channels are
``shape[-1]``, the positions everything before it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from .. import values as v
from ..cost import WORK_ELEMENT, WORK_STEP, Cost, TorchOp, TorchView
from ..diagnostics import Finding, Fix
from ..shapes import Shape, elements, format_shape, is_volume, rank
from .base import Array, Counts, Layer, arg, count_lines, kernels, py_float
from .conv import common_divisors


@dataclass(frozen=True, eq=False, repr=False)
class BatchNorm(Layer):
    """Batch normalisation: γ (weights) and β (biases) per channel, plus running mean and
    variance (2C non-trainable). Any rank; ``bn1d`` also takes a flat vector, as PyTorch's
    ``BatchNorm1d`` does.

    >>> BatchNorm().counts((112, 112, 64), (112, 112, 64))
    Counts(weights=64, biases=64, non_trainable=128, macs=0)
    """

    name: ClassVar[str] = "bn"
    torch_op: ClassVar[TorchOp] = TorchOp.BATCHNORM
    saves_input: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ("batchnorm", "batchnormalization")
    ranked: ClassVar[tuple[str, ...]] = ("bn", "batchnorm")
    takes_flat: ClassVar[bool] = True
    formula: ClassVar[str] = "same shape; params 2C (γ, β), non-trainable 2C (running mean, var)"

    affine: bool = arg(v.boolean, True)
    eps: float = arg(v.positive_real, 1e-5)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        c = inp[-1]
        return Counts(c if self.affine else 0, c if self.affine else 0, 2 * c, 0)

    def cancels_channel_bias(self, inp: Shape) -> str:
        return "batch norm subtracts each channel's mean"

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        c: tuple[int, ...] = (inp[-1],)
        stats = {"mean": c, "var": c}
        return {"gamma": c, "beta": c, **stats} if self.affine else stats

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return Cost(32 * inp[-1], 2 * batch * elements(inp) * WORK_ELEMENT)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.batch_norm(x, w.get("gamma"), w.get("beta"), w["mean"], w["var"], self.eps)

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        return 2 * inp[-1] * 4  # training: each channel's float32 mean and inverse deviation

    def torch(self, inp: Shape) -> str:
        kind = f"nn.BatchNorm{max(1, rank(inp))}d"
        return f"{kind}({inp[-1]}, eps={py_float(self.eps)}, affine={self.affine})"


@dataclass(frozen=True, eq=False, repr=False)
class LRN(Layer):
    """Local response normalisation across ``size`` neighbouring channels (AlexNet).

    >>> LRN().describe(), LRN(3).counts((27, 27, 96), (27, 27, 96)).params
    ('lrn', 0)
    """

    name: ClassVar[str] = "lrn"
    torch_op: ClassVar[TorchOp] = TorchOp.LRN
    saves_input: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ("localresponsenorm",)
    size: int = arg(v.count, 5, positional=True)
    alpha: float = arg(v.real, 1e-4)
    beta: float = arg(v.real, 0.75)
    k: float = arg(v.real, 1.0)

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        ein = batch * elements(inp)
        return Cost(kernels.scratch_lrn((batch, *inp)),
                    12 * ein * WORK_ELEMENT + (ein // (1 << 16) + 1) * WORK_STEP)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.lrn(x, self.size, self.alpha, self.beta, self.k)

    def torch_view(self, inp: Shape) -> TorchView:
        return TorchView(self.torch_op, inp, self.size)

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        # PyTorch's LRN is a chain of ops: the squares, padded by size − 1 channels, their
        # window average, its power and the quotient keep about three more inputs' worth
        n = batch * elements(inp)
        return itemsize * (3 * n + n // inp[-1] * (self.size - 1))

    def torch(self, inp: Shape) -> str:
        lrn = (f"nn.LocalResponseNorm({self.size}, alpha={py_float(self.alpha)}, "
               f"beta={py_float(self.beta)}, k={py_float(self.k)})")
        if is_volume(inp):
            return lrn
        # PyTorch's LRN needs N×C×…; a flat vector is N×C: give it a length-1 axis and back.
        return f"nn.Sequential(nn.Unflatten(1, ({inp[0]}, 1)), {lrn}, nn.Flatten())"


def _affine_counts(affine: bool, inp: Shape) -> Counts:
    c = inp[-1] if affine else 0
    return Counts(c, c, 0, 0)


def _affine_shapes(affine: bool, inp: Shape) -> dict[str, tuple[int, ...]]:
    return {"gamma": (inp[-1],), "beta": (inp[-1],)} if affine else {}


def _norm_cost(inp: Shape, batch: int) -> Cost:
    """Three float64 passes over chunks of channel rows (statistics, then the output)."""
    ein = batch * elements(inp)
    return Cost(kernels.scratch_norm((batch, *inp)),
                12 * ein * WORK_ELEMENT + 3 * (ein // (1 << 16) + batch) * WORK_STEP)


def _gamma_beta(affine: bool) -> str:
    return "; then γ (a weight) and β (a bias) per channel" if affine else ""


def _positions(inp: Shape) -> int:
    return elements(inp[:-1]) if is_volume(inp) else 1


@dataclass(frozen=True, eq=False, repr=False)
class LayerNorm(Layer):
    """Layer norm over the C channels at each position (ConvNeXt's LayerNorm2d, PyTorch's
    ``nn.LayerNorm(C)`` on channels-last); on a flat vector, over its N elements. γ per
    channel counts as weights, β as biases: 2C params, no running statistics.

    >>> LayerNorm().counts((56, 56, 96), (56, 56, 96)), LayerNorm().counts((768,), (768,)).params
    (Counts(weights=96, biases=96, non_trainable=0, macs=0), 1536)
    """

    name: ClassVar[str] = "layernorm"
    torch_op: ClassVar[TorchOp] = TorchOp.LAYERNORM
    saves_input: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ("ln",)
    formula: ClassVar[str] = "same shape, normalised over C at each position; params 2C (γ, β)"

    eps: float = arg(v.positive_real, 1e-5)
    affine: bool = arg(v.boolean, True)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        return _affine_counts(self.affine, inp)

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        over = (f"normalises the {inp[-1]:,} channels at each of {_positions(inp):,} positions"
                if is_volume(inp) else f"normalises the {inp[0]:,} elements of the flat vector")
        return [over + _gamma_beta(self.affine), *count_lines(self.counts(inp, out))]

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        return _affine_shapes(self.affine, inp)

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return _norm_cost(inp, batch)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.layer_norm(x, w.get("gamma"), w.get("beta"), self.eps)

    torch_helper: ClassVar[str] = '''\
class ChannelsLastLayerNorm(nn.LayerNorm):
    """nn.LayerNorm over the channels of an N×C×… tensor at every position (ConvNeXt's
    LayerNorm2d, any rank): channels moved last, normalised, moved back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)'''

    def torch_view(self, inp: Shape) -> TorchView:
        op = TorchOp.LAYERNORM_PER_POSITION if is_volume(inp) else TorchOp.LAYERNORM
        return TorchView(op, inp)

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        return 2 * batch * (elements(inp) // inp[-1] if is_volume(inp) else 1) * 4  # mean, rstd

    def torch(self, inp: Shape) -> str:
        kind = "ChannelsLastLayerNorm" if is_volume(inp) else "nn.LayerNorm"  # `torch_helper`
        return f"{kind}({inp[-1]}, eps={py_float(self.eps)}, elementwise_affine={self.affine})"


def single_value(layer: Layer, inp: Shape, per_group: int, affine: bool) -> Iterator[Finding]:
    """G013 when each normalised group holds one value (``per_group`` channels at every
    position): x − mean is 0, so the output is β whatever the input (PyTorch refuses it)."""
    if per_group * _positions(inp) == 1:
        ln = LayerNorm(cast(Any, layer).eps, affine)
        where = "1 position" if is_volume(inp) else "a flat vector"
        yield Finding(
            "G013", f"{layer.describe()} on {format_shape(inp)} ({where}) normalises each "
            f"channel on its own, one value each: x − mean is 0 and every output is "
            f"β{'' if affine else ' = 0'}",
            fixes=(Fix(f"{ln.describe()} (normalises the {inp[-1]:,} channels together)",
                       layer, (ln,)),), fatal=True)


def groups_findings(layer: Layer, groups: int, inp: Shape) -> Iterator[Finding]:
    """G004 when ``groups`` does not divide the channels, with the nearest divisors."""
    c = inp[-1]
    if c % groups:
        yield Finding(
            "G004", f"groups={groups} does not divide the {c:,} channels "
            f"({c:,} = {groups:,}·{c // groups:,} + {c % groups:,})",
            fixes=tuple(Fix(new.describe(), layer, (new,)) for new in (
                cast(Layer, dataclasses.replace(cast(Any, layer), groups=g))
                for g in common_divisors(c, c, groups, 2))), fatal=True)


@dataclass(frozen=True, eq=False, repr=False)
class GroupNorm(Layer):
    """Group norm: the C channels in ``groups`` groups of C/groups, each sample's group
    normalised over its channels and every position, then γ, β per channel (2C params).

    >>> GroupNorm(32).counts((56, 56, 256), (56, 56, 256)).params, GroupNorm(8).describe()
    (512, 'groupnorm(8)')
    """

    name: ClassVar[str] = "groupnorm"
    torch_op: ClassVar[TorchOp] = TorchOp.GROUPNORM
    saves_input: ClassVar[bool] = True
    aliases: ClassVar[tuple[str, ...]] = ("gn",)
    codes: ClassVar[frozenset[str]] = frozenset({"G004", "G013"})
    formula: ClassVar[str] = "same shape (groups must divide C); params 2C (γ, β)"

    groups: int = arg(v.count, positional=True, help="number of channel groups")
    eps: float = arg(v.positive_real, 1e-5)
    affine: bool = arg(v.boolean, True)

    def size_period(self, inp: Shape) -> tuple[tuple[int, int], ...]:
        """Size 1 is special (one position: G013); a flat vector's length is its channels:
        they must divide into the groups, and one value per group is G013.

        >>> GroupNorm(4).size_period((7, 7, 8)), GroupNorm(4).size_period((12,))
        (((1, 2), (1, 2)), ((4, 5),))
        """
        return ((1, 2),) * rank(inp) if is_volume(inp) else ((self.groups, self.groups + 1),)

    def check(self, inp: Shape) -> Iterator[Finding]:
        yield from groups_findings(self, self.groups, inp)
        if inp[-1] % self.groups == 0:
            yield from single_value(self, inp, inp[-1] // self.groups, self.affine)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        return _affine_counts(self.affine, inp)

    def cancels_channel_bias(self, inp: Shape) -> str:
        if self.groups != inp[-1]:
            return ""
        return f"{self.describe()} on {inp[-1]:,} channels normalises each channel on its own"

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        c = inp[-1]
        return [f"{self.groups:,} groups of {c:,}/{self.groups:,} = {c // self.groups:,} channels, "
                f"each normalised over {c // self.groups:,}·{_positions(inp):,} = "
                f"{c // self.groups * _positions(inp):,} values"
                + _gamma_beta(self.affine), *count_lines(self.counts(inp, out))]

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        return _affine_shapes(self.affine, inp)

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return _norm_cost(inp, batch)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.group_norm(x, self.groups, w.get("gamma"), w.get("beta"), self.eps)

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        return 2 * batch * self.groups * 4  # each group's float32 mean and inverse deviation

    def torch(self, inp: Shape) -> str:
        return (f"nn.GroupNorm({self.groups}, {inp[-1]}, eps={py_float(self.eps)}, "
                f"affine={self.affine})")


@dataclass(frozen=True, eq=False, repr=False)
class InstanceNorm(Layer):
    """Instance norm: each sample's channel normalised over its positions; γ, β per
    channel only with ``affine=true`` (PyTorch's default is off); never running statistics.

    >>> InstanceNorm().counts((64, 64, 32), (64, 64, 32)).params, InstanceNorm(affine=True).describe()
    (0, 'instancenorm(affine=true)')
    """

    name: ClassVar[str] = "instancenorm"
    torch_op: ClassVar[TorchOp] = TorchOp.INSTANCENORM
    saves_input: ClassVar[bool] = True
    ranked: ClassVar[tuple[str, ...]] = ("instancenorm",)
    codes: ClassVar[frozenset[str]] = frozenset({"G006", "G013"})
    formula: ClassVar[str] = "same shape, each channel normalised over its positions; params 0 (affine: 2C)"

    affine: bool = arg(v.boolean, False)
    eps: float = arg(v.positive_real, 1e-5)

    def size_period(self, inp: Shape) -> tuple[tuple[int, int], ...]:
        """Size 1 is special: a single position (G013) when every other axis is 1 too.

        >>> InstanceNorm().size_period((1, 5, 3))
        ((1, 2), (1, 2))
        """
        return ((1, 2),) * rank(inp) if is_volume(inp) else super().size_period(inp)

    def check(self, inp: Shape) -> Iterator[Finding]:
        ln = LayerNorm(self.eps, self.affine)
        if not is_volume(inp):
            yield Finding(
                "G006", f"instancenorm normalises each channel over its positions, but its input "
                f"is a flat vector of {format_shape(inp)} (one position per channel)",
                fixes=(Fix(f"{ln.describe()} (normalises the {inp[0]:,} elements together)",
                           self, (ln,)),), fatal=True)
        else:
            yield from single_value(self, inp, 1, self.affine)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        return _affine_counts(self.affine, inp)

    def cancels_channel_bias(self, inp: Shape) -> str:
        return "instance norm subtracts each channel's mean over its positions"

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        return [f"each of the {inp[-1]:,} channels normalised over its {_positions(inp):,} "
                "positions" + _gamma_beta(self.affine), *count_lines(self.counts(inp, out))]

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        return _affine_shapes(self.affine, inp)

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return _norm_cost(inp, batch)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.instance_norm(x, w.get("gamma"), w.get("beta"), self.eps)

    def saved_extra(self, inp: Shape, out: Shape, batch: int, itemsize: int) -> int:
        return 2 * batch * inp[-1] * 4  # each image's channels' mean and inverse deviation

    def torch(self, inp: Shape) -> str:
        return (f"nn.InstanceNorm{len(inp) - 1}d({inp[-1]}, eps={py_float(self.eps)}, "
                f"affine={self.affine}, track_running_stats=False)")


@dataclass(frozen=True, eq=False, repr=False)
class LayerScale(Layer):
    """Layer scale (ConvNeXt, CaiT): x·γ with one learned γ per channel, initialised to
    ``init``: C weights.

    >>> LayerScale().counts((7, 7, 768), (7, 7, 768)), LayerScale(init=0.1).describe()
    (Counts(weights=768, biases=0, non_trainable=0, macs=0), 'layerscale(init=0.1)')
    """

    name: ClassVar[str] = "layerscale"
    keeps_layout: ClassVar[bool] = True
    saves_input: ClassVar[bool] = True
    codes: ClassVar[frozenset[str]] = frozenset({"G006"})
    formula: ClassVar[str] = "same shape, x·γ per channel; params C"

    init: float = arg(v.real, 1e-6, help="initial value of every γ")

    def check(self, inp: Shape) -> Iterator[Finding]:
        if not is_volume(inp):  # no fix: nothing else scales a flat vector per element
            yield Finding("G006", f"layerscale scales the channels of a volume, but its input is "
                          f"a flat vector of {format_shape(inp)}", fatal=True)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        return Counts(weights=inp[-1])

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        return [f"x·γ, one γ per channel (initially {self.init:g})",
                *count_lines(self.counts(inp, out))]

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        return {"gamma": (inp[-1],)}

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        ein = batch * elements(inp)
        return Cost(0, 2 * ein * WORK_ELEMENT)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.layer_scale(x, w["gamma"])

    torch_helper: ClassVar[str] = '''\
class LayerScale(nn.Module):
    """x·γ with one learned γ per channel of an N×C×… tensor (ConvNeXt's layer scale)."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(-1, *([1] * (x.dim() - 2)))'''

    def torch(self, inp: Shape) -> str:
        return f"LayerScale({inp[-1]}, {py_float(self.init)})"  # the class: `torch_helper`
