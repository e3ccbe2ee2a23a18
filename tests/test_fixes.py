"""Suggestions are re-analysed before they are shown (issue 8, classes 17 and 18).

A fix cnncalc would itself reject is a bug: every layer replacement, shortcut or input
size a problem suggests is substituted into the spec and analysed again; only clean
fixes are shown (the definition is in :mod:`cnncalc.fixes`). The property test applies
every shown fix to generated specs, independently of the verifier's shortcuts (a whole
new analysis), and checks the fix removes its problem without adding an error.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc.api import analyze_spec
from cnncalc.diagnostics import Fix, Problem, Severity
from cnncalc.fixes import substitute
from cnncalc.layers import Block, Node, Repeat
from cnncalc.report import Report
from cnncalc.spec.build import Spec
from cnncalc.spec.parse import read_spec

ZOO = Path(cnncalc.__file__).parent / "zoo"


def problems(spec: str, code: str, mode: str = "default") -> list[Problem]:
    return [p for p in cnncalc.analyze(spec, mode).problems  # type: ignore[arg-type]
            if p.code == code]


# --------------------------------------------------------------------------- the cases

def test_pool_padding_that_pads_an_axis_of_size_one_is_not_suggested() -> None:
    # was: 'maxpool(4x1, p=2) → 2×5×3': p=2 on the 1-wide axis is more than half its kernel 1
    (p,) = problems("5x1x3 -> maxpool(4x1)", "G001")
    # v2: padding is per axis, so the height alone may be padded (the width never is)
    assert p.suggestions == ("maxpool(4x1, ceil=true) → 2×1×3",
                             "maxpool(4x1, p=2x0) → 2×1×3 (inexact, but only padding goes unread)",
                             "input height 4 or 8 instead of 5")


def test_a_kernel_larger_than_the_input_is_not_suggested() -> None:
    # was: 'conv(4, 10000, s=10000)' for an 8×8 input (a G003 error)
    for spec in ("8x8x3 -> conv(4, 3, s=100)", "8x8x3 -> conv(4, 8, s=101)"):
        (p,) = problems(spec, "L006")
        assert not any("100" in s or "101" in s for s in p.suggestions), p.suggestions
    (p,) = problems("8x8x3 -> conv(4, 8, s=101)", "L006")
    assert p.suggestions == ("conv(4, 8, s=8) → 1×1×4",)


def test_power_of_two_fixes_keep_groups_dividing() -> None:
    # was: conv(128, 3, g=10) for 160 filters; no power of two is a multiple of 10
    assert problems("32x32x40 -> conv(160, 3, g=10) -> relu -> gap -> fc(10)", "L001") == []
    (p,) = problems("32x32x32 -> conv(96, 3, g=32) -> relu -> gap -> fc(10)", "L001")
    assert p.suggestions == ("conv(64, 3, g=32)", "conv(128, 3, g=32)")
    # g=64 does not divide 32 input channels: no power of two of filters works
    assert "g=64" not in str(problems("32x32x64 -> conv(96, 3, g=32) -> gap -> fc(10)", "L001"))


def test_fix_that_breaks_a_later_layer_is_dropped() -> None:
    # conv(16, 2, s=2) reads every pixel, but gives 16×16, and maxpool(11) on 16×16 loses
    # input: (16 − 11)/11 + 1 = 1.45 (the original 11×11 pools exactly)
    (p,) = problems("32x32x3 -> conv(16, 2, s=3) -> relu -> maxpool(11)", "L006")
    assert p.suggestions == ()
    (p,) = problems("32x32x3 -> conv(16, 2, s=3) -> relu -> gap", "L006")
    assert p.suggestions == ("conv(16, 2, s=2) → 16×16×16",)


def test_fix_inside_a_residual_must_keep_the_add_valid() -> None:
    # p=0 would make the body 3×3 (exact) but the add needs the shortcut's 4×4
    spec = ("8x8x16 -> residual([conv(32, 3, s=2, p=1) -> relu -> conv(32, 3, p=1)], "
            "shortcut=[conv(32, 1, s=2)])")
    (p,) = [p for p in problems(spec, "G002") if p.path == "1.1.1"]
    assert p.suggestions == ()
    (p,) = problems("8x8x16 -> residual([conv(32, 3, s=2, p=1)])", "G007")
    assert p.suggestions == ("shortcut=[conv(32, 1, s=2, bias=false) -> bn]",)


def test_groups_fix_is_a_valid_layer() -> None:
    (p,) = problems("8x8x6 -> conv(8, 3, g=4)", "G004")
    assert p.suggestions == ("g=2", "g=1")
    (p,) = problems("8x8x40 -> conv(160, 3, g=16)", "G004")
    assert p.suggestions == ("g=20", "g=10", "g=8", "g=5")


def test_fix_in_strict_mode_must_not_be_inexact() -> None:
    # in default mode the padding-only fix is a note; in strict mode it is an error
    spec = "8x8x3 -> conv(4, 5, s=4)"
    (default,) = problems(spec, "G001")
    (strict,) = problems(spec, "G001", "strict")
    assert any("inexact" in s for s in default.suggestions)
    assert not any("inexact" in s for s in strict.suggestions)


def test_prose_suggestions_stay() -> None:
    (p,) = problems("32x32x3 -> conv(8, 3) -> relu -> relu", "L011")
    assert p.suggestions == ("remove relu at 3", "remove relu at 2")
    (p,) = problems("32x32x3 -> maxpool(1) -> gap -> fc(16)", "L009")
    assert p.suggestions[0] == "remove maxpool(1)"


# --------------------------------------------------------------------------- L001 (class 18)

def l001(report: Report) -> list[Problem]:
    return [p for p in report.problems if p.code == "L001"]


def test_l001_is_one_finding_listing_the_layers() -> None:
    report = cnncalc.analyze("32x32x3 -> conv(24, 3, p=1) -> relu -> conv(48, 3, p=1) -> relu "
                             "-> conv(96, 3, p=1) -> relu -> gap -> fc(10)")
    (p,) = l001(report)
    assert p.path == "1" and p.message.startswith("3 layers have filter or unit counts")
    assert "conv(48, 3, p=1) at 3 (48 filters)" in p.message
    assert p.suggestions == ("conv(16, 3, p=1) at 1", "conv(32, 3, p=1) at 3",
                             "conv(64, 3, p=1) at 5")


def test_l001_listing_is_capped() -> None:
    spec = "8x8x3 -> " + " -> ".join(["conv(24, 3, p=1) -> relu"] * 40) + " -> gap -> fc(10)"
    (p,) = l001(cnncalc.analyze(spec))
    assert p.message.startswith("40 layers") and "and 34 more" in p.message
    assert len(p.suggestions) == 6 and len(p.message) < 1000


def test_l001_skips_widths_fixed_by_a_residual_or_the_input() -> None:
    # MobileNet-style: the projection's 24 channels must equal the identity shortcut's
    spec = ("56x56x24 -> residual([conv(144, 1) -> relu6 -> dwconv(3, p=1) -> relu6 -> "
            "conv(24, 1)]) -> conv(40, 1) -> relu -> gap -> fc(10)")
    (p,) = l001(cnncalc.analyze(spec))
    assert "at 1.1.1 (144" in p.message and "at 1.1.5" not in p.message
    assert "at 2 " in p.message  # 40 feeds a conv only: free
    # a projection shortcut's conv and the body's last conv are both fixed by the add
    spec = ("8x8x16 -> residual([conv(48, 3, p=1) -> bn -> relu -> conv(24, 1)], "
            "shortcut=[conv(24, 1) -> bn]) -> conv(32, 1) -> gap -> fc(10)")
    (p,) = l001(cnncalc.analyze(spec))
    assert p.message.startswith("conv(48, 3, p=1) has 48 filters")
    # width into the identity shortcut of the next residual: fixed
    assert l001(cnncalc.analyze("8x8x3 -> conv(24, 3, p=1) -> residual([conv(24, 3, p=1)]) -> "
                                "gap -> fc(16)")) == []
    # a depthwise multiplier on 24 channels: no multiplier gives a power of two
    assert l001(cnncalc.analyze("8x8x24 -> dwconv(3, p=1, m=3) -> conv(32, 1)")) == []
    # concatenated widths that then meet an add are fixed too
    spec = "8x8x16 -> residual([concat([conv(6, 1)], [conv(10, 1)])]) -> gap -> fc(16)"
    assert l001(cnncalc.analyze(spec)) == []


def test_l001_repeated_layer_listed_once_and_not_when_any_repetition_is_fixed() -> None:
    (p,) = l001(cnncalc.analyze("32x32x3 -> [conv(96, 3, p=1) -> relu] * 3 -> gap -> fc(10)"))
    assert p.path == "1.1.1" and p.message.startswith("conv(96, 3, p=1) has 96 filters")
    assert l001(cnncalc.analyze("32x32x24 -> [residual([conv(24, 3, p=1)])] * 3 -> gap -> "
                                "fc(10)")) == []


def test_l001_inside_a_block_call_is_listed_at_the_call_without_a_fix() -> None:
    # the same 96-filter conv: at the top level it gets its nearest power of two; inside a
    # call its width comes from the call (and a library body is not in the file), so no
    # one-layer replacement is offered
    (top,) = l001(cnncalc.analyze("32x32x3 -> conv(96, 3, p=1) -> relu -> gap -> fc(10)"))
    assert top.suggestions and top.fixes
    text = "input: 32x32x3\nblocks:\n  b(w):\n    - conv(w, 3, p=1) -> relu\nlayers:\n" \
        "  - b(96)\n  - gap -> fc(10)\n"
    (inside,) = l001(cnncalc.analyze(text))
    assert inside.message.startswith("conv(96, 3, p=1) has 96 filters")
    assert inside.location is not None and (inside.location.line, inside.location.column) == (6, 5)
    assert not inside.suggestions and not inside.fixes
    (lib,) = l001(cnncalc.analyze("56x56x24 -> inverted_residual(24) -> gap -> fc(10)"))
    assert "144 filters" in lib.message and not lib.fixes


@pytest.mark.parametrize("name", ["mobilenet_v2", "googlenet", "alexnet", "lenet5", "resnet50"])
def test_zoo_has_at_most_one_l001(name: str) -> None:
    report = cnncalc.analyze(ZOO / f"{name}.yaml")
    assert len(l001(report)) <= 1
    for p in l001(report):
        assert len(p.suggestions) <= 6
        check_fixes_apply(report, p)


# --------------------------------------------------------------------------- the property

def first_path(report: Report, target: Node) -> str | None:
    return next((r.path for r in report.layers if r.node is target), None)


def inside_repeat(report: Report, path: str) -> bool:
    parts = path.split(".")
    rows = {r.path: r for r in report.layers}
    return any(isinstance(rows[".".join(parts[:k])].node, Repeat)
               for k in range(1, len(parts), 2))


def l001_listed(report: Report) -> int:
    count = 0
    for p in l001(report):
        head = p.message.split(" ", 1)[0]
        count += int(head) if head.isdigit() else 1
    return count


def apply(spec: Spec, fix: Fix) -> Spec | None:
    """The spec with the fix applied; None for fixes that do not change the spec itself
    (prose, or an input size for a layer further down)."""
    if fix.network_input is not None:
        return dataclasses.replace(spec, input=fix.network_input)
    if fix.nodes:
        layers = tuple(x for n in spec.layers for x in substitute(n, fix.target, fix.nodes))
        return dataclasses.replace(spec, layers=layers)
    return None


def check_fixes_apply(report: Report, problem: Problem) -> int:
    """Apply each shown fix of ``problem``: a full new analysis must not have the problem
    at that place nor an error the original did not have. Returns how many applied."""
    spec = report.spec
    assert spec is not None
    applied = 0
    errors = {(p.code, p.path) for p in report.problems if p.severity is Severity.ERROR}
    error_codes = Counter(p.code for p in report.problems if p.severity is Severity.ERROR)
    for fix in problem.fixes:
        assert fix.verified
        if fix.target is not None and fix.layer_input is not None:
            if first_path(report, fix.target) != "1":
                continue  # the size the layer needs; what comes before decides it
            fixed_spec = dataclasses.replace(spec, input=fix.layer_input)
        else:
            maybe = apply(spec, fix)
            if maybe is None:
                continue
            fixed_spec = maybe
        fixed = analyze_spec(fixed_spec, report.mode, report.batch, report.dtype)
        applied += 1
        # expect: counts change with every fix and are not re-checked (cnncalc.fixes)
        new_errors = [p for p in fixed.problems if p.severity is Severity.ERROR
                      and not p.code.startswith("X")]
        if len(fix.nodes) <= 1:
            assert {(p.code, p.path) for p in new_errors} <= errors, (fix.text, new_errors)
        else:  # a stack of layers shifts the paths after it
            assert all(n <= error_codes[c] for c, n in Counter(p.code for p in new_errors).items())
        code = problem.code
        if code == "L001":
            assert l001_listed(fixed) < l001_listed(report), fix.text
        elif fix.target is not None and inside_repeat(report, first_path(report, fix.target)
                                                      or problem.path):
            before = sum(p.code == code for p in report.problems)
            assert sum(p.code == code for p in fixed.problems) < before, fix.text
        else:
            assert (code, problem.path) not in {(p.code, p.path) for p in fixed.problems}, (
                fix.text, [p for p in fixed.problems if p.code == code])
    return applied


SIZES = st.integers(1, 12)
KERNELS = st.integers(1, 5)


@st.composite
def layer(draw: st.DrawFn, depth: int = 0) -> str:
    kinds = ["conv", "conv", "pool", "act", "bn", "dwconv", "deconv"]
    if depth < 2:
        kinds += ["residual", "repeat", "concat"]
    kind = draw(st.sampled_from(kinds))
    if kind == "conv":
        f = draw(st.sampled_from([3, 4, 6, 8, 10, 12, 16, 24]))
        g = draw(st.sampled_from([1, 1, 1, 2, 3, 4]))
        p = draw(st.sampled_from(["", ", p=1", ", p=2", ", p=same", ", p=0"]))
        return f"conv({f}, {draw(KERNELS)}, s={draw(st.integers(1, 4))}{p}, g={g})"
    if kind == "pool":
        name = draw(st.sampled_from(["maxpool", "avgpool"]))
        k = draw(st.sampled_from(["2", "3", "4x1", "1x3", "1"]))
        s = draw(st.sampled_from(["", ", s=1", ", s=2", ", s=3"]))
        p = draw(st.sampled_from(["", "", ", p=1", ", p=2"]))
        return f"{name}({k}{s}{p})"
    if kind == "act":
        return draw(st.sampled_from(["relu", "relu6", "sigmoid", "dropout(0.5)", "identity",
                                     "dropout(0.95)", "flatten -> fc(24)", "fc(12)",
                                     # v2 kinds: groups that may not divide, flat vectors
                                     "gn(2)", "gn(4)", "shuffle(3)", "instancenorm",
                                     "layerscale", "ln", "fc(8, flatten=false)", "mish",
                                     "hardsigmoid"]))
    if kind == "bn":
        return "bn"
    if kind == "dwconv":
        return f"dwconv({draw(KERNELS)}, s={draw(st.integers(1, 3))}, p=1, m={draw(st.integers(1, 3))})"
    if kind == "deconv":
        return f"deconv({draw(st.sampled_from([4, 6, 8]))}, {draw(KERNELS)}, s={draw(st.integers(1, 3))})"
    body = " -> ".join(draw(st.lists(layer(depth + 1), min_size=1, max_size=3)))
    if kind == "residual":
        if draw(st.booleans()):
            short = " -> ".join(draw(st.lists(layer(depth + 1), min_size=1, max_size=2)))
            return f"residual([{body}], shortcut=[{short}])"
        return f"residual([{body}])"
    if kind == "concat":
        other = " -> ".join(draw(st.lists(layer(depth + 1), min_size=1, max_size=2)))
        return f"concat([{body}], [{other}])"
    return f"[{body}] * {draw(st.integers(2, 3))}"


@st.composite
def specs(draw: st.DrawFn) -> str:
    h, w = draw(SIZES), draw(SIZES)
    c = draw(st.sampled_from([1, 3, 4, 6, 8]))
    layers = draw(st.lists(layer(), min_size=1, max_size=6))
    tail = draw(st.sampled_from(["", " -> gap -> fc(10)", " -> flatten -> fc(24) -> relu -> fc(10)"]))
    return f"{h}x{w}x{c} -> " + " -> ".join(layers) + tail


@settings(max_examples=300, deadline=None, derandomize=True)
@given(specs(), st.sampled_from(["default", "strict", "lenient"]))
def test_every_shown_fix_analyses_cleanly(text: str, mode: str) -> None:
    spec, _ = read_spec(text)
    report = analyze_spec(spec, mode)  # type: ignore[arg-type]
    for p in report.problems:
        # every structured suggestion shown is backed by a verified fix (no raw text slips)
        assert len(p.suggestions) >= len({f.template or f.text for f in p.fixes})
        check_fixes_apply(report, p)


def test_the_property_is_exercised() -> None:
    """The generator does reach fixes that apply (the property test is not vacuous)."""
    applied = 0
    for text in ("7x7x3 -> conv(1, 3, s=3) -> relu -> conv(8, 1)",
                 "9x9x3 -> maxpool(2) -> conv(8, 3)",
                 "32x32x3 -> conv(24, 3, p=1) -> relu -> conv(48, 3, p=1) -> gap -> fc(10)",
                 "8x8x16 -> residual([conv(32, 3, s=2, p=1)])",
                 "3x224x224 -> conv(64, 3)",
                 "32x32x3 -> conv(64, 3, p=1) -> relu -> conv(64, 7, p=3) -> relu",
                 "8x8x6 -> conv(8, 3, g=4)",
                 "32x32x3 -> [conv(16, 2, s=3) -> upsample(3)] * 2"):
        report = cnncalc.analyze(text)
        for p in report.problems:
            applied += check_fixes_apply(report, p)
    assert applied >= 15


# --------------------------------------------------------------------------- cost

def test_reanalysis_stays_linear() -> None:
    """2,000 inexact convs whose fixes change shapes all the way down: the downstream walks
    share a budget linear in the rows, so 4× the rows costs about 4× the time."""
    def timed(pairs: int) -> float:
        text = "9x9x8 -> " + " -> ".join(["conv(8, 2, s=2) -> deconv(8, 3, s=2)"] * pairs)
        spec, _ = read_spec(text)
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            analyze_spec(spec)
            best = min(best, time.perf_counter() - start)
        return best
    small, large = timed(250), timed(1000)
    assert large < 8 * small + 0.2, (small, large)


def test_block_substitution_replaces_every_repetition() -> None:
    spec, _ = read_spec("8x8x3 -> [conv(8, 3, p=1) -> relu] * 2")
    (rep,) = spec.layers
    assert isinstance(rep, Block) and isinstance(rep, Repeat)
    conv = rep.layers[0]
    (new,) = substitute(rep, conv, (dataclasses.replace(conv, filters=16),))  # type: ignore[call-arg]
    assert isinstance(new, Repeat) and new.describe() == "[conv(16, 3, p=1) -> relu] * 2"
