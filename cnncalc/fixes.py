"""Re-analyse every structured fix before it is shown: a fix cnncalc would reject is a bug.

Checks and lints attach :class:`~cnncalc.diagnostics.Fix` records to their findings: the
node they replace (by identity) and the replacement, or an input size. The driver
(:func:`cnncalc.api.analyze_spec`) calls :func:`verify_fixes` on the finished
report; it keeps a fix's text only when the fix is *clean*:

A fix for a problem with code ``c`` at path ``P`` is **clean** when, with the fix
substituted into the spec at its place (every repetition of the replaced node, inside
``[...] * N``, changes with it) and re-analysed in the report's mode:

1. *local*: the smallest unit the change can affect — the replaced node, or the
   outermost ``repeat`` that holds it — analysed on its original input shape gives an
   output shape, no error code more often than the original unit did, and fewer
   problems with code ``c`` (none at all when the unit is the node itself). Codes the
   walk cannot see (lints, ``L…``) are addressed by construction: the lint builds its fix
   so that its own condition no longer holds; steps 1–2 still guard against new errors;
2. *downstream*: when the unit's output shape changed, the layers after it are walked
   with the new shape — through the enclosing residual/concat joins, up to the network's
   output — until a layer gives the output shape it had originally (everything after it
   is then unchanged); none of them may have an error ``(code, path)`` the original did
   not have, no join may fail, and a changed network output must not break
   ``expect: output``;
3. *input fixes*: a new network input re-analyses the whole network (step 2's rule for
   errors, and no problem with code ``c`` left at ``P``); a new input size for a layer
   further down is checked on that layer alone (its input comes from the layers before).

``expect:`` counts (params, MACs) are not re-checked: every fix changes them.

Cost stays linear: shape-preserving fixes are checked locally; the rows walked
downstream, over all fixes of a report, are capped at :data:`BUDGET_PER_ROW` per row of
the report (plus :data:`BUDGET_BASE`), at most :data:`MAX_FULL` whole-network
re-analyses run, and results are shared between the repetitions of one spec layer.
A fix the budget cannot verify is not shown.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .diagnostics import Fix, Mode, Problem, Severity, resolve, without_fixes
from .layers import GROUP, Block, Layer, Node, Repeat, arguments
from .lints import Flow
from .report import LayerRow, Report
from .shapes import Shape

BUDGET_PER_ROW = 1
BUDGET_BASE = 2_000
MAX_FULL = 2
PER_FIX = 1_024


def substitute(node: Node, target: Node, nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    """``node`` with every occurrence of ``target`` (by identity) replaced by ``nodes``."""
    if node is target:
        return nodes
    if not isinstance(node, Block):
        return (node,)
    changes: dict[str, Any] = {}
    for a in arguments(type(node)):
        if a.convert is GROUP:
            value = getattr(node, a.name)
            groups = value if a.variadic else (value,)
            new = tuple(tuple(x for n in g for x in substitute(n, target, nodes)) for g in groups)
            changes[a.name] = new if a.variadic else new[0]
    return (dataclasses.replace(node, **changes),)


class OverBudget(Exception):
    """The re-analysis would walk more rows than the budget has left."""


class Walk:
    """A light re-analysis: shapes and problems only (no rows, no text of the layers)."""

    def __init__(self, mode: Mode, limit: int, budget: list[int] | None = None) -> None:
        self.mode = mode
        self.problems: list[Problem] = []
        self.rows = 0
        self.limit = limit
        self.budget = budget
        """The verifier's shared budget (one cell), charged a row per node walked."""
        self.env: dict[str, Shape | None] = {}
        """The named tensors this walk defined (spec §9); a route to another one cannot be
        followed, and the fix is not shown."""

    def node(self, node: Node, inp: Shape, path: str) -> Shape | None:
        self.rows += 1
        if self.budget is not None:
            self.budget[0] -= 1
        if self.rows > self.limit:
            raise OverBudget
        if node.reads:  # a route: the named tensor, when this walk defined it
            if node.route_target() not in self.env:
                raise OverBudget
            out = self.env[node.route_target()]
        elif isinstance(node, Block):
            out = self.block(node, inp, path)
        else:
            assert isinstance(node, Layer)  # a Node is a Block or a Layer
            findings = list(node.validate(inp))
            self.problems += resolve(findings, self.mode, path, None)
            out = None if any(f.fatal for f in findings) else node.output_shape(inp)
        if node.tensor is not None:
            self.env[node.tensor] = out
        return out

    def group(self, group: Iterable[Node], inp: Shape, prefix: str) -> Shape | None:
        out: Shape | None = inp
        for i, n in enumerate(group, 1):
            if out is None:
                return None
            out = self.node(n, out, f"{prefix}{i}")
        return out

    def block(self, node: Block, inp: Shape, path: str) -> Shape | None:
        node = node.resolve(inp)
        if node.chained:
            out: Shape | None = inp
            for r, group in enumerate(node.groups(), 1):
                if out is None:
                    return None
                out = self.group(group, out, f"{path}.{r}.")
            return out
        ins, findings = node.inputs(inp)
        self.problems += resolve(findings, self.mode, path, None)
        if ins is None:
            return None
        outs: list[Shape | None] = []
        n = 0
        while n < len(groups := node.groups()):
            outs.append(self.group(groups[n], ins[n], f"{path}.{n + 1}."))
            if n == 0:  # a block may fill in its later groups from the first's output
                node, findings = node.settle(inp, outs[0])
                self.problems += resolve(findings, self.mode, path, None)
            n += 1
        known = [o for o in outs if o is not None]
        if len(known) < len(outs):
            return None
        joined, findings = node.join(inp, known)
        self.problems += resolve(findings, self.mode, path, None)
        return joined


