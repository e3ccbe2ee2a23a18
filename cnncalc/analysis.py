"""Walk a spec: every layer's shapes, counts, cost and reach, the problems, the totals.

Measure (each layer kind, in :mod:`cnncalc.layers`) → aggregate (here, into the records of
:mod:`cnncalc.report`) → lint (:mod:`cnncalc.lints`) → render (:mod:`cnncalc.output`). The
walker owns paths, locations and the mode; layers only yield findings. It imports no later
stage: :mod:`cnncalc.api` runs the stages in order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

from .diagnostics import Finding, Mode, Problem, Severity, resolve
from .layers import IDENTITY_STEP, Block, Counts, Group, Layer, Node, Step
from .report import DTYPES, LayerRow, Report, Totals, in_calls
from .shapes import Shape, elements, format_shape
from .spec.build import MAX_ROWS, Spec, expanded_size
from .spec.names import INPUT
from .values import MAX_COUNT, per_axis, percent

Binder = Callable[[Node, Shape | None, str], Node]
"""(node with unknowns, its input, its path) → the node with numbers for them."""

RF = tuple[tuple[int, ...], tuple[int, ...]] | None
"""Receptive field and jump, one entry per spatial axis: ((r_h, r_w), (j_h, j_w)); None where
undefined (also once a number exceeds :data:`~cnncalc.values.MAX_COUNT`, so that strides on a
1×1 map cannot grow it without bound)."""


@functools.lru_cache(maxsize=1 << 15)
def described(node: Node) -> str:
    """``node.describe()``, remembered (nodes compare by identity): a spec walked again —
    by ``cnncalc sizes`` and ``solve``, by the fix verifier — writes each layer's text once."""
    return node.describe()


def start_rf(shape: Shape | None) -> RF:
    """The receptive field at the input: 1 pixel, jump 1, on each spatial axis (none for a
    flat vector, which has no spatial axes).

    >>> start_rf((16, 112, 112, 3)), start_rf((4096,))
    (((1, 1, 1), (1, 1, 1)), None)
    """
    if shape is None or len(shape) < 2:
        return None
    ones = (1,) * (len(shape) - 1)
    return ones, ones


def scaled_rf(rf: RF, body: RF, inp: Shape | None) -> RF:
    """A gate's receptive field: its output is its input (same grid, same jump) scaled by a
    factor its body computed, so each output pixel also sees what the body saw — the whole
    input when the body ends flat (``gap -> fc``), where the body's own field is undefined.

    >>> scaled_rf(((3, 3), (1, 1)), ((58, 58), (56, 56)), (56, 56, 64))
    ((58, 58), (1, 1))
    >>> scaled_rf(((3,), (2,)), None, (10, 8))   # the whole input: 3 + (10 − 1)·2
    ((21,), (2,))
    """
    if rf is None or inp is None or len(inp) - 1 != len(rf[0]):
        return None
    whole = tuple(f + (n - 1) * j for f, n, j in zip(rf[0], inp[:-1], rf[1], strict=True))
    seen = body[0] if body is not None and len(body[0]) == len(rf[0]) else whole
    return tuple(max(a, b) for a, b in zip(rf[0], seen, strict=True)), rf[1]


NO_COUNTS = Counts()
"""A layer not counted (no input, or an error): frozen, so one serves every such row."""


