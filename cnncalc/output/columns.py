"""The columns of the layer table (table, Markdown and CSV): ``--columns`` adds and removes
them, torchinfo-style (``+input,+kernel,-rf``), or lists them (``input,output,params``).

Each column says how to show a row's value, the total under it, and the CSV field that
holds it; the table and Markdown show the same cells.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..layers import Layer
from ..report import LayerRow, Report
from ..shapes import format_shape
from .formats import count, human, input_text, label, mb, pair, training_lines, visible


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    align: str
    """``<`` or ``>``."""
    cell: Callable[[LayerRow], str]
    total: Callable[[Report], str]
    csv: Callable[[LayerRow], object]
    """The CSV value: a number, ``3x3``-style text, or None (empty)."""
    help: str

    def title(self, report: Report) -> str:
        """The header; MACs and FLOPs name the tool whose convention they follow
        (``--macs-as``)."""
        tool = report.macs_as if self.name in ("macs", "flops") else None
        return f"{self.header} ({tool})" if tool else self.header

    def field(self, report: Report) -> str:
        """The CSV header: the column's name, ``macs_torchinfo`` under ``--macs-as``."""
        tool = report.macs_as if self.name in ("macs", "flops") else None
        return f"{self.name}_{tool}" if tool else self.name


def _window(row: LayerRow, part: int) -> tuple[int, ...] | None:
    if not isinstance(row.node, Layer) or row.input_shape is None:
        return None
    found = row.node.window(row.input_shape)
    return None if found is None else found[part]


def _sizes(sizes: tuple[int, ...] | None, sep: str = "×") -> str:
    return "—" if sizes is None else sep.join(map(str, sizes))


def _csv_sizes(sizes: tuple[int, ...] | None) -> str | None:
    return None if sizes is None else "x".join(map(str, sizes))


def _blank(report: Report) -> str:
    return ""


COLUMNS: dict[str, Column] = {c.name: c for c in (
    Column("input", "Input", "<", lambda r: format_shape(r.input_shape), _blank,
           lambda r: _csv_sizes(r.input_shape), "the layer's input volume"),
    Column("output", "Output", "<", lambda r: format_shape(r.output_shape),
           lambda rep: format_shape(rep.totals.output_shape),
           lambda r: _csv_sizes(r.output_shape), "the layer's output volume"),
    Column("kernel", "Kernel", "<", lambda r: _sizes(_window(r, 0)), _blank,
           lambda r: _csv_sizes(_window(r, 0)), "a sliding window's kernel per axis"),
    Column("stride", "Stride", "<", lambda r: _sizes(_window(r, 1)), _blank,
           lambda r: _csv_sizes(_window(r, 1)), "a sliding window's stride per axis"),
    Column("weights", "Weights", ">", lambda r: count(r.weights),
           lambda rep: count(rep.totals.weights), lambda r: r.weights, "trainable weights"),
    Column("biases", "Biases", ">", lambda r: count(r.biases),
           lambda rep: count(rep.totals.biases), lambda r: r.biases, "trainable biases"),
    Column("params", "Params", ">", lambda r: count(r.params),
           lambda rep: count(rep.totals.params), lambda r: r.params, "weights + biases"),
    Column("non_trainable", "Non-trainable", ">", lambda r: count(r.non_trainable),
           lambda rep: count(rep.totals.non_trainable), lambda r: r.non_trainable,
           "running statistics (batch norm)"),
    Column("macs", "MACs", ">", lambda r: human(r.macs), lambda rep: human(rep.totals.macs),
           lambda r: r.macs, "multiply-accumulates, one sample"),
    Column("flops", "FLOPs", ">", lambda r: human(r.flops), lambda rep: human(rep.totals.flops),
           lambda r: r.flops, "2 × MACs"),
    Column("memory", "Memory", ">", lambda r: mb(r.activation_bytes),
           lambda rep: mb(rep.totals.activation_bytes), lambda r: r.activation_bytes,
           "the bytes of the tensor the row makes (batch × dtype)"),
    Column("rf", "RF", ">", lambda r: pair(r.receptive_field), _blank,
           lambda r: _csv_sizes(r.receptive_field), "receptive field at the output"),
    Column("jump", "Jump", ">", lambda r: pair(r.jump), _blank, lambda r: _csv_sizes(r.jump),
           "input pixels between neighbouring outputs"),
)}

DEFAULT = ("output", "weights", "biases", "params", "macs", "rf")
"""The table's and Markdown's columns when ``--columns`` is not given."""


