"""Plain-text formats: JSON, CSV, Markdown, number formatting and GitHub annotations.

Nothing here imports rich, so ``--format json`` and the check path start fast.
Functions return strings; only the CLI prints.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from fractions import Fraction

from .analysis import LayerRow, Report
from .diagnostics import Problem, Severity
from .layers import Block
from .shapes import format_shape
from .values import fixed_text


def human(n: int | None, unit: str = "") -> str:
    """``4089184256`` → ``4.09G``; exact, with thousands separators, below 10,000.

    Rounded from the exact integer (no float), so any count renders.

    >>> human(4089184256), human(5120), human(760), human(25557032), human(None)
    ('4.09G', '5,120', '760', '25.56M', '—')
    >>> human(10**40)
    '10,000,000,000,000,000,000,000,000,000.00T'
    """
    if n is None:
        return "—"
    for scale, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= max(scale, 10**4):
            return f"{fixed_text(Fraction(n, scale), 2)}{suffix}{unit}"
    return f"{n:,}{unit}"


def mb(n: int | None) -> str:
    """Bytes in decimal units (torchinfo's footer uses MB), rounded from the exact integer.

    >>> mb(553_430_176), mb(104_040), mb(112), mb(10**30)
    ('553.43 MB', '104.04 KB', '112 B', '1,000,000,000,000,000,000,000.00 GB')
    """
    if n is None:
        return "—"
    for scale, unit in ((10**9, "GB"), (10**6, "MB"), (10**3, "KB")):
        if n >= scale:
            return f"{fixed_text(Fraction(n, scale), 2)} {unit}"
    return f"{n:,} B"


def count(n: int | None) -> str:
    """``5,120``; ``—`` when unknown.

    >>> count(5120), count(None)
    ('5,120', '—')
    """
    return "—" if n is None else f"{n:,}"


def pair(p: tuple[int, int] | None) -> str:
    return "—" if p is None else (str(p[0]) if p[0] == p[1] else f"{p[0]}×{p[1]}")


def row_problems(report: Report) -> dict[str, list[Problem]]:
    """The report's problems grouped by layer path."""
    out: dict[str, list[Problem]] = {}
    for p in report.problems:
        out.setdefault(p.path, []).append(p)
    return out


def visible(report: Report, depth: int | None) -> list[LayerRow]:
    """Rows down to ``depth`` (blocks deeper are folded into their block's row)."""
    return [r for r in report.layers if depth is None or r.depth <= depth]


def label(row: LayerRow) -> str:
    return row.node.label() if isinstance(row.node, Block) else row.spec


def source_excerpt(source: str, p: Problem, width: int = 100) -> str:
    """The spec line a problem points at, with a caret under its column."""
    if not p.location:
        return ""
    lines = source.splitlines()
    if not 1 <= p.location.line <= len(lines):
        return ""
    line = lines[p.location.line - 1]
    col = p.location.column - 1
    start = max(0, col - width // 2)
    excerpt = line[start:start + width]
    pre = "…" if start > 0 else ""
    post = "…" if start + width < len(line) else ""
    return f"  {pre}{excerpt}{post}\n  {' ' * (len(pre) + col - start)}^"


def syntax_problem(p: Problem, source: str | None, filename: str) -> str:
    loc = f"{p.location.line}:{p.location.column}:" if p.location else ""
    text = f"{filename}:{loc} {p.code} {p.message}"
    if source is not None:
        excerpt = source_excerpt(source, p)
        if excerpt:
            text += "\n" + excerpt
    for s in p.suggestions:
        text += f"\n  fix: {s}"
    return text


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


def error_json(problems: Sequence[Problem]) -> str:
    """The JSON object for a spec that could not be parsed: no layers, its problems."""
    return json.dumps({"cnncalc": "1", "name": None, "input": {"shape": None}, "ok": False,
                       "layers": [], "totals": None,
                       "problems": [p.to_dict() for p in problems]}, indent=2, ensure_ascii=False)


CSV_FIELDS = ("path", "depth", "kind", "spec", "input_shape", "output_shape", "weights", "biases",
              "params", "non_trainable", "macs", "flops", "receptive_field", "jump",
              "activation_bytes", "verified")


def to_csv(report: Report, depth: int | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in visible(report, depth):
        d = row.to_dict()
        writer.writerow(["x".join(map(str, d[f])) if isinstance(d[f], list) else
                         ("" if d[f] is None else d[f]) for f in CSV_FIELDS])
    return buf.getvalue()


def to_markdown(report: Report, depth: int | None = None) -> str:
    lines = []
    if report.name:
        lines += [f"### {report.name}", ""]
    lines += ["| # | Layer | Output | Weights | Biases | Params | MACs | RF |",
              "|---|---|---|---:|---:|---:|---:|---:|"]
    for row in visible(report, depth):
        name = "&nbsp;" * 2 * (row.depth - 1) + label(row).replace("|", "\\|")
        lines.append(f"| {row.path} | {name} | {format_shape(row.output_shape)} | "
                     f"{count(row.weights)} | {count(row.biases)} | {count(row.params)} | "
                     f"{human(row.macs)} | {pair(row.receptive_field)} |")
    t = report.totals
    lines.append(f"| | **Total** | {format_shape(t.output_shape)} | {count(t.weights)} | "
                 f"{count(t.biases)} | **{count(t.params)}** | {human(t.macs)} | |")
    lines += ["", f"Non-trainable: {t.non_trainable:,} · MACs: {t.macs:,} · parameter memory: "
              f"{mb(t.param_bytes)} · activations: {mb(t.activation_bytes)}"]
    if report.problems:
        lines.append("")
        lines += [f"- **{p.severity.value} {p.code}** (layer {p.path}): {p.message}"
                  + "".join(f" — fix: `{s}`" for s in p.suggestions) for p in report.problems]
    return "\n".join(lines) + "\n"


def github_annotation(filename: str, p: Problem) -> str:
    """A GitHub Actions workflow command: ``::error file=…,line=…,col=…,title=…::…``."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
    where = f"file={filename}"
    if p.location:
        where += f",line={p.location.line},col={p.location.column}"
    message = p.message + "".join(f"; fix: {s}" for s in p.suggestions[:1])
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{level[p.severity]} {where},title={p.code}::{message}"


def problem_line(filename: str, p: Problem) -> str:
    """``FILE:LINE:COL: CODE [severity] message`` as plain text."""
    loc = f"{p.location.line}:{p.location.column}:" if p.location else "1:1:"
    return f"{filename}:{loc} {p.code} [{p.severity.value}] {p.message}"
