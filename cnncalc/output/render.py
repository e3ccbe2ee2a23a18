"""Styled text: the summary table, the footer, problems, the catalog and check lines.

Render functions return :class:`Styled` text; only the CLI prints it — through rich on a
colour terminal, as plain text otherwise (so pipes, CI and pre-commit never import rich).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..breakdown import Share
from ..diagnostics import Problem, Severity
from ..report import Report
from ..shapes import format_shape
from . import formats
from . import shares as shares_module
from .columns import COLUMNS, DEFAULT
from .formats import clean, human, input_text, label, mb, problem_where, row_problems, visible

if TYPE_CHECKING:
    from rich.text import Text as RichText

STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTE: "cyan"}


def join_style(outer: str, inner: str) -> str:
    return f"{outer} {inner}".strip()


class Styled:
    """Text with style spans: the part of rich's ``Text`` API cnncalc needs, without rich.

    >>> line = Styled("G001", "bold red").append(" the last row is never read")
    >>> line.plain, len(line)
    ('G001 the last row is never read', 31)
    """

    __slots__ = ("parts", "style")

    def __init__(self, text: str = "", style: str = "") -> None:
        self.parts: list[tuple[str, str]] = [(text, "")] if text else []
        self.style = style

    def append(self, text: str, style: str = "") -> Styled:
        if text:
            self.parts.append((text, style))
        return self

    def append_text(self, other: Styled) -> Styled:
        self.parts += [(t, join_style(other.style, s)) for t, s in other.parts]
        return self

    def __add__(self, other: Styled) -> Styled:
        return Styled().append_text(self).append_text(other)

    def __len__(self) -> int:
        return sum(len(t) for t, _ in self.parts)

    def rstrip(self) -> None:
        while self.parts:
            text, style = self.parts[-1]
            if text.rstrip():
                self.parts[-1] = (text.rstrip(), style)
                return
            self.parts.pop()

    def join(self, items: Iterable[Styled]) -> Styled:
        out = Styled()
        for i, item in enumerate(items):
            if i:
                out.append_text(self)
            out.append_text(item)
        return out

    @property
    def plain(self) -> str:
        return "".join(t for t, _ in self.parts)

    def to_rich(self) -> RichText:
        from rich.text import Text  # rich only when colouring a terminal
        text = Text()
        for part, style in self.parts:
            text.append(part, join_style(self.style, style) or None)
        return text


VERIFIED: dict[bool | None, str | Styled] = {
    True: Styled("✓", "green"), False: Styled("✗", "bold red"), None: ""}


Cell = str | Styled


def grid(headers: Sequence[tuple[str, str]], rows: Iterable[Sequence[Cell]],
         footer_row: Sequence[Cell] | None = None, row_styles: Sequence[str] = ()) -> Styled:
    """A plain column-aligned table as one :class:`Styled` (``headers``: (title, "<" or ">")).

    Much faster than rich's Table for hundreds of rows, and stable for golden files.
    """
    body: list[list[Cell]] = [list(r) for r in rows]
    everything: list[list[Cell]] = [[h for h, _ in headers], *body]
    if footer_row:
        everything.append(list(footer_row))
    widths = [max(len(r[i]) for r in everything) for i in range(len(headers))]
    lines: list[Styled] = []

    def line(cells: Sequence[Cell], style: str = "") -> None:
        text = Styled(style=style)
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
    return Styled("\n").join(lines)


def macs_header(report: Report) -> str:
    """``MACs``, or ``MACs (torchinfo)`` when they follow another tool's convention."""
    return f"MACs ({report.macs_as})" if report.macs_as else "MACs"


def table(report: Report, depth: int | None = None, show_verified: bool = False,
          columns: Sequence[str] = DEFAULT) -> Styled:
    """The summary table: a row per layer, blocks with their children indented."""
    by_path = row_problems(report)
    chosen = [COLUMNS[c] for c in columns]
    headers = [("#", "<"), ("Layer", "<"), *((c.title(report), c.align) for c in chosen)]
    if show_verified:
        headers.append(("✓", "<"))
    headers.append(("", "<"))
    rows: list[list[Cell]] = []
    styles = []
    for row in visible(report, depth):
        marks = Styled()
        for p in by_path.get(row.path, []):
            marks.append(f"{p.code} ", STYLE[p.severity])
        cells: list[Cell] = [Styled(row.path, "dim"), "  " * (row.depth - 1) + label(row),
                             *(c.cell(row) for c in chosen)]
        if show_verified:
            cells.append(VERIFIED[row.verified])
        cells.append(marks)
        rows.append(cells)
        styles.append("dim" if row.is_block else "")
    foot: list[Cell] = ["", "Total", *(c.total(report) for c in chosen)]
    foot += [""] * (len(headers) - len(foot))
    title = Styled(f"{report.name}\n", "bold") if report.name else Styled()
    return title + grid(headers, rows, foot, styles)


