"""Spec language: every construct parses, and every bad input says what, where and how."""

from __future__ import annotations

import pytest

import cnncalc
from cnncalc import SpecSyntaxError

from .helpers import codes


def where(spec: str) -> tuple[int, int, str]:
    """(line, column, code) of the single syntax problem raised for ``spec``."""
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(spec)
    (p,) = info.value.problems
    assert p.location is not None
    return p.location.line, p.location.column, p.code


def first_problem(spec: str) -> tuple[int, int, str]:
    r = cnncalc.analyze(spec)
    p = r.problems[0]
    assert p.location is not None and not r.ok
    return p.location.line, p.location.column, p.code


@pytest.mark.parametrize(("spec", "expected"), [
    ("", (1, 1, "S001")),
    ("   ", (1, 1, "S001")),
    ("conv(10, 5) -> relu", (1, 1, "S001")),               # no input volume
    ("32x32x3 -> conv(10, 5", (1, 16, "S003")),            # ( never closed
    ("32x32x3 -> conv(10, 5))", (1, 23, "S003")),          # stray )
    ("32x32x3 -> [conv(10, 5) -> relu", (1, 12, "S003")),  # [ never closed
    ("32x32x3 -> conv(10, 5x)", (1, 21, "S004")),          # 5x
    ("32x32x3 -> conv(10, 5abc)", (1, 21, "S004")),
    ("32x32x3 -> conv(10, 5) relu", (1, 24, "S002")),      # missing ->
    ("32x32x3 -> conv(10, 5) -> ", (1, 27, "S002")),       # dangling arrow
    ("32x32x3 -> conv(10; 5)", (1, 19, "S002")),
    ("32x32x3 -> " + "[" * 100 + "relu" + "]" * 100, (1, 76, "S009")),
])
def test_syntax_errors_point_at_line_and_column(spec: str, expected: tuple[int, int, str]) -> None:
    assert where(spec) == expected


def test_multi_line_one_line_spec_keeps_lines() -> None:
    assert where("32x32x3\n  -> conv(10, 5)\n  -> maxpool(2x)") == (3, 14, "S004")


@pytest.mark.parametrize(("spec", "expected"), [
    ("32x32x3 -> maxpol(2)", (1, 12, "A001")),
    ("32x32x3 -> conv(10, 5, strdie=2)", (1, 24, "A002")),
    ("32x32x3 -> conv(10, 5, s=1, stride=2)", (1, 29, "A003")),
    ("32x32x3 -> conv(10)", (1, 12, "A004")),
    ("32x32x3 -> relu(3)", (1, 17, "A005")),
    ("32x32x3 -> conv(0, 3)", (1, 17, "A006")),
    ("32x32x3 -> conv(-4, 3)", (1, 17, "A006")),
    ("32x32x3 -> conv(10, 2.5)", (1, 21, "A006")),
    ("32x32x3 -> conv(10, 3, p=foo)", (1, 26, "A006")),
    ("32x32x3 -> dropout(1.5)", (1, 20, "A006")),
    ("28x28x3x3x3 -> conv(4, 3)", (1, 1, "A007")),
    ("0x32x3 -> conv(4, 3)", (1, 1, "A007")),
])
def test_argument_errors_point_at_the_argument(spec: str, expected: tuple[int, int, str]) -> None:
    assert first_problem(spec) == expected


def test_did_you_mean() -> None:
    r = cnncalc.analyze("32x32x3 -> conv(10, 5, strdie=2) -> maxpol(2)")
    assert [p.suggestions[0] for p in r.problems] == ["did you mean 'stride'?",
                                                      "did you mean 'maxpool'?"]


def test_all_problems_reported_not_just_the_first() -> None:
    r = cnncalc.analyze("32x32x3 -> conv(10, 5, strdie=2) -> maxpol(2) -> conv(3) -> fc(0)")
    assert [p.code for p in r.problems] == ["A002", "A001", "A004", "A006"]
    assert [p.path for p in r.problems] == ["1", "2", "3", "4"]


def test_names_case_insensitive_aliases_and_long_keywords() -> None:
    a = cnncalc.analyze("32x32x3 -> CONV2D(10, kernel=5, padding=2, stride=1) -> Dense(10)")
    b = cnncalc.analyze("input(32x32x3) -> conv(10, 5, p=2) -> fc(10)")
    assert a.totals == b.totals and a.totals.params == 760 + 32 * 32 * 10 * 10 + 10


def test_unicode_times_and_arrow() -> None:
    r = cnncalc.analyze("32×32×3 → conv(10, 5, p=2)")
    assert r.layers[0].output_shape == (32, 32, 10)


def test_suffixes_pairs_same_valid() -> None:
    r = cnncalc.analyze("224x224x3 -> conv(8, 1x7, p=0x3) -> conv(4, 3, s=2, p=same) "
                        "-> conv(4, 3, p=valid)")
    assert [x.output_shape for x in r.layers] == [(224, 224, 8), (112, 112, 4), (110, 110, 4)]
    r = cnncalc.analyze("1.5K -> fc(1K)")
    assert r.input_shape == (1500,) and r.totals.params == 1500 * 1000 + 1000


def test_groups_repeats_and_empty_identity() -> None:
    r = cnncalc.analyze("8x8x4 -> [conv(4, 3, p=1) -> relu] * 3 -> residual([]) -> concat([], [])")
    assert r.totals.output_shape == (8, 8, 8)
    assert [x.path for x in r.layers][:4] == ["1", "1.1.1", "1.1.2", "1.2.1"]
    assert r.totals.params == 3 * (3 * 3 * 4 * 4 + 4)


def test_largest_line_is_handled_quickly() -> None:
    spec = "32x32x3" + " -> relu" * 100_000  # 800 KB, MAX_ROWS layers
    r = cnncalc.analyze(spec)
    assert r.ok and len(r.layers) == 100_000
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(spec + " -> relu")
    assert info.value.problems[0].code == "S009"
    with pytest.raises(SpecSyntaxError):
        cnncalc.analyze("32x32x3 -> " + "x" * 1_000_000 + "(")


def test_never_evaluated_as_code() -> None:
    r = cnncalc.analyze("32x32x3 -> __import__(os)")
    assert codes(r) == [("error", "A001")]


@pytest.mark.parametrize("spec", ["8x8x1 -> relu -> [[[relu] * 1000] * 1000] * 1000"])
def test_repeat_bombs_are_refused_without_expanding(spec: str) -> None:
    line, column, code = where(spec)
    assert code == "S009" and (line, column) == (1, spec.rindex("*") + 1)  # the outer repeat


def test_a_repeat_count_beyond_the_row_limit_is_an_a006_at_the_count() -> None:
    spec = "8x8x1 -> [relu] * 1G"
    r = cnncalc.analyze(spec)
    assert [(p.code, p.location.line, p.location.column) for p in r.problems
            if p.location] == [("A006", 1, spec.index("1G") + 1)]
