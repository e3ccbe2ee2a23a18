"""The terminal side of the CLI: colour or not, output that never fails on an encoding,
JSON written as it is encoded, and the forward pass's progress bar. rich is imported only
when colouring (or when a long pass shows its bar)."""

from __future__ import annotations

import codecs
import io
import os
import sys
from typing import Any

from .output import formats
from .output.render import Styled
from .report import Report


def forced_colour() -> bool:
    """FORCE_COLOR set to anything but empty, ``0`` or ``false`` (as rich, click and Node)."""
    return os.environ.get("FORCE_COLOR", "").strip().lower() not in ("", "0", "false")


def colour() -> bool:
    """Whether the table and problems are coloured. Precedence: a non-empty ``NO_COLOR``
    always wins (https://no-color.org); then a non-empty ``FORCE_COLOR`` (not ``0``/``false``)
    colours even a pipe or ``TERM=dumb``; otherwise colour only on a terminal that is not dumb.
    JSON, CSV and Markdown are never coloured."""
    if os.environ.get("NO_COLOR"):
        return False
    if forced_colour():
        return True
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def show(text: Styled) -> None:
    """Print a rendered text: through rich's console when colouring, else as plain text
    (rich's console is never imported when the output goes to a pipe or a file)."""
    if colour():
        from rich.console import Console  # rich only on a terminal
        Console(highlight=False, soft_wrap=True, force_terminal=True, no_color=False,
                color_system="standard" if not sys.stdout.isatty() else "auto",
                ).print(text.to_rich())
    else:
        echo(text.plain)


FALLBACK = {"✓": "v", "✗": "x", "−": "-", "–": "-", "—": "-", "→": "->", "←": "<-", "×": "x",
            "·": "*", "…": "...", "≥": ">=", "≤": "<=", "≠": "!=", "⌊": "floor(", "⌋": ")",
            "⌈": "ceil(", "⌉": ")", "²": "^2", "γ": "gamma", "β": "beta", "α": "alpha",
            "µ": "u", "’": "'", "‘": "'"}
"""ASCII stand-ins for the symbols cnncalc itself prints, on a stream that cannot encode them."""


def ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler ``cnncalc-ascii``: a character the output encoding (cp1252, ASCII,
    Latin-1, ...) cannot carry becomes its ASCII stand-in, else a ``\\uXXXX`` escape (as JSON
    writes it, so JSON stays valid; ``\\xff`` for an undecodable file-name byte). The output
    never crashes on encoding."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start:exc.end]:
        n = ord(ch)
        if ch in FALLBACK:
            out.append(FALLBACK[ch])
        elif 0xDC80 <= n <= 0xDCFF:
            out.append(f"\\x{n - 0xDC00:02x}")
        elif n < 0x10000:
            out.append(f"\\u{n:04x}")
        else:  # a UTF-16 pair, as JSON writes it
            n -= 0x10000
            out.append(f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}")
    return "".join(out), exc.end


codecs.register_error("cnncalc-ascii", ascii_fallback)


def safe_streams() -> None:
    """Make stdout and stderr degrade instead of raising UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            try:
                stream.reconfigure(errors="cnncalc-ascii")
            except (ValueError, io.UnsupportedOperation):  # pragma: no cover - closed stream
                pass


def echo(text: str, err: bool = False, nl: bool = True) -> None:
    """Write to stdout (stderr) in the stream's own encoding, degrading through the
    ``cnncalc-ascii`` handler (``click.echo`` would switch an ASCII stream to UTF-8)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + ("\n" if nl else ""))
    stream.flush()


def echo_json(report: Report, extra: dict[str, Any] | None = None) -> None:
    """The report's JSON on stdout (with ``extra`` keys), written as it is encoded, so that a
    100,000-row report needs the memory of a few thousand rows at most."""
    for piece in formats.json_chunks(report, ascii_only(), extra):
        echo(piece, nl=False)
    echo("")


def ascii_only() -> bool:
    """JSON is written as pure ASCII (``\\u`` escapes) unless stdout is UTF-8."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("_", "-")
    return encoding not in ("utf-8", "utf8", "utf-8-sig")


class Bar:
    """The forward pass's progress on stderr (rich is imported only when a pass long enough
    for it starts)."""

    def start(self, total: int) -> None:
        from rich.console import Console  # rich only on a terminal
        from rich.progress import Progress
        self.progress = Progress(console=Console(stderr=True), transient=True)
        self.task = self.progress.add_task("forward pass", total=total)
        self.progress.start()

    def advance(self) -> None:
        self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()


__all__ = ["Bar", "ascii_only", "colour", "echo", "echo_json", "safe_streams", "show"]
