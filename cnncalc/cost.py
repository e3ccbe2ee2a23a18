"""The forward pass's cost model: what one layer's kernel allocates besides its output
(scratch bytes) and how long it runs (work units). Every layer kind answers its own
``cost`` with these units; `cnncalc.forward` adds them up before it runs anything."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

WORK_MAC = 0.1
"""Work units (about 1 ns each) per multiply-add inside a BLAS GEMM."""
WORK_ELEMENT = 1.0
"""Work units per element per NumPy pass (element-wise ops, copies, reductions)."""
WORK_STEP = 5000.0
"""Work units per step of a Python-level loop in a kernel (a few NumPy calls)."""


@dataclass(frozen=True, slots=True)
class Cost:
    """One layer's kernel: bytes it allocates besides its output, its work, and the bytes
    of the operands of the largest GEMM it hands to BLAS in one call (left block plus
    right matrix: what BLAS may pack into each of its threads' buffers; 0 for a kernel
    that runs no GEMM)."""

    scratch: int
    work: float
    gemm: int = 0


def copy_cost(ein: int, eout: int) -> Cost:
    """A kernel that reads its input and writes its output in a pass or two, with no
    scratch (relu, tanh, flatten, padding, upsampling, pass-throughs)."""
    return Cost(0, 2 * (ein + eout) * WORK_ELEMENT)




class TorchOp(Enum):
    """What a kind's exported PyTorch module is, as the tools that count MACs by module
    class or by operator (torchinfo, fvcore, ptflops, thop) see it: `cnncalc.estimates.
    conventions` holds each tool's rule per op. Kinds without a counted module are NONE."""

    NONE = "none"
    CONV = "conv"                    # nn.ConvNd (depthwise too)
    DECONV = "deconv"                # nn.ConvTransposeNd
    LINEAR = "linear"                # nn.Linear on a flat vector
    LINEAR_PER_POSITION = "linear per position"  # ChannelsLastLinear (an nn.Linear subclass)
    BATCHNORM = "batchnorm"
    LAYERNORM = "layernorm"          # nn.LayerNorm on a flat vector
    LAYERNORM_PER_POSITION = "layernorm per position"  # ChannelsLastLayerNorm (a subclass)
    GROUPNORM = "groupnorm"
    INSTANCENORM = "instancenorm"
    LRN = "lrn"                      # nn.LocalResponseNorm
    RELU = "relu"
    RELU6 = "relu6"                  # a Hardtanh
    LEAKYRELU = "leakyrelu"
    PRELU = "prelu"
    ELU = "elu"
    GELU = "gelu"
    SILU = "silu"
    SOFTMAX = "softmax"              # over the channels
    MAXPOOL = "maxpool"
    AVGPOOL = "avgpool"
    ADAPTIVE_AVGPOOL = "adaptive avgpool"
    ADAPTIVE_MAXPOOL = "adaptive maxpool"
    UPSAMPLE = "upsample"            # nearest


@dataclass(frozen=True, slots=True)
class TorchView:
    """A layer's exported module as counting tools see it: its op, the shape of the tensor
    it is called on (a pool behind an explicit padding module sees the padded input) and,
    for LRN, its window."""

    op: TorchOp
    inp: tuple[int, ...]
    window: int = 0


__all__ = ["WORK_ELEMENT", "WORK_MAC", "WORK_STEP", "Cost", "TorchOp", "TorchView", "copy_cost"]
