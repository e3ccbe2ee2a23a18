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
    lines += [f"| {by.capitalize()} | " + " | ".join(h for h, _ in HEADERS) + " |",
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
    writer.writerow((by, *fields))
    for s in shares:
        d = s.to_dict(report)
        writer.writerow((s.name, *(d[f] for f in fields)))
    return buf.getvalue()


__all__ = ["HEADERS", "cells", "to_csv", "to_markdown", "total_cells"]
