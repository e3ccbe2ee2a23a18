"""The ``cnncalc`` command. It owns the consoles and the exit codes; nothing else prints.

Exit status: 0 valid (warnings and notes allowed), 1 the architecture has errors
or a failed expectation, 2 usage, syntax or file errors.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__, formats, zoo
from .analysis import DTYPES, Report, analyze_spec, read_spec
from .build import Spec
from .diagnostics import MODES, RULES, Mode, Problem, Severity, SpecSyntaxError
from .layers import LAYERS, Layer, arguments
from .shapes import format_shape
from .values import MAX_SIZE, byte_size

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

F = TypeVar("F", bound=Callable[..., Any])


if TYPE_CHECKING:
    from .render import Styled


def colour() -> bool:
    """Colour only on a terminal, never with NO_COLOR set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and \
        os.environ.get("TERM") != "dumb"


def show(text: Styled) -> None:
    """Print a rendered text: through rich's console on a colour terminal, else as plain text
    (rich's console is never imported when the output goes to a pipe or a file)."""
    if colour():
        from rich.console import Console
        Console(highlight=False, soft_wrap=True).print(text.to_rich())
    else:
        click.echo(text.plain)


class DefaultGroup(click.Group):
    """``cnncalc SPEC`` is short for ``cnncalc summary SPEC``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in (
                "--help", "-h", "--version"):
            args = ["summary", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cnncalc")
def main() -> None:
    """Output volumes, parameters, cost and stride/padding checks for CNN architectures.

    \b
    cnncalc "32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)"
    cnncalc net.yaml --format json
    cnncalc resnet50
    """


def filter_options(f: F) -> F:
    f = click.option("--ignore", multiple=True, metavar="PREFIX", callback=upper,
                     help="Skip codes starting with PREFIX (repeatable, e.g. --ignore L001).")(f)
    f = click.option("--select", multiple=True, metavar="PREFIX", callback=upper,
                     help="Only codes starting with PREFIX (repeatable, e.g. --select G).")(f)
    return f


def upper(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.upper() for v in value)


def mode_options(f: F) -> F:
    f = click.option("--lenient", "mode", flag_value="lenient",
                     help="Framework floor: only real problems are errors.")(f)
    f = click.option("--strict", "mode", flag_value="strict",
                     help="Every inexact division is an error.")(f)
    return f


def load(spec: str) -> tuple[Spec, str, str]:
    """Resolve SPEC (file, '-', zoo name or one-line text) → (parsed spec, its text, its name)."""
    if spec == "-":
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SpecSyntaxError(read_error(f"stdin is not UTF-8 text (byte {exc.start})")) \
                from None
        parsed, text = read_spec(text)
        return parsed, text, "<stdin>"
    path = Path(spec)
    if path.exists() or path.suffix.lower() in (".yaml", ".yml"):
        parsed, text = read_spec(path)
        return parsed, text, spec
    found = zoo.path(spec) if "(" not in spec and "->" not in spec else None
    if found is not None:
        parsed, text = read_spec(found)
        return parsed, text, spec
    parsed, text = read_spec(spec)
    return parsed, text, "<spec>"


def read_error(message: str) -> list[Problem]:
    return [Problem(Severity.ERROR, "S008", message)]


def load_or_exit(spec: str, as_json: bool) -> Spec:
    """Load SPEC, or report why it cannot be read or parsed (stderr; JSON too) and exit 2."""
    try:
        return load(spec)[0]
    except SpecSyntaxError as exc:
        one_line = not Path(spec).suffix and spec != "-" and zoo.path(spec) is None
        name = "<spec>" if one_line else spec
        if as_json:
            click.echo(formats.error_json(exc.problems))
        for p in exc.problems:
            click.echo(formats.syntax_problem(p, spec if one_line else exc.source, name), err=True)
        sys.exit(EXIT_USAGE)


@main.command()
@click.argument("spec")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "csv"]),
              default="table", show_default=True, help="Output format.")
@mode_options
@click.option("--verify/--no-verify", default=None,
              help="Run the NumPy forward pass to confirm every shape "
                   "(default: on when it fits --max-memory).")
@click.option("--batch", type=click.IntRange(min=1, max=MAX_SIZE), default=1, show_default=True,
              help="Batch size for activation memory and the forward pass.")
@click.option("--dtype", type=click.Choice(list(DTYPES)), default="float32", show_default=True,
              help="Element type for memory figures.")
@click.option("--max-memory", default="2GiB", show_default=True,
              help="Largest forward pass to run (e.g. 700MB, 2GiB).")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Fold blocks deeper than N into one row.")
@filter_options
def summary(spec: str, fmt: str, mode: Mode | None, verify: bool | None, batch: int, dtype: str,
            max_memory: str, depth: int | None, select: tuple[str, ...],
            ignore: tuple[str, ...]) -> None:
    """Every layer's output volume, weights, biases, params, MACs and receptive field.

    SPEC is a one-line spec, a .yaml/.yml file, '-' for stdin, or a zoo name.
    """
    try:
        memory_limit = byte_size(max_memory)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-memory") from None
    parsed = load_or_exit(spec, as_json=fmt == "json")
    report = analyze_spec(parsed, mode, batch, dtype)
    if verify is not False and report.ok:
        report = run_forward(report, memory_limit, progress=fmt == "table")
    report = replace(report, problems=tuple(
        p for p in report.problems if selected(p.code, select, ignore)))
    emit(report, fmt, depth)
    sys.exit(EXIT_OK if report.ok else EXIT_INVALID)


def run_forward(report: Report, memory_limit: int, progress: bool) -> Report:
    """The NumPy shape check (numpy is imported only here); a bar only on a terminal."""
    from .forward import verify_report
    return verify_report(report, memory_limit, progress=progress and sys.stderr.isatty())


def emit(report: Report, fmt: str, depth: int | None) -> None:
    if fmt == "json":
        click.echo(formats.to_json(report))
    elif fmt == "csv":
        click.echo(formats.to_csv(report, depth), nl=False)
    elif fmt == "markdown":
        click.echo(formats.to_markdown(report, depth), nl=False)
    else:
        from . import render
        shown = any(r.verified is not None for r in report.layers)
        show(render.summary(report, depth, show_verified=shown))


@main.command()
@click.argument("spec")
@mode_options
def explain(spec: str, mode: Mode | None) -> None:
    """Show the arithmetic behind every layer: (N − F + 2P)/S + 1, weights, MACs."""
    report = analyze_spec(load_or_exit(spec, as_json=False), mode)
    by_path = formats.row_problems(report)
    lines = []
    for row in report.layers:
        indent = "  " * (row.depth - 1)
        lines.append(f"{indent}{row.path}  {row.spec}   "
                     f"{format_shape(row.input_shape)} → {format_shape(row.output_shape)}")
        if isinstance(row.node, Layer) and row.input_shape and row.output_shape:
            lines += [f"{indent}      {line}" for line in row.node.explain(row.input_shape,
                                                                           row.output_shape)]
        elif row.is_block:
            lines.append(f"{indent}      {type(row.node).formula if row.node else ''}")
        lines += [f"{indent}      {p.severity.value} {p.code}: {p.message}"
                  for p in by_path.get(row.path, [])]
    t = report.totals
    lines.append(f"total: {t.params:,} params, {t.non_trainable:,} non-trainable, "
                 f"{t.macs:,} MACs, output {format_shape(t.output_shape)}")
    click.echo("\n".join(lines))
    sys.exit(EXIT_OK if report.ok else EXIT_INVALID)


@main.command()
@click.argument("spec")
@click.option("--to", "target", type=click.Choice(["pytorch", "json"]), default="pytorch",
              show_default=True, help="PyTorch source (build() returns the nn.Module), or "
              "the summary's JSON.")
@mode_options
def export(spec: str, target: str, mode: Mode | None) -> None:
    """Write the architecture as PyTorch code (or JSON) on stdout."""
    report = analyze_spec(load_or_exit(spec, as_json=target == "json"), mode)
    if not report.ok:
        for p in report.errors:
            click.echo(formats.problem_line(spec, p), err=True)
        sys.exit(EXIT_INVALID)
    if target == "json":
        click.echo(formats.to_json(report))
    else:
        from .export import to_pytorch
        click.echo(to_pytorch(report), nl=False)


@main.command()
def layers() -> None:
    """The layer catalog: every kind with its aliases, arguments and formula."""
    seen: dict[type, list[str]] = {}
    for name, kind in LAYERS.items():
        seen.setdefault(kind, []).append(name)
    rows = []
    for kind, names in seen.items():
        args = ", ".join(
            a.name + (f"/{a.short}" if a.short else "")
            + ("" if a.required else f"={render_default(a.default)}") + ("…" if a.variadic else "")
            for a in arguments(kind))
        doc = (kind.__doc__ or "").strip().splitlines()[0]
        rows.append((kind.name, [n for n in names if n != kind.name], args, kind.formula, doc))
    from . import render
    show(render.catalog_table(rows))


@main.command("zoo")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def zoo_command(fmt: str) -> None:
    """The built-in architectures, with params and MACs (use a name as SPEC)."""
    rows = []
    for name in zoo.names():
        path = zoo.path(name)
        assert path is not None  # names() lists existing files
        report = analyze_spec(read_spec(path)[0])
        rows.append((name, report))
    if fmt == "json":
        import json
        click.echo(json.dumps([{
            "name": n, "description": r.spec.description if r.spec else None,
            "input": list(r.input_shape or ()), "params": r.totals.params,
            "non_trainable": r.totals.non_trainable, "macs": r.totals.macs,
            "output": list(r.totals.output_shape or ())} for n, r in rows], indent=2))
        return
    from . import render
    show(render.grid(
        [("Name", "<"), ("Input", "<"), ("Params", ">"), ("MACs", ">"), ("Description", "<")],
        [[n, format_shape(r.input_shape), f"{r.totals.params:,}",
          formats.human(r.totals.macs), (r.spec.description or "") if r.spec else ""]
         for n, r in rows]))


def render_default(value: Any) -> str:
    from .values import format_value
    if value is None:
        return "kernel"
    if value == ():
        return "[]"
    return format_value(value)


def selected(code: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """ruff-style code filters: keep codes starting with a --select prefix, minus --ignore."""
    if select and not code.startswith(select):
        return False
    return not (ignore and code.startswith(ignore))


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="One line per problem, a JSON object, or GitHub annotations.")
@mode_options
@filter_options
@click.option("--verify", is_flag=True, help="Also run the NumPy forward pass.")
@click.option("--max-memory", default="2GiB", show_default=True,
              help="Largest forward pass --verify may run.")
def check(files: tuple[str, ...], fmt: str, mode: Mode | None, select: tuple[str, ...],
          ignore: tuple[str, ...], verify: bool, max_memory: str) -> None:
    """Check spec files, for pre-commit and CI: FILE:LINE:COL: CODE [severity] message.

    Every file is checked even when another is broken; files are never written.
    Exit 0 when valid (warnings and notes allowed), 1 on errors, 2 when a file cannot be read
    or parsed.
    """
    try:
        memory_limit = byte_size(max_memory)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-memory") from None
    results: list[tuple[str, list[Problem]]] = []
    unreadable = False
    for name in files:
        try:
            parsed, _ = read_spec(Path(name))
        except SpecSyntaxError as exc:
            unreadable = True
            results.append((name, exc.problems))
            continue
        report = analyze_spec(parsed, mode)
        if verify and report.ok:
            report = run_forward(report, memory_limit, progress=False)
        results.append((name, list(report.problems)))
    results = [(n, [p for p in ps if selected(p.code, select, ignore)]) for n, ps in results]
    if fmt == "json":
        import json
        click.echo(json.dumps({"cnncalc": "1", "files": [
            {"file": n, "ok": not any(p.severity is Severity.ERROR for p in ps),
             "problems": [p.to_dict() for p in ps]} for n, ps in results]}, indent=2,
            ensure_ascii=False))
    elif fmt == "github":
        for name, problems in results:
            for p in problems:
                click.echo(formats.github_annotation(name, p))
    else:
        from . import render
        for name, problems in results:
            for p in problems:
                show(render.check_line(name, p))
        show(render.check_summary(results))
    errors = any(p.severity is Severity.ERROR for _, ps in results for p in ps)
    sys.exit(EXIT_USAGE if unreadable else EXIT_INVALID if errors else EXIT_OK)


@main.command()
def rules() -> None:
    """Every problem code: name, severity in each mode, what it means, an example."""
    rows = [[r.code, r.name, " / ".join(str(r.severity[m] or "—") for m in MODES), r.summary,
             r.example] for r in RULES.values()]
    from . import render
    show(render.grid([("Code", "<"), ("Name", "<"), ("default/strict/lenient", "<"),
                                ("Meaning", "<"), ("Example", "<")], rows))
