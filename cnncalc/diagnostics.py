"""Problems as data: codes, severities, locations, messages and suggestions.

Checks anywhere in cnncalc *yield* :class:`Finding` objects (what is wrong and
how to fix it). The driver that knows where a layer sits turns each one into a
:class:`Problem` by attaching the layer's path, its location in the spec and
the severity the current mode gives the code (spec §6).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

Mode = Literal["default", "strict", "lenient"]
MODES: tuple[Mode, ...] = ("default", "strict", "lenient")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    def __str__(self) -> str:
        return self.value


E, W, N = Severity.ERROR, Severity.WARNING, Severity.NOTE


@dataclass(frozen=True, slots=True)
class Rule:
    """A documented problem code. ``severity`` maps each mode to a severity (None: silent)."""

    code: str
    name: str
    summary: str
    example: str
    severity: dict[str, Severity | None]

    def severity_in(self, mode: Mode) -> Severity | None:
        return self.severity[mode]


def _rule(
    code: str, name: str, summary: str, example: str, *sev: Severity | None
) -> tuple[str, Rule]:
    modes: dict[str, Severity | None] = dict(
        zip(MODES, sev if len(sev) == 3 else sev * 3, strict=True))
    return code, Rule(code, name, summary, example, modes)


RULES: dict[str, Rule] = dict(
    [
        # S: the spec cannot be read or parsed (exit 2).
        _rule("S001", "empty-spec", "The spec has no input and no layers.", "''", E),
        _rule("S002", "unexpected-token", "A character or token that does not belong there.",
              "32x32x3 -> conv(10, 5))", E),
        _rule("S003", "unbalanced-bracket", "A ( or [ that is never closed, or a stray ) or ].",
              "32x32x3 -> conv(10, 5", E),
        _rule("S004", "bad-size", "A size that is not a whole number or HxW pair.", "conv(10, 5x)", E),
        _rule("S005", "yaml-syntax", "The YAML file cannot be parsed.", "layers: [conv", E),
        _rule("S006", "yaml-structure", "The YAML is valid but not shaped like a cnncalc spec.",
              "- conv(10, 5)   # a list at the top level", E),
        _rule("S007", "yaml-flow-split", "A YAML flow list split a layer at its commas.",
              "layers: [conv(64, 3), relu]", E),
        _rule("S008", "unreadable", "The file is missing, a directory, a FIFO or device, not "
              "UTF-8 or too large; or SPEC is no file, zoo network or spec.",
              "cnncalc check missing.yaml", E),
        _rule("S009", "too-complex", "Nesting or alias expansion beyond cnncalc's limits.",
              "[[[[...]]]] 200 levels deep", E),
        # A: names and arguments (exit 1).
        _rule("A001", "unknown-layer", "No layer kind has this name.", "maxpol(2)", E),
        _rule("A002", "unknown-argument", "The layer kind has no such argument.",
              "conv(10, 5, strdie=2)", E),
        _rule("A003", "duplicate-argument", "An argument is given twice.", "conv(10, 5, s=1, stride=2)", E),
        _rule("A004", "missing-argument", "A required argument is missing.", "conv(10)", E),
        _rule("A005", "too-many-arguments", "More positional arguments than the layer takes.",
              "relu(3)", E),
        _rule("A006", "invalid-value", "A value of the wrong type or out of range.", "conv(0, 3)", E),
        _rule("A007", "invalid-input", "The input is not an HxWxC volume or a flat size.",
              "input: 28x28", E),
        # G: geometry (exit 1 for errors).
        _rule("G001", "input-never-read",
              "(N − F + 2P)/S + 1 is not an integer and real input at the far edge is never read.",
              "7x7x3 -> conv(1, 3, s=3)", E, E, W),
        _rule("G002", "inexact-division",
              "(N − F + 2P)/S + 1 is not an integer, but only padding (or the stride's own gap) "
              "goes unread.", "224x224x3 -> conv(64, 7, s=2, p=3)", N, E, None),
        _rule("G003", "kernel-too-large", "The (dilated) window is larger than the padded input.",
              "3x3x8 -> conv(8, 5)", E),
        _rule("G004", "bad-groups",
              "groups must divide the channels (a conv's: its input channels and its filters).",
              "8x8x6 -> conv(8, 3, g=4)", E),
        _rule("G005", "pool-padding", "Pool padding must be at most half the kernel (PyTorch's rule).",
              "maxpool(2, p=2)", E),
        _rule("G006", "needs-volume", "A spatial layer was given a flat vector.",
              "784 -> conv(8, 3)", E),
        _rule("G007", "residual-mismatch", "A residual's body and shortcut (or the tensors of "
              "add(@a, …)) give different shapes.",
              "residual([conv(128, 3, s=2, p=1)])", E),
        _rule("G008", "concat-mismatch", "Concatenated branches disagree on H×W.",
              "concat([conv(8, 3)], [conv(8, 1)])", E),
        _rule("G009", "empty-output", "The layer would produce an empty volume.",
              "3x3x1 -> deconv(1, 3, p=5)", E),
        _rule("G010", "rank-mismatch", "A per-axis size of the wrong length, or a rank-explicit "
              "alias (conv3d) on an input of another rank.", "32x32x3 -> conv3d(8, 3)", E),
        _rule("G011", "gate-mismatch", "A gate's body output does not broadcast onto its input.",
              "8x8x16 -> gate([gap -> fc(4)])", E),
        _rule("G012", "split-indivisible", "A split's branch count does not divide the channels.",
              "8x8x16 -> split([], [], [])", E),
        _rule("G013", "single-position",
              "A norm whose every group holds one value (instance norm on one position): "
              "every output would be β (PyTorch refuses it).", "8x8x4 -> gap -> instancenorm", E),
        _rule("G014", "unknown-name", "`@name` of a tensor no `as name` defines.",
              "32x32x3 -> conv(8, 3) as a -> @b", E),
        _rule("G015", "name-redefined", "`as name` of a name already visible there.",
              "32x32x3 -> conv(8, 3) as a -> conv(8, 3) as a", E),
        _rule("G016", "name-out-of-scope",
              "`@name` before its definition or outside the group that defines it.",
              "32x32x3 -> [conv(8, 3) as a] -> @a", E),
        _rule("G017", "block-cycle", "A block that calls itself, directly or through other "
              "blocks (the cycle is shown).", "blocks: {a: b, b: a}", E),
        _rule("G018", "shadows-layer", "A block definition with the name of a built-in layer "
              "kind.", "blocks: {conv(n): relu}", E),
        _rule("G019", "unused-parameter", "A block parameter its body never uses.",
              "blocks: {stem(width): relu}", W),
        _rule("G020", "shadows-library", "A block definition with the name of a built-in "
              "library block (`cnncalc blocks`): the file's calls use its own; a top-level "
              "`override: true` says that is meant.", "blocks: {se(n): relu}", W),
        # X: expectations and budgets in a YAML `expect:` block (exit 1).
        _rule("X001", "expect-output", "The output shape differs from `expect: output` (or the "
              "outputs from `expect: outputs`).",
              "expect: {output: 10}", E),
        _rule("X002", "expect-count", "A count differs from its exact `expect:` value.",
              "expect: {params: 760}", E),
        _rule("X003", "over-budget", "A `max_*` budget in `expect:` is exceeded.",
              "expect: {max_params: 1M}", E),
        # L: architecture lints (cnncalc.lints). Never errors; likely bugs warn in every mode,
        # wasted work is a note in lenient mode, design advice is silent there.
        _rule("L001", "non-power-of-two-width",
              "Filter or unit counts that are not powers of two: one note per network listing "
              "the layers (widths fixed by a residual add, the output or the input aside).",
              "32x32x3 -> conv(96, 3) -> relu -> gap -> fc(10)", N, N, None),
        _rule("L002", "channels-first-input",
              "The input looks like C×H×W typed in cnncalc's H×W×C order.",
              "3x224x224 -> conv(64, 3)", W),
        _rule("L003", "collapsed-spatial",
              "A k > 1 conv or pool on a 1-pixel-high or -wide input: most taps see padding.",
              "8x8x16 -> conv(32, 3, s=2, p=1) -> gap -> conv(64, 3, p=1)", W, W, N),
        _rule("L004", "layer-after-softmax",
              "Softmax is not the last layer: something works on its probabilities.",
              "32x32x3 -> gap -> fc(10) -> softmax -> dropout(0.5)", W),
        _rule("L005", "dominant-fc",
              "An fc on an unpooled H×W×C map holds over half of a CNN's parameters (VGG's fc6).",
              "32x32x3 -> conv(64, 3, p=1) -> relu -> fc(512) -> relu -> fc(10)", N, W, None),
        _rule("L006", "stride-exceeds-kernel",
              "A k > 1 conv moves further than its window (input never read), or a transposed "
              "conv leaves output pixels no tap reaches.", "32x32x3 -> conv(16, 2, s=3)",
              W, W, N),
        _rule("L007", "bias-before-bn",
              "A conv/fc bias directly followed by a norm that subtracts each channel's mean "
              "(batch norm, instance norm, group norm with one channel per group).",
              "32x32x3 -> conv(16, 3, p=1) -> bn -> relu", N, W, None),
        _rule("L008", "excessive-dropout",
              "Dropout with p ≥ 0.9, or two dropouts in a row.",
              "4096 -> fc(256) -> relu -> dropout -> dropout -> fc(10)", W, W, N),
        _rule("L009", "identity-layer",
              "A layer that computes nothing: 1×1/1 pooling, dropout(0), pad(0), upsample(1), ...",
              "32x32x3 -> conv(16, 3, p=1) -> maxpool(1)", W, W, N),
        _rule("L010", "pool-skips-input",
              "Pooling windows further apart than they are wide: some activations never pooled.",
              "32x32x3 -> conv(16, 3, p=1) -> maxpool(2, s=3)", W, W, N),
        _rule("L011", "stacked-activations", "Two element-wise activations in a row.",
              "32x32x3 -> conv(16, 3, p=1) -> relu -> relu", W, W, N),
        _rule("L012", "activation-before-softmax",
              "An activation squashes the logits right before softmax.",
              "32x32x3 -> gap -> fc(10) -> relu -> softmax", W),
        _rule("L013", "large-kernel",
              "A k×k conv (k ≥ 5, past the stem) that stacked 3×3 convs do with fewer weights.",
              "32x32x3 -> conv(64, 3, p=1) -> relu -> conv(64, 5, p=2)", N, N, None),
        _rule("L014", "linear-stack",
              "Two conv/fc layers with no nonlinearity between: they compose into one linear map.",
              "4096 -> fc(1024) -> fc(10)", N, N, None),
        # V: the NumPy forward pass.
        _rule("V001", "verify-mismatch", "The forward pass produced another shape (a cnncalc bug).",
              "", E),
        _rule("V002", "verify-skipped", "The forward pass was skipped (memory or time limit).", "", N),
    ]
)


ALWAYS_REPORTED: tuple[str, ...] = (
    "S", "A", "G003", "G004", "G005", "G006", "G007", "G008", "G009", "G010", "G011", "G012",
    "G013", "G014", "G015", "G016", "G017", "G018", "V001")
"""Code prefixes ``--select``/``--ignore`` never hide: the spec cannot be read (S), names a
layer or argument that does not exist or a value it rejects (A), or describes a network whose
output (or weights) cannot be computed or built (kernel too large, bad groups, pool padding,
a volume layer on a vector, residual or concat mismatch, an empty output), or the forward pass
contradicts the analysis (V001). New S and A codes are covered by their letter."""

EXPECTATIONS: tuple[str, ...] = ("X001", "X002", "X003")
"""Failed ``expect:`` checks: errors, but the network itself is defined (shapes computed)."""


def filterable(code: str) -> bool:
    """Whether ``--select``/``--ignore`` may hide ``code`` (and its effect on the exit status).

    >>> filterable("L001"), filterable("G001"), filterable("X003"), filterable("A001")
    (True, True, True, False)
    """
    return not code.startswith(ALWAYS_REPORTED)


@dataclass(frozen=True, slots=True)
class Location:
    """1-based line and column in the spec text."""

    line: int
    column: int

    def to_dict(self) -> dict[str, int]:
        return {"line": self.line, "column": self.column}


_FIXES_WANTED: ContextVar[bool] = ContextVar("cnncalc_fixes_wanted", default=True)


def fixes_wanted() -> bool:
    """False while :mod:`cnncalc.fixes` re-analyses a fix: checks then skip building
    fixes of their own, which nobody would see."""
    return _FIXES_WANTED.get()


@contextmanager
def without_fixes() -> Iterator[None]:
    token = _FIXES_WANTED.set(False)
    try:
        yield
    finally:
        _FIXES_WANTED.reset(token)


@dataclass(frozen=True, slots=True)
class Fix:
    """A suggestion that says exactly what it changes, so that it can be re-analysed
    (:mod:`cnncalc.fixes`) before it is shown. ``text`` is what users read.

    Exactly one of these is set:

    - ``nodes``: replace the layer or block ``target`` (by identity; every repetition of
      it inside ``[...] * N``) with these nodes, in sequence (several for a stack);
    - ``layer_input``: the shape ``target``'s input would need (an input size fix);
    - ``network_input``: a new input for the whole network (``target`` is None).

    ``slot``: of several alternatives with the same non-empty slot, only the first that
    re-analyses cleanly is shown. ``template``: clean alternatives with the same template
    are shown as one suggestion, ``template.format(" or ".join(values))``
    (``input size 10 or 12 instead of 11``).
    """

    text: str
    target: Any = None
    nodes: tuple[Any, ...] = ()
    layer_input: tuple[int, ...] | None = None
    network_input: tuple[int, ...] | None = None
    slot: str = ""
    template: str = ""
    value: str = ""
    verified: bool = False
    """Set by :func:`cnncalc.fixes.verify_fixes` on the fixes it keeps."""


@dataclass(frozen=True, slots=True)
class Finding:
    """What a check yields: a code, the arithmetic, and fixes. No place yet.

    ``suggestions`` are prose that cannot be re-analysed ("did you mean 'conv'?");
    ``fixes`` are structured replacements, shown first and only when they re-analyse
    cleanly (:func:`cnncalc.fixes.verify_fixes`).
    """

    code: str
    message: str
    suggestions: tuple[str, ...] = ()
    fatal: bool = False
    """The output shape cannot be computed; analysis stops along this path."""
    location: Location | None = None
    """Set only when the check knows better than the driver (an argument, an expect key)."""
    fixes: tuple[Fix, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    code: str
    message: str
    path: str = ""
    location: Location | None = None
    suggestions: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = field(default=(), compare=False, repr=False)
    """Structured fixes; :func:`cnncalc.fixes.verify_fixes` re-analyses them, puts the clean
    ones' text at the front of ``suggestions`` and keeps only those here (``verified``).
    Not part of the JSON: ``suggestions`` is."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "path": self.path,
            "message": self.message,
            "location": self.location.to_dict() if self.location else None,
            "suggestions": list(self.suggestions),
        }


