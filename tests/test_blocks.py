"""The v2 blocks (spec §4): gate, split, residual(shortcut=auto|if_same) and `* N` after a
single layer — shapes and counts by hand arithmetic, problems by (line, column, code) with
their fixes re-analysed, paths, explain, lints, the forward pass and export to PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnncalc
from cnncalc import Report
from tests.helpers import codes, leaf, run

SE_FC = "56x56x64 -> gate([gap -> fc(16) -> relu -> fc(64) -> sigmoid])"
SE_CONV = "56x56x64 -> gate([gap -> conv(16, 1) -> relu -> conv(64, 1) -> sigmoid])"


def where(report: Report) -> list[tuple[int, int, str]]:
    """(line, column, code) of every problem that has a location, lints included."""
    return [(p.location.line, p.location.column, p.code) for p in report.problems if p.location]


def problem(report: Report, code: str) -> cnncalc.Problem:
    return next(p for p in report.problems if p.code == code)


# --------------------------------------------------------------------------- gate

@pytest.mark.parametrize("spec", [SE_FC, SE_CONV])
def test_squeeze_and_excitation_counts_by_hand(spec: str) -> None:
    """SE on 56×56×64 with reduction 4: params 64·16 + 16 + 16·64 + 64; MACs are the two
    matrices' weights (the multiply is not a MAC); the output keeps the input's shape."""
    report = cnncalc.analyze(spec, verify=True)
    assert report.ok and codes(report, lints=True) == []
    gate = leaf(report, "1")
    assert gate.kind == "gate" and gate.output_shape == (56, 56, 64)
    assert gate.params == 64 * 16 + 16 + 16 * 64 + 64 == 2128
    assert gate.macs == 64 * 16 + 16 * 64
    assert report.totals.params == 2128 and report.totals.macs == 2048
    assert [r.path for r in report.layers] == ["1", "1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.1.5"]
    assert all(r.verified for r in report.layers)


@pytest.mark.parametrize(("body", "out"), [
    ("conv(1, 7, p=3) -> sigmoid", (28, 28, 1)),          # spatial attention
    ("conv(32, 3, p=1) -> sigmoid", (28, 28, 32)),        # same shape
    ("gap -> conv(32, 1) -> hardswish", (1, 1, 32)),      # 1×1×C
])
def test_gate_accepts_every_broadcast_of_the_rule(body: str, out: tuple[int, ...]) -> None:
    report = cnncalc.analyze(f"28x28x32 -> gate([{body}])", verify=True)
    assert report.ok, report.problems
    assert report.layers[-1].output_shape == out
    assert report.totals.output_shape == (28, 28, 32)
    assert all(r.verified for r in report.layers)


def test_gate_mismatch_shows_both_shapes_and_a_fix_that_analyses() -> None:
    report = cnncalc.analyze("56x56x64 -> gate([gap -> conv(16, 1) -> relu -> conv(32, 1) -> "
                             "sigmoid])")
    assert where(report) == [(1, 13, "G011")]
    p = problem(report, "G011")
    assert p.path == "1"
    assert p.message == ("the body gives 1×1×32 but channel attention on 56×56×64 needs 1×1×64 "
                         "(or 64)")
    assert p.suggestions[0] == "conv(64, 1) instead of conv(32, 1)"
    fixed = cnncalc.analyze("56x56x64 -> gate([gap -> conv(16, 1) -> relu -> conv(64, 1) -> "
                            "sigmoid])")
    assert fixed.ok


def test_gate_mismatch_on_a_flat_vector_of_the_wrong_length() -> None:
    report = cnncalc.analyze("8x8x64 -> gate([gap -> fc(4) -> fc(48)])")
    p = problem(report, "G011")
    assert "the body gives 48 but channel attention on 8×8×64 needs 1×1×64 (or 64)" == p.message
    assert p.suggestions[0] == "fc(64) instead of fc(48)"


def test_gate_mismatch_keeping_the_size_offers_both_widths() -> None:
    report = cnncalc.analyze("8x8x64 -> gate([conv(8, 1)])")
    p = problem(report, "G011")
    assert p.message == ("the body gives 8×8×8 but a gate on 8×8×64 needs 8×8×64 (or 8×8×1, "
                         "spatial attention)")
    assert p.suggestions[:2] == ("conv(64, 1) instead of conv(8, 1)",
                                 "conv(1, 1) instead of conv(8, 1)")


def test_gate_mismatch_without_a_layer_to_change_says_what_would_fit() -> None:
    report = cnncalc.analyze("8x8x64 -> gate([maxpool(2)])")
    p = problem(report, "G011")
    assert "the body gives 4×4×64 but a gate on 8×8×64 needs 8×8×64, 1×…×1×64 or 64" in p.message
    assert p.suggestions == ("end the body with a gap and a layer that gives 64 channels "
                             "(channel attention)",)


def test_gate_mismatch_in_yaml_points_at_the_gate(tmp_path: Path) -> None:
    spec = tmp_path / "se.yaml"
    spec.write_text("input: 8x8x16\nlayers:\n  - relu\n  - gate:\n      - gap\n"
                    "      - conv(8, 1)\n")
    code, out, _ = run("check", str(spec))
    assert code == 1
    assert out.startswith(f"{spec}:4:5: G011 [error] the body gives 1×1×8 but channel attention on "
                          "8×8×16 needs 1×1×16 (or 16)")


def test_a_gate_ending_in_softmax_is_attention_not_a_misplaced_softmax() -> None:
    report = cnncalc.analyze("8x8x16 -> gate([conv(16, 1) -> softmax])")
    assert report.ok and codes(report, lints=True) == []
    concat = cnncalc.analyze("8x8x16 -> concat([conv(16, 1) -> softmax], [])")
    assert ("warning", "L004") in codes(concat, lints=True)


# --------------------------------------------------------------------------- split

SHUFFLE_UNIT = ("28x28x116 -> split([], [conv(58, 1, bias=false) -> bn -> relu -> "
                "dwconv(3, p=1, bias=false) -> bn -> conv(58, 1, bias=false) -> bn -> relu])")


def test_shufflenet_unit_by_hand() -> None:
    report = cnncalc.analyze(SHUFFLE_UNIT, verify=True)
    assert report.ok
    split = leaf(report, "1")
    assert split.output_shape == (28, 28, 116)
    assert leaf(report, "1.2.1").input_shape == (28, 28, 58)
    # two 1×1 convs 58·58, a 3×3 depthwise 9·58, three bns 2·58 (+ 2·58 running stats)
    assert split.params == 2 * 58 * 58 + 9 * 58 + 3 * 2 * 58
    assert split.non_trainable == 3 * 2 * 58
    assert split.macs == (2 * 58 * 58 + 9 * 58) * 28 * 28
    assert [r.path for r in report.layers][:3] == ["1", "1.2.1", "1.2.2"]
    assert all(r.verified for r in report.layers)


def test_split_branches_each_get_their_slice_and_concatenate() -> None:
    report = cnncalc.analyze("8x8x48 -> split([conv(4, 1)], [], [maxpool(3, s=1, p=1)])",
                             verify=True)
    assert report.ok
    assert leaf(report, "1.1.1").input_shape == (8, 8, 16)
    assert leaf(report, "1.3.1").input_shape == (8, 8, 16)
    assert report.totals.output_shape == (8, 8, 4 + 16 + 16)
    assert all(r.verified for r in report.layers)


def test_split_not_dividing_says_by_how_much_with_fixes_that_analyse() -> None:
    report = cnncalc.analyze("8x8x64 -> split([], [], [conv(21, 1)])")
    assert where(report) == [(1, 11, "G012")]
    p = problem(report, "G012")
    assert p.message == ("split cuts the channels into 3 equal slices, but 64 channels into 3 "
                         "branches: 64 = 3·21 + 1")
    assert p.suggestions[:2] == ("conv(63, 1) before the split", "conv(66, 1) before the split")
    assert cnncalc.analyze("8x8x64 -> conv(63, 1) -> split([], [], [conv(21, 1)])").ok


def test_split_branches_that_disagree_on_the_size_are_g008_with_both_shapes() -> None:
    report = cnncalc.analyze("8x8x64 -> split([conv(16, 1)], [conv(16, 3)])")
    assert where(report) == [(1, 11, "G008")]
    assert "8×8×16, 6×6×16" in problem(report, "G008").message


def test_split_in_yaml_is_a_list_of_branches(tmp_path: Path) -> None:
    spec = tmp_path / "split.yaml"
    spec.write_text("input: 8x8x64\nlayers:\n  - split:\n      - []\n      - conv(32, 1) -> relu\n"
                    "  - split:\n      - []\n      - []\n      - []\n")
    code, out, _ = run("check", str(spec))
    assert code == 1
    assert out.splitlines()[0].startswith(f"{spec}:6:5: G012 [error] split cuts the channels into 3")


# --------------------------------------------------------------------------- residual

def test_auto_shortcut_becomes_torchvisions_projection_with_its_rows() -> None:
    report = cnncalc.analyze("56x56x64 -> residual([conv(128, 3, s=2, p=1, bias=false) -> bn], "
                             "shortcut=auto)", verify=True)
    assert report.ok
    rows = {r.path: r for r in report.layers}
    assert rows["1.2.1"].spec == "conv(128, 1, s=2, bias=false)"
    assert rows["1.2.1"].params == 64 * 128 and rows["1.2.1"].macs == 64 * 128 * 28 * 28
    assert rows["1.2.2"].spec == "bn" and rows["1.2.2"].params == 256
    body = 9 * 64 * 128 + 256
    assert rows["1"].params == report.totals.params == body + 64 * 128 + 256
    assert report.totals.non_trainable == 2 * 256
    assert rows["1"].spec == ("residual([conv(128, 3, s=2, p=1, bias=false) -> bn], "
                              "shortcut=auto)")
    assert all(r.verified for r in report.layers)
    data = json.loads(run("8x8x4 -> residual([conv(8, 3, s=2, p=1)], shortcut=auto)",
                          "--format", "json")[1])
    assert [r["spec"] for r in data["layers"]][1:] == ["conv(8, 3, s=2, p=1)",
                                                       "conv(8, 1, s=2, bias=false)", "bn"]
    assert data["totals"]["params"] == 9 * 4 * 8 + 8 + 4 * 8 + 16


def test_auto_shortcut_is_the_identity_when_the_body_keeps_the_shape() -> None:
    report = cnncalc.analyze("8x8x16 -> residual([conv(16, 3, p=1)], shortcut=auto)")
    assert report.ok and len(report.layers) == 2
    assert report.totals.params == 9 * 16 * 16 + 16


def test_auto_shortcut_per_axis_strides_round_up() -> None:
    """⌈7/4⌉ = 2 and ⌈8/8⌉ = 1: conv(8, 1, s=2x1) gives 4×8 like the body."""
    report = cnncalc.analyze("7x8x4 -> residual([conv(8, 3, s=2x1, p=1)], shortcut=auto)")
    assert report.ok
    assert leaf(report, "1.2.1").spec == "conv(8, 1, s=2x1, bias=false)"


def test_auto_shortcut_on_an_upsampling_body_is_an_error_asking_for_an_explicit_one() -> None:
    report = cnncalc.analyze("8x8x16 -> residual([upsample(2) -> conv(16, 1)], shortcut=auto)")
    assert where(report) == [(1, 11, "G007")]
    p = problem(report, "G007")
    assert "turns 8×8×16 into 16×16×16" in p.message
    assert "write the shortcut explicitly" in p.suggestions[0]
    assert sum(1 for q in report.problems if q.code == "G007") == 1


def test_if_same_shortcut_is_the_identity_or_nothing() -> None:
    same = cnncalc.analyze("8x8x16 -> residual([conv(16, 1)], shortcut=if_same)")
    assert same.ok and leaf(same, "1").output_shape == (8, 8, 16)
    changed = cnncalc.analyze("8x8x16 -> residual([conv(24, 3, s=2, p=1)], shortcut=if_same)",
                              verify=True)
    assert changed.ok and leaf(changed, "1").output_shape == (4, 4, 24)
    assert len(changed.layers) == 2 and changed.totals.params == 9 * 16 * 24 + 24
    assert all(r.verified for r in changed.layers)


def test_shortcut_words_in_yaml() -> None:
    yaml_text = ("input: 8x8x16\nlayers:\n  - residual:\n      body: conv(32, 3, s=2, p=1)\n"
                 "      shortcut: auto\n")
    code, out, _ = run("-", "--format", "json", stdin=yaml_text)
    assert code == 0
    rows = json.loads(out)["layers"]
    assert [r["path"] for r in rows] == ["1", "1.1.1", "1.2.1", "1.2.2"]


def test_an_unknown_shortcut_word_is_still_an_unknown_layer() -> None:
    report = cnncalc.analyze("8x8x16 -> residual([relu], shortcut=automatic)")
    assert ("error", "A001") in codes(report)


# --------------------------------------------------------------------------- * N

def test_times_after_a_single_layer() -> None:
    report = cnncalc.analyze("8x8x16 -> conv(16, 3, p=1) * 3 -> relu * 2")
    assert report.ok
    assert [r.path for r in report.layers] == ["1", "1.1.1", "1.2.1", "1.3.1", "2", "2.1.1",
                                               "2.2.1"]
    assert report.totals.params == 3 * (9 * 16 * 16 + 16)


def test_times_zero_is_the_identity() -> None:
    report = cnncalc.analyze("8x8x16 -> conv(32, 3) * 0 -> [relu -> conv(8, 1)] * 0", verify=True)
    assert report.ok
    assert report.totals.output_shape == (8, 8, 16) and report.totals.params == 0
    assert all(r.verified for r in report.layers)


def test_times_zero_still_checks_names_and_arguments() -> None:
    """`* 0` builds nothing, but what it repeats is checked (spec §10)."""
    report = cnncalc.analyze("8x8x3 -> [relu -> conv(3, 3, bogus=1) -> residual([foo])] * 0")
    assert where(report) == [(1, 30, "A002"), (1, 52, "A001")]
    assert where(cnncalc.analyze("8x8x3 -> foo * 0")) == [(1, 10, "A001")]


def test_times_in_yaml_one_line_strings_and_its_bound() -> None:
    yaml_text = "input: 8x8x4\nlayers:\n  - conv(4, 3, p=1) * 2\n  - relu * 0\n"
    code, out, _ = run("-", "--format", "json", stdin=yaml_text)
    assert code == 0 and json.loads(out)["totals"]["params"] == 2 * (9 * 4 * 4 + 4)
    report = cnncalc.analyze("8x8x4 -> relu * 100001")
    assert where(report) == [(1, 17, "A006")]


# --------------------------------------------------------------------------- explain, export

def test_explain_shows_the_broadcast_the_slices_and_the_projection() -> None:
    code, out, _ = run("explain", "8x8x64 -> split([], [conv(32, 1)]) -> gate([gap -> fc(64) "
                       "-> sigmoid]) -> residual([conv(128, 1, s=2)], shortcut=auto)")
    assert code == 0
    assert "64 channels into 2 slices of 32" in out
    assert "concatenated: 32 + 32 = 64 channels" in out
    assert "8×8×64 ⊙ 64 (one factor per channel) = 8×8×64" in out
    assert ("so the shortcut is the projection [conv(128, 1, s=2, bias=false) -> bn] "
            "(stride ⌈8/4⌉·⌈8/4⌉ per axis)") in out


EXPORTED = [
    SE_FC, SE_CONV, SHUFFLE_UNIT,
    "28x28x32 -> gate([conv(1, 7, p=3) -> sigmoid])",
    "56x56x64 -> residual([conv(128, 3, s=2, p=1, bias=false) -> bn -> relu], shortcut=auto)",
    "56x56x64 -> residual([conv(128, 3, s=2, p=1) -> bn], shortcut=if_same) -> "
    "residual([conv(128, 3, p=1) -> bn], shortcut=if_same) -> conv(8, 1) * 2 -> relu * 0",
]


@pytest.mark.parametrize("spec", EXPORTED)
def test_export_runs_in_torch_and_reproduces_the_counts(spec: str) -> None:
    pytest.importorskip("torch")
    from cnncalc.output.export import to_pytorch
    from tests.test_export import build, measure

    report = cnncalc.analyze(spec)
    assert report.ok
    inp = report.input_shape
    assert inp is not None
    params, stats, macs, out = measure(build(to_pytorch(report)), inp)
    t = report.totals
    assert (params, stats, macs) == (t.params, t.non_trainable, t.macs)
    assert tuple(out) == t.output_shape


# --------------------------------------------------------------------------- memory plan

def test_memory_plan_keeps_a_gates_input_and_body_output_alive_at_the_multiply() -> None:
    from cnncalc.forward import SLACK_BYTES, plan

    report = cnncalc.analyze("64x64x16 -> gate([conv(16, 1) -> sigmoid])")
    tensor = 64 * 64 * 16 * 4
    need = plan(report)
    # at the multiply: the input, the body's output and the product (+ the slack every row has)
    assert need.peak_bytes >= 3 * tensor + SLACK_BYTES


def test_memory_plan_keeps_every_split_branch_output_until_the_concatenation() -> None:
    from cnncalc.forward import SLACK_BYTES, plan

    report = cnncalc.analyze("64x64x48 -> split([conv(16, 1)], [conv(32, 1)], [])")
    need = plan(report)
    slice_, out = 64 * 64 * 16 * 4, 64 * 64 * (16 + 32 + 16) * 4
    # the input (the slices are views of it), the branches' outputs (the identity branch's
    # is its slice), and the concatenation
    assert need.peak_bytes >= 3 * slice_ + (16 + 32) // 16 * slice_ + out + SLACK_BYTES
    assert need.peak_row is not None and need.peak_row.path == "1"


# --------------------------------------------------------------------------- YAML and formats

GATE_YAML = """\
input: 56x56x64
layers:
  - gate: gap -> fc(16) -> relu -> fc(64) -> sigmoid
  - gate:
      - gap
      - conv(16, 1)
      - relu
      - conv(64, 1)
      - sigmoid
  - gate:
      body: conv(1, 7, p=3) -> sigmoid
  - split:
      - []
      - conv(32, 1) -> relu
