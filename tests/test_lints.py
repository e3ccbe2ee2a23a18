"""Architecture lints (cnncalc.lints): each rule fires on its case and stays quiet on a
near-identical spec that does not have the problem; the zoo is free of lint warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cnncalc
from cnncalc.api import lint_report as lint  # the lints with their fixes re-analysed
from cnncalc.diagnostics import RULES, Location, Severity
from cnncalc.lints import LINTS, Flow, powers_of_two_near, unread_per_stride

ZOO = sorted((Path(cnncalc.__file__).parent / "zoo").glob("*.yaml"))


def found(spec: str, mode: str | None = None) -> set[tuple[str, str, str]]:
    """(code, path, severity) of every lint problem for ``spec``."""
    report = cnncalc.analyze(spec, mode)  # type: ignore[arg-type]
    return {(p.code, p.path, p.severity.value) for p in lint(report)}


def lint_codes(spec: str) -> set[str]:
    return {code for code, _, _ in found(spec)}


# (code, path, severity, spec that triggers it, near-identical spec that does not)
CASES = [
    # L001: filter/unit counts not powers of two; the output layer is the class count.
    ("L001", "1", "note",
     "32x32x3 -> conv(96, 3) -> relu -> gap -> fc(10)",
     "32x32x3 -> conv(128, 3) -> relu -> gap -> fc(10)"),
    ("L001", "3", "note",
     "32x32x3 -> conv(64, 3) -> gap -> fc(100) -> relu -> fc(10)",
     "32x32x3 -> conv(64, 3) -> gap -> fc(128) -> relu -> fc(10)"),
    ("L001", "1", "note",
     "32x32x16 -> dwconv(3, p=1, m=3) -> relu -> conv(32, 1)",
     "32x32x16 -> dwconv(3, p=1, m=2) -> relu -> conv(32, 1)"),
    ("L001", "2", "note",
     "32x32x3 -> gap -> fc(10) -> relu -> fc(16)",
     "32x32x3 -> gap -> fc(16) -> relu -> fc(10)"),        # fc(10) at the end: class count
    ("L001", "1", "note",
     "8x8x16 -> deconv(24, 2, s=2) -> relu -> conv(3, 1)",
     "8x8x16 -> deconv(32, 2, s=2) -> relu -> conv(3, 1)"),  # conv(3, 1): RGB output
    # L002: C×H×W typed as H×W×C.
    ("L002", "input", "warning",
     "3x224x224 -> conv(64, 3)",
     "224x224x3 -> conv(64, 3)"),
    ("L002", "input", "warning",
     "1x28x28 -> conv(8, 1)",
     "1x280x28 -> conv(8, 1)"),      # a 1-row signal with far fewer channels than columns
    # L003: k > 1 window on a 1×1 input.
    ("L003", "3", "warning",
     "8x8x16 -> conv(32, 3, s=2, p=1) -> gap -> conv(64, 3, p=1)",
     "8x8x16 -> conv(32, 3, s=2, p=1) -> gap -> conv(64, 1)"),
    ("L003", "2", "warning",
     "4x4x8 -> maxpool(4) -> maxpool(3, s=1, p=1)",
     "4x4x8 -> maxpool(2) -> maxpool(3, s=1, p=1)"),
    # L004: softmax not last.
    ("L004", "3", "warning",
     "32x32x3 -> gap -> fc(10) -> softmax -> dropout(0.5)",
     "32x32x3 -> gap -> fc(10) -> dropout(0.5) -> softmax"),
    ("L004", "1.1.2", "warning",
     "32x32x4 -> residual([conv(4, 1) -> softmax]) -> relu",
     "32x32x4 -> residual([conv(4, 1) -> sigmoid]) -> relu"),
    # L005: one fc with most of the parameters.
    ("L005", "5", "note",
     "32x32x3 -> conv(64, 3, p=1) -> relu -> flatten -> dropout -> fc(512) -> relu -> fc(10)",
     "32x32x3 -> conv(64, 3, p=1) -> relu -> gap -> flatten -> dropout -> fc(512) -> relu "
     "-> fc(10)"),
    # L006: stride beyond the kernel (not 1×1 projections), transposed-conv holes.
    ("L006", "1", "warning",
     "32x32x3 -> conv(16, 2, s=3)",
     "32x32x3 -> conv(16, 3, s=3)"),
    ("L006", "1", "warning",
     "33x33x3 -> conv(16, 3, s=2, d=2)",
     "33x33x3 -> conv(16, 3, s=1, d=2)"),
    ("L006", "1", "warning",
     "8x8x16 -> deconv(8, 1, s=2) -> relu",
     "8x8x16 -> deconv(8, 2, s=2) -> relu"),
    # L007: conv bias right before bn.
    ("L007", "1", "note",
     "32x32x3 -> conv(16, 3, p=1) -> bn -> relu",
     "32x32x3 -> conv(16, 3, p=1, bias=false) -> bn -> relu"),
    ("L007", "2", "note",
     "64 -> fc(32) -> fc(32) -> bn -> relu",
     "64 -> fc(32) -> fc(32) -> relu -> bn"),
    # L008: p ≥ 0.9, two dropouts in a row.
    ("L008", "3", "warning",
     "4096 -> fc(256) -> relu -> dropout(0.9) -> fc(10)",
     "4096 -> fc(256) -> relu -> dropout(0.8) -> fc(10)"),
    ("L008", "4", "warning",
     "4096 -> fc(256) -> relu -> dropout -> dropout(0.2) -> fc(10)",
     "4096 -> fc(256) -> dropout -> relu -> dropout(0.2) -> fc(10)"),
    # L009: layers that compute nothing.
    ("L009", "2", "warning",
     "32x32x3 -> conv(16, 3, p=1) -> maxpool(1)",
     "32x32x3 -> conv(16, 3, p=1) -> maxpool(2)"),
    ("L009", "2", "warning",
     "32x32x3 -> conv(16, 3, p=1) -> avgpool(1, s=1)",
     "32x32x3 -> conv(16, 3, p=1) -> avgpool(3, s=1, p=1)"),
    ("L009", "2", "warning",
     "32x32x3 -> conv(16, 3, p=1) -> dropout(0) -> relu",
     "32x32x3 -> conv(16, 3, p=1) -> dropout(0.1) -> relu"),
    ("L009", "3", "warning",
     "32x32x3 -> gap -> flatten -> flatten -> fc(10)",
     "32x32x3 -> gap -> flatten -> fc(10)"),
    ("L009", "1", "warning",
     "32x32x3 -> upsample(1) -> pad(1)",
     "32x32x3 -> upsample(2) -> pad(1)"),
    ("L009", "1", "warning",
     "32x32x3 -> pad(0) -> upsample(2)",
     "32x32x3 -> pad(1) -> upsample(2)"),
    # L010: pool windows further apart than wide.
    ("L010", "2", "warning",
     "32x32x3 -> conv(16, 3, p=1) -> maxpool(2, s=3)",
     "32x32x3 -> conv(16, 3, p=1) -> maxpool(3, s=3)"),
    ("L010", "2", "warning",
     "32x32x3 -> conv(16, 3, p=1) -> maxpool(1, s=2)",
     "32x32x3 -> conv(16, 3, p=1) -> maxpool(2, s=2)"),
    # L011: two activations in a row.
    ("L011", "3", "warning",
     "32x32x3 -> conv(16, 3, p=1) -> relu -> relu",
     "32x32x3 -> conv(16, 3, p=1) -> relu -> bn"),
    ("L011", "3", "warning",
     "32x32x3 -> conv(16, 3, p=1) -> tanh -> sigmoid",
     "32x32x3 -> conv(16, 3, p=1) -> tanh -> conv(16, 1) -> sigmoid"),
    # L012: activation squashing the logits before softmax.
    ("L012", "3", "warning",
     "32x32x3 -> gap -> fc(10) -> relu -> softmax",
     "32x32x3 -> gap -> fc(10) -> softmax"),
    ("L012", "3", "warning",
     "32x32x3 -> gap -> fc(1000) -> sigmoid -> dropout -> softmax",
     "32x32x3 -> gap -> fc(1000) -> dropout -> softmax"),
    # L013: a large kernel past the stem.
    ("L013", "3", "note",
     "32x32x3 -> conv(64, 3, p=1) -> relu -> conv(64, 5, p=2)",
     "32x32x3 -> conv(64, 5, p=2) -> relu -> conv(64, 3, p=1)"),   # 5×5 stem: standard
    # L014: two linear layers with nothing nonlinear between.
    ("L014", "1", "note",
     "4096 -> fc(1024) -> fc(10)",
     "4096 -> fc(1024) -> relu -> fc(10)"),
    ("L014", "1", "note",
     "32x32x8 -> conv(8, 3, p=1) -> conv(8, 1) -> relu",
     "32x32x8 -> dwconv(3, p=1) -> conv(8, 1) -> relu"),    # depthwise-separable: by design
]


@pytest.mark.parametrize(("code", "path", "severity", "spec", "clean"), CASES,
                         ids=[f"{c[0]}-{n}" for n, c in enumerate(CASES)])
def test_rule_fires_and_near_miss_is_clean(code: str, path: str, severity: str, spec: str,
                                           clean: str) -> None:
    report = cnncalc.analyze(spec)
    problems = [p for p in lint(report) if p.code == code]
    assert (code, path, severity) in {(p.code, p.path, p.severity.value) for p in problems}
    for p in problems:
        assert p.message and p.location is not None and p.suggestions, p
    assert code not in lint_codes(clean), [p for p in lint(cnncalc.analyze(clean))]


def test_every_rule_has_a_case_a_documented_example_and_a_lint() -> None:
    lint_rules = {code for code in RULES if code.startswith("L")}
    assert lint_rules == {c[0] for c in CASES}
    assert len(LINTS) == len(lint_rules)
    for code in sorted(lint_rules):
        rule = RULES[code]
        assert rule.example and rule.summary and rule.name
        assert all(s is not Severity.ERROR for s in rule.severity.values()), code
        assert code in lint_codes(rule.example), (code, rule.example)


def test_lints_are_generators_of_row_finding_pairs() -> None:
    report = cnncalc.analyze("3x224x224 -> conv(96, 3) -> relu -> relu -> gap -> fc(10)")
    flow = Flow(report.layers)
    for check in LINTS:
        for row, finding in check(report, flow):
            assert row is None or row in report.layers
            assert finding.code in RULES


# --------------------------------------------------------------------------- details

def test_messages_show_the_numbers_and_concrete_fixes() -> None:
    (p,) = [p for p in lint(cnncalc.analyze("32x32x3 -> conv(96, 3) -> relu -> gap -> fc(10)"))]
    assert "96 filters" in p.message and p.suggestions == ("conv(64, 3)", "conv(128, 3)")

    (p,) = lint(cnncalc.analyze("3x224x224 -> conv(64, 3)"))
    assert p.path == "input" and p.location == Location(1, 1)
    assert "3 rows and 224 channels" in p.message and p.suggestions == ("input 224x224x3",)

    (p,) = [p for p in lint(cnncalc.analyze("32x32x3 -> gap -> fc(1000) -> sigmoid -> softmax"))
            if p.code == "L012"]
    assert "0.00271" in p.message  # e/(e + 999): the most confident any class can get

    (p,) = [p for p in lint(cnncalc.analyze(
        "4096 -> fc(256) -> relu -> dropout -> dropout(0.2) -> fc(10)")) if p.code == "L008"]
    assert "= 0.6 " in p.message and p.suggestions == ("one dropout(0.6) instead of both",)

    (p,) = [p for p in lint(cnncalc.analyze("32x32x3 -> conv(16, 3, p=1) -> bn"))]
    assert p.suggestions == ("conv(16, 3, p=1, bias=false)",) and "16 biases" in p.message

    (p,) = lint(cnncalc.analyze("32x32x3 -> conv(16, 2, s=3)"))
    assert "1 of every 3 rows and columns" in p.message
    # conv(16, 3, s=3) would stop the inexact division only to lose input: (32 − 3)/3 + 1 =
    # 10.67, a G001 error, so re-analysis drops it (issue 8, class 17)
    assert p.suggestions == ("conv(16, 2, s=2) → 16×16×16",)
    (p,) = lint(cnncalc.analyze("33x33x3 -> conv(16, 2, s=3)"))
    assert p.suggestions == ("conv(16, 3, s=3) → 11×11×16",)  # s=2: (33 − 2)/2 + 1 = 16.5


def test_dominant_fc_is_vggs_fc6_and_suggests_global_average_pooling() -> None:
    report = cnncalc.analyze(ZOO[[z.stem for z in ZOO].index("vgg16")])
    (p,) = [p for p in lint(report) if p.code == "L005"]
    assert "102,764,544 of the network's 138,357,544" in p.message and "(74.3%)" in p.message
    assert "7×7×512" in p.message
    assert "512 inputs instead of 25,088" in p.suggestions[0]


def test_large_kernel_fix_is_a_stack_with_the_same_output() -> None:
    spec = "32x32x3 -> conv(64, 3, p=1) -> relu -> conv(64, 5, p=2)"
    (p,) = [p for p in lint(cnncalc.analyze(spec)) if p.code == "L013"]
    stack = p.suggestions[0].split(":")[0]
    assert stack == "conv(64, 3, p=1) -> relu -> conv(64, 3, p=1)"
    original = cnncalc.analyze(spec)
    fixed = cnncalc.analyze(spec.replace("conv(64, 5, p=2)", stack))
    assert fixed.totals.output_shape == original.totals.output_shape
    assert fixed.layers[-1].receptive_field == original.layers[-1].receptive_field


def test_the_output_layer_is_the_class_count() -> None:
    # conv(10, 1) -> gap -> flatten -> softmax: a fully convolutional classifier's head.
    assert "L001" not in lint_codes("32x32x3 -> conv(64, 3) -> relu -> conv(10, 1) -> gap -> "
                                    "flatten -> softmax")
    # ...nor a width an add fixes: the body's last conv must give the input's 10 channels
    assert "L001" not in lint_codes("32x32x10 -> residual([conv(10, 3, p=1)]) -> relu -> gap -> "
                                    "fc(10)")
    # ...but a width inside the body that the next conv consumes is free
    assert ("L001", "1.1.1", "note") in found("32x32x16 -> residual([conv(24, 3, p=1) -> relu -> "
                                              "conv(16, 1)]) -> relu -> gap -> fc(10)")


def test_a_repeated_layer_is_reported_once() -> None:
    report = cnncalc.analyze("32x32x3 -> [conv(96, 3, p=1) -> relu -> relu] * 3 -> gap -> fc(10)")
    problems = lint(report)
    assert [(p.code, p.path) for p in problems if p.code == "L001"] == [("L001", "1.1.1")]
    assert [(p.code, p.path) for p in problems if p.code == "L011"] == [("L011", "1.1.3")]


def test_flow_through_blocks() -> None:
    # the last layer of a repetition feeds the first of the next one
    assert ("L011", "1.2.1", "warning") in found("32x32x3 -> [relu -> conv(8, 1) -> relu] * 2")
    # a bn after a residual add does not make the body's last conv bias redundant
    assert "L007" not in lint_codes("32x32x8 -> residual([conv(8, 3, p=1)]) -> bn")
    # a concat branch's last layer feeds the concatenation, not the next layer
    assert "L011" not in lint_codes("32x32x8 -> concat([relu], [conv(8, 1)]) -> relu")


def test_severity_per_mode() -> None:
    spec = "3x224x224 -> conv(96, 3) -> relu -> maxpool(1) -> flatten -> fc(512) -> relu -> fc(10)"
    default, strict, lenient = (found(spec, mode) for mode in ("default", "strict", "lenient"))
    assert ("L002", "input", "warning") in default & strict & lenient   # likely bug: always
    assert ("L009", "3", "warning") in default & strict
    assert ("L009", "3", "note") in lenient                             # waste: a note
    assert ("L001", "1", "note") in default & strict
    assert ("L005", "5", "note") in default
    assert ("L005", "5", "warning") in strict
    assert not {c for c, _, _ in lenient} & {"L001", "L005", "L007", "L013", "L014"}


def test_lints_survive_a_report_with_errors() -> None:
    report = cnncalc.analyze("7x7x3 -> conv(8, 3, s=3) -> maxpol(2) -> relu -> relu -> fc(10)")
    assert not report.ok
    lint(report)  # no exception; rows with unknown shapes are skipped
    report = cnncalc.analyze("28x28x1 -> residual([conv(8, 3)]) -> relu -> relu")
    assert not report.ok
    lint(report)


def test_yaml_problems_point_at_the_layer_and_the_input() -> None:
    text = "input: 3x32x32\nlayers:\n  - conv(16, 3, p=1)\n  - relu\n  - relu\n"
    problems = {p.code: p for p in lint(cnncalc.analyze(text))}
    assert problems["L002"].location == Location(1, 8)
    assert problems["L011"].path == "3" and problems["L011"].location == Location(5, 5)


def test_helpers() -> None:
    assert powers_of_two_near(96) == (64, 128)
    assert powers_of_two_near(1000) == (1024, 512)
    assert [unread_per_stride(k, 2) for k in (1, 2, 3)] == [1, 0, 0]
    assert unread_per_stride(3, 2, dilation=2) == 1
    assert unread_per_stride(3, 3, dilation=2) == 0


def test_no_numpy() -> None:
    code = "import sys, cnncalc.lints; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --------------------------------------------------------------------------- the zoo

ZOO_NOTES = {
    # L001: widths from the papers (96, 192, 6, 84, 1280, ...); L005: fc6 of AlexNet and VGG;
    # L013: AlexNet's 5×5 conv2 and LeNet's 5×5 C3/C5 (1990s/2012 designs).
    "alexnet": {"L001", "L005", "L013"},
    "convnext_small": {"L001"},
    "cs231n": set(),
    "densenet121": set(),
    "efficientnet_b0": {"L001"},
    "efficientnet_b1": {"L001"},
    "googlenet": {"L001"},
    "lenet5": {"L001", "L013"},
    "m5": {"L007"},  # the tutorial keeps conv biases before batch norm
    "mobilenet_v2": {"L001"},
    "mobilenet_v3_large": {"L001"},
    "r3d_18": set(),
    "regnet_y_400mf": {"L001"},
    "resnet18": set(),
    "resnet50": set(),
    "resnext50_32x4d": set(),
    "shufflenet_v2_x0_5": {"L001"},
    "squeezenet1_1": {"L001"},
    "unet": set(),
    "vgg16": {"L005"},
    "wide_resnet50_2": set(),
    "yolo_tiny3": set(),
}


@pytest.mark.parametrize("path", ZOO, ids=[z.stem for z in ZOO])
def test_zoo_has_no_lint_warnings(path: Path) -> None:
    problems = lint(cnncalc.analyze(path))
    assert [p for p in problems if p.severity is not Severity.NOTE] == []
    assert {p.code for p in problems} == ZOO_NOTES[path.stem]


@pytest.mark.parametrize("spec,fix,absent", [
    # holes at every other output of a d=2 deconv: taps j·2 never reach the odd rows (with
    # s=2) whatever the kernel; kernel 2 with dilation 1 fills them
    ("16x16x4 -> deconv(4, 1, s=2, d=2)", "deconv(4, 2, s=2)", "deconv(4, 2, s=2, d=2)"),
    ("16x4 -> deconv(4, 1, s=2, d=2)", "deconv(4, 2, s=2)", "deconv(4, 2, s=2, d=2)"),
    # rows (s=2, d=2) need dilation 1; columns (s=3, d=2: coprime) keep it
    ("16x16x4 -> deconv(4, 2, s=2x3, d=2)", "deconv(4, 2x3, s=2x3, d=1x2)", "d=2)"),
    # d=3 is coprime to s=2: the kernel alone fills the holes
    ("16x16x4 -> deconv(4, 1, s=2, d=3)", "deconv(4, 2, s=2, d=3)", "d=1"),
    # slices (s=3, d=2) read all with a 3-kernel, rows (s=2, d=2) never: no grown kernel
    ("4x16x16x4 -> conv(4, 2x2x1, s=3x2x1, d=2, p=same)", "conv(4, 2x2x1, p=same, d=2)",
     "conv(4, 3x2x1"),
])
def test_l006_fixes_account_for_the_dilation(spec: str, fix: str, absent: str) -> None:
    """Every L006 fix shown reads every row (a fix that keeps the holes is a bug), found by
    the random corpus of tests/test_against_torch.py in 1-D and 3-D."""
    (p,) = [p for p in cnncalc.analyze(spec).problems if p.code == "L006"]
    assert any(s.startswith(fix) for s in p.suggestions), p.suggestions
    assert not any(absent in s for s in p.suggestions), p.suggestions
    for s in p.suggestions:
        layer = s.split(":")[0].split(" → ")[0]
        if " instead" in layer:
            continue
        fixed = spec.split(" -> ")[0] + " -> " + layer
        assert "L006" not in {q.code for q in cnncalc.analyze(fixed).problems}, fixed
