"""``summary --by kind|stage``: a breakdown's cells, as the table, Markdown, CSV and JSON
show them (the numbers come from :mod:`cnncalc.breakdown`)."""

from __future__ import annotations

import csv
import io

from ..breakdown import Share, share_text
from ..report import Report
from .formats import count, human, mb

HEADERS = (("Layers", ">"), ("Params", ">"), ("%", ">"), ("MACs", ">"), ("%", ">"),
           ("Activations", ">"), ("%", ">"))


def headers(report: Report) -> tuple[tuple[str, str], ...]:
    """:data:`HEADERS`, the MACs naming the tool whose convention they follow (``--macs-as``)."""
    tool = report.macs_as
    return tuple((f"MACs ({tool})", a) if h == "MACs" and tool else (h, a) for h, a in HEADERS)


def cells(report: Report, share: Share) -> list[str]:
    t = report.totals
    return [f"{share.layers:,}", count(share.params), share_text(share.params, t.params),
            human(share.macs), share_text(share.macs, t.macs), mb(share.activation_bytes),
            share_text(share.activation_bytes, t.activation_bytes)]


def total_cells(report: Report, shares: list[Share]) -> list[str]:
    t = report.totals
    return [f"{sum(s.layers for s in shares):,}", count(t.params), "", human(t.macs), "",
            mb(t.activation_bytes), ""]


def to_markdown(report: Report, shares: list[Share], by: str) -> str:
    lines = [f"### {report.name}", ""] if report.name else []
    lines += [f"| {by.capitalize()} | " + " | ".join(h for h, _ in headers(report)) + " |",
              "|---|" + "---:|" * len(HEADERS)]
    lines += [f"| {s.name.replace('|', chr(92) + '|')} | " + " | ".join(cells(report, s)) + " |"
              for s in shares]
    lines.append("| **Total** | " + " | ".join(total_cells(report, shares)) + " |")
    return "\n".join(lines) + "\n"


def to_csv(report: Report, shares: list[Share], by: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    fields = ("layers", "params", "non_trainable", "macs", "activation_bytes", "params_share",
              "macs_share", "activation_share")
    tool = f"_{report.macs_as}" if report.macs_as else ""
    writer.writerow((by, *(f"{f}{tool}" if f.startswith("macs") else f for f in fields)))
    for s in shares:
        d = s.to_dict(report)
        writer.writerow((s.name, *(d[f] for f in fields)))
    return buf.getvalue()


__all__ = ["HEADERS", "cells", "headers", "to_csv", "to_markdown", "total_cells"]
