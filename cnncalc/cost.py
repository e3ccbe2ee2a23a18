"""The forward pass's cost model: what one layer's kernel allocates besides its output
(scratch bytes) and how long it runs (work units). Every layer kind answers its own
``cost`` with these units; `cnncalc.forward` adds them up before it runs anything."""

from __future__ import annotations

from dataclasses import dataclass

WORK_MAC = 0.1
"""Work units (about 1 ns each) per multiply-add inside a BLAS GEMM."""
WORK_ELEMENT = 1.0
"""Work units per element per NumPy pass (element-wise ops, copies, reductions)."""
WORK_STEP = 5000.0
"""Work units per step of a Python-level loop in a kernel (a few NumPy calls)."""


@dataclass(frozen=True, slots=True)
class Cost:
    """One layer's kernel: bytes it allocates besides its output, and its work."""

    scratch: int
    work: float


def copy_cost(ein: int, eout: int) -> Cost:
    """A kernel that reads its input and writes its output in a pass or two, with no
    scratch (relu, tanh, flatten, padding, upsampling, pass-throughs)."""
    return Cost(0, 2 * (ein + eout) * WORK_ELEMENT)


__all__ = ["WORK_ELEMENT", "WORK_MAC", "WORK_STEP", "Cost", "copy_cost"]
