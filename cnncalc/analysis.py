"""Walk a spec: every layer's shapes, counts, cost and reach, the problems, the totals.

Measure (each layer kind, in :mod:`cnncalc.layers`) → aggregate (here) → render
(:mod:`cnncalc.render`). The driver owns paths, locations and the mode; layers
only yield findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import oneline
from .build import Spec, build
from .diagnostics import (
    ArchitectureError,
    Finding,
    Location,
    Mode,
    Problem,
    Severity,
    SpecSyntaxError,
    resolve,
    syntax_error,
)
from .layers import Block, Counts, Group, Layer, Node
from .shapes import Shape, elements, format_shape
from .source import MAX_SPEC_BYTES, Source, from_text, looks_like_yaml, read_file, read_path
from .values import MAX_COUNT, MAX_SIZE, percent

DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1}

RF = tuple[int, int, int, int] | None
"""Receptive field and jump per axis: (r_h, r_w, j_h, j_w); None where undefined (also once
a number exceeds :data:`~cnncalc.values.MAX_COUNT`, so that strides on a 1×1 map cannot grow
it without bound)."""


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One row of the report: a leaf layer, or a block carrying the totals of what it holds."""

    path: str
    depth: int
    kind: str
    spec: str
    input_shape: Shape | None
    output_shape: Shape | None
    weights: int | None
    biases: int | None
    non_trainable: int | None
    macs: int | None
    receptive_field: tuple[int, int] | None
    jump: tuple[int, int] | None
    activation_bytes: int | None
    location: Location | None
    is_block: bool = False
    verified: bool | None = None
    node: Node | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> int | None:
        return None if self.weights is None or self.biases is None else self.weights + self.biases

    @property
    def flops(self) -> int | None:
        return None if self.macs is None else 2 * self.macs

    def to_dict(self) -> dict[str, Any]:
        def listed(t: tuple[int, ...] | None) -> list[int] | None:
            return list(t) if t is not None else None
        return {
            "path": self.path, "depth": self.depth, "kind": self.kind, "spec": self.spec,
            "input_shape": listed(self.input_shape), "output_shape": listed(self.output_shape),
            "weights": self.weights, "biases": self.biases, "params": self.params,
            "non_trainable": self.non_trainable, "macs": self.macs, "flops": self.flops,
            "receptive_field": listed(self.receptive_field), "jump": listed(self.jump),
            "activation_bytes": self.activation_bytes, "verified": self.verified,
            "location": self.location.to_dict() if self.location else None,
        }


@dataclass(frozen=True)
class Totals:
    """Whole-network figures; every leaf layer counted once.

    ``activation_bytes`` is every tensor the network produces — each layer's output and each
    residual sum or concatenation — × batch × dtype size. A repeat's output is its last
    layer's (not counted twice); an identity branch (``[]``) produces nothing new.
    """

    weights: int
    biases: int
    non_trainable: int
    macs: int
    param_bytes: int
    activation_bytes: int
    output_shape: Shape | None

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params, "weights": self.weights, "biases": self.biases,
            "non_trainable": self.non_trainable, "macs": self.macs, "flops": self.flops,
            "param_bytes": self.param_bytes, "activation_bytes": self.activation_bytes,
            "output_shape": list(self.output_shape) if self.output_shape else None,
        }


@dataclass(frozen=True)
class Report:
    name: str | None
    input_shape: Shape | None
    mode: Mode
    layers: tuple[LayerRow, ...]
    totals: Totals
    problems: tuple[Problem, ...]
    batch: int = 1
    dtype: str = "float32"
    spec: Spec | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def to_dict(self, rows: bool = True) -> dict[str, Any]:
        """The JSON object of spec §7 (``rows=False``: ``layers`` left empty, for a writer
        that streams them)."""
        return {
            "cnncalc": "1",
            "name": self.name,
            "description": self.spec.description if self.spec else None,
            "input": {"shape": list(self.input_shape) if self.input_shape else None},
            "mode": self.mode,
            "batch": self.batch,
            "dtype": self.dtype,
            "ok": self.ok,
            "layers": [row.to_dict() for row in self.layers] if rows else [],
            "totals": self.totals.to_dict(),
            "problems": [p.to_dict() for p in self.problems],
        }


