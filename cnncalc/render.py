"""Rich renderables: the summary table, the footer, problems, the catalog and check lines.

Render functions return renderables; only the CLI prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text

from .analysis import Report
from .diagnostics import Problem, Severity
from .formats import count, human, label, mb, pair, visible
from .shapes import format_shape

VERIFIED: dict[bool | None, str | Text] = {
    True: Text("✓", "green"), False: Text("✗", "bold red"), None: ""}
STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


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
    lines: list[Text] = []

    def line(cells: Sequence[Cell], style: str = "") -> None:
        text = Text(style=style)
        last = len(cells) - 1
        for i, (cell, (_, align)) in enumerate(zip(cells, headers, strict=True)):
            pad = " " * (widths[i] - len(cell))
            gap = "" if i == last else "  "
            if isinstance(cell, str):
                text.append(pad + cell + gap if align == ">" else cell + pad + gap)
            else:
                before, after = (pad, gap) if align == ">" else ("", pad + gap)
                text.append(before)
                text.append_text(cell)
                text.append(after)
        text.rstrip()
        lines.append(text)

    line([h for h, _ in headers], "bold")
    for i, r in enumerate(body):
        line(r, row_styles[i] if i < len(row_styles) else "")
    if footer_row:
        line(footer_row, "bold")
    return Text("\n").join(lines)


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


def problems(report: Report) -> Text:
    counts = {s: sum(p.severity is s for p in report.problems) for s in Severity}
    head = Text(", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
                or "no problems", style="bold red" if counts[Severity.ERROR] else "bold green")
    return Text("\n").join([*(problem_text(p, report) for p in report.problems), head])


def summary(report: Report, depth: int | None = None, show_verified: bool = False) -> Text:
    """Table, footer and problems: one :class:`Text` (plain or coloured by the CLI)."""
    return Text("\n\n").join([table(report, depth, show_verified), footer(report),
                              problems(report)])


def catalog_table(kinds: Iterable[tuple[str, list[str], str, str, str]]) -> Text:
    """``cnncalc layers``: name, aliases, arguments and formula of every kind."""
    return grid([("Layer", "<"), ("Aliases", "<"), ("Arguments", "<"),
                 ("Output and parameters", "<")],
                [[Text(name, "bold"), ", ".join(aliases), args, formula]
                 for name, aliases, args, formula, _ in kinds])


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
