"""The YAML form: every construct, every problem at its line and column, YAML's traps."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import cnncalc
from cnncalc import SpecSyntaxError


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


FULL = y("""
    name: cs231n-example            # optional
    input: 32x32x3
    mode: default
    layers:
      - conv(10, 5, p=2)
      - conv: {filters: 10, kernel: 5, padding: 2}
      - relu
      - maxpool: 2
      - repeat: 2
        layers: conv(10, 3, p=1) -> relu
      - residual:
          body: conv(10, 3, p=1) -> bn -> relu -> conv(10, 3, p=1) -> bn
          shortcut: []
      - concat:
          - conv(4, 1)
          - conv(6, 1) -> conv(8, 3, p=1)
          - []
      - fc: 10
    expect:
      output: 10
      max_params: 1M
""")


def test_every_construct() -> None:
    r = cnncalc.analyze(FULL)
    assert r.ok, r.problems
    assert r.name == "cs231n-example"
    shapes = [x.output_shape for x in r.layers if x.depth == 1]
    assert shapes == [(32, 32, 10), (32, 32, 10), (32, 32, 10), (16, 16, 10), (16, 16, 10),
                      (16, 16, 10), (16, 16, 22), (10,)]
    conv_a, conv_b = r.layers[0], r.layers[1]
    assert conv_a.params == 760 and conv_b.params == 5 * 5 * 10 * 10 + 10
    assert [(x.location.line, x.location.column) for x in r.layers[:4]] == [
        (5, 5), (6, 5), (7, 5), (8, 5)]


def test_same_as_one_line() -> None:
    a = cnncalc.analyze("32x32x3 -> conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)")
    b = cnncalc.analyze(y("""
        input: [32, 32, 3]
        layers:
          - conv: {filters: 10, kernel: 5, padding: 2}
          - relu
          - maxpool: 2
          - fc: 10
    """))
    c = cnncalc.analyze(y("""
        input: {height: 32, width: 32, channels: 3}
        layers: conv(10, 5, p=2) -> relu -> maxpool(2) -> fc(10)
    """))
    assert a.totals == b.totals == c.totals


def test_scalars_read_as_written() -> None:
    r = cnncalc.analyze(y("""
        input: 8x8x2
        layers:
          - conv: {filters: 4, kernel: 1x7, padding: 0x3}
          - conv: {filters: 4, kernel: [3, 1], padding: 010}
    """))
    assert r.layers[0].output_shape == (8, 8, 4)       # 0x3 is 0×3, not hex 3
    assert r.layers[1].output_shape == (8 + 20 - 2, 8 + 20, 4)  # 010 is ten, not octal 8


def test_problem_locations_in_yaml() -> None:
    r = cnncalc.analyze(y("""
        input: 28x28x1
        layers:
          - conv(32, 3)
          - maxpool(2)
          - conv: {filters: 64, kernel: 3, strdie: 1}
          - maxpol: 2
    """))
    assert [(p.code, p.location.line, p.location.column) for p in r.problems] == [
        ("A002", 5, 36), ("A001", 6, 5)]


def test_window_problem_points_at_layer_in_scalar() -> None:
    r = cnncalc.analyze(y("""
        input: 7x7x1
        layers:
          - relu -> conv(1, 3, s=3)
    """))
    (p,) = r.problems
    assert (p.code, p.location.line, p.location.column) == ("G001", 3, 13)


def test_failed_expectations_point_at_their_key() -> None:
    r = cnncalc.analyze(y("""
        input: 32x32x3
        layers: conv(10, 5, p=2)
        expect:
          output: 32x32x10
          params: 750
          max_params: 700
          max_macs: 1G
    """))
    assert [(p.code, p.location.line) for p in r.problems] == [("X002", 5), ("X003", 6)]
    assert "expected params 750, got 760 (+10)" in r.problems[0].message
    assert "exceeds the budget 700 by 60" in r.problems[1].message


@pytest.mark.parametrize(("text", "expected"), [
    ("input: 32x32x3\nlayers: [conv(64, 3), relu]\n", (2, 9, "S007")),
    ("input: 32x32x3\nlayers:\n  - conv(10\n  bad: [\n", (4, 3, "S005")),
    ("- conv(10, 5)\n- relu\n", (1, 1, "S006")),
    ("input: 32x32x3\nlayer:\n  - relu\n", (2, 1, "S006")),
    ("input: 32x32x3\n", (1, 1, "S006")),
    ("name: x\nlayers: [relu]\n", (1, 1, "S006")),
    ("input: 32x32x3\nlayers:\n  - conv(10, 5x)\n", (3, 14, "S004")),
    ("# only a comment\n", (1, 1, "S001")),
])
def test_yaml_syntax_problems(text: str, expected: tuple[int, int, str]) -> None:
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(text)
    (p,) = info.value.problems
    assert (p.location.line, p.location.column, p.code) == expected


def test_flow_list_split_shows_the_fix() -> None:
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze("input: 32x32x3\nlayers: [conv(64, 3), relu]\n")
    (p,) = info.value.problems
    assert "'conv(64', '3)', 'relu'" in p.message
    assert "conv(64, 3) -> relu" in " ".join(p.suggestions)


@pytest.mark.parametrize("item", ["[conv(4, 3, p=1) -> relu] * 3", "[conv(4, 3, p=1)] -> relu"])
def test_a_group_item_that_yaml_reads_as_a_list_gets_a_quoted_fix(item: str) -> None:
    """`- [conv -> relu] * 3` is a YAML flow list (and `*` an alias): the fix quotes the
    item, and the quoted spec analyses cleanly."""
    text = f"input: 8x8x3\nlayers:\n  - relu\n  - {item}\n"
    try:
        cnncalc.analyze(text)
    except SpecSyntaxError as exc:
        (p,) = exc.problems
    else:  # pragma: no cover - the test fails below
        pytest.fail("a bare [ ... ] item parsed")
    assert (p.code, p.location.line) == ("S005", 4)
    (fix,) = p.suggestions
    quoted = f"'{item}'"
    assert quoted in fix
    fixed = cnncalc.analyze(text.replace(f"- {item}", f"- {quoted}"), verify=False)
    assert fixed.ok and not fixed.errors


def test_alias_bomb_is_refused() -> None:
    # Billion laughs: each level references the previous one twice (2**30 layers if expanded).
    doc = "input: 8x8x1\nlayers:\n" + "".join(
        f"  - &x{i} [" + (f"*x{i - 1}, *x{i - 1}" if i else "relu, relu") + "]\n"
        for i in range(30))
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(doc)
    assert info.value.problems[0].code == "S009"


def test_files(tmp_path: Path) -> None:
    f = tmp_path / "net.yaml"
    f.write_text(FULL, encoding="utf-8")
    assert cnncalc.analyze(f).ok
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"input: 32x32x3\nlayers:\n  - conv(10, 5) # caf\xe9\n")
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(bad)
    p = info.value.problems[0]
    assert (p.code, p.location.line, p.location.column) == ("S008", 3, 22)
    for missing in (tmp_path / "nope.yaml", tmp_path):
        with pytest.raises(SpecSyntaxError) as info:
            cnncalc.analyze(missing)
        assert info.value.problems[0].code == "S008"


def test_deeply_nested_blocks_are_refused() -> None:
    text, indent = "input: 8x8x1\nlayers:\n", "  "
    for _ in range(300):
        text += f"{indent}- residual:\n{indent}    body:\n"
        indent += "      "
    text += f"{indent}- relu\n"
    with pytest.raises(SpecSyntaxError) as info:
        cnncalc.analyze(text)
    assert info.value.problems[0].code == "S009"
