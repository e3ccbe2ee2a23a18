"""``cnncalc solve`` against brute force on random networks (the torch differential generator):
strides and paddings of their window layers, and one input size, turned into unknowns; every
combination over the documented domains is written into the spec and walked, and the solver
must find exactly the valid ones."""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
from collections.abc import Callable

import pytest

pytest.importorskip("torch", reason="the random networks come from the torch generator")

import cnncalc
from tests.test_against_torch import generate
from tests.test_solve import works

SEEDS = range(90)
MAX_COMBINATIONS = 150

WINDOW = re.compile(r"\b(conv|dwconv|depthwise|deconv|convtranspose|maxpool|avgpool)"
                    r"(?:[123]d)?\(([^()]*)\)", re.IGNORECASE)
KERNEL_AT = {"conv": 1, "deconv": 1, "convtranspose": 1}
"""Where a kind's kernel is among its positional arguments (the others: first)."""


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.split(r"[x×]", text.strip()))


def never_built(text: str) -> list[tuple[int, int]]:
    """The spans of ``[...] * 0`` (built by nothing: a ``?`` there is refused)."""
    spans = []
    for m in re.finditer(r"\]\s*\*\s*0(?![\d.])", text):
        depth, i = 0, m.start()
        while i >= 0:
            depth += {"]": 1, "[": -1}.get(text[i], 0)
            if depth == 0:
                break
            i -= 1
        spans.append((i, m.end()))
    return spans


def sites(text: str) -> list[tuple[int, int, str, range]]:
    """(start, end, role, documented domain) of every literal stride and padding of a window
    layer (none inside ``* 0``): stride 1 … d·(k−1)+1, padding 0 … d·(k−1)."""
    found = []
    skip = never_built(text)
    for m in WINDOW.finditer(text):
        if any(a <= m.start() < b for a, b in skip):
            continue
        kind = m.group(1).lower()
        args = [a.strip() for a in m.group(2).split(",")]
        positional = [a for a in args if "=" not in a]
        keyed = {a.split("=")[0].strip().lower(): a.split("=")[1].strip() for a in args
                 if "=" in a}
        kernel_text = keyed.get("k", keyed.get("kernel"))
        if kernel_text is None:
            at = KERNEL_AT.get(kind, 0)
            if len(positional) <= at:
                continue
            kernel_text = positional[at]
        dilation_text = keyed.get("d", keyed.get("dilation", "1"))
        if not re.fullmatch(r"\d+(?:[x×]\d+)*", kernel_text) or \
                not re.fullmatch(r"\d+(?:[x×]\d+)*", dilation_text):
            continue
        kernel, dilation = _sizes(kernel_text), _sizes(dilation_text)
        k_eff = max(d * (k - 1) + 1 for k, d in itertools.product(kernel, dilation))
        for a in re.finditer(r"\b(s|stride|p|padding)\s*=\s*(\d+)(?![\dx×])", m.group(2)):
            role = "stride" if a.group(1).lower() in ("s", "stride") else "padding"
            start = m.start(2) + a.start(2)
            found.append((start, start + len(a.group(2)), role,
                          range(1, k_eff + 1) if role == "stride" else range(0, k_eff)))
    return found


Case = tuple[str, tuple[str, ...], tuple[range, ...], str]
"""A spec with named unknowns ``?u0``…, their domains, and a mode."""


@functools.cache
def brute(template: str, names: tuple[str, ...], domains: tuple[range, ...], mode: str
          ) -> frozenset[tuple[int, ...]]:
    valid = set()
    for combo in itertools.product(*domains):
        text = template
        for n, value in zip(names, combo, strict=True):
            text = text.replace(f"?{n}", str(value))
        if works(text, mode) is not None:
            valid.add(combo)
    return frozenset(valid)


@functools.cache
def case(seed: int) -> Case | None:
    """The generated spec with up to three named unknowns, their domains, and a mode."""
    g = random.Random(seed * 31 + 7)
    text = generate(seed).spec
    found = sites(text)
    g.shuffle(found)
    chosen: list[tuple[int, int, str, range]] = []
    size = 1
    for s in found[:g.randint(1, 4)]:
        if size * len(s[3]) <= MAX_COMBINATIONS:
            chosen.append(s)
            size *= len(s[3])
    if not chosen:
        return None
    names = tuple(f"u{i}" for i in range(len(chosen)))
    for (start, end, _, _), n in sorted(zip(chosen, names, strict=True), reverse=True):
        text = text[:start] + f"?{n}" + text[end:]
    return text, names, tuple(s[3] for s in chosen), g.choice(["default", "lenient", "strict"])


WITH_UNKNOWNS = [seed for seed in SEEDS if case(seed) is not None]
"""The seeds whose network has a literal stride or padding of a window layer to solve for."""