class Verifier:
    def __init__(self, report: Report, flow: Flow | None) -> None:
        self.report = report
        self.rows = report.layers
        self.index = {row.path: i for i, row in enumerate(self.rows)}
        self.node_path: dict[int, str] = {}
        for row in self.rows:
            self.node_path.setdefault(id(row.node), row.path)
        self.flow = flow or Flow(self.rows)
        self.errors = {(p.code, p.path) for p in report.problems if p.severity is Severity.ERROR}
        self.by_path: dict[str, list[Problem]] = {}
        for p in report.problems:
            self.by_path.setdefault(p.path, []).append(p)
        self.budget = [BUDGET_BASE + BUDGET_PER_ROW * len(self.rows)]
        self.full_runs = 0
        self.cache: dict[tuple[int, str], tuple[bool, Counter[str]] | None] = {}
        self.same_cache: dict[tuple[Any, ...], tuple[bool, Counter[str]] | None] = {}
        self.full_cache: dict[Shape, set[tuple[str, str]] | None] = {}
        self.regions: dict[str, tuple[Counter[str], Counter[str]]] = {}

    def walker(self, most: int | None = None) -> Walk:
        limit = max(0, self.budget[0])
        walker = Walk(self.report.mode, limit if most is None else min(limit, most), self.budget)
        walker.env["input"] = self.report.input_shape  # `@input` (a new input: clean_input)
        return walker

    def spend(self, walker: Walk) -> bool:
        return self.budget[0] >= 0

    # ------------------------------------------------------------------ one fix

    def clean(self, fix: Fix, problem: Problem) -> bool:
        if fix.target is None and fix.network_input is None:
            return True  # prose ("remove the softmax"): nothing to re-analyse
        if fix.network_input is not None:
            return self.clean_input(fix.network_input, problem)
        target = fix.target
        if not isinstance(target, Node):
            return False
        path = problem.path if self.node_at(problem.path) is target else \
            self.node_path.get(id(target))
        if path is None:
            return False
        row = self.rows[self.index[path]]
        if fix.layer_input is not None:
            if path == "1":
                return self.clean_input(fix.layer_input, problem)
            return self.clean_layer_input(row, fix.layer_input, problem.code)
        key = (id(target), fix.text)
        if key not in self.cache:
            try:
                self.cache[key] = self.replace(row, target, fix.nodes)
            except OverBudget:  # this fix's walk, or the report's budget, ran out
                self.cache[key] = None
        result = self.cache[key]
        if result is None:
            return False
        is_unit, codes = result
        if problem.code.startswith("L"):
            return True
        original = self.region(path if is_unit else self.unit(path).path)[0]
        if is_unit:
            return codes[problem.code] == 0
        return codes[problem.code] < original[problem.code]

    def node_at(self, path: str) -> Node | None:
        i = self.index.get(path)
        return self.rows[i].node if i is not None else None

    def unit(self, path: str) -> LayerRow:
        """The outermost repeat holding ``path``, or its own row (up the parent links)."""
        unit = row = self.rows[self.index[path]]
        while row.parent is not None:
            row = self.rows[row.parent]
            if isinstance(row.node, Repeat):
                unit = row
        return unit

    def region(self, path: str) -> tuple[Counter[str], Counter[str]]:
        """Codes of the walk's problems (not lints) at ``path`` and inside it: all, errors."""
        if path not in self.regions:
            found = self._region(path)
            self.regions[path] = (Counter(p.code for p in found), Counter(
                p.code for p in found if p.severity is Severity.ERROR))
        return self.regions[path]

    def _region(self, path: str) -> list[Problem]:
        found: list[Problem] = []
        top = i = self.index[path]
        # Rows are in pre-order: the row's subtree runs until a row whose parent lies before it.
        while i < len(self.rows) and (i == top or self.inside(i, top)):
            found += [p for p in self.by_path.get(self.rows[i].path, ())
                      if not p.code.startswith("L")]
            i += 1
        return found

    def inside(self, i: int, top: int) -> bool:
        """Whether row ``i``, after ``top`` in pre-order and before the end of its subtree
        or just past it, lies in ``top``'s subtree: its parent is ``top`` or comes after."""
        parent = self.rows[i].parent
        return parent is not None and parent >= top

    def replace(self, row: LayerRow, target: Node, nodes: tuple[Node, ...]
                ) -> tuple[bool, Counter[str]] | None:
        """Steps 1–2 for a replacement; None when not clean, else whether the unit is the
        node itself and the codes found in the unit's re-analysis."""
        if not nodes:
            return None
        unit = self.unit(row.path)
        is_unit = unit is row
        if unit.input_shape is None or unit.node is None:
            return None
        new = nodes if is_unit else substitute(unit.node, target, nodes)
        local = all(isinstance(n, Layer) for n in new)  # a few rows: not charged
        # A local replacement that keeps the output shape depends only on the layer, its
        # input and the replacement: identical rows (a spec of 10,000 equal convs) share one.
        same = (type(target), target.describe(), unit.input_shape, unit.output_shape,
                tuple((type(n), n.describe()) for n in new)) if is_unit and local else None
        if same is not None and same in self.same_cache:
            return self.same_cache[same]
        walker = Walk(self.report.mode, len(new)) if local else self.walker()
        out: Shape | None = unit.input_shape
        for n in new:
            out = walker.node(n, out, unit.path) if out is not None else None
        if not local and not self.spend(walker):
            return None
        result: tuple[bool, Counter[str]] | None = None
        if out is not None:
            codes = Counter(p.code for p in walker.problems)
            errors = Counter(p.code for p in walker.problems if p.severity is Severity.ERROR)
            before = self.region(unit.path)[1]
            if not any(n > before[c] for c, n in errors.items()):
                result = is_unit, codes
        if result is None or out is None or out == unit.output_shape:
            if same is not None:
                self.same_cache[same] = result
            return result
        return result if self.downstream(unit, out) else None

    def downstream(self, row: LayerRow, out: Shape) -> bool:
        """Step 2: walk what follows ``row`` with its new output ``out``. A changed tensor
        that a route reads (spec §9) is not followed: the fix is not shown; a route after
        the change continues from a tensor the change did not touch."""
        flow = self.flow
        walker = self.walker(PER_FIX)
        spec = self.report.spec
        outputs = spec is not None and any(e.key == "outputs" for e in spec.expect)
        if self.kept(row):
            return False
        cur = row
        while True:
            parent, group, i = flow.place[cur.path]
            seq = flow.top if parent is None else flow.groups[parent.path][group]
            for sib in seq[i + 1:]:
                if sib.node is None:
                    return False
                if sib.node.reads:  # the changed tensor is left as it is: an output
                    return not outputs
                seen = len(walker.problems)
                new_out = walker.node(sib.node, out, sib.path)
                if not self.spend(walker) or self.new_errors(walker.problems[seen:]):
                    return False
                if new_out is None:
                    return False
                if new_out == sib.output_shape:
                    return True
                if self.kept(sib):
                    return False
                out = new_out
            if parent is None:
                return not (spec and any(e.key in ("output", "outputs") for e in spec.expect)
                            and out != self.report.totals.output_shape)
            node = parent.node
            if not isinstance(node, Block) or node.chained or parent.input_shape is None:
                return False
            ins, _ = node.inputs(parent.input_shape)
            if ins is None:
                return False
            outs: list[Shape] = []
            for g, members in enumerate(flow.groups[parent.path]):
                o = out if g == group else members[-1].output_shape if members else ins[g]
                if o is None:
                    return False
                outs.append(o)
            joined, findings = node.join(parent.input_shape, outs)
            if self.new_errors(resolve(findings, self.report.mode, parent.path, None)):
                return False
            if joined is None:
                return False
            if joined == parent.output_shape:
                return True
            if self.kept(parent):
                return False
            cur, out = parent, joined

    def kept(self, row: LayerRow) -> bool:
        """A route reads ``row``'s output or a tensor inside it (a repeat's output is its
        last layer's): changing its shape would change what the route reads."""
        top = i = self.index[row.path]
        while i < len(self.rows) and (i == top or self.inside(i, top)):
            if self.rows[i].keep:
                return True
            i += 1
        return False

    def new_errors(self, problems: Iterable[Problem]) -> bool:
        return any(p.severity is Severity.ERROR and (p.code, p.path) not in self.errors
                   for p in problems)

    def clean_layer_input(self, row: LayerRow, shape: Shape, code: str) -> bool:
        node = row.node
        if not isinstance(node, Layer):
            return False
        findings = list(node.validate(shape))
        problems = resolve(findings, self.report.mode, row.path, None)
        return not any(f.fatal or f.code == code for f in findings) and not any(
            p.severity is Severity.ERROR for p in problems)

    def clean_input(self, shape: Shape, problem: Problem) -> bool:
        """Step 3: the whole network on a new input."""
        spec = self.report.spec
        if spec is None:
            return False
        if shape not in self.full_cache:
            self.full_cache[shape] = None
            if self.full_runs < MAX_FULL:
                self.full_runs += 1
                walker = self.walker()
                walker.env["input"] = shape
                try:
                    walker.group(spec.layers, shape, "")
                except OverBudget:
                    return False
                if self.spend(walker) and not self.new_errors(walker.problems):
                    self.full_cache[shape] = {(p.code, p.path) for p in walker.problems}
        found = self.full_cache[shape]
        return found is not None and (problem.code, problem.path) not in found


