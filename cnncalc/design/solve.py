"""Solve a spec's unknowns (``?``): every assignment under which it analyses without errors in
its mode and meets its ``expect:``, counted, ranked, the best few shown as complete specs.

How — exact over each unknown's finite domain (:mod:`cnncalc.design.domains`), and bounded:

- The top-level items are taken in order (a repeat holding unknowns, or a call built
  already, opened into its layers: :func:`steps`). A *state* is all the rest of the network
  can see of what came before: the current shape, the shapes of the named tensors defined so
  far, the values of named unknowns (``?p``) so far, and — only when ``expect:`` has a count
  (params, MACs, budgets) — the totals so far. Assignments that reach the same state are
  merged: the rest is walked once for all of them (their number, and the best few by rank).
  States that differ only in their totals share each walk (it does not depend on them), and
  totals already past an exact count or a budget are dropped (every count only grows).
- Inside one step the search is depth-first with the real walker
  (:class:`~cnncalc.analysis.Walker`): a walk goes until it meets a node whose unknowns have no
  value yet (:class:`Stop`), and each value of the node's domains is tried from there; a walk
  that meets an error stops at once (:class:`Dead`), so a value rejected where it is used is
  never extended. Unknowns inside ``* N`` and block calls are one per occurrence (the walk
  path tells them apart) unless named.
- Bounds: at most :data:`MAX_UNKNOWNS` unknowns, :data:`MAX_STATES` states (and
  :data:`MAX_VARIANTS` counting their totals) between two items and :data:`MAX_WORK` walked
  rows in all; past them the answer is "too large", with what to
  narrow — never a hang.

Ranking (:data:`Cost`): fewest inexact divisions (G001/G002 findings that are not errors)
first, then the smallest padding in all, then the values closest to common choices, then the
values in spec order. Every solution shown is walked again in full — a solution cnncalc would
reject is a bug.
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ..analysis import Binder, Walker, check_expectations, measured, oversized, start_rf, walk
from ..diagnostics import Mode, Problem, Severity, resolve
from ..layers import Block, Counts, Group, Node
from ..report import Totals
from ..shapes import Shape
from ..spec.build import MAX_ROWS, Spec, expanded_size
from ..spec.names import INPUT
from ..spec.unknowns import Key, Open, Site, components, key
from . import TooLarge, domains

MAX_UNKNOWNS = 24
"""Most unknowns (occurrences) one spec may hold."""
MAX_STATES = 4_096
"""Most distinct states carried from one top-level item to the next."""
MAX_WORK = 30_000
"""Most work the search may do: rows walked, plus :data:`TRIAL` per walk (a second or two)."""
TRIAL = 3
"""What starting one walk costs, in rows."""
MAX_VARIANTS = 65_536
"""Most distinct states counting their totals (only kept when ``expect:`` has a count): each
is arithmetic on the walk of its shape, made once for all of them."""
MAX_TOTAL = 2**63
"""Above every count an ``expect:`` value may hold."""
VARIANTS_PER_ROW = 8
"""States carried per unit of :data:`MAX_WORK` (one walked row)."""
MAX_KEEP = 16
"""Best partial solutions kept per state by default (the shown ones come from these)."""
INEXACT = frozenset({"G001", "G002"})

Cost = tuple[int, int, int]
"""(inexact divisions, total padding, distance from common choices): smaller is better."""

Assignment = tuple[tuple[Key, int], ...]


class Stop(Exception):
    """A walk met a node whose unknowns have no values yet."""

    def __init__(self, node: Open, inp: Shape | None, path: str) -> None:
        super().__init__(path)
        self.node, self.inp, self.path = node, inp, path


class Dead(Exception):
    """A walk met an error: no assignment extending this one works."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


# --------------------------------------------------------------------------- the walk