def oversized(out: Shape) -> Finding | None:
    """An A006 error when a layer's output holds more elements than any framework can
    index (:data:`~cnncalc.values.MAX_COUNT`); it keeps every later number exact and small."""
    n = elements(out)
    if n <= MAX_COUNT:
        return None
    return Finding("A006", f"the output {format_shape(out)} would hold {n:,} elements, more than "
                   f"{MAX_COUNT:,} (2⁶³ − 1, the most elements a framework can index)",
                   ("use smaller sizes, scales, paddings or channel counts",), fatal=True)


class Walker:
    """Walks the layer tree once, appending rows and problems in spec order.

    ``activation_bytes`` counts every tensor a layer or a block's join (a residual's sum, a
    concatenation) produces, × batch × dtype size. A repeat produces no tensor of its own:
    its output is its last layer's, already counted.
    """

    def __init__(self, mode: Mode, batch: int, dtype_size: int) -> None:
        self.mode = mode
        self.batch = batch
        self.dtype_size = dtype_size
        self.rows: list[LayerRow] = []
        self.problems: list[Problem] = []
        self.leaves = Counts()
        self.activation_bytes = 0

    def group(self, group: Group, inp: Shape | None, rf: RF, prefix: str, depth: int
              ) -> tuple[Shape | None, RF, Counts]:
        total = Counts()
        for i, node in enumerate(group, 1):
            inp, rf, counts = self.node(node, inp, rf, f"{prefix}{i}", depth)
            total += counts
        return inp, rf, total

    def node(self, node: Node, inp: Shape | None, rf: RF, path: str, depth: int
             ) -> tuple[Shape | None, RF, Counts]:
        if isinstance(node, Block):
            return self.block(node, inp, rf, path, depth)
        assert isinstance(node, Layer)  # a Node is a Block or a Layer
        out: Shape | None = None
        counts = Counts()
        if inp is not None:
            findings = list(node.check(inp))
            self.problems += resolve(findings, self.mode, path, node.location)
            if not any(f.fatal for f in findings):
                out = node.output_shape(inp)
                if (too_large := oversized(out)) is not None:
                    self.problems += resolve([too_large], self.mode, path, node.location)
                    out = None
            if out is not None:
                counts = node.counts(inp, out)
                step = node.step(inp)
                rf = None if rf is None or step is None else (
                    rf[0] + (step.kernel[0] - 1) * rf[2], rf[1] + (step.kernel[1] - 1) * rf[3],
                    rf[2] * step.stride[0], rf[3] * step.stride[1])
                if rf is not None and max(rf) > MAX_COUNT:
                    rf = None  # strides beyond a 1×1 map: no input pixel is that far apart
            else:
                rf = None
        else:
            self.problems += resolve(node.check_alone(), self.mode, path, node.location)
        self.leaves += counts
        act = elements(out) * self.batch * self.dtype_size if out is not None else None
        self.activation_bytes += act or 0
        self.rows.append(LayerRow(
            path, depth, node.name, node.describe(), inp, out,
            counts.weights if out else None, counts.biases if out else None,
            counts.non_trainable if out else None, counts.macs if out else None,
            (rf[0], rf[1]) if rf and out else None, (rf[2], rf[3]) if rf and out else None,
            act, node.location, node=node))
        return out, rf if out is not None else None, counts

    def block(self, node: Block, inp: Shape | None, rf: RF, path: str, depth: int
              ) -> tuple[Shape | None, RF, Counts]:
        index = len(self.rows)
        self.rows.append(None)  # type: ignore[arg-type]  # filled in below, rows stay in order
        total = Counts()
        out: Shape | None
        if node.chained:
            out = inp
            for r, group in enumerate(node.groups(), 1):
                out, rf, counts = self.group(group, out, rf, f"{path}.{r}.", depth + 1)
                total += counts
        else:
            outs: list[Shape | None] = []
            rfs: list[RF] = []
            for n, group in enumerate(node.groups(), 1):
                o, branch_rf, counts = self.group(group, inp, rf, f"{path}.{n}.", depth + 1)
                outs.append(o)
                rfs.append(branch_rf)
                total += counts
            out = None
            if inp is not None and all(o is not None for o in outs):
                out, findings = node.join(inp, [o for o in outs if o is not None])
                if out is not None and (too_large := oversized(out)) is not None:
                    findings.append(too_large)
                    out = None
                self.problems += resolve(findings, self.mode, path, node.location)
            known = [r for r in rfs if r is not None]
            rf = None if out is None or len(known) < len(rfs) else (
                max(r[0] for r in known), max(r[1] for r in known),
                max(r[2] for r in known), max(r[3] for r in known))
        act = elements(out) * self.batch * self.dtype_size if out is not None else None
        if not node.chained:  # the add or concatenation is a tensor of its own
            self.activation_bytes += act or 0
        self.rows[index] = LayerRow(
            path, depth, node.name, node.describe(), inp, out, total.weights, total.biases,
            total.non_trainable, total.macs, (rf[0], rf[1]) if rf else None,
            (rf[2], rf[3]) if rf else None, act, node.location, is_block=True, node=node)
        return out, rf, total