def breakdown(report: Report, shares: list[Share], by: str) -> Styled:
    """``summary --by``: params, MACs and activation bytes per kind or stage, with shares."""
    headers = [(by.capitalize(), "<"), *shares_module.headers(report)]
    rows = [[s.name, *shares_module.cells(report, s)] for s in shares]
    foot: list[Cell] = ["Total", *shares_module.total_cells(report, shares)]
    title = Styled(f"{report.name}\n", "bold") if report.name else Styled()
    return title + grid(headers, rows, foot)


def footer(report: Report) -> Styled:
    t = report.totals
    lines = [
        f"Input: {input_text(report.input_shape)}   Output: {format_shape(t.output_shape)}"
        f"   Mode: {report.mode}",
        f"Params: {t.params:,} (weights {t.weights:,}, biases {t.biases:,})   "
        f"Non-trainable: {t.non_trainable:,}",
        f"{macs_header(report)}: {human(t.macs)} ({t.macs:,})   FLOPs: {human(t.flops)}",
        f"Parameter memory: {mb(t.param_bytes)}   Activations (batch {report.batch}, "
        f"{report.dtype}): {mb(t.activation_bytes)}",
    ]
    if report.training:
        lines += formats.training_lines(report.training)
    if len(t.outputs) > 1:  # spec §9: every tensor nothing consumes, the main output last
        lines.insert(1, f"Outputs ({len(t.outputs)}): "
                     + ", ".join(format_shape(o) for o in t.outputs))
    return Styled("\n".join(lines))


def problem_text(p: Problem) -> Styled:
    """``error G001 at layer 6, line 1:70: … `` with its suggestions."""
    text = Styled()
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


def problems(report: Report) -> Styled:
    counts = {s: sum(p.severity is s for p in report.problems) for s in Severity}
    head = Styled(", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
                or "no problems", style="bold red" if counts[Severity.ERROR] else "bold green")
    return Styled("\n").join([*(problem_text(p) for p in report.problems), head])


def summary(report: Report, depth: int | None = None, show_verified: bool = False,
            columns: Sequence[str] = DEFAULT) -> Styled:
    """Table, footer and problems: one :class:`Styled` (plain or coloured by the CLI)."""
    return Styled("\n\n").join([table(report, depth, show_verified, columns), footer(report),
                              problems(report)])


def catalog_table(kinds: Iterable[tuple[str, list[str], str, str, str]]) -> Styled:
    """``cnncalc layers``: name, aliases, arguments and formula of every kind."""
    return grid([("Layer", "<"), ("Aliases", "<"), ("Arguments", "<"),
                 ("Output and parameters", "<")],
                [[Styled(name, "bold"), ", ".join(aliases), args, formula]
                 for name, aliases, args, formula, _ in kinds])


def check_line(filename: str, p: Problem) -> Styled:
    """``net.yaml:6:5: G001 [error] (11 − 2 + 2·0)/2 + 1 = 5.5 is not an integer: …``:
    :func:`~cnncalc.output.formats.problem_line` with the first fix, coloured."""
    text = Styled(problem_where(filename, p) + " ", "bold")
    text.append(p.code, STYLE[p.severity])
    text.append(f" [{p.severity.value}] {clean(p.message)}")
    if p.suggestions:
        text.append(f" (fix: {clean(p.suggestions[0])})", "dim")
    return text


def check_summary(results: Sequence[tuple[str, Sequence[Problem]]]) -> Styled:
    counts = {s: sum(p.severity is s for _, ps in results for p in ps) for s in Severity}
    found = ", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    files = f"{len(results)} file{'s' if len(results) != 1 else ''}"
    if not found:
        return Styled(f"All checks passed ({files}).", "bold green")
    return Styled(f"Found {found} in {files}.",
                "bold red" if counts[Severity.ERROR] else "bold yellow")
