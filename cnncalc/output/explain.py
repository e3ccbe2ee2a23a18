"""``cnncalc explain``: the arithmetic behind every layer, as plain text."""

from __future__ import annotations

from ..layers import Layer
from ..report import Report
from ..shapes import format_shape
from .formats import elide, label, row_problems


def explain(report: Report) -> str:
    """Each row with its shapes, the formula worked out for its numbers and its problems;
    then the totals. The report's text is expected cleaned (:func:`~.formats.clean_report`)."""
    by_path = row_problems(report)
    lines = []
    for row in report.layers:
        indent = "  " * (row.depth - 1)
        lines.append(f"{indent}{row.path}  {elide(label(row))}   "
                     f"{format_shape(row.input_shape)} → {format_shape(row.output_shape)}")
        if isinstance(row.node, Layer) and row.input_shape and row.output_shape:
            lines += [f"{indent}      {line}" for line in row.node.explain(row.input_shape,
                                                                           row.output_shape)]
        elif row.is_block:
            lines.append(f"{indent}      {type(row.node).formula if row.node else ''}")
        lines += [f"{indent}      {p.severity.value} {p.code}: {p.message}"
                  for p in by_path.get(row.path, [])]
    t = report.totals
    lines.append(f"total: {t.params:,} params, {t.non_trainable:,} non-trainable, "
                 f"{t.macs:,} MACs, output {format_shape(t.output_shape)}")
    return "\n".join(lines)


__all__ = ["explain"]