"""


def test_gate_and_split_yaml_forms(tmp_path: Path) -> None:
    spec = tmp_path / "blocks.yaml"
    spec.write_text(GATE_YAML)
    report = cnncalc.analyze(spec)
    assert report.ok
    se = 64 * 16 + 16 + 16 * 64 + 64
    assert report.totals.params == se + se + (7 * 7 * 64 + 1) + (32 * 32 + 32)
    assert [r.path for r in report.layers if r.is_block] == ["1", "2", "3", "4"]
    assert [(r.location.line, r.location.column) for r in report.layers if r.is_block] == [
        (3, 5), (4, 5), (10, 5), (12, 5)]


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown"])
def test_every_format_shows_gate_and_split_rows(fmt: str) -> None:
    code, out, _ = run("--no-verify", "--format", fmt,
                       "8x8x64 -> gate([gap -> fc(16) -> fc(64)]) -> split([], [conv(32, 1)])")
    assert code == 0
    if fmt == "json":
        rows = json.loads(out)["layers"]
        assert [(r["path"], r["kind"]) for r in rows] == [
            ("1", "gate"), ("1.1.1", "gap"), ("1.1.2", "fc"), ("1.1.3", "fc"), ("2", "split"),
            ("2.2.1", "conv")]
        assert rows[0]["params"] == 64 * 16 + 16 + 16 * 64 + 64
    else:
        assert "gate" in out and "split" in out and "2.2.1" in out


@pytest.mark.parametrize(("body", "field"), [
    ("gap -> conv(16, 1) -> relu -> conv(64, 1) -> sigmoid", 58),  # SE, 1×1 convs
    ("gap -> fc(16) -> relu -> fc(64) -> sigmoid", 58),  # SE through fc: the whole input
    ("conv(1, 7, p=3) -> sigmoid", 9),  # spatial attention: 3 + (7 − 1)·1
])
def test_a_gate_keeps_its_inputs_grid(body: str, field: int) -> None:
    """A gate's output is its input scaled: its jump stays the input's (1, not the squeeze's
    56), its receptive field is what the body saw — after a 3×3 conv (field 3) the whole
    56-pixel map is 3 + 55·1 = 58 — and the next 3×3 conv adds 2."""
    report = cnncalc.analyze(f"56x56x64 -> conv(64, 3, p=1) -> gate([{body}]) -> conv(64, 3, p=1)",
                             verify=False)
    rows = {row.path: row for row in report.layers}
    assert (rows["2"].receptive_field, rows["2"].jump) == ((field, field), (1, 1))
    assert (rows["3"].receptive_field, rows["3"].jump) == ((field + 2, field + 2), (1, 1))


def test_a_gate_in_1d_keeps_its_inputs_grid() -> None:
    report = cnncalc.analyze("100x8 -> conv(8, 3, s=2) -> gate([gap -> fc(2) -> relu -> fc(8) "
                             "-> sigmoid]) -> conv(8, 3)", verify=False)
    rows = {row.path: row for row in report.layers}
    # conv: field 3, jump 2 on a 49-long output; the whole of it: 3 + 48·2 = 99
    assert (rows["2"].receptive_field, rows["2"].jump) == ((99,), (2,))
    assert (rows["3"].receptive_field, rows["3"].jump) == ((103,), (2,))
