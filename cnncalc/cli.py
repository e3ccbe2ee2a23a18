"""The ``cnncalc`` command: argv to a command that returns its exit status. Only the CLI
prints, through :mod:`cnncalc.console` (colour, encodings, the progress bar);
:mod:`cnncalc.api` does the work and :mod:`cnncalc.output` writes the text.

Exit status: 0 valid (warnings and notes allowed), 1 the architecture has errors
or a failed expectation, 2 usage, syntax or file errors. :meth:`DefaultGroup.invoke` is the
one place a command's status becomes the process's.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from . import zoo
from .api import analyze_spec
from .breakdown import BY, breakdown
from .console import Bar, ascii_only, echo, echo_json, safe_streams, show
from .design import DEFAULT_RANGE, TOP
from .diagnostics import (
    EXPECTATIONS,
    RULES,
    Mode,
    Problem,
    Severity,
    SpecSyntaxError,
    filterable,
)
from .estimates import conventions, training
from .output import catalog, formats, render, shares
from .output import columns as layer_columns
from .output.columns import COLUMNS, DEFAULT, choose
from .output.explain import explain as explained
from .output.export import to_pytorch
from .output.render import Styled
from .report import DTYPES, Report
from .spec import source
from .spec.build import Spec
from .spec.parse import parse_source
from .values import MAX_SIZE, byte_size
from .version import __version__

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

F = TypeVar("F", bound=Callable[..., Any])


class DefaultGroup(click.Group):
    """``cnncalc SPEC`` is short for ``cnncalc summary SPEC``."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        safe_streams()
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command and exit with the status it returns (2 for a SPEC that cannot be
        read or parsed: the problems were already shown)."""
        try:
            status = super().invoke(ctx)
        except Unreadable:
            status = EXIT_USAGE
        ctx.exit(int(status or EXIT_OK))

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Tab completion after ``cnncalc``: the commands, and what a SPEC completes to (the
        file item first: bash's script starts over at one)."""
        spec = [] if incomplete.startswith("-") else spec_completions(incomplete)
        return [*spec, *super().shell_complete(ctx, incomplete)]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in (
                "--help", "-h", "--version"):
            args = ["summary", *args]
        return super().parse_args(ctx, args)


class SpecCommand(click.Command):
    """A command taking a SPEC or FILE: an unknown option that is really a spec starting with
    '-' gets told about ``--``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given_args = list(args)
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            given = next((a for a in given_args if a.startswith(exc.option_name)), exc.option_name)
            if re.fullmatch(r"--?[A-Za-z][A-Za-z0-9-]*(=.*)?", given, re.DOTALL):
                raise  # a mistyped option, not a spec
            raise click.UsageError(
                f"{exc.format_message().rstrip('.')}. A spec or file that starts with '-' must "
                f"come after --, which ends the options: cnncalc {ctx.info_name} -- "
                f"{shell_quote(given)}", ctx) from None


def shell_quote(text: str) -> str:
    return shlex.quote(text if len(text) <= 60 else text[:57] + "...")


def spec_completions(incomplete: str) -> list[CompletionItem]:
    """What a SPEC completes to: the zoo's names, and file names as the shell completes them."""
    return [CompletionItem(incomplete, type="file"),
            *(CompletionItem(name) for name in zoo.names() if name.startswith(incomplete))]


def complete_spec(ctx: click.Context, param: click.Parameter, incomplete: str
                  ) -> list[CompletionItem]:
    """Tab completion of a SPEC argument."""
    return spec_completions(incomplete)


def complete_file(ctx: click.Context, param: click.Parameter, incomplete: str
                  ) -> list[CompletionItem]:
    """Tab completion of a FILE: file names, as the shell completes them."""
    return [CompletionItem(incomplete, type="file")]


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cnncalc")
def main() -> None:
    """Output volumes, parameters, cost and stride/padding checks for CNN architectures.

    \b
    cnncalc "32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)"
    cnncalc net.yaml --format json
    cnncalc resnet50
    cnncalc -- "-spec-or-file-starting-with-dash"   (-- ends the options)
    """


