"""Which tensor each row of a report reads, as the exported module passes tensors on: a
tensor is named by the row that produced it (-1: the network's input). Shared by the
training estimate (a tensor two layers keep counts once) and the conventions (the memory
layout a per-position fc reads)."""

from __future__ import annotations

from collections.abc import Sequence

from ..layers import Block
from ..report import Report


class Tensors:
    """Which tensor each row reads and what each block's groups hand back: a tensor is
    named by the row that produced it (-1: the network's input)."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.inputs: list[int] = [-1] * len(report.layers)
        self.outs: dict[int, list[int]] = {}
        self.same: dict[int, int] = {}
        """A repeat's row stands for its last row's tensor (a route may name either)."""
        self.grad: dict[int, bool] = {-1: False}
        """Whether autograd tracks each tensor: it depends on a parameter (the input does not)."""
        self.sequence(report.roots, -1)

    def sequence(self, indices: Sequence[int], src: int) -> int:
        for i in indices:
            src = self.visit(i, src)
        return src

    def visit(self, i: int, src: int) -> int:
        row = self.report.layers[i]
        node = row.node
        self.inputs[i] = src
        if node is None:
            self.grad[i] = self.grad.get(src, True)
            return i
        if node.reads:  # a route hands on the named tensor itself
            return src if row.source is None else self.same.get(row.source, row.source)
        if not row.is_block:
            if node.reshapes_only:
                return src
            self.grad[i] = bool(row.weights or row.biases) or self.tracked(src)
            return i
        if node.chained or not isinstance(node, Block):
            last = self.sequence(self.report.children[i], src)
            self.same[i] = last
            return last
        self.outs[i] = [self.sequence(g, src) for g in self.report.group_rows(i, node.groups())]
        self.grad[i] = any(self.tracked(t) for t in (src, *self.outs[i]))
        return i

    def tracked(self, t: int) -> bool:
        """Autograd tracks tensor ``t``: it depends on a parameter (unknown: assume so)."""
        return self.grad.get(t, True)


__all__ = ["Tensors"]
