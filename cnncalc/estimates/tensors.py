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
            return i
        if node.reads:  # a route hands on the named tensor itself
            return row.source if row.source is not None else src
        if not row.is_block:
            return src if node.reshapes_only else i
        if node.chained or not isinstance(node, Block):
            return self.sequence(self.report.children[i], src)
        self.outs[i] = [self.sequence(g, src) for g in self.report.group_rows(i, node.groups())]
        return i


__all__ = ["Tensors"]
