"""The records of an analysis: one row per layer or block, the totals, the report.

Every later stage reads these: lints, fixes, the forward pass, the output formats. They
import nothing but the spec they describe, so no stage needs another to see them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from .diagnostics import Location, Mode, Problem, Severity, at_call
from .layers import Block, Node
from .shapes import Shape
from .spec.build import Spec

DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1}
"""Bytes per element of each ``--dtype``."""


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One row of the report: a leaf layer, or a block carrying the totals of what it holds."""

    path: str
    depth: int
    kind: str
    spec: str
    input_shape: Shape | None
    output_shape: Shape | None
    weights: int | None
    biases: int | None
    non_trainable: int | None
    macs: int | None
    receptive_field: tuple[int, ...] | None
    jump: tuple[int, ...] | None
    activation_bytes: int | None
    location: Location | None
    is_block: bool = False
    verified: bool | None = None
    node: Node | None = field(default=None, repr=False, compare=False)
    parent: int | None = field(default=None, compare=False)
    """Index in :attr:`Report.layers` of the block row holding this row (None at the top)."""
    tensor: str | None = None
    """The ``as`` name of this row's output (spec §9), or None."""
    source: int | None = field(default=None, compare=False)
    """A route's (``@NAME``): the row whose output it reads (-1: the network's input)."""
    keep: bool = field(default=False, compare=False)
    """A route reads this row's output later: the forward pass keeps it until then."""
    release: bool = field(default=False, compare=False)
    """A route that is the last reader of its tensor: the forward pass drops it after."""
    output: bool = field(default=False, compare=False)
    """Its output is one of the network's outputs besides the main one (nothing reads it)."""

    @property
    def params(self) -> int | None:
        return None if self.weights is None or self.biases is None else self.weights + self.biases

    @property
    def flops(self) -> int | None:
        return None if self.macs is None else 2 * self.macs

    def to_dict(self) -> dict[str, Any]:
        def listed(t: tuple[int, ...] | None) -> list[int] | None:
            return list(t) if t is not None else None
        return {
            "path": self.path, "depth": self.depth, "kind": self.kind, "spec": self.spec,
            "name": self.tensor,
            "input_shape": listed(self.input_shape), "output_shape": listed(self.output_shape),
            "weights": self.weights, "biases": self.biases, "params": self.params,
            "non_trainable": self.non_trainable, "macs": self.macs, "flops": self.flops,
            "receptive_field": listed(self.receptive_field), "jump": listed(self.jump),
            "activation_bytes": self.activation_bytes, "verified": self.verified,
            "location": self.location.to_dict() if self.location else None,
        }


@dataclass(frozen=True)
class Totals:
    """Whole-network figures; every leaf layer counted once.

    ``activation_bytes`` is every tensor the network produces — each layer's output and each
    residual sum or concatenation — × batch × dtype size. A repeat's output is its last
    layer's (not counted twice); an identity branch (``[]``) produces nothing new.
    """

    weights: int
    biases: int
    non_trainable: int
    macs: int
    param_bytes: int
    activation_bytes: int
    output_shape: Shape | None
    outputs: tuple[Shape | None, ...] = ()
    """Every output (spec §9: each tensor nothing consumes) in the order they are produced,
    the main output (``output_shape``) last."""

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params, "weights": self.weights, "biases": self.biases,
            "non_trainable": self.non_trainable, "macs": self.macs, "flops": self.flops,
            "param_bytes": self.param_bytes, "activation_bytes": self.activation_bytes,
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "outputs": [list(o) if o else None for o in self.outputs or (self.output_shape,)],
        }


@dataclass(frozen=True)
class Report:
    name: str | None
    input_shape: Shape | None
    mode: Mode
    layers: tuple[LayerRow, ...]
    totals: Totals
    problems: tuple[Problem, ...]
    batch: int = 1
    dtype: str = "float32"
    spec: Spec | None = field(default=None, repr=False, compare=False)
    macs_as: str | None = None
    """The tool whose MAC convention the rows' and total MACs follow (None: cnncalc's)."""
    conventions: dict[str, int] | None = field(default=None, compare=False)
    """Each tool's total MACs (JSON ``conventions``), when the command asked for them."""
    training: dict[str, Any] | None = field(default=None, compare=False)
    """The training estimate (JSON ``training``), when the command asked for it."""

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        """For each row, the indices of the rows directly inside it (a block's groups' rows,
        in spec order); the tree the walker built, without reading paths."""
        out: list[list[int]] = [[] for _ in self.layers]
        for i, row in enumerate(self.layers):
            if row.parent is not None:
                out[row.parent].append(i)
        return tuple(tuple(c) for c in out)

    @cached_property
    def roots(self) -> tuple[int, ...]:
        """The rows of the spec's top-level nodes (no parent), in spec order."""
        return tuple(i for i, row in enumerate(self.layers) if row.parent is None)

    def group_rows(self, index: int, groups: Sequence[Sized]) -> Iterator[Sequence[int]]:
        """Block row ``index``'s children cut into its ``groups``' rows, one slice per group
        (every node of a group has exactly one row; a repeat's copies follow each other)."""
        rows, start = self.children[index], 0
        for group in groups:
            yield rows[start:start + len(group)]
            start += len(group)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def to_dict(self, rows: bool = True) -> dict[str, Any]:
        """The JSON object of spec §7 (``rows=False``: ``layers`` left empty, for a writer
        that streams them)."""
        return {
            "cnncalc": "1",
            "name": self.name,
            "description": self.spec.description if self.spec else None,
            "input": {"shape": list(self.input_shape) if self.input_shape else None},
            "mode": self.mode,
            "batch": self.batch,
            "dtype": self.dtype,
            "ok": self.ok,
            "layers": [row.to_dict() for row in self.layers] if rows else [],
            "totals": self.totals.to_dict(),
            "problems": [p.to_dict() for p in self.problems],
            **({"macs_as": self.macs_as} if self.macs_as else {}),
            **({"conventions": self.conventions} if self.conventions is not None else {}),
            **({"training": self.training} if self.training is not None else {}),
        }


def in_calls(problem: Problem, row: LayerRow, rows: Sequence[LayerRow]) -> Problem:
    """A problem of a row inside block calls, reported at the outermost call (spec §10), its
    message naming each body's line (the walk's problems and the lints' alike)."""
    parent = row.parent
    while parent is not None:
        holder = rows[parent]
        node = holder.node
        call = node.called() if isinstance(node, Block) else None
        if isinstance(node, Block) and call is not None and holder.location is not None:
            problem = at_call(problem, call, holder.location, node.fix_hint())
        parent = holder.parent
    return problem


def with_verified(report: Report, verified: Sequence[bool | None],
                  extra: Sequence[Problem] = ()) -> Report:
    """A copy of the report with each row's ``verified`` set (used by the forward pass)."""
    rows = tuple(replace(r, verified=flag) for r, flag in zip(report.layers, verified, strict=True))
    return replace(report, layers=rows, problems=(*report.problems, *extra))


__all__ = ["DTYPES", "LayerRow", "Report", "Totals", "in_calls", "with_verified"]