def analyze_spec(spec: Spec, mode: Mode | None = None, batch: int = 1, dtype: str = "float32"
                 ) -> Report:
    """Analyse a parsed spec (no forward pass)."""
    mode = mode or spec.mode or "default"
    size = DTYPES[dtype]
    walker = Walker(mode, batch, size)
    rf: RF = (1, 1, 1, 1)
    out, _, _ = walker.group(spec.layers, spec.input, rf, "", 1)
    if not spec.layers:
        out = spec.input
    leaves = walker.leaves
    totals = Totals(leaves.weights, leaves.biases, leaves.non_trainable, leaves.macs,
                    (leaves.params + leaves.non_trainable) * size, walker.activation_bytes, out)
    problems = list(spec.problems) + walker.problems
    if not any(p.severity is Severity.ERROR for p in problems):
        problems += resolve(check_expectations(spec, totals), mode, "expect", None)
    report = Report(spec.name, spec.input, mode, tuple(walker.rows), totals, tuple(problems),
                    batch, dtype, spec)
    if report.ok:
        from .lints import lint  # lints read whole reports, so they run on a finished one
        report = replace(report, problems=(*report.problems, *lint(report)))
    from .fixes import verify_fixes  # a fix cnncalc would reject is never shown
    return verify_fixes(report)


def check_expectations(spec: Spec, totals: Totals) -> list[Finding]:
    """The `expect:` block: exact values and budgets, each pointing at its own key."""
    findings = []
    actual: dict[str, int] = {
        "params": totals.params, "non_trainable": totals.non_trainable, "macs": totals.macs,
        "flops": totals.flops, "max_params": totals.params, "max_macs": totals.macs,
        "max_flops": totals.flops, "max_memory": totals.param_bytes + totals.activation_bytes,
        "max_activation_bytes": totals.activation_bytes,
    }
    for e in spec.expect:
        if e.key == "output":
            if totals.output_shape != e.value:
                findings.append(Finding(
                    "X001", f"expected output {format_shape(e.value)}, got "
                    f"{format_shape(totals.output_shape)}", location=e.location))
        elif e.key.startswith("max_"):
            if actual[e.key] > e.value:
                over = actual[e.key] - e.value
                findings.append(Finding(
                    "X003", f"{e.key[4:]} {actual[e.key]:,} exceeds the budget {e.value:,} by "
                    f"{over:,} ({percent(over, e.value)})" if e.value else
                    f"{e.key[4:]} {actual[e.key]:,} exceeds the budget 0",
                    location=e.location))
        elif actual[e.key] != e.value:
            diff = actual[e.key] - e.value
            findings.append(Finding(
                "X002", f"expected {e.key} {e.value:,}, got {actual[e.key]:,} "
                f"({'+' if diff > 0 else '−'}{abs(diff):,})", location=e.location))
    return findings