FILTER_NOTE = ("Hides lints, notes, G001/G002 and failed expectations (X) from the listing "
               "and the exit status; never syntax (S), name or argument (A), G003-G009, G013 or "
               "V001 errors.")


def filter_options(f: F) -> F:
    f = click.option("--ignore", multiple=True, metavar="PREFIX[,PREFIX...]", callback=prefixes,
                     help="Skip codes starting with PREFIX (repeatable or comma-separated, "
                          "e.g. --ignore L001,G002). " + FILTER_NOTE)(f)
    f = click.option("--select", multiple=True, metavar="PREFIX[,PREFIX...]", callback=prefixes,
                     help="Only codes starting with PREFIX (repeatable or comma-separated, "
                          "e.g. --select G,X). " + FILTER_NOTE)(f)
    return f


def prefixes(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
             ) -> tuple[str, ...]:
    """``--ignore L,G002 --ignore x`` → ``("L", "G002", "X")``; a prefix no code starts with
    is a usage error (a typo would otherwise silently filter nothing)."""
    out = []
    for item in value:
        for part in item.split(","):
            prefix = part.strip().upper()
            if not prefix:
                continue
            if not any(code.startswith(prefix) for code in RULES):
                raise click.BadParameter(
                    f"'{formats.clean(part.strip())}' matches no problem code "
                    "(`cnncalc rules` lists them)")
            out.append(prefix)
    return tuple(out)


def mode_options(f: F) -> F:
    f = click.option("--lenient", "mode", flag_value="lenient",
                     help="Framework floor: only real problems are errors.")(f)
    f = click.option("--strict", "mode", flag_value="strict",
                     help="Every inexact division is an error.")(f)
    return f


class Unreadable(Exception):
    """SPEC could not be read or parsed; its problems are already shown (exit status 2)."""