def choose(text: str | None, default: tuple[str, ...] = DEFAULT) -> tuple[str, ...]:
    """The columns ``--columns`` asks for: ``+name`` adds to the default, ``-name`` removes
    from it, plain names list the columns themselves. An unknown name is a
    :class:`ValueError` naming the valid ones (with the did-you-mean).

    >>> choose("+input,+kernel,-rf")
    ('output', 'weights', 'biases', 'params', 'macs', 'input', 'kernel')
    >>> choose("input, output, params")
    ('input', 'output', 'params')
    """
    if text is None:
        return default
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError(f"--columns needs column names; the columns are {', '.join(COLUMNS)}")
    relative = [i[0] in "+-" for i in items]
    if any(relative) and not all(relative):
        raise ValueError("--columns takes either +name/-name changes to the default columns or "
                         "a plain list of names, not both (e.g. +input,-rf or input,output)")
    chosen = list(default) if all(relative) else []
    for item in items:
        name = item.lstrip("+-").strip().lower()
        if name not in COLUMNS:
            close = difflib.get_close_matches(name, list(COLUMNS), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ValueError(f"unknown column '{name[:40]}': {hint}the columns are "
                             f"{', '.join(COLUMNS)}")
        if item.startswith("-"):
            chosen = [c for c in chosen if c != name]
        elif name not in chosen:
            chosen.append(name)
    return tuple(chosen)


CSV_FIELDS = ("path", "depth", "kind", "spec", "input_shape", "output_shape", "weights", "biases",
              "params", "non_trainable", "macs", "flops", "receptive_field", "jump",
              "activation_bytes", "verified", "name")
"""The CSV's columns without ``--columns``: the JSON row's fields; ``name`` (the tensor's
``as`` name, spec §9) last, so that columns read by position before it keep their place."""


def to_csv(report: Report, depth: int | None = None,
           columns: Sequence[str] | None = None) -> str:
    """Every row's JSON fields, or (``columns``) its path, kind and spec and those columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if columns is None:
        writer.writerow(f"{f}_{report.macs_as}" if f in ("macs", "flops") and report.macs_as
                        else f for f in CSV_FIELDS)
        for row in visible(report, depth):
            d = row.to_dict()
            writer.writerow(["x".join(map(str, d[f])) if isinstance(d[f], list) else
                             ("" if d[f] is None else d[f]) for f in CSV_FIELDS])
        return buf.getvalue()
    chosen = [COLUMNS[c] for c in columns]
    writer.writerow(["path", "kind", "spec", *(c.field(report) for c in chosen)])
    for row in visible(report, depth):
        writer.writerow([row.path, row.kind, row.spec,
                         *("" if (v := c.csv(row)) is None else v for c in chosen)])
    return buf.getvalue()


def to_markdown(report: Report, depth: int | None = None,
                columns: Sequence[str] = DEFAULT) -> str:
    chosen = [COLUMNS[c] for c in columns]
    lines = [f"### {report.name}", ""] if report.name else []
    lines += ["| # | Layer | " + "".join(f"{c.title(report)} | " for c in chosen).rstrip(),
              "|---|---|" + "".join("---:|" if c.align == ">" else "---|" for c in chosen)]
    for row in visible(report, depth):
        name = "&nbsp;" * 2 * (row.depth - 1) + label(row).replace("|", "\\|")
        lines.append(f"| {row.path} | {name} | " + "".join(f"{c.cell(row)} | " for c in chosen)
                     .rstrip())
    totals = [f"**{c.total(report)}**" if c.name == "params" else c.total(report)
              for c in chosen]
    lines.append("| | **Total** | " + "".join(f"{t} | " if t else "| " for t in totals).rstrip())
    t = report.totals
    named = input_text(report.input_shape)
    lead = f"Input: {named} · " if named != format_shape(report.input_shape) else ""
    macs = COLUMNS["macs"].title(report)
    lines += ["", f"{lead}Non-trainable: {t.non_trainable:,} · {macs}: {t.macs:,} · parameter "
              f"memory: {mb(t.param_bytes)} · activations: {mb(t.activation_bytes)}"]
    if report.training:
        lines += ["", *(f"{line}  " for line in training_lines(report.training))]
    if report.problems:
        lines.append("")
        lines += [f"- **{p.severity.value} {p.code}** (layer {p.path}): {p.message}"
                  + "".join(f" — fix: `{s}`" for s in p.suggestions) for p in report.problems]
    return "\n".join(lines) + "\n"


__all__ = ["COLUMNS", "CSV_FIELDS", "DEFAULT", "Column", "choose", "to_csv", "to_markdown"]