def advance(rf: RF, step: Step | None) -> RF:
    """``r' = r + (k − 1)·j``, ``j' = j·s`` on each axis (a step's one number stands for all)."""
    if rf is None or step is None:
        return None
    if step is IDENTITY_STEP:
        return rf
    r = len(rf[0])
    kernel, stride = per_axis(step.kernel, r), per_axis(step.stride, r)
    field = tuple(f + (k - 1) * j for f, k, j in zip(rf[0], kernel, rf[1], strict=True))
    jump = tuple(j * s for j, s in zip(rf[1], stride, strict=True))
    if max(*field, *jump) > MAX_COUNT:
        return None  # strides beyond a 1×1 map: no input pixel is that far apart
    return field, jump


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
        self.sums = [0, 0, 0, 0]
        """Every leaf layer's weights, biases, non-trainable elements and MACs so far."""
        self.activation_bytes = 0
        # Named tensors (spec §9). A tensor is known by the row that produced it (-1: the
        # input); names resolve to the latest binding, which the builder's lexical scopes
        # make the one in scope.
        self.current = -1
        """The tensor the stream holds now."""
        self.env: dict[str, tuple[int, Shape | None, RF]] = {}
        self.dangling: set[int] = set()
        """Tensors a route followed: outputs unless a route reads them."""
        self.read: dict[int, int] = {}
        """Each tensor a route reads → the last route row that reads it."""
        self.binder: Binder | None = None
        """Binds a node with unknowns (``?``) to numbers: the solver's walks
        (:mod:`cnncalc.design.solve`); without one such a node is an error."""

    @property
    def leaves(self) -> Counts:
        """Every leaf layer walked so far, counted once."""
        return Counts(*self.sums)

    def since(self, before: tuple[int, ...]) -> Counts:
        """The leaves walked since the sums were ``before``: a group's or a block's counts."""
        return Counts(*(a - b for a, b in zip(self.sums, before, strict=True)))

    def group(self, group: Group, inp: Shape | None, rf: RF, prefix: str, depth: int,
              parent: int | None = None) -> tuple[Shape | None, RF, Counts]:
        before = tuple(self.sums)  # the group's counts: what its leaves add to the sums
        for i, node in enumerate(group, 1):
            if node.reads and i > 1:  # the tensor before a route is left as it is
                self.dangling.add(self.current)
            inp, rf, _ = self.node(node, inp, rf, f"{prefix}{i}", depth, parent)
            if node.tensor is not None:
                self.env[node.tensor] = (self.current, inp, rf)
        return inp, rf, self.since(before)

    def route(self, node: Node, path: str, depth: int, parent: int | None
              ) -> tuple[Shape | None, RF, Counts]:
        """``@NAME``: the named tensor, as it is (no work, no new tensor)."""
        source, shape, rf = self.env.get(node.route_target(), (None, None, None))
        index = len(self.rows)
        if source is not None:
            self.current = source
            self.read[source] = index
        known = 0 if shape is not None else None
        self.rows.append(LayerRow(
            path, depth, node.name, described(node), shape, shape, known, known, known, known,
            rf[0] if rf and shape else None, rf[1] if rf and shape else None, known,
            node.location, node=node, parent=parent, tensor=node.tensor, source=source))
        return shape, rf if shape is not None else None, Counts()

    def node(self, node: Node, inp: Shape | None, rf: RF, path: str, depth: int,
             parent: int | None = None) -> tuple[Shape | None, RF, Counts]:
        if node.unknown and self.binder is not None:  # `?` in it: the solver's numbers
            node = self.binder(node, inp, path)
        if isinstance(node, Block):
            return self.block(node, inp, rf, path, depth, parent)
        if node.reads:
            return self.route(node, path, depth, parent)
        assert isinstance(node, Layer)  # a Node is a Block or a Layer
        out: Shape | None = None
        counts = NO_COUNTS
        if inp is not None:
            findings = list(node.validate(inp))
            if findings:
                self.problems += resolve(findings, self.mode, path, node.location)
            if not any(f.fatal for f in findings):
                out = node.output_shape(inp)
                if (too_large := oversized(out)) is not None:
                    self.problems += resolve([too_large], self.mode, path, node.location)
                    out = None
            if out is not None:
                counts = node.counts(inp, out)
                rf = advance(rf, node.step(inp)) if len(out) == len(inp) else None
            else:
                rf = None
        else:
            self.problems += resolve(node.check_alone(), self.mode, path, node.location)
        sums = self.sums
        sums[0] += counts.weights
        sums[1] += counts.biases
        sums[2] += counts.non_trainable
        sums[3] += counts.macs
        act = elements(out) * self.batch * self.dtype_size if out is not None else None
        self.activation_bytes += act or 0
        self.current = len(self.rows)
        self.rows.append(LayerRow(
            path, depth, node.name, described(node), inp, out,
            counts.weights if out else None, counts.biases if out else None,
            counts.non_trainable if out else None, counts.macs if out else None,
            rf[0] if rf and out else None, rf[1] if rf and out else None,
            act, node.location, node=node, parent=parent, tensor=node.tensor))
        return out, rf if out is not None else None, counts

    def block(self, node: Block, inp: Shape | None, rf: RF, path: str, depth: int,
              parent: int | None = None) -> tuple[Shape | None, RF, Counts]:
        index = len(self.rows)
        self.rows.append(None)  # type: ignore[arg-type]  # filled in below, rows stay in order
        before = tuple(self.sums)
        out: Shape | None
        if (hidden := node.input_tensor()) is not None:  # the body's @input
            self.env[hidden] = (self.current, inp, rf)
        built = node.resolve(inp) if inp is not None else node
        if built is not node and index + expanded_size((built,)) > MAX_ROWS:
            self.problems += resolve([Finding(
                "S009", f"{node.label()} expands to more than {MAX_ROWS:,} layers with what "
                "came before, cnncalc's limit", ("call fewer blocks",), fatal=True)],
                self.mode, path, node.location)
        else:
            node = built
        if node.chained:
            out = inp
            for r, group in enumerate(node.groups(), 1):
                out, rf, _ = self.group(group, out, rf, f"{path}.{r}.", depth + 1, index)
        else:
            outs: list[Shape | None] = []
            rfs: list[RF] = []
            ins, findings = node.inputs(inp) if inp is not None else (None, [])
            self.problems += resolve(findings, self.mode, path, node.location)
            n = 0
            start = self.current
            while n < len(groups := node.groups()):
                self.current = start  # every group starts from the block's input
                o, branch_rf, _ = self.group(groups[n], ins[n] if ins else None, rf,
                                             f"{path}.{n + 1}.", depth + 1, index)
                outs.append(o)
                rfs.append(branch_rf)
                if n == 0:  # a block may fill in its later groups from the first's output
                    node, findings = node.settle(inp, o)
                    self.problems += resolve(findings, self.mode, path, node.location)
                n += 1
            out = None
            if inp is not None and all(o is not None for o in outs):
                out, findings = node.join(inp, [o for o in outs if o is not None])
                if out is not None and (too_large := oversized(out)) is not None:
                    findings.append(too_large)
                    out = None
                self.problems += resolve(findings, self.mode, path, node.location)
            if node.join_scales:  # a gate: the input's grid, scaled by what its body saw
                rf = scaled_rf(rf, rfs[0], inp) if out is not None else None
            else:
                known = [r for r in rfs if r is not None]
                rf = None if out is None or not known or len(known) < len(rfs) else (
                    tuple(map(max, *(r[0] for r in known))) if len(known) > 1 else known[0][0],
                    tuple(map(max, *(r[1] for r in known))) if len(known) > 1 else known[0][1])
        total = self.since(before)
        act = elements(out) * self.batch * self.dtype_size if out is not None else None
        if not node.chained:  # the add or concatenation is a tensor of its own
            self.activation_bytes += act or 0
            self.current = index
        self.rows[index] = LayerRow(
            path, depth, node.name, described(node), inp, out, total.weights, total.biases,
            total.non_trainable, total.macs, rf[0] if rf else None,
            rf[1] if rf else None, act, node.location, is_block=True, node=node,
            parent=parent, tensor=node.tensor)
        return out, rf, total


