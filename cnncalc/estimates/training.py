"""The memory and work of one training step, from cnncalc's rows (``summary --train``).

A step holds the parameters (and buffers: batch norm's running statistics), one gradient per
parameter, the optimizer's state, and every tensor autograd keeps for the backward pass:
each kind says what it keeps (``saves_input``, ``saves_output``, ``saved_extra``: its input
for conv and fc, its output for ReLU, the input and int64 indices for max pooling…). A tensor
two layers keep — ReLU's output is the next conv's input — is counted once: the walk below
follows which row's output each row reads, as the exported module passes it on (an identity
or flatten hands on its input itself). The peak is the sum, an upper bound: PyTorch frees
saved tensors while backward allocates gradients. Training FLOPs are 3 × the forward's
(backward computes gradients for both the input and the weights). Measured against real
steps of the exported modules in tests/test_training.py (README: the ratios).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ..layers import Node
from ..report import DTYPES, LayerRow, Report
from ..shapes import Shape, elements
from .tensors import Tensors

OPTIMIZERS: dict[str, int] = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
"""Each optimizer's state tensors per parameter (momentum: one buffer; Adam: two moments)."""
STEP_BYTES = 4
"""Adam keeps a float32 step count per parameter tensor."""


def optimizer_name(name: str) -> str:
    """``name`` as one of :data:`OPTIMIZERS`, or a ValueError with a did-you-mean.

    >>> optimizer_name("AdamW")
    'adamw'
    >>> optimizer_name("adm")
    Traceback (most recent call last):
    ValueError: unknown optimizer 'adm' — did you mean adam? (one of sgd, momentum, adam, adamw)
    """
    key = name.strip().lower()
    if key in OPTIMIZERS:
        return key
    close = difflib.get_close_matches(key, list(OPTIMIZERS), n=1, cutoff=0.5)
    hint = f" — did you mean {close[0]}?" if close else ""
    raise ValueError(f"unknown optimizer {name!r}{hint} (one of {', '.join(OPTIMIZERS)})")


@dataclass(frozen=True)
class Training:
    """One training step's memory (bytes) and work."""

    optimizer: str
    batch: int
    dtype: str
    param_bytes: int
    buffer_bytes: int
    grad_bytes: int
    state_bytes: int
    activation_bytes: int
    activations_by_kind: dict[str, int]
    flops: int

    @property
    def peak_bytes(self) -> int:
        return (self.param_bytes + self.buffer_bytes + self.grad_bytes + self.state_bytes
                + self.activation_bytes)

    def to_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "batch": self.batch, "dtype": self.dtype,
                "param_bytes": self.param_bytes, "buffer_bytes": self.buffer_bytes,
                "grad_bytes": self.grad_bytes, "optimizer_state_bytes": self.state_bytes,
                "activation_bytes": self.activation_bytes,
                "activations_by_kind": self.activations_by_kind,
                "peak_bytes": self.peak_bytes, "flops": self.flops}


def _shape(report: Report, t: int) -> Shape | None:
    return report.input_shape if t < 0 else report.layers[t].output_shape


def _kept(node: Node, row: LayerRow, tensors: Tensors, i: int) -> list[int]:
    """The tensors row ``i`` keeps for backward: none when autograd does not track it (no
    parameter of its own and none before it — a pool or activation on the input)."""
    kept: list[int] = []
    if not (row.weights or row.biases or tensors.tracked(tensors.inputs[i])
            or any(tensors.tracked(t) for t in tensors.outs.get(i, []))):
        return kept
    if node.saves_input:
        kept.append(tensors.inputs[i])
    if node.saves_output and not row.is_block:
        kept.append(i)
    if node.saves_group_outputs:
        kept += tensors.outs.get(i, [])
    return kept


def estimate(report: Report, optimizer: str = "adam", batch: int | None = None) -> Training | None:
    """The training step of ``report``'s network on ``batch`` inputs (default: the report's),
    or None when a shape is unknown (the report has errors)."""
    if not report.ok or any(r.output_shape is None or r.input_shape is None
                            for r in report.layers):
        return None
    batch = report.batch if batch is None else batch
    size = DTYPES[report.dtype]
    tensors = Tensors(report)
    owner: dict[int, str] = {}
    extra: dict[str, int] = {}
    param_tensors = 0
    for i, row in enumerate(report.layers):
        node = row.node
        if node is None:
            continue
        for t in _kept(node, row, tensors, i):
            owner.setdefault(t, row.kind)
        if not row.is_block and row.input_shape is not None and row.output_shape is not None \
                and (row.weights or row.biases or tensors.tracked(tensors.inputs[i])):
            more = node.saved_extra(row.input_shape, row.output_shape, batch, size)
            if more:
                extra[row.kind] = extra.get(row.kind, 0) + more
            param_tensors += bool(row.weights) + bool(row.biases)
    by_kind = dict(extra)
    for tensor, kind in owner.items():
        shape = _shape(report, tensor)
        by_kind[kind] = by_kind.get(kind, 0) + batch * size * (elements(shape) if shape else 0)
    totals = report.totals
    states = OPTIMIZERS[optimizer]
    step = STEP_BYTES * param_tensors if states == 2 else 0
    params = totals.params * size
    return Training(optimizer, batch, report.dtype, params, totals.non_trainable * size, params,
                    states * params + step, sum(by_kind.values()),
                    dict(sorted(by_kind.items(), key=lambda kv: -kv[1])), 6 * totals.macs * batch)


__all__ = ["OPTIMIZERS", "Training", "estimate", "optimizer_name"]