def tool_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--macs-as``: a tool :mod:`cnncalc.estimates.conventions` knows, or a usage error
    with a did-you-mean and the choices."""
    try:
        return None if value is None else conventions.tool_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def optimizer_option(ctx: click.Context, param: click.Parameter, value: str | None
                     ) -> str | None:
    """``--optimizer``: one :mod:`cnncalc.estimates.training` knows, or a usage error with a
    did-you-mean and the choices."""
    try:
        return None if value is None else training.optimizer_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def load(spec: str, as_json: bool) -> Spec:
    """Load SPEC (a file, '-', a zoo name or the spec's text: :func:`cnncalc.spec.source.classify`
    decides, once), or show why it cannot be read or parsed (stderr; JSON too) and raise
    :class:`Unreadable`."""
    return load_source(spec, as_json)[0]


def load_source(spec: str, as_json: bool) -> tuple[Spec, source.Source]:
    """:func:`load`, with the text it read."""
    origin = source.classify(spec)
    try:
        read = source.read(origin)
        return parse_source(read), read
    except SpecSyntaxError as exc:
        if as_json:
            echo(formats.error_json(exc.problems, ascii_only()))
        text = exc.source if exc.source is not None else \
            spec if origin.kind == "text" else None
        for p in exc.problems:
            echo(formats.syntax_problem(p, text, origin.name), err=True)
        raise Unreadable from exc


@main.command(cls=SpecCommand)
@click.argument("spec", shell_complete=complete_spec)
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
@click.option("--columns", "column_text", default=None, metavar="COLS",
              help="Columns to add (+input,+kernel), remove (-rf) or list (input,output,params): "
                   f"{', '.join(COLUMNS)}.")
@click.option("--by", type=click.Choice(BY), default=None,
              help="Params, MACs and activation memory per layer kind or per top-level row, "
                   "with shares, instead of the layer table.")
@click.option("--macs-as", "macs_as", default=None, callback=tool_option, metavar="TOOL",
              help="MACs as " + ", ".join(conventions.TOOLS) + " count them (README).")
@click.option("--train", is_flag=True, default=False,
              help="Estimate a training step: params, gradients, optimizer state, activations "
                   "kept for backward (per kind), peak memory and FLOPs, for --batch inputs.")
@click.option("--optimizer", default=None, callback=optimizer_option, metavar="NAME",
              help="The training estimate's optimizer: " + ", ".join(training.OPTIMIZERS)
                   + " (default adam; implies --train).")
@filter_options
def summary(spec: str, fmt: str, mode: Mode | None, verify: bool | None, batch: int, dtype: str,
            max_memory: str, depth: int | None, column_text: str | None, by: str | None,
            macs_as: str | None, train: bool, optimizer: str | None, select: tuple[str, ...],
            ignore: tuple[str, ...]) -> int:
    """Every layer's output volume, weights, biases, params, MACs and receptive field.

    SPEC is a one-line spec, a .yaml/.yml file, '-' for stdin, or a zoo name.
    A SPEC that starts with '-' goes after --:  cnncalc summary -- "-x.yaml"
    """
    try:
        memory_limit = byte_size(max_memory)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-memory") from None
    try:
        columns = None if column_text is None and fmt == "csv" else choose(column_text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--columns") from None
    parsed = load(spec, as_json=fmt == "json")
    report = analyze_spec(parsed, mode, batch, dtype)
    if verify is not False and shapes_defined(report):
        report = verify_defined(report, memory_limit, progress=fmt == "table")
    report = replace(report, problems=tuple(
        p for p in report.problems if selected(p.code, select, ignore)))
    if fmt == "json":
        report = replace(report, conventions=conventions.totals(report) or {})
    if train or optimizer:
        step = training.estimate(report, optimizer or "adam")
        report = replace(report, training=step.to_dict() if step else {})
    if macs_as:
        report = conventions.as_tool(report, macs_as)
    emit(report, fmt, depth, columns, by)
    return EXIT_OK if report.ok else EXIT_INVALID


def shapes_defined(report: Report) -> bool:
    """Every shape is computed: no errors, or only failed expectations (X001–X003)."""
    return all(p.code in EXPECTATIONS for p in report.errors)


def verify_defined(report: Report, memory_limit: int, progress: bool) -> Report:
    """The forward pass, also when only an ``expect:`` failed (the shapes are still defined):
    it runs on the report without those errors, which are then put back."""
    held = [p for p in report.problems if p.severity is Severity.ERROR]
    view = replace(report, problems=tuple(p for p in report.problems
                                          if p.severity is not Severity.ERROR))
    done = run_forward(view, memory_limit, progress)
    if not held:
        return done
    return replace(done, problems=(*report.problems, *done.problems[len(view.problems):]))


def run_forward(report: Report, memory_limit: int, progress: bool) -> Report:
    """The NumPy shape check; a bar only on a terminal."""
    from .forward import verify_report  # NumPy is imported only for the forward pass
    return verify_report(report, memory_limit, Bar() if progress and sys.stderr.isatty() else None)


def emit(report: Report, fmt: str, depth: int | None, columns: tuple[str, ...] | None = None,
         by: str | None = None) -> None:
    """The report in ``fmt``: the layer table (its ``columns``), or the breakdown ``by``."""
    if fmt == "json":
        echo_json(report, {"breakdown": {"by": by, "groups": [
            s.to_dict(report) for s in breakdown(report, by)]}} if by is not None else None)
        return
    report = formats.clean_report(report)  # the text formats: names from the cleaned rows
    if by is not None:
        split = breakdown(report, by)
        if fmt == "csv":
            echo(shares.to_csv(report, split, by), nl=False)
        elif fmt == "markdown":
            echo(shares.to_markdown(report, split, by), nl=False)
        else:
            show(Styled("\n\n").join([render.breakdown(report, split, by),
                                       render.footer(report), render.problems(report)]))
    elif fmt == "csv":
        echo(layer_columns.to_csv(report, depth, columns), nl=False)
    elif fmt == "markdown":
        echo(layer_columns.to_markdown(report, depth, columns or DEFAULT), nl=False)
    else:
        shown = any(r.verified is not None for r in report.layers)
        show(render.summary(report, depth, show_verified=shown, columns=columns or DEFAULT))


@main.command(cls=SpecCommand)
@click.argument("spec", shell_complete=complete_spec)
@mode_options
def explain(spec: str, mode: Mode | None) -> int:
    """Show the arithmetic behind every layer: (N − F + 2P)/S + 1, weights, MACs."""
    report = formats.clean_report(analyze_spec(load(spec, as_json=False), mode))
    echo(explained(report))
    return EXIT_OK if report.ok else EXIT_INVALID


RANGE_TEXT = "{}..{}".format(*DEFAULT_RANGE)
"""``--range``'s default, as written."""