@dataclass
class Work:
    """Rows walked so far against :data:`MAX_WORK`, and the first error each value met."""

    rows: int = 0
    limit: int = MAX_WORK
    reasons: dict[tuple[Key, int], Problem] = field(default_factory=dict)
    occurrences: dict[Key, Site] = field(default_factory=dict)
    dead: dict[str, Problem] = field(default_factory=dict)
    """The first error met at each step (by path)."""
    variants: int = 0

    def charge(self, rows: int) -> None:
        self.rows += rows
        if self.rows > self.limit:
            raise TooLarge(f"trying the values walked more than {self.limit:,} layers")

    def charge_variant(self) -> None:
        """One assignment group carried to a new state: a fraction of a walked row."""
        self.variants += 1
        if self.variants % VARIANTS_PER_ROW == 0:
            self.charge(1)


class Trial(Walker):
    """The walker with the values of one (partial) assignment, stopping at the first error
    and at the first node whose unknowns have no value yet."""

    def __init__(self, mode: Mode, values: dict[Key, int], work: Work) -> None:
        super().__init__(mode, 1, 4)
        self.values = values
        self.work = work
        self.checked = 0
        self.binder = self.bind

    def bind(self, node: Node, inp: Shape | None, path: str) -> Node:
        assert isinstance(node, Open)  # only nodes with unknowns are bound
        values: dict[Site, int] = {}
        for s in node.sites():
            k = key(s, path)
            self.work.occurrences.setdefault(k, s)
            if k not in self.values:
                raise Stop(node, inp, path)
            values[s] = self.values[k]
        bound = node.bind(values)
        if len(self.rows) + expanded_size((bound,)) > MAX_ROWS:
            raise TooLarge(f"a block call expands beyond {MAX_ROWS:,} layers")
        return bound

    def node(self, node: Node, inp: Shape | None, rf: Any, path: str, depth: int,
             parent: int | None = None) -> Any:
        out = super().node(node, inp, rf, path, depth, parent)
        self.fail_on_error()
        return out

    def fail_on_error(self) -> None:
        for p in self.problems[self.checked:]:
            if p.severity is Severity.ERROR:
                raise Dead(p)
        self.checked = len(self.problems)


@dataclass(frozen=True)
class State:
    """What the rest of the network sees of an assignment so far."""

    shape: Shape
    env: tuple[tuple[str, Shape | None], ...]
    named: tuple[tuple[str, int], ...]
    totals: tuple[int, ...] = ()


@dataclass
class Bucket:
    """The assignments that reach one state: how many, the best few, and every value each
    unknown takes in any of them."""

    count: int = 0
    best: list[tuple[Cost, Assignment]] = field(default_factory=list)
    used: dict[Key, frozenset[int]] = field(default_factory=dict)
    """Frozen sets, shared between buckets (a merge makes a new one)."""

    def add(self, count: int, entries: list[tuple[Cost, Assignment]],
            used: dict[Key, frozenset[int]], added: dict[Key, int]) -> None:
        self.count += count
        self.best.extend(entries)
        mine = self.used
        if not mine:
            mine.update(used)
        else:
            for k, values in used.items():
                had = mine.get(k)
                mine[k] = values if had is None or had is values else had | values
        for k, v in added.items():
            had = mine.get(k)
            if had is None or v not in had:
                mine[k] = frozenset((v,)) if had is None else had | {v}

    def settle(self, keep: int) -> None:
        """Keep only the best ``keep`` (called once the item's transitions are all in)."""
        if len(self.best) > keep:
            self.best = heapq.nsmallest(keep, self.best)


def _plus(a: Cost, b: Cost) -> Cost:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def _cost(problems: list[Problem], values: dict[Key, int], occurrences: dict[Key, Site]
          ) -> Cost:
    inexact = sum(1 for p in problems if p.code in INEXACT)
    pad = sum(v for k, v in values.items() if domains.is_padding(occurrences[k]))
    near = sum(domains.distance(occurrences[k], v) for k, v in values.items())
    return inexact, pad, near


