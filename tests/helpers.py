"""Helpers shared by the tests: running the CLI in process, golden files, reading reports."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

import cnncalc
from cnncalc import Report
from cnncalc.cli import main

GOLDEN = Path(__file__).parent / "golden"


def run(*args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None
        ) -> tuple[int, str, str]:
    """``cnncalc ARGS`` in process, uncoloured unless ``env`` says otherwise: (exit status,
    stdout, stderr). An exception other than the exit itself is raised, never hidden."""
    result = CliRunner().invoke(main, list(args), input=stdin, env=env or {"NO_COLOR": "1"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def golden(name: str, text: str) -> None:
    """``text`` equals ``tests/golden/NAME`` (``UPDATE_GOLDEN=1`` rewrites it)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def codes(report: Report, lints: bool = False) -> list[tuple[str, str]]:
    """(severity, code) of every problem in order; lint codes (L…) only when asked."""
    return [(p.severity.value, p.code) for p in report.problems
            if lints or not p.code.startswith("L")]


def leaf(report: Report, path: str) -> cnncalc.LayerRow:
    """The report's row at ``path``."""
    return next(r for r in report.layers if r.path == path)
