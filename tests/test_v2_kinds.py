"""The v2 layer kinds of spec §4 (layernorm, groupnorm, instancenorm, layerscale,
hardsigmoid, mish, fc(flatten=false), shuffle): counts by hand, their bad input as located
problems (line, column, code) with fixes that re-analyse cleanly, and the lints that know
them (L007 by the maths of each norm, L011/L012 for the new activations).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import cnncalc
from cnncalc.cli import main
from cnncalc.diagnostics import ALWAYS_REPORTED, RULES, Severity
from tests.test_fixes import check_fixes_apply
from tests.test_lints import lint_codes


def totals(spec: str) -> tuple[int, int, int, int, tuple[int, ...] | None]:
    r = cnncalc.analyze(spec)
    assert r.ok, r.problems
    t = r.totals
    return t.weights, t.biases, t.non_trainable, t.macs, t.output_shape


# --------------------------------------------------------------------------- counts by hand

@pytest.mark.parametrize(("spec", "want"), [
    # γ weights and β biases per channel, never running statistics
    ("56x56x96 -> layernorm", (96, 96, 0, 0, (56, 56, 96))),
    ("56x56x96 -> ln(affine=false)", (0, 0, 0, 0, (56, 56, 96))),
    ("768 -> ln", (768, 768, 0, 0, (768,))),                      # over a flat vector's elements
    ("28x28x64 -> groupnorm(32)", (64, 64, 0, 0, (28, 28, 64))),
    ("28x28x64 -> gn(8, affine=false)", (0, 0, 0, 0, (28, 28, 64))),
    ("64 -> gn(8)", (64, 64, 0, 0, (64,))),
    ("28x28x64 -> instancenorm", (0, 0, 0, 0, (28, 28, 64))),     # affine=false by default
    ("28x28x64 -> instancenorm(affine=true)", (64, 64, 0, 0, (28, 28, 64))),
    ("7x7x768 -> layerscale", (768, 0, 0, 0, (7, 7, 768))),
    ("7x7x768 -> layerscale(init=0.1)", (768, 0, 0, 0, (7, 7, 768))),
    ("8x8x5 -> hardsigmoid -> mish", (0, 0, 0, 0, (8, 8, 5))),
    ("28x28x116 -> shuffle(2) -> channelshuffle(4)", (0, 0, 0, 0, (28, 28, 116))),
    # fc(flatten=false): C·units (+ units) params, positions·C·units MACs
    ("56x56x96 -> fc(384, flatten=false)", (96 * 384, 384, 0, 56 * 56 * 96 * 384, (56, 56, 384))),
    ("56x56x96 -> fc(384, flatten=false, bias=false)", (96 * 384, 0, 0, 56 * 56 * 96 * 384,
                                                         (56, 56, 384))),
    # on a flat vector it is plain fc
    ("100 -> fc(10, flatten=false)", (1000, 10, 0, 1000, (10,))),
    ("4x4x8 -> fc(10)", (1280, 10, 0, 1280, (10,))),
])
def test_counts_by_hand(spec: str, want: tuple[int, int, int, int, tuple[int, ...]]) -> None:
    assert totals(spec) == want


def test_convnext_block_by_hand() -> None:
    """One ConvNeXt-T stage-1 block: dwconv 7×7, LayerNorm2d, MLP 96→384→96, layer scale."""
    spec = ("56x56x96 -> residual([dwconv(7, p=3) -> ln -> fc(384, flatten=false) -> gelu "
            "-> fc(96, flatten=false) -> layerscale])")
    r = cnncalc.analyze(spec)
    assert r.ok and r.totals.output_shape == (56, 56, 96)
    # dw 49·96+96, ln 2·96, fc 96·384+384, fc 384·96+96, γ 96 (torchvision: 79,296)
    assert r.totals.params == 49 * 96 + 96 + 2 * 96 + 96 * 384 + 384 + 384 * 96 + 96 + 96 == 79_296
    assert r.totals.macs == 56 * 56 * (49 * 96 + 2 * 96 * 384)


def test_residual_error_names_the_layer_that_really_flattened() -> None:
    _, p = only("8x8x4 -> residual([fc(4, flatten=false) -> flatten])", "G007")
    assert "flatten flattened the 8×8×4 volume" in p.message  # type: ignore[attr-defined]
    assert "fc(4, flatten=false) flattened" not in p.message  # type: ignore[attr-defined]


def test_same_size_kinds_keep_the_receptive_field() -> None:
    r = cnncalc.analyze("16x16x8 -> conv(8, 3) -> ln -> gn(2) -> instancenorm -> layerscale "
                        "-> hardsigmoid -> mish -> shuffle(2) -> fc(4, flatten=false)")
    assert {tuple(row.receptive_field or ()) for row in r.layers} == {(3, 3)}
    assert cnncalc.analyze("4x4x8 -> fc(4)").layers[0].receptive_field is None


# --------------------------------------------------------------------------- bad input

def only(spec: str, code: str) -> tuple[cnncalc.Report, object]:
    r = cnncalc.analyze(spec)
    found = [p for p in r.problems if p.code == code]
    assert len(found) == 1, r.problems
    return r, found[0]


@pytest.mark.parametrize(("spec", "message", "fixes", "column"), [
    ("8x8x64 -> groupnorm(3)", "groups=3 does not divide the 64 channels (64 = 3·21 + 1)",
     ("groupnorm(4)", "groupnorm(2)"), 11),
    ("8x8x30 -> conv(30, 1) -> gn(7, eps=0.001)",
     "groups=7 does not divide the 30 channels (30 = 7·4 + 2)",
     ("groupnorm(6, eps=0.001)", "groupnorm(5, eps=0.001)"), 26),
    ("8x8x10 -> shuffle(4)", "groups=4 does not divide the 10 channels (10 = 4·2 + 2)",
     ("shuffle(5)", "shuffle(2)"), 11),
    ("8x8x6 -> channelshuffle(12)", "groups=12 does not divide the 6 channels (6 = 12·0 + 6)",
     ("shuffle(6)", "shuffle(3)"), 10),
])
def test_groups_that_do_not_divide(spec: str, message: str, fixes: tuple[str, ...],
                                   column: int) -> None:
    r, p = only(spec, "G004")
    assert p.message == message  # type: ignore[attr-defined]
    assert p.location.line == 1 and p.location.column == column  # type: ignore[attr-defined]
    assert p.suggestions == fixes  # type: ignore[attr-defined]
    assert not r.ok and check_fixes_apply(r, p) == len(fixes)  # type: ignore[arg-type]


def test_instancenorm_on_a_flat_vector_suggests_layernorm() -> None:
    r, p = only("8x8x4 -> flatten -> instancenorm(affine=true)", "G006")
    assert "flat vector of 256" in p.message  # type: ignore[attr-defined]
    assert p.suggestions[0].startswith("layernorm ")  # type: ignore[attr-defined]
    assert (p.location.line, p.location.column) == (1, 21)  # type: ignore[attr-defined]
    assert check_fixes_apply(r, p) == 1  # type: ignore[arg-type]


def test_layerscale_on_a_flat_vector_has_no_fix() -> None:
    """Nothing in the catalog scales a flat vector per element: no suggestion is better
    than a wrong one."""
    _, p = only("100 -> layerscale", "G006")
    assert p.suggestions == ()  # type: ignore[attr-defined]
    assert "flat vector of 100" in p.message  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec", ["8x8x4 -> gap -> instancenorm", "16 -> gn(16)",
                                  "8x8x4 -> gap -> gn(4, affine=false)"])
def test_one_value_per_group_is_an_error(spec: str) -> None:
    r, p = only(spec, "G013")
    assert "every output is β" in p.message  # type: ignore[attr-defined]
    assert check_fixes_apply(r, p) == 1  # type: ignore[arg-type]
    assert cnncalc.analyze(spec.replace("gap -> ", "")).ok or "16 ->" in spec


def test_new_error_codes_are_registered_and_always_reported() -> None:
    assert RULES["G013"].severity["default"] is Severity.ERROR
    assert "G013" in ALWAYS_REPORTED
    res = CliRunner().invoke(main, ["summary", "8x8x4 -> gap -> instancenorm", "--ignore", "G"])
    assert res.exit_code == 1 and "G013" in res.output


# --------------------------------------------------------------------------- lints

@pytest.mark.parametrize(("spec", "fires"), [
    ("32x32x3 -> conv(16, 3, p=1) -> bn", True),
    ("32x32x3 -> conv(16, 3, p=1) -> instancenorm", True),        # per-channel mean over positions
    ("32x32x3 -> conv(16, 3, p=1) -> gn(16)", True),              # one channel per group
    ("32x32x3 -> conv(16, 3, p=1) -> gn(8)", False),              # b_c − mean of its group's b
    ("32x32x3 -> conv(16, 3, p=1) -> ln", False),                 # across channels: survives
    ("8x8x16 -> fc(32, flatten=false) -> ln", False),
    ("8x8x16 -> fc(32, flatten=false) -> instancenorm", True),
    ("64 -> fc(32) -> bn", True),
    ("64 -> fc(32) -> ln", False),
    ("32x32x3 -> conv(16, 3, p=1, bias=false) -> gn(16)", False),
])
def test_bias_before_a_norm_by_its_maths(spec: str, fires: bool) -> None:
    assert ("L007" in lint_codes(spec)) is fires


def test_l007_fix_drops_the_bias() -> None:
    r = cnncalc.analyze("32x32x3 -> conv(16, 3, p=1) -> gn(16)")
    p = next(p for p in r.problems if p.code == "L007")
    assert p.suggestions == ("conv(16, 3, p=1, bias=false)",)
    assert "normalises each channel on its own" in p.message


@pytest.mark.parametrize(("spec", "code"), [
    ("8x8x3 -> relu -> hardsigmoid", "L011"),
    ("8x8x3 -> mish -> relu", "L011"),
    ("8x8x3 -> hardsigmoid -> mish", "L011"),
    ("64 -> fc(10) -> hardsigmoid -> softmax", "L012"),
    ("64 -> fc(10) -> mish -> softmax", "L012"),
])
def test_activation_lints_know_the_new_activations(spec: str, code: str) -> None:
    assert code in lint_codes(spec)


def test_per_position_fc_is_not_a_dominant_fc() -> None:
    """L005 is about an fc that flattens an unpooled map; fc(flatten=false) sees C inputs."""
    assert "L005" in lint_codes("8x8x64 -> conv(64, 1) -> fc(512)")
    assert "L005" not in lint_codes("8x8x64 -> conv(64, 1) -> fc(512, flatten=false)")


def test_shuffle_that_moves_nothing_is_flagged() -> None:
    assert "L009" in lint_codes("8x8x6 -> shuffle(1)")
    assert "L009" in lint_codes("8x8x6 -> shuffle(6)")
    assert "L009" not in lint_codes("8x8x6 -> shuffle(3)")


def test_hardsigmoid_before_softmax_bounds_the_top_probability() -> None:
    r = cnncalc.analyze("64 -> fc(10) -> hardsigmoid -> softmax")
    p = next(p for p in r.problems if p.code == "L012")
    assert "[0, 1]" in p.message and "e^1/(e^1 + 9·e^0)" in p.message


def test_two_per_position_fcs_compose_into_one_per_position_fc() -> None:
    r = cnncalc.analyze("8x8x16 -> fc(64, flatten=false) -> fc(16, flatten=false)")
    p = next(p for p in r.problems if p.code == "L014")
    assert any("one fc(16, flatten=false) on the 16 inputs: 272 parameters" in s
               for s in p.suggestions)


# --------------------------------------------------------------------------- output

def test_catalog_and_explain_show_the_arithmetic() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["layers"]).output
    for name in ("layernorm", "groupnorm", "instancenorm", "layerscale", "hardsigmoid", "mish",
                 "shuffle"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    assert "flatten=false" in out
    res = runner.invoke(main, ["explain", "8x8x16 -> gn(4) -> fc(32, flatten=false)"])
    assert res.exit_code == 0
    assert "4 groups of 16/4 = 4 channels, each normalised over 4·64 = 256 values" in res.output
    assert "MACs 512 × 64 positions = 32,768" in res.output


def test_json_rows_of_the_new_kinds() -> None:
    import json
    res = CliRunner().invoke(main, ["summary", "4x4x8 -> ln -> fc(6, flatten=false) -> shuffle(3)",
                                    "--format", "json"])
    data = json.loads(res.stdout)
    assert [row["kind"] for row in data["layers"]] == ["layernorm", "fc", "shuffle"]
    assert [row["params"] for row in data["layers"]] == [16, 54, 0]
    assert data["layers"][1]["output_shape"] == [4, 4, 6]
    assert all(row["verified"] for row in data["layers"])