def resolve(
    findings: Iterable[Finding], mode: Mode, path: str, location: Location | None
) -> list[Problem]:
    """Attach mode severity, path and location; drop what the mode silences."""
    problems = []
    for f in findings:
        severity = RULES[f.code].severity_in(mode)
        if severity is not None:
            problems.append(
                Problem(severity, f.code, f.message, path, f.location or location, f.suggestions,
                        f.fixes)
            )
    return problems


class SpecError(ValueError):
    """Base of every error cnncalc raises about a spec; ``.problems`` says what and where."""

    def __init__(self, problems: Iterable[Problem] = (), source: str | None = None) -> None:
        self.problems: list[Problem] = list(problems)
        self.source = source
        """The spec text the locations refer to, when it could be read."""
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(
            f"{p.location.line}:{p.location.column}: {p.code} {p.message}" if p.location
            else f"{p.code} {p.message}"
            for p in self.problems
        )


class SpecSyntaxError(SpecError):
    """The spec cannot be read or parsed."""


class ArchitectureError(SpecError):
    """The spec parsed, but the architecture is invalid (raised by ``validate``)."""


def at_call(problem: Problem, call: str, where: Location, hint: str | None = None) -> Problem:
    """A problem inside a block's body, reported at the call (spec §10), its message naming
    where in the body it is. A fix of a layer in the body cannot be applied as shown (the
    body is written once for every call, or is the library's): with a ``hint`` it is
    replaced by what the user can do (a problem offering no fix gets none)."""
    inside = problem.location
    if inside is None or inside == where:
        return problem
    if hint is not None and (problem.fixes or problem.suggestions):
        problem = replace(problem, fixes=(), suggestions=(hint,))
    return replace(problem, location=where, message=f"{problem.message} (in "
                   f"{call}, line {inside.line}, column {inside.column})")


def syntax_error(code: str, message: str, location: Location | None,
                 suggestions: tuple[str, ...] = ()) -> SpecSyntaxError:
    return SpecSyntaxError([Problem(Severity.ERROR, code, message, "", location, suggestions)])
