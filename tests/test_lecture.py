"""The lecture's worked examples (CS231n lecture 5), checked by hand arithmetic."""

from __future__ import annotations

import pytest

import cnncalc
from cnncalc.diagnostics import Severity

from .helpers import codes, leaf


@pytest.mark.parametrize(("stride", "out"), [(1, 5), (2, 3)])
def test_7x7_input_3x3_filter(stride: int, out: int) -> None:
    r = cnncalc.analyze(f"7x7x1 -> conv(1, 3, s={stride})")
    assert r.ok and r.problems == ()
    assert r.layers[0].output_shape == (out, out, 1)


def test_stride_3_does_not_fit() -> None:
    r = cnncalc.analyze("7x7x1 -> conv(1, 3, s=3)")
    assert not r.ok
    (p,) = r.problems
    assert (p.severity, p.code, p.path) == (Severity.ERROR, "G001", "1")
    assert "(7 − 3 + 2·0)/3 + 1 = 2.33 is not an integer" in p.message
    assert "never read" in p.message and "column" in p.message
    assert (p.location.line, p.location.column) == (1, 10)
    fixes = " | ".join(p.suggestions)
    assert "conv(1, 3) → 5×5×1" in fixes          # stride 1
    assert "conv(1, 3, s=2) → 3×3×1" in fixes     # stride 2
    assert "conv(1, 3, s=3, p=1) → 3×3×1" in fixes  # padding 1: (7 − 3 + 2)/3 + 1 = 3


def test_padding_1_keeps_7x7() -> None:
    assert cnncalc.analyze("7x7x3 -> conv(4, 3, p=1)").layers[0].output_shape == (7, 7, 4)


def test_ten_5x5x3_filters_have_760_params() -> None:
    row = cnncalc.analyze("32x32x3 -> conv(10, 5, s=1, p=2)").layers[0]
    assert row.output_shape == (32, 32, 10)
    assert (row.weights, row.biases, row.params) == (5 * 5 * 3 * 10, 10, 760)


def test_pooling_has_no_parameters_and_fc_flattens() -> None:
    r = cnncalc.analyze("224x224x64 -> maxpool(2) -> fc(10)")
    assert r.layers[0].output_shape == (112, 112, 64) and r.layers[0].params == 0
    assert r.layers[1].params == 112 * 112 * 64 * 10 + 10
    assert r.layers[1].output_shape == (10,)


MNIST = ("28x28x1 -> conv(32,3) -> relu -> maxpool(2) -> conv(64,3) -> relu -> maxpool(2)"
         " -> flatten -> dropout -> fc(10)")


def test_keras_mnist_lenient_counts() -> None:
    r = cnncalc.analyze(MNIST, mode="lenient")
    assert r.ok
    assert [x.params for x in r.layers if x.params] == [320, 18_496, 16_010]
    assert r.totals.params == 34_826
    assert codes(r) == [("warning", "G001")]


def test_keras_mnist_default_mode_errors_at_second_pool() -> None:
    r = cnncalc.analyze(MNIST)
    assert codes(r) == [("error", "G001")]
    p = r.problems[0]
    assert p.path == "6" and leaf(r, "6").input_shape == (11, 11, 64)
    assert "the last row and column of the input are never read" in p.message
    fixes = " | ".join(p.suggestions)
    assert "maxpool(2, ceil=true) → 6×6×64" in fixes
    assert "maxpool(2, p=1) → 6×6×64" in fixes


STEM = "224x224x3 -> conv(64, 7, s=2, p=3) -> bn -> relu -> maxpool(3, s=2, p=1)"


def test_resnet_stem_is_valid_with_notes() -> None:
    r = cnncalc.analyze(STEM)
    assert r.ok and r.totals.output_shape == (56, 56, 64)
    assert codes(r) == [("note", "G002"), ("note", "G002")]
    bn = leaf(r, "2")
    assert (bn.params, bn.non_trainable) == (128, 128)


def test_resnet_stem_strict_errors_lenient_silent() -> None:
    assert codes(cnncalc.analyze(STEM, mode="strict")) == [("error", "G002")] * 2
    assert cnncalc.analyze(STEM, mode="lenient").problems == ()


def test_projection_gap_is_a_note() -> None:
    # ResNet's 1×1 stride-2 projection on 56: one column lost, but the stride skips one anyway.
    r = cnncalc.analyze("56x56x256 -> conv(512, 1, s=2)")
    assert codes(r) == [("note", "G002")]
    assert r.layers[0].output_shape == (28, 28, 512)