@dataclass(frozen=True)
class Step:
    """One point of the search's sequence: a node to walk at ``path``, or (``node`` None)
    the name a chained block gives its output, bound once its layers are walked."""

    node: Node | None
    path: str
    name: str | None = None


def steps(group: Group, prefix: str = "") -> Iterator[Step]:
    """The top-level sequence, with every chained block that is built already and holds an
    unknown (``[conv(8, 3, s=?)] * 4``) opened into its layers: each is then a point where
    assignments that reach the same state merge, instead of one walk per combination."""
    for i, node in enumerate(group, 1):
        path = f"{prefix}{i}"
        if isinstance(node, Block) and node.chained and node.built() \
                and node.input_tensor() is None and _holds_unknown(node):
            for r, inner in enumerate(node.groups(), 1):
                yield from steps(inner, f"{path}.{r}.")
            if node.tensor is not None:
                yield Step(None, path, node.tensor)
        else:
            yield Step(node, path)


def _holds_unknown(node: Node) -> bool:
    if node.unknown:
        return True
    if not isinstance(node, Block) or not node.built():
        return False
    groups = node.groups()  # a repeat's groups are one group, many times: look at one
    return any(_holds_unknown(n) for g in (groups[:1] if node.chained else groups) for n in g)


def _item(item: Node, path: str, state: State, mode: Mode, work: Work
          ) -> Iterator[tuple[dict[Key, int], Trial, Shape]]:
    """Every assignment of the unknowns met inside ``item`` (walked from ``state``) under
    which it has no error: (the values it added, its walk, its output)."""
    named: dict[Key, int] = dict(state.named)
    stack: list[tuple[dict[Key, int], tuple[Key, ...]]] = [({}, ())]
    while stack:
        added, newest = stack.pop()
        trial = Trial(mode, {**named, **added}, work)
        for name, shape in state.env:
            trial.env[name] = (-1, shape, start_rf(shape))
        try:
            try:
                out, _, _ = trial.node(item, state.shape, start_rf(state.shape), path,
                                       path.count(".") // 2 + 1)
            finally:
                work.charge(len(trial.rows) + TRIAL)
        except Stop as stop:
            branches = list(_branches(stop, trial.values, added, work))
            stack.extend((b, tuple(k for k in b if k not in added)) for b in reversed(branches))
            continue
        except Dead as dead:
            for k in newest:  # the values just given: the error is theirs (or later)
                work.reasons.setdefault((k, added[k]), dead.problem)
            work.dead.setdefault(path, dead.problem)
            continue
        if out is None:  # pragma: no cover - a walk with no error has an output
            continue
        yield added, trial, out


def _branches(stop: Stop, values: dict[Key, int], added: dict[Key, int], work: Work
              ) -> Iterator[dict[Key, int]]:
    """The assignments one step deeper: every value of the stopped node's open sites."""
    node = stop.node
    open_sites = sorted((s for s in node.sites() if key(s, stop.path) not in values),
                        key=lambda s: (domains.ORDER[domains.role(s)], s.index))
    if len(work.occurrences) > MAX_UNKNOWNS:
        raise TooLarge(f"the spec has more than {MAX_UNKNOWNS} unknowns")
    known = {s: values[key(s, stop.path)] for s in node.sites() if key(s, stop.path) in values}

    def deeper(i: int, chosen: dict[Site, int]) -> Iterator[dict[Site, int]]:
        if i == len(open_sites):
            yield chosen
            return
        s = open_sites[i]
        for value in domains.domain(s, node, stop.inp, chosen):
            yield from deeper(i + 1, {**chosen, s: value})

    for chosen in deeper(0, known):
        yield {**added, **{key(s, stop.path): v for s, v in chosen.items() if s not in known}}


def input_parts(spec: Spec) -> list[tuple[Site | None, str]]:
    """The input's sizes as written (``?x?x3``), each with its site when it is unknown."""
    by_column = {s.location.column: s for s in spec.unknowns if s.owner == "input"}
    parts = []
    column = spec.input_location.column
    for part in components(spec.input_text or ""):
        parts.append((by_column.get(column), part))
        column += len(part) + 1
    return parts


def with_input(spec: Spec, values: dict[Key, int]) -> Spec:
    """The spec with its input's unknowns given (and the problem they raised gone)."""
    if spec.input is not None or not spec.input_text:
        return spec
    shape = tuple(values[key(s, "input")] if s is not None else int(part)
                  for s, part in input_parts(spec))
    return replace(spec, input=shape, problems=tuple(p for p in spec.problems
                                                     if p.path != "input"))


def binder(values: dict[Key, int]) -> Binder:
    """Binds each node with unknowns to the values of ``values`` (a complete assignment)."""
    def bind(node: Node, inp: Shape | None, path: str) -> Node:
        assert isinstance(node, Open)  # only nodes with unknowns are bound
        return node.bind({s: values[key(s, path)] for s in node.sites()})
    return bind


def _input_states(spec: Spec, ranges: tuple[int, int]) -> Iterator[tuple[Shape, dict[Key, int]]]:
    """Each input shape the input's unknowns allow (``?x?x3``), with their values: a spatial
    size ranges over ``ranges``, the channels over the counts."""
    if spec.input is not None or not spec.input_text:
        if spec.input is not None:
            yield spec.input, {}
        return
    parts = input_parts(spec)
    domain: dict[Key, range] = {}
    for s, _ in parts:
        if s is not None:
            domain[key(s, "input")] = range(ranges[0], ranges[1] + 1) \
                if domains.role(s) == "input" else range(1, domains.MAX_COUNT + 1)
    total = math.prod(len(r) for r in domain.values())
    if total > MAX_STATES:
        raise TooLarge(f"the input's unknowns have {total:,} combinations "
                       f"({' × '.join(str(len(r)) for r in domain.values())})")
    for combo in itertools.product(*domain.values()):
        values = dict(zip(domain, combo, strict=True))
        yield tuple(values[key(s, "input")] if s is not None else int(part)
                    for s, part in parts), values


def _totals(counts: Counts, act: int) -> tuple[int, ...]:
    return counts.weights, counts.biases, counts.non_trainable, counts.macs, act


def _limits(spec: Spec, mode: Mode) -> tuple[tuple[str, int], ...]:
    """The ``expect:`` counts and budgets whose overrun is an error in ``mode`` (asked of the
    walk's own check, with every count past every value)."""
    huge = Totals(*(MAX_TOTAL,) * 6, None)
    return tuple((e.key, e.value) for e in spec.expect if e.key in measured(huge) and any(
        p.severity is Severity.ERROR for p in resolve(
            check_expectations(replace(spec, expect=(e,)), huge), mode, "expect", None)))


def _past(limits: tuple[tuple[str, int], ...], totals: tuple[int, ...]) -> bool:
    """Totals so far already past one of ``limits``: every count only grows along the
    network, so no later layer can mend it."""
    w, b, nt, macs, act = totals
    actual = measured(Totals(w, b, nt, macs, (w + b + nt) * 4, act, None))
    return any(actual[k] > v for k, v in limits)


def _meets(spec: Spec, mode: Mode, state: State) -> bool:
    """The final state against ``expect:`` (every key but ``outputs``, which the full walk of
    each shown solution checks)."""
    checked = tuple(e for e in spec.expect if e.key != "outputs")
    if not checked:
        return True
    w, b, nt, macs, act = state.totals or (0, 0, 0, 0, 0)
    totals = Totals(w, b, nt, macs, (w + b + nt) * 4, act, state.shape)
    found = check_expectations(replace(spec, expect=checked), totals)  # the walk's own check
    return not any(p.severity is Severity.ERROR for p in resolve(found, mode, "expect", None))


def search(spec: Spec, mode: Mode, ranges: tuple[int, int], work: Work, keep: int = MAX_KEEP
           ) -> tuple[dict[State, Bucket], Problem | None]:
    """The final states with their assignments (the best ``keep`` of each); when there are
    none, the error that ended the last of them."""
    budgets = any(e.key not in ("output", "outputs") for e in spec.expect)
    limits = _limits(spec, mode)
    states: dict[State, Bucket] = {}
    for shape, values in _input_states(spec, ranges):
        named = tuple(sorted((k, v) for k, v in values.items() if isinstance(k, str)))
        for k in values:
            work.occurrences.setdefault(k, next(s for s in spec.unknowns if key(s, "input") == k))
        if (too_large := oversized(shape)) is not None:  # pragma: no cover - ranges are small
            del too_large
            continue
        state = State(shape, ((INPUT, shape),), named, (0, 0, 0, 0, 0) if budgets else ())
        cost = _cost([], values, work.occurrences)
        assignment = tuple(values.items())
        states.setdefault(state, Bucket()).add(1, [(cost, assignment)], {}, values)
    for step in steps(spec.layers):
        after: dict[State, Bucket] = {}
        if step.node is None:  # `[...] * 3 as x`: the name of what the repeat gave
            for state, bucket in states.items():
                env = dict(state.env) | {step.name or "": state.shape}
                new = replace(state, env=tuple(sorted(env.items())))
                after.setdefault(new, Bucket()).add(bucket.count, bucket.best, bucket.used, {})
            states = after
            continue
        item, path = step.node, step.path
        places: dict[State, list[tuple[tuple[int, ...], Bucket]]] = {}
        for state, bucket in states.items():  # states that differ only in their totals
            place = State(state.shape, state.env, state.named)
            places.setdefault(place, []).append((state.totals, bucket))
        arrived: set[State] = set()
        for place, variants in places.items():  # walked once for all of its totals
            for added, trial, out in _item(item, path, place, mode, work):
                env = dict(place.env)
                if item.tensor is not None:
                    env[item.tensor] = out
                names = dict(place.named)
                names.update({k: v for k, v in added.items() if isinstance(k, str)})
                there = State(out, tuple(sorted(env.items())), tuple(sorted(names.items())))
                arrived.add(there)
                if len(arrived) > MAX_STATES:
                    raise TooLarge(f"more than {MAX_STATES:,} different states after layer "
                                   f"{path}")
                delta = _totals(trial.leaves, trial.activation_bytes) if budgets else ()
                cost = _cost(trial.problems, added, work.occurrences)
                pairs = tuple(added.items())
                for totals, bucket in variants:
                    totals = tuple(map(operator.add, totals, delta))
                    if limits and _past(limits, totals):
                        continue  # a count only grows: past its value or budget for good
                    entries = [(_plus(c, cost), a + pairs) for c, a in bucket.best]
                    new = State(out, there.env, there.named, totals)
                    after.setdefault(new, Bucket()).add(bucket.count, entries, bucket.used,
                                                        added)
                    work.charge_variant()
                    if len(after) > MAX_VARIANTS:
                        raise TooLarge(f"more than {MAX_VARIANTS:,} different states (shapes "
                                       f"and totals for expect:) after layer {path}")
        for b in after.values():
            b.settle(keep)
        if not after:  # this step ends every assignment: the first error it met says why
            return {}, work.dead.get(path)
        states = after
    final = {s: b for s, b in states.items() if _meets(spec, mode, s)}
    if not final and states:  # every assignment walks cleanly but misses `expect:`
        best = min(e for b in states.values() for e in b.best)
        return {}, _expectation_failed(spec, mode, dict(best[1]))
    return final, None


def _expectation_failed(spec: Spec, mode: Mode, values: dict[Key, int]) -> Problem | None:
    """The ``expect:`` problem of one assignment (the best by rank) that misses it."""
    report = walk(with_input(spec, values), mode, binder=binder(values))
    return next((p for p in report.problems if p.severity is Severity.ERROR), None)



__all__ = ["Dead", "Stop", "TooLarge", "Trial", "binder", "search", "steps", "with_input"]