def walk(spec: Spec, mode: Mode | None = None, batch: int = 1, dtype: str = "float32",
         binder: Binder | None = None) -> Report:
    """Walk a parsed spec: rows, totals, the walk's problems and the ``expect:`` checks
    (no lints, no forward pass: :func:`cnncalc.api.analyze_spec` adds the lints)."""
    mode = mode or spec.mode or "default"
    size = DTYPES[dtype]
    walker = Walker(mode, batch, size)
    walker.binder = binder
    walker.env[INPUT] = (-1, spec.input, start_rf(spec.input))
    out, _, _ = walker.group(spec.layers, spec.input, start_rf(spec.input), "", 1)
    if not spec.layers:
        out = spec.input
    leaves = walker.leaves
    rows = walker.rows
    extra = sorted(t for t in walker.dangling - set(walker.read) if t not in (-1, walker.current))
    totals = Totals(leaves.weights, leaves.biases, leaves.non_trainable, leaves.macs,
                    (leaves.params + leaves.non_trainable) * size, walker.activation_bytes, out,
                    (*(rows[t].output_shape for t in extra), out))
    for t in extra:
        rows[t] = replace(rows[t], output=True)
    for source, last in walker.read.items():  # what the forward pass keeps, and until when
        if source >= 0:
            rows[source] = replace(rows[source], keep=True)
        rows[last] = replace(rows[last], release=True)
    # a problem inside block calls is reported at the outer call
    at = {row.path: row for row in rows} if walker.problems else {}
    problems = list(spec.problems) + [in_calls(p, at[p.path], rows) if p.path in at else p
                                      for p in walker.problems]
    if not any(p.severity is Severity.ERROR for p in problems):
        problems += resolve(check_expectations(spec, totals), mode, "expect", None)
    return Report(spec.name, spec.input, mode, tuple(rows), totals, tuple(problems),
                  batch, dtype, spec)


def measured(totals: Totals) -> dict[str, int]:
    """The number each countable ``expect:`` key (:data:`~cnncalc.spec.expect.EXPECT_KEYS`,
    all but ``output``) is compared with.

    >>> from cnncalc.spec.expect import EXPECT_KEYS
    >>> sorted({"output", "outputs", *measured(Totals(0, 0, 0, 0, 0, 0, None))}) == sorted(EXPECT_KEYS)
    True
    """
    return {
        "params": totals.params, "non_trainable": totals.non_trainable, "macs": totals.macs,
        "flops": totals.flops, "max_params": totals.params, "max_macs": totals.macs,
        "max_flops": totals.flops, "max_memory": totals.param_bytes + totals.activation_bytes,
        "max_activation_bytes": totals.activation_bytes,
    }


def shapes_text(shapes: tuple[Shape | None, ...]) -> str:
    """
    >>> shapes_text(((13, 13, 255), None))
    '[13×13×255, ?]'
    """
    return "[" + ", ".join(format_shape(s) if s else "?" for s in shapes) + "]"


def check_expectations(spec: Spec, totals: Totals) -> list[Finding]:
    """The `expect:` block: exact values and budgets, each pointing at its own key."""
    findings = []
    actual = measured(totals)
    for e in spec.expect:
        if e.key == "outputs":
            if totals.outputs != e.value:
                findings.append(Finding(
                    "X001", f"expected outputs {shapes_text(e.value)}, got "
                    f"{shapes_text(totals.outputs)}", location=e.location))
        elif e.key == "output":
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


__all__ = ["Walker", "check_expectations", "measured", "oversized", "walk"]
