"""``cnncalc explain``: the arithmetic behind every layer, as plain text."""

from __future__ import annotations

from ..layers import Block, Layer
from ..report import Report
from ..shapes import Shape, format_shape
from .formats import elide, label, row_problems


def explain(report: Report) -> str:
    """Each row with its shapes, the formula worked out for its numbers and its problems;
    then the totals. The report's text is expected cleaned (:func:`~.formats.clean_report`)."""
    by_path = row_problems(report)
    lines = []
    for index, row in enumerate(report.layers):
        indent = "  " * (row.depth - 1)
        lines.append(f"{indent}{row.path}  {elide(label(row))}   "
                     f"{format_shape(row.input_shape)} → {format_shape(row.output_shape)}")
        if isinstance(row.node, Layer) and row.input_shape and row.output_shape:
            lines += [f"{indent}      {line}" for line in row.node.explain(row.input_shape,
                                                                           row.output_shape)]
        elif isinstance(row.node, Block) and row.input_shape and row.output_shape \
                and not row.node.chained:
            lines += [f"{indent}      {line}" for line in row.node.explain_block(
                row.input_shape, group_outputs(report, index, row.input_shape), row.output_shape)]
        elif isinstance(row.node, Block):
            lines += [f"{indent}      {line}" for line in row.node.explain_chain()]
        lines += [f"{indent}      {p.severity.value} {p.code}: {p.message}"
                  for p in by_path.get(row.path, [])]
    t = report.totals
    lines.append(f"total: {t.params:,} params, {t.non_trainable:,} non-trainable, "
                 f"{t.macs:,} MACs, output {format_shape(t.output_shape)}")
    return "\n".join(lines)


def group_outputs(report: Report, index: int, inp: Shape) -> list[Shape]:
    """The output of each group of the (parallel) block at row ``index``: its last row's,
    or its own input for an empty group."""
    node = report.layers[index].node
    assert isinstance(node, Block)  # only called for block rows
    groups = node.groups()
    ins, _ = node.inputs(inp)
    outs: list[Shape] = []
    for n, rows in enumerate(report.group_rows(index, groups)):
        last = report.layers[rows[-1]].output_shape if rows else (ins[n] if ins else inp)
        outs.append(last or inp)
    return outs


__all__ = ["explain"]