def read_spec(source: str | Path | Source) -> tuple[Spec, str]:
    """Parse a spec from text (one-line or YAML), a path, or a :class:`Source`; returns it
    with its text. What a CLI argument is, is decided by :func:`cnncalc.source.classify`."""
    if isinstance(source, Source):
        src = source
    elif isinstance(source, Path):
        src = read_path(source)
    else:
        if len(source) > MAX_SPEC_BYTES or len(source.encode("utf-8", "surrogatepass")) \
                > MAX_SPEC_BYTES:
            raise syntax_error("S008", f"the spec is larger than {MAX_SPEC_BYTES // 2**20} MiB, "
                               "cnncalc's limit", Location(1, 1))
        src = from_text(source)
    return parse_source(src), src.text


def parse_source(src: Source) -> Spec:
    """Parse read text into a typed spec; a syntax error carries the text it points into."""
    try:
        if src.is_yaml:
            from . import yamlspec  # PyYAML is imported only for YAML specs
            raw = yamlspec.load(src.text)
        else:
            raw = oneline.parse(src.text)
        return build(raw)
    except SpecSyntaxError as exc:
        exc.source = src.text
        raise


def analyze(spec: str | Path, mode: Mode | None = None, *, verify: bool = False, batch: int = 1,
            dtype: str = "float32", max_memory: int | None = None) -> Report:
    """Analyse a spec: one-line text, YAML text, or a path to a YAML file.

    Raises only :class:`~cnncalc.SpecSyntaxError` (the spec cannot be read or parsed);
    an invalid architecture is reported in ``report.problems`` with ``report.ok`` False.
    ``verify`` runs the NumPy forward pass within ``max_memory`` bytes (default 2 GiB, as
    the CLI); a pass that does not fit, would take too long or runs out of memory is a
    V002 note.

    >>> r = analyze("32x32x3 -> conv(10, 5, p=2)")
    >>> r.ok, r.layers[0].output_shape, r.layers[0].params
    (True, (32, 32, 10), 760)
    """
    if mode is not None and mode not in ("default", "strict", "lenient"):
        raise ValueError(f"mode must be default, strict or lenient, not {mode!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if not isinstance(batch, int) or not 1 <= batch <= MAX_SIZE:
        raise ValueError(f"batch must be a whole number from 1 to {MAX_SIZE:,}, not {batch!r}")
    parsed, _ = read_spec(spec)
    report = analyze_spec(parsed, mode, batch, dtype)
    if verify:
        from .forward import verify_report
        report = verify_report(report, max_memory)
    return report


def validate(spec: str | Path, mode: Mode | None = None, **options: Any) -> Report:
    """Like :func:`analyze`, but raise :class:`~cnncalc.ArchitectureError` on any error.

    The exception's ``.problems`` are all of the report's problems (errors first in spec
    order, then warnings and notes) — the codes and locations ``cnncalc check`` prints.
    """
    report = analyze(spec, mode, **options)
    if not report.ok:
        rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}
        raise ArchitectureError(sorted(report.problems, key=lambda p: rank[p.severity]))
    return report


def with_verified(report: Report, verified: Sequence[bool | None],
                  extra: Sequence[Problem] = ()) -> Report:
    """A copy of the report with each row's ``verified`` set (used by the forward pass)."""
    rows = tuple(replace(r, verified=flag) for r, flag in zip(report.layers, verified, strict=True))
    return replace(report, layers=rows, problems=(*report.problems, *extra))


__all__ = ["LayerRow", "Report", "Totals", "analyze", "looks_like_yaml", "read_file", "validate"]