def size_range(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    """``--range LO..HI``: sizes from LO to HI, or a usage error saying what is wrong."""
    match = re.fullmatch(r"\s*(\d{1,12})\s*\.\.\s*(\d{1,12})\s*", value)
    if match is None:
        raise click.BadParameter(f"'{formats.clean(value[:40])}' is not a range: write two whole "
                                 "numbers like 1..1024")
    lo, hi = int(match[1]), int(match[2])
    from .design.sizes import check_range  # the design package loads only for its commands
    try:
        check_range(lo, hi)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return lo, hi


def size_given(ctx: click.Context, param: click.Parameter, value: str | None
               ) -> tuple[int, ...] | None:
    """``--size 500x375`` (one number: every axis)."""
    if value is None:
        return None
    parts = re.split(r"\s*[x×]\s*", value.strip())
    if not all(re.fullmatch(r"\d{1,12}", p) for p in parts) or not 1 <= len(parts) <= 3:
        raise click.BadParameter(f"'{formats.clean(value[:40])}' is not a size: write the "
                                 "spatial sizes like 500x375, or one number for every axis")
    return tuple(int(p) for p in parts)


@main.command(cls=SpecCommand)
@click.argument("spec", shell_complete=complete_spec)
@click.option("--range", "bounds", default=RANGE_TEXT, show_default=True, callback=size_range,
              metavar="LO..HI", help="The sizes to consider on each axis.")
@click.option("--size", "size", default=None, callback=size_given, metavar="HxW",
              help="Check one input size (one number: every axis): its first error and the "
                   "nearest accepted sizes.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--no-expect", "no_expect", is_flag=True, default=False,
              help="Leave out the spec's `expect:` checks (accepted: no architecture error).")
@mode_options
def sizes(spec: str, bounds: tuple[int, int], size: tuple[int, ...] | None, fmt: str,
          no_expect: bool, mode: Mode | None) -> int:
    """Every input size per spatial axis the network accepts (no error in the mode, the
    `expect:` checks included), the smallest input, and why a given size fails.

    \b
    Example:  cnncalc sizes unet --range 1..512
              cnncalc sizes resnet50 --size 500x375 --strict
    """
    from .design.sizes import input_sizes  # only here: the design package is this command's
    from .output.sizes import sizes_text
    parsed = load(spec, as_json=fmt == "json")
    try:
        result = input_sizes(parsed, mode, range=bounds, size=size, expect=not no_expect)
    except ValueError as exc:  # no spatial axes, a size of the wrong length, too much work
        echo(f"error: {formats.clean(str(exc))}", err=True)
        return EXIT_USAGE
    if fmt == "json":
        echo(formats.dumps(result.to_dict(), ascii_only()))
    else:
        show(sizes_text(result))
    return EXIT_OK if result.ok else EXIT_INVALID


@main.command(cls=SpecCommand)
@click.argument("spec", shell_complete=complete_spec)
@click.option("--to", "target", type=click.Choice(["pytorch", "json"]), default="pytorch",
              show_default=True, help="PyTorch source (build() returns the nn.Module), or "
              "the summary's JSON.")
@mode_options
def export(spec: str, target: str, mode: Mode | None) -> int:
    """Write the architecture as PyTorch code (or JSON) on stdout."""
    report = analyze_spec(load(spec, as_json=target == "json"), mode)
    if not report.ok:
        if target == "json":
            echo_json(report)
        for p in report.errors:
            echo(formats.problem_line(spec, p), err=True)
        return EXIT_INVALID
    if target == "json":
        echo_json(report)
    else:
        echo(to_pytorch(report), nl=False)
    return EXIT_OK


@main.command(cls=SpecCommand)
@click.argument("spec")
@click.option("-o", "--output", "output", default=None, metavar="FILE",
              help="Write the picture to FILE (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["svg", "dot", "mermaid"]), default="svg",
              show_default=True, help="SVG, Graphviz DOT or a Mermaid flowchart.")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Fold blocks deeper than N into one box.")
@mode_options
@filter_options
def draw(spec: str, output: str | None, fmt: str, depth: int | None, mode: Mode | None,
         select: tuple[str, ...], ignore: tuple[str, ...]) -> int:
    """Draw the network: volumes as boxes, layers on the arrows, blocks as lanes.

    SPEC is a one-line spec, a .yaml/.yml file, '-' for stdin, or a zoo name. The picture
    is drawn even when the architecture has errors (marked red, warnings amber); the exit
    status is then 1, as for summary.
    """
    report = analyze_spec(load(spec, as_json=False), mode)
    report = replace(report, problems=tuple(
        p for p in report.problems if selected(p.code, select, ignore)))
    from .output.draw import draw as drawn  # only here: its layout code costs every command ~25 ms
    picture = drawn(report, fmt, depth)
    if output is None or output == "-":
        echo(picture, nl=False)
    else:
        try:
            with open(output, "w", encoding="utf-8", newline="\n") as f:
                f.write(picture)
        except OSError as exc:
            echo(f"{formats.clean(output)}: cannot write the picture: "
                 f"{formats.clean(exc.strerror or str(exc))}", err=True)
            return EXIT_USAGE
    return EXIT_OK if report.ok else EXIT_INVALID


@main.command(cls=SpecCommand)
@click.argument("spec", shell_complete=complete_spec)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--top", type=click.IntRange(min=1, max=100), default=TOP, show_default=True,
              help="How many solutions to show.")
