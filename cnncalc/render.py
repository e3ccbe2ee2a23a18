"""Rendering: reports as rich tables, Markdown, CSV and JSON; problems with their source line.

Render functions return renderables or strings; only the CLI prints.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .analysis import LayerRow, Report
from .diagnostics import Problem, Severity
from .layers import Block
from .shapes import format_shape

VERIFIED: dict[bool | None, str | Text] = {
    True: Text("✓", "green"), False: Text("✗", "bold red"), None: ""}
STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


def human(n: int | None, unit: str = "") -> str:
    """``4089184256`` → ``4.09G``; exact below 10,000.

    >>> human(4089184256), human(760), human(25557032), human(None)
    ('4.09G', '760', '25.56M', '—')
    """
    if n is None:
        return "—"
    for scale, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= max(scale, 10**4):
            return f"{n / scale:.2f}{suffix}{unit}"
    return f"{n}{unit}"


def mb(n: int | None) -> str:
    """Bytes in decimal units (torchinfo's footer uses MB).

    >>> mb(553_430_176), mb(104_040), mb(112)
    ('553.43 MB', '104.04 KB', '112 B')
    """
    if n is None:
        return "—"
    for scale, unit in ((10**9, "GB"), (10**6, "MB"), (10**3, "KB")):
        if n >= scale:
            return f"{n / scale:,.2f} {unit}"
    return f"{n} B"


def count(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def pair(p: tuple[int, int] | None) -> str:
    return "—" if p is None else (str(p[0]) if p[0] == p[1] else f"{p[0]}×{p[1]}")


def visible(report: Report, depth: int | None) -> list[LayerRow]:
    """Rows down to ``depth`` (blocks deeper are folded into their block's row)."""
    return [r for r in report.layers if depth is None or r.depth <= depth]


def label(row: LayerRow) -> str:
    return row.node.label() if isinstance(row.node, Block) else row.spec


def row_problems(report: Report) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for p in report.problems:
        out.setdefault(p.path, []).append(p)
    return out


Cell = str | Text


def grid(headers: Sequence[tuple[str, str]], rows: Iterable[Sequence[Cell]],
         footer_row: Sequence[Cell] | None = None, row_styles: Sequence[str] = ()) -> Text:
    """A plain column-aligned table as one :class:`Text` (``headers``: (title, "<" or ">")).

    Much faster than rich's Table for hundreds of rows, and stable for golden files.
    """
    body: list[list[Cell]] = [list(r) for r in rows]
    everything: list[list[Cell]] = [[h for h, _ in headers], *body]
    if footer_row:
        everything.append(list(footer_row))
    widths = [max(len(str(r[i])) for r in everything) for i in range(len(headers))]
    out = Text()

    def line(cells: Sequence[Cell], style: str = "") -> None:
        parts = Text(style=style)
        for i, (cell, (_, align)) in enumerate(zip(cells, headers, strict=True)):
            text = cell if isinstance(cell, Text) else Text(cell)
            pad = " " * (widths[i] - len(text))
            parts.append_text(Text(pad) + text if align == ">" else text + Text(pad))
            if i < len(cells) - 1:
                parts.append("  ")
        parts.rstrip()
        out.append_text(parts)
        out.append("\n")

    line([h for h, _ in headers], "bold")
    for i, r in enumerate(body):
        line(r, row_styles[i] if i < len(row_styles) else "")
    if footer_row:
        line(footer_row, "bold")
    out.rstrip()
    return out


def table(report: Report, depth: int | None = None, show_verified: bool = False) -> Text:
    """The summary table: a row per layer, blocks with their children indented."""
    by_path = row_problems(report)
    headers = [("#", "<"), ("Layer", "<"), ("Output", "<"), ("Weights", ">"), ("Biases", ">"),
               ("Params", ">"), ("MACs", ">"), ("RF", ">")]
    if show_verified:
        headers.append(("✓", "<"))
    headers.append(("", "<"))
    rows: list[list[Cell]] = []
    styles = []
    for row in visible(report, depth):
        marks = Text()
        for p in by_path.get(row.path, []):
            marks.append(f"{p.code} ", STYLE[p.severity])
        cells: list[Cell] = [
            Text(row.path, "dim"), "  " * (row.depth - 1) + label(row),
            format_shape(row.output_shape), count(row.weights), count(row.biases),
            count(row.params), human(row.macs), pair(row.receptive_field)]
        if show_verified:
            cells.append(VERIFIED[row.verified])
        cells.append(marks)
        rows.append(cells)
        styles.append("dim" if row.is_block else "")
    t = report.totals
    foot: list[Cell] = ["", "Total", format_shape(t.output_shape), count(t.weights),
                        count(t.biases), count(t.params), human(t.macs), ""]
    foot += [""] * (len(headers) - len(foot))
    title = Text(f"{report.name}\n", "bold") if report.name else Text()
    return title + grid(headers, rows, foot, styles)


def footer(report: Report) -> Text:
    t = report.totals
    lines = [
        f"Input: {format_shape(report.input_shape)}   Output: {format_shape(t.output_shape)}"
        f"   Mode: {report.mode}",
        f"Params: {t.params:,} (weights {t.weights:,}, biases {t.biases:,})   "
        f"Non-trainable: {t.non_trainable:,}",
        f"MACs: {human(t.macs)} ({t.macs:,})   FLOPs: {human(t.flops)}",
        f"Parameter memory: {mb(t.param_bytes)}   Activations (batch {report.batch}, "
        f"{report.dtype}): {mb(t.activation_bytes)}",
    ]
    return Text("\n".join(lines))


def problem_text(p: Problem, report: Report | None = None) -> Text:
    """``error G001 at layer 6, line 1:70: … `` with its suggestions."""
    text = Text()
    text.append(f"{p.severity.value} {p.code}", STYLE[p.severity])
    where = []
    if p.path:
        where.append(f"layer {p.path}" if p.path[0].isdigit() else p.path)
    if p.location:
        where.append(f"line {p.location.line}:{p.location.column}")
    if where:
        text.append(f" ({', '.join(where)})", "dim")
    text.append(f": {p.message}")
    for s in p.suggestions:
        text.append("\n    fix: ", "green")
        text.append(s)
    return text


def problems(report: Report) -> RenderableType:
    counts = {s: sum(p.severity is s for p in report.problems) for s in Severity}
    head = Text(", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
                or "no problems", style="bold red" if counts[Severity.ERROR] else "bold green")
    return RichGroup(*(problem_text(p, report) for p in report.problems), head)


def summary(report: Report, depth: int | None = None, show_verified: bool = False
            ) -> RenderableType:
    return RichGroup(table(report, depth, show_verified), Text(""), footer(report), Text(""),
                     problems(report))


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


def catalog_table(kinds: Iterable[tuple[str, list[str], str, str, str]]) -> Table:
    """``cnncalc layers``: name, aliases, arguments and formula of every kind."""
    t = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("Layer", "Aliases", "Arguments", "Output and parameters", ""):
        t.add_column(name, overflow="fold")
    for name, aliases, args, formula, doc in kinds:
        t.add_row(Text(name, "bold"), ", ".join(aliases), args, formula, doc)
    return t


def check_line(filename: str, p: Problem) -> Text:
    """``net.yaml:6:5: G001 [error] (11 − 2 + 2·0)/2 + 1 = 5.5 is not an integer: …``"""
    loc = f"{p.location.line}:{p.location.column}:" if p.location else "1:1:"
    text = Text(f"{filename}:{loc} ", "bold")
    text.append(p.code, STYLE[p.severity])
    text.append(f" [{p.severity.value}] {p.message}")
    if p.suggestions:
        text.append(f" (fix: {p.suggestions[0]})", "dim")
    return text


def check_summary(results: Sequence[tuple[str, Sequence[Problem]]]) -> Text:
    counts = {s: sum(p.severity is s for _, ps in results for p in ps) for s in Severity}
    found = ", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    files = f"{len(results)} file{'s' if len(results) != 1 else ''}"
    if not found:
        return Text(f"All checks passed ({files}).", "bold green")
    return Text(f"Found {found} in {files}.",
                "bold red" if counts[Severity.ERROR] else "bold yellow")


def github_annotation(filename: str, p: Problem) -> str:
    """A GitHub Actions workflow command: ``::error file=…,line=…,col=…,title=…::…``."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
    where = f"file={filename}"
    if p.location:
        where += f",line={p.location.line},col={p.location.column}"
    message = p.message + "".join(f"; fix: {s}" for s in p.suggestions[:1])
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{level[p.severity]} {where},title={p.code}::{message}"