def test_zz_most_random_cases_have_unknowns_and_some_solutions() -> None:
    """The brute-force comparison is not vacuous: most seeds give unknowns, and both solvable
    and unsolvable cases occur."""
    made = [c for seed in WITH_UNKNOWNS if (c := case(seed)) is not None]
    assert len(made) >= len(SEEDS) * 0.6
    counts = [len(brute(*c)) for c in made[:25]]
    assert any(counts) and not all(counts)


VOLUMES = [seed for seed in range(0, 66, 3)
           if re.match(r"(input:\s*|input\()?(\d+)(?=x)", generate(seed).spec)][:20]
"""Seeds whose input is a volume (not a flat vector): its first size becomes ``?h``."""


@pytest.mark.parametrize("seed", VOLUMES)
def test_input_size_unknown_equals_trying_every_size(seed: int) -> None:
    text = generate(seed).spec
    m = re.match(r"(input:\s*|input\()?(\d+)(?=x)", text)
    assert m is not None
    original = int(m.group(2))
    template = text[:m.start(2)] + "?h" + text[m.end(2):]
    lo, hi = max(1, original - 12), original + 12
    truth = {(n,) for n in range(lo, hi + 1)
             if works(template.replace("?h", str(n)), "lenient") is not None}
    solved = cnncalc.solve(template, "lenient", range=(lo, hi), top=hi - lo + 2)
    assert solved.count == len(truth) and (original,) in truth
    assert {(dict(s.values)["?h"],) for s in solved.solutions} == truth


def with_expect(text: str, key: str, value: int) -> str:
    """``text`` (one line, or YAML) with ``expect: {key: value}`` added."""
    if not text.lstrip().startswith("input:"):
        shape, chain = text.split("->", 1)
        shape = shape.strip().removeprefix("input(").removesuffix(")")  # input(15x8x10)
        text = f"input: {shape}\nlayers:\n  - {json.dumps(chain.strip())}\n"
    return text.rstrip("\n") + f"\nexpect:\n  {key}: {value}\n"


def budget_case(seed: int) -> Case | None:
    """:func:`case` with an ``expect:`` count or budget that some of its solutions meet: the
    solver prunes and merges states by their totals, brute force just walks each one."""
    made = case(seed)
    if made is None or "expect:" in made[0]:
        return None
    text, names, domains, mode = made
    valid = sorted(brute(text, names, domains, mode))
    if not valid:
        return None
    g = random.Random(seed)
    key = g.choice(["macs", "max_macs", "params", "max_params", "max_activation_bytes"])
    measure = {"macs": "macs", "max_macs": "macs", "params": "params", "max_params": "params",
               "max_activation_bytes": "activation_bytes"}[key]
    figures = []
    for combo in valid:
        filled = text
        for n, v in zip(names, combo, strict=True):
            filled = filled.replace(f"?{n}", str(v))
        report = works(filled, mode)
        assert report is not None
        figures.append(getattr(report.totals, measure))
    figures.sort()
    return with_expect(text, key, figures[len(figures) // 2]), names, domains, mode


BUDGETED = [seed for seed in WITH_UNKNOWNS[:45] if budget_case(seed) is not None]


CASES = [pytest.param(case, seed, id=f"plain-{seed}") for seed in WITH_UNKNOWNS] + [
    pytest.param(budget_case, seed, id=f"budget-{seed}") for seed in BUDGETED]


@pytest.mark.parametrize(("make", "seed"), CASES)
def test_solutions_equal_brute_force(make: Callable[[int], Case | None], seed: int) -> None:
    made = make(seed)
    assert made is not None
    text, names, domains, mode = made
    truth = brute(text, names, domains, mode)
    solved = cnncalc.solve(text, mode, top=len(truth) + 1)  # type: ignore[arg-type]
    assert solved.count == len(truth), text
    found = {tuple(dict(s.values)[f"?{n}"] for n in names) for s in solved.solutions}
    assert found == truth, text
    costs = [s.cost for s in solved.solutions]
    assert costs == sorted(costs)
    for r in solved.rejected:  # a value said to be unused is unused
        i = names.index(r.site.name or "")
        assert all(combo[i] != r.value for combo in truth)


def test_zz_budgets_cut_some_solutions_but_not_all() -> None:
    """The budget comparison is not vacuous: budgets leave some solutions and drop others."""
    cut = 0
    for seed in BUDGETED:
        made = budget_case(seed)
        assert made is not None and case(seed) is not None
        kept, before = brute(*made), brute(*case(seed))  # type: ignore[misc]
        assert kept <= before
        cut += bool(kept) and kept != before
    assert len(BUDGETED) >= 15 and cut >= 5
