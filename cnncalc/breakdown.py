"""Where the parameters, the MACs and the activation memory go: by layer kind, or by stage
(each top-level row of the spec), with shares of the totals (``summary --by``).

Every count comes once: parameters and MACs from the leaf layers (a block's own rows only
add up what they hold), activation bytes from every tensor a row makes — the leaves' outputs
and the joins of parallel blocks (a residual's sum, a concatenation) — as the totals count
them. So each column of a breakdown sums to the report's totals (tests check it).
"""

from __future__ import annotations

from dataclasses import dataclass

from .report import LayerRow, Report
from .values import percent

BY = ("kind", "stage")
"""What ``--by`` groups by."""


@dataclass(frozen=True)
class Share:
    """One group of a breakdown: its name, how many layers (rows that make a tensor) it has,
    and its exact counts."""

    name: str
    layers: int
    params: int
    non_trainable: int
    macs: int
    activation_bytes: int

    def to_dict(self, report: Report) -> dict[str, object]:
        t = report.totals
        return {"name": self.name, "layers": self.layers, "params": self.params,
                "non_trainable": self.non_trainable, "macs": self.macs,
                "activation_bytes": self.activation_bytes,
                "params_share": ratio(self.params, t.params),
                "macs_share": ratio(self.macs, t.macs),
                "activation_share": ratio(self.activation_bytes, t.activation_bytes)}


def ratio(part: int, whole: int) -> float:
    """A share as a fraction of 1 (0 when the whole is 0), for JSON."""
    return part / whole if whole else 0.0


def share_text(part: int, whole: int) -> str:
    """A share as the table writes it: ``41.2 %``; ``—`` of nothing."""
    return percent(part, whole) if whole else "—"


def makes_tensor(row: LayerRow) -> bool:
    """A leaf layer, or a parallel block's join: a row whose output is a tensor of its own
    (a repeat's output is its last layer's; a route reads one that exists)."""
    node = row.node
    if row.source is not None:
        return False
    return not row.is_block or (node is not None and not node.chained)


def breakdown(report: Report, by: str) -> list[Share]:
    """The report's rows grouped by kind (in order of first appearance) or by top-level row
    (``stage``): leaf counts, and the bytes of every tensor made."""
    if by not in BY:
        raise ValueError(f"--by takes {' or '.join(BY)}, not {by!r}")
    groups: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for i, row in enumerate(report.layers):
        if not makes_tensor(row):
            continue
        if by == "kind":
            key = row.kind
        else:
            top = i
            while report.layers[top].parent is not None:
                top = report.layers[top].parent  # type: ignore[assignment]
            key = report.layers[top].path
            names.setdefault(key, stage_name(report.layers[top]))
        groups.setdefault(key, []).append(i)
    out = []
    for key, rows in groups.items():
        leaves = [report.layers[i] for i in rows if not report.layers[i].is_block]
        out.append(Share(
            names.get(key, key), len(rows), sum(r.params or 0 for r in leaves),
            sum(r.non_trainable or 0 for r in leaves), sum(r.macs or 0 for r in leaves),
            sum(report.layers[i].activation_bytes or 0 for i in rows)))
    return out


def stage_name(row: LayerRow) -> str:
    """``3 bottleneck(128, stride=2)``: a top-level row's path and what it is."""
    label = row.node.label() if row.is_block and row.node is not None else row.spec
    return f"{row.path} {label}"


__all__ = ["BY", "Share", "breakdown", "ratio", "share_text"]