def verify_fixes(report: Report, flow: Flow | None = None) -> Report:
    """The report with every problem's fixes re-analysed: clean ones become the first
    suggestions (and stay in ``Problem.fixes``, marked ``verified``), the rest are dropped
    (see the module docstring for *clean*)."""
    if not any(f for p in report.problems for f in p.fixes if not f.verified):
        return report
    with without_fixes():
        return _verify(report, flow)


def _verify(report: Report, flow: Flow | None) -> Report:
    verifier = Verifier(report, flow)
    problems: list[Problem] = []
    for p in report.problems:
        if not p.fixes or all(f.verified for f in p.fixes):
            problems.append(p)
            continue
        shown: list[str] = []
        kept: list[Fix] = []
        slots: set[str] = set()
        merged: dict[str, list[str]] = {}
        for fix in p.fixes:
            if (fix.slot and fix.slot in slots) or fix.text in shown:
                continue
            if verifier.clean(fix, p):
                kept.append(dataclasses.replace(fix, verified=True))
                if fix.template:
                    if fix.template not in merged:
                        merged[fix.template] = []
                        shown.append(fix.template)
                    merged[fix.template].append(fix.value)
                else:
                    shown.append(fix.text)
                if fix.slot:
                    slots.add(fix.slot)
        shown = [s.format(" or ".join(merged[s])) if s in merged else s for s in shown]
        problems.append(dataclasses.replace(
            p, suggestions=(*shown, *p.suggestions), fixes=tuple(kept)))
    return dataclasses.replace(report, problems=tuple(problems))


__all__ = ["verify_fixes"]