@click.option("--range", "bounds", default=RANGE_TEXT, show_default=True,
              callback=size_range, metavar="LO..HI",
              help="Sizes an unknown input axis (?x?x3) may take.")
@mode_options
def solve(spec: str, fmt: str, top: int, bounds: tuple[int, int], mode: Mode | None) -> int:
    """Find the values of the unknowns (`?`) that make the spec valid.

    Write `?` for a padding, stride, kernel, dilation, output padding, filter count or an
    input size, `?name` for one value shared by every `?name`:

    \b
      cnncalc solve "7x7x3 -> conv(1, 3, s=?)"
      cnncalc solve "224x224x3 -> conv(64, 7, s=2, p=?) -> maxpool(3, s=2, p=?)"
      cnncalc solve "?nx?nx3 -> [conv(32, 3, p=1) -> maxpool(2)] * 4"

    Every assignment under which the spec analyses without errors in the mode and meets its
    `expect:` is counted; the best are shown as complete specs (exact divisions first, then
    the least padding, then common values). Exit 0 when one exists, 1 when none does.
    """
    from .design.answer import solve as solved  # only here: the solver is this command's
    from .output.solve import to_json, to_text
    parsed, text = load_source(spec, as_json=fmt == "json")
    try:
        answer = solved(parsed, text, mode, ranges=bounds, top=top)
    except ValueError as exc:  # a bad range, or a search past its limits (TooLarge)
        message = (f"the search is too large: {formats.clean(str(exc))}. Narrow it: name "
                   "unknowns that share a value (?n), write some values, give a smaller "
                   "--range, or ask `cnncalc sizes` for input sizes")
        if fmt == "json":
            echo(formats.dumps({"cnncalc": "1", "ok": False, "error": message}, ascii_only()))
        echo(f"cnncalc solve: {message}.", err=True)
        return EXIT_USAGE
    if fmt == "json":
        echo(to_json(answer, ascii_only()))
    else:
        echo(to_text(answer, text.name if text.name != "<spec>" else spec))
    return EXIT_OK if answer.ok else EXIT_INVALID


