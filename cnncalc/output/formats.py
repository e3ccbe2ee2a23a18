"""Plain-text formats: JSON, CSV, Markdown, number formatting and GitHub annotations.

Nothing here imports rich, so ``--format json`` and the check path start fast.
Functions return strings; only the CLI prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

from ..diagnostics import Problem, Severity
from ..layers import Block
from ..report import LayerRow, Report
from ..shapes import Shape, format_shape, rank
from ..values import fixed_text

# --------------------------------------------------------------------------- untrusted text

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                    "\u2066-\u2069\ud800-\udfff]")
"""Characters a spec must never put on a terminal or into a table unescaped: C0 controls
(escape sequences start with ESC; newlines and tabs would break lines and columns), DEL, C1
controls (CSI is U+009B), the line and paragraph separators, the bidirectional overrides,
embeddings, isolates and marks that make text read differently from what it is, and lone
surrogates (undecodable bytes of a file name, which no UTF-8 stream can carry)."""

NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in NAMED:
        return NAMED[ch]
    n = ord(ch)
    if 0xDC80 <= n <= 0xDCFF:  # a byte decoded with surrogateescape: show the byte
        return f"\\x{n - 0xDC00:02x}"
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def clean(text: str) -> str:
    r"""Text from a spec (names, layer text, messages quoting it, file names), made safe to
    show: every character in :data:`UNSAFE` becomes a visible escape such as ``\x1b``,
    ``\n`` or ``\u202e``; everything else is unchanged. Idempotent.

    This is the one place spec text is sanitised: :func:`clean_report` and
    :func:`clean_problem` apply it where a report enters the output layer.

    >>> print(clean("net\x1b[2J\u202egnp.exe\n"))
    net\x1b[2J\u202egnp.exe\n
    """
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text


def clean_problem(p: Problem) -> Problem:
    if not any(UNSAFE.search(t) for t in (p.message, p.path, *p.suggestions)):
        return p  # the common case: no copy
    return replace(p, message=clean(p.message), path=clean(p.path),
                   suggestions=tuple(clean(s) for s in p.suggestions))


def clean_report(report: Report) -> Report:
    """The report with every string that came from the spec passed through :func:`clean`
    (for the text formats: table, Markdown, CSV, explain, export comments)."""
    spec = report.spec
    if spec is not None and spec.description is not None:
        spec = replace(spec, description=clean(spec.description))
    return replace(report, name=None if report.name is None else clean(report.name),
                   layers=tuple(replace(r, spec=clean(r.spec)) if UNSAFE.search(r.spec) else r
                                for r in report.layers),
                   problems=tuple(clean_problem(p) for p in report.problems), spec=spec)


def json_safe(value: Any) -> Any:
    """JSON data whose strings hold no lone surrogates (so it encodes as UTF-8): those are
    escaped as :func:`clean` shows them; control characters are left to ``json`` itself."""
    if isinstance(value, str):
        return SURROGATE.sub(_escape, value) if SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


SURROGATE = re.compile("[\ud800-\udfff]")


JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""The :data:`UNSAFE` characters ``json`` leaves raw (it escapes only C0 controls); inside a
JSON string they are written as ``\\uXXXX`` escapes, which read back as the same data."""


def dumps(value: Any, ascii_only: bool = False) -> str:
    r"""JSON text that is always valid UTF-8 (and pure ASCII when ``ascii_only``), with no
    character a terminal would act on: the data stays exact, only its spelling is escaped.

    >>> dumps(["a\u202eb\x9b"])
    '[\n  "a\\u202eb\\u009b"\n]'

    The data is walked by :func:`json_safe` only when the text shows a lone surrogate or
    must be ASCII: a 100,000-row report is encoded once and scanned once.
    """
    if not ascii_only:
        text = json.dumps(value, indent=2, ensure_ascii=False)
        return _json_text(text)
    return json.dumps(json_safe(value), indent=2, ensure_ascii=True)


# --------------------------------------------------------------------------- numbers

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


def pair(p: tuple[int, ...] | None) -> str:
    """A per-axis receptive field: one number when every axis agrees; ``—`` when unknown.

    >>> pair((7, 7)), pair((3, 7, 7)), pair(None)
    ('7', '3×7×7', '—')
    """
    return "—" if p is None else (str(p[0]) if len(set(p)) == 1 else "×".join(map(str, p)))


def input_text(shape: Shape | None) -> str:
    """The input with its rank named when it is not an image: ``16000×1 (1-D)``,
    ``16×112×112×3 (3-D)``; ``32×32×3`` and flat vectors as they are.

    >>> input_text((16000, 1)), input_text((32, 32, 3)), input_text((4096,))
    ('16000×1 (1-D)', '32×32×3', '4096')
    """
    if shape is None or rank(shape) in (0, 2):
        return format_shape(shape)
    return f"{format_shape(shape)} ({rank(shape)}-D)"


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
    """A row's text in a table: the block's label or the layer's spec, with its ``as`` name."""
    text = row.node.label() if isinstance(row.node, Block) else row.spec
    return f"{text} as {row.tensor}" if row.tensor else text


def elide(text: str, width: int = 80) -> str:
    """``text`` cut to ``width`` characters with ``…`` in the middle.

    >>> elide("conv(" + "1, " * 40 + "2)", 20)
    'conv(1, 1…, 1, 1, 2)'
    """
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def source_excerpt(source: str, p: Problem, width: int = 100) -> str:
    """The spec line a problem points at (cleaned), with a caret under its column."""
    if not p.location:
        return ""
    lines = source.splitlines()
    if not 1 <= p.location.line <= len(lines):
        return ""
    line = lines[p.location.line - 1]
    col = min(max(p.location.column - 1, 0), len(line))
    start = max(0, col - width // 2)
    pre = "…" if start > 0 else ""
    post = "…" if start + width < len(line) else ""
    caret = len(pre) + len(clean(line[start:col]))
    return f"  {pre}{clean(line[start:start + width])}{post}\n  {' ' * caret}^"


def syntax_problem(p: Problem, source: str | None, filename: str) -> str:
    """A spec that cannot be read or parsed: its :func:`problem_line`, then the spec line it
    points at with a caret, then every suggested fix."""
    text = problem_line(filename, p)
    if source is not None:
        excerpt = source_excerpt(source, p)
        if excerpt:
            text += "\n" + excerpt
    for s in p.suggestions:
        text += f"\n  fix: {clean(s)}"
    return text


class _Rows(list):  # type: ignore[type-arg]
    """The report's rows as a JSON array whose objects are made one at a time, as ``json``'s
    encoder asks for them (it takes any ``list``): a 100,000-row report never holds
    100,000 dicts."""

    def __init__(self, rows: Sequence[LayerRow]) -> None:
        super().__init__()
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (row.to_dict() for row in self.rows)


def _json_text(chunk: str) -> str:
    if SURROGATE.search(chunk):  # inside an encoded string: escape as clean() shows it
        chunk = SURROGATE.sub(lambda m: json.dumps(_escape(m))[1:-1], chunk)
    return JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", chunk)


def json_chunks(report: Report, ascii_only: bool = False,
                extra: dict[str, Any] | None = None) -> Iterator[str]:
    """The report's JSON (spec §7) in pieces, as :func:`dumps` would write it, encoded as it
    is written: memory stays that of one row however long the network.

    >>> from cnncalc import analyze
    >>> import json
    >>> r = analyze("8x8x3 -> relu")
    >>> json.loads("".join(json_chunks(r))) == json.loads(dumps(r.to_dict()))
    True
    """
    data = report.to_dict(rows=False)
    data.update(extra or {})  # what an option adds (``--by``: "breakdown")
    data["layers"] = _Rows(report.layers)
    if ascii_only:
        data["layers"] = [row.to_dict() for row in report.layers]
        yield dumps(data, ascii_only=True)
        return
    batch: list[str] = []
    for chunk in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(data):
        batch.append(chunk)  # a string is always one whole chunk, so batches split none
        if len(batch) >= 4096:
            yield _json_text("".join(batch))
            batch.clear()
    yield _json_text("".join(batch))


def to_json(report: Report, ascii_only: bool = False) -> str:
    return "".join(json_chunks(report, ascii_only))


def error_json(problems: Sequence[Problem], ascii_only: bool = False) -> str:
    """The JSON object for a spec that could not be parsed: no layers, its problems."""
    return dumps({"cnncalc": "1", "name": None, "input": {"shape": None}, "ok": False,
                  "layers": [], "totals": None, "problems": [p.to_dict() for p in problems]},
                 ascii_only)


def training_lines(training: dict[str, Any]) -> list[str]:
    """The training estimate (``summary --train``) in a few lines of text.

    >>> lines = training_lines({"optimizer": "sgd", "batch": 2, "dtype": "float32",
    ...     "param_bytes": 400, "buffer_bytes": 0, "grad_bytes": 400,
    ...     "optimizer_state_bytes": 0, "activation_bytes": 1200,
    ...     "activations_by_kind": {"conv": 800, "relu": 400}, "peak_bytes": 2000, "flops": 6000})
    >>> lines[0]
    'Training step (sgd, batch 2, float32): params 400 B + gradients 400 B + optimizer \
state 0 B + buffers 0 B + activations kept for backward 1.20 KB = peak ≤ 2.00 KB'
    >>> lines[1]
    'Activations kept, by kind: conv 800 B (67 %), relu 400 B (33 %)'
    >>> lines[2]
    'Training FLOPs per step: 6,000 (3 × forward)'
    """
    t = training
    whole = t["activation_bytes"] or 1
    kinds = ", ".join(f"{k} {mb(v)} ({round(100 * v / whole)} %)"
                      for k, v in t["activations_by_kind"].items())
    return [f"Training step ({t['optimizer']}, batch {t['batch']}, {t['dtype']}): params "
            f"{mb(t['param_bytes'])} + gradients {mb(t['grad_bytes'])} + optimizer state "
            f"{mb(t['optimizer_state_bytes'])} + buffers {mb(t['buffer_bytes'])} + activations "
            f"kept for backward {mb(t['activation_bytes'])} = peak ≤ {mb(t['peak_bytes'])}",
            f"Activations kept, by kind: {kinds or 'none'}",
            f"Training FLOPs per step: {human(t['flops'])} (3 × forward)"]


def github_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (then any other control
    character made visible by :func:`clean`)."""
    return clean(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def github_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``): also ``:`` and ``,``."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(filename: str, p: Problem) -> str:
    """A GitHub Actions workflow command: ``::error file=…,line=…,col=…,title=…::…``."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
    where = f"file={github_property(filename)}"
    if p.location:
        where += f",line={p.location.line},col={p.location.column}"
    message = p.message + "".join(f"; fix: {s}" for s in p.suggestions[:1])
    return f"::{level[p.severity]} {where},title={github_property(p.code)}::{github_data(message)}"


def problem_where(filename: str, p: Problem) -> str:
    """``FILE:LINE:COL:`` (``1:1`` when the problem points at no place in the file)."""
    loc = f"{p.location.line}:{p.location.column}" if p.location else "1:1"
    return f"{clean(filename)}:{loc}:"


def problem_line(filename: str, p: Problem, first_fix: bool = False) -> str:
    """``FILE:LINE:COL: CODE [severity] message`` as plain text (spec text cleaned): the one
    way a problem in a file is named — by ``check``, by ``summary`` and ``explain`` for a spec
    they cannot read, and by ``export`` for one it refuses (``render.check_line`` colours
    the same text). ``first_fix`` appends `` (fix: …)`` with the first suggestion.

    >>> p = Problem(Severity.ERROR, "S008", "no such file", "", None, ("check the path",))
    >>> problem_line("net.yaml", p, first_fix=True)
    'net.yaml:1:1: S008 [error] no such file (fix: check the path)'
    """
    text = f"{problem_where(filename, p)} {p.code} [{p.severity.value}] {clean(p.message)}"
    if first_fix and p.suggestions:
        text += f" (fix: {clean(p.suggestions[0])})"
    return text
