"""Normalisation: ``bn`` (batch norm) and ``lrn`` (local response norm)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import values as v
from ..cost import WORK_ELEMENT, WORK_STEP, Cost
from ..shapes import Shape, elements, is_volume, rank
from .base import Array, Counts, Layer, arg, kernels, py_float


@dataclass(frozen=True, eq=False, repr=False)
class BatchNorm(Layer):
    """Batch normalisation: γ (weights) and β (biases) per channel, plus running mean and
    variance (2C non-trainable). Any rank; ``bn1d`` also takes a flat vector, as PyTorch's
    ``BatchNorm1d`` does.

    >>> BatchNorm().counts((112, 112, 64), (112, 112, 64))
    Counts(weights=64, biases=64, non_trainable=128, macs=0)
    """

    name: ClassVar[str] = "bn"
    aliases: ClassVar[tuple[str, ...]] = ("batchnorm", "batchnormalization")
    ranked: ClassVar[tuple[str, ...]] = ("bn", "batchnorm")
    takes_flat: ClassVar[bool] = True
    formula: ClassVar[str] = "same shape; params 2C (γ, β), non-trainable 2C (running mean, var)"

    affine: bool = arg(v.boolean, True)
    eps: float = arg(v.positive_real, 1e-5)

    def counts(self, inp: Shape, out: Shape) -> Counts:
        c = inp[-1]
        return Counts(c if self.affine else 0, c if self.affine else 0, 2 * c, 0)

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        c: tuple[int, ...] = (inp[-1],)
        stats = {"mean": c, "var": c}
        return {"gamma": c, "beta": c, **stats} if self.affine else stats

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return Cost(32 * inp[-1], 2 * batch * elements(inp) * WORK_ELEMENT)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.batch_norm(x, w.get("gamma"), w.get("beta"), w["mean"], w["var"], self.eps)

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

    def torch(self, inp: Shape) -> str:
        lrn = (f"nn.LocalResponseNorm({self.size}, alpha={py_float(self.alpha)}, "
               f"beta={py_float(self.beta)}, k={py_float(self.k)})")
        if is_volume(inp):
            return lrn
        # PyTorch's LRN needs N×C×…; a flat vector is N×C: give it a length-1 axis and back.
        return f"nn.Sequential(nn.Unflatten(1, ({inp[0]}, 1)), {lrn}, nn.Flatten())"