@main.command()
def layers() -> int:
    """The layer catalog: every kind with its aliases, arguments and formula."""
    show(render.catalog_table(catalog.layer_entries()))
    return EXIT_OK


@main.command()
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def blocks(name: str | None, fmt: str) -> int:
    """The built-in block library: each block's signature, source and an example (call
    them from any spec: `224x224x3 -> … -> bottleneck(64) * 3`)."""
    try:
        entries = catalog.block_entries(name)
    except ValueError as exc:
        echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    echo(formats.dumps(entries, ascii_only()) if fmt == "json" else catalog.blocks_text(entries))
    return EXIT_OK


@main.command("zoo")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def zoo_command(fmt: str) -> int:
    """The built-in architectures, with params and MACs (use a name as SPEC)."""
    reports = [(name, analyze_spec(parse_source(source.read(source.Origin("zoo", name, name)))))
               for name in zoo.names()]
    if fmt == "json":
        echo(catalog.zoo_json(reports, ascii_only()))
        return EXIT_OK
    show(render.grid(catalog.ZOO_HEADERS, catalog.zoo_rows(reports)))
    return EXIT_OK


def selected(code: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """ruff-style code filters: keep codes starting with a --select prefix, minus --ignore.
    Codes :func:`~cnncalc.diagnostics.filterable` refuses are always kept, so a filter never
    turns an unreadable or undefined network into exit 0 and ``"ok": true``."""
    if not filterable(code):
        return True
    if select and not code.startswith(select):
        return False
    return not (ignore and code.startswith(ignore))


@main.command(cls=SpecCommand)
@click.argument("files", nargs=-1, required=True, shell_complete=complete_file)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="One line per problem, a JSON object, or GitHub annotations.")
@mode_options
@filter_options
@click.option("--verify", is_flag=True, help="Also run the NumPy forward pass.")
@click.option("--max-memory", default="2GiB", show_default=True,
              help="Largest forward pass --verify may run.")
def check(files: tuple[str, ...], fmt: str, mode: Mode | None, select: tuple[str, ...],
          ignore: tuple[str, ...], verify: bool, max_memory: str) -> int:
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
            parsed = parse_source(source.read_path(name))
        except SpecSyntaxError as exc:
            unreadable = True
            results.append((name, exc.problems))
            continue
        report = analyze_spec(parsed, mode)
        if verify and shapes_defined(report):
            report = verify_defined(report, memory_limit, progress=False)
        results.append((name, list(report.problems)))
    results = [(n, [p for p in ps if selected(p.code, select, ignore)]) for n, ps in results]
    if fmt == "json":
        echo(catalog.check_json(results, ascii_only()))
    elif fmt == "github":
        for name, problems in results:
            for p in problems:
                echo(formats.github_annotation(name, p))
    else:
        for name, problems in results:
            for p in problems:
                show(render.check_line(formats.clean(name), formats.clean_problem(p)))
        show(render.check_summary(results))
    errors = any(p.severity is Severity.ERROR for _, ps in results for p in ps)
    return EXIT_USAGE if unreadable else EXIT_INVALID if errors else EXIT_OK


@main.command()
def rules() -> int:
    """Every problem code: name, severity in each mode, what it means, an example."""
    show(render.grid(catalog.RULES_HEADERS, catalog.rules_rows()))
    return EXIT_OK
