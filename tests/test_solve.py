"""``cnncalc solve``: unknowns (``?``) found by search, checked against hand arithmetic from the
lecture and against trying every combination (a naive loop over substituted spec texts)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

import cnncalc
from cnncalc.analysis import walk
from cnncalc.spec.parse import read_spec
from tests.helpers import run


def works(text: str, mode: str | None = None) -> cnncalc.Report | None:
    """The walk of a spec with numbers written in (the brute-force judge), when it is valid."""
    report = walk(read_spec(text)[0], mode)  # type: ignore[arg-type]
    return report if report.ok else None


def brute(template: str, domains: dict[str, range], mode: str | None = None
          ) -> dict[tuple[int, ...], cnncalc.Report]:
    """Every assignment of the named unknowns ``?a``, ``?b``… (written in ``template``)
    over ``domains`` under which the spec is valid: the naive reference."""
    names = sorted(domains, key=len, reverse=True)  # ?ab before ?a
    found = {}
    for combo in itertools.product(*(domains[n] for n in sorted(domains))):
        values = dict(zip(sorted(domains), combo, strict=True))
        text = template
        for n in names:
            text = text.replace(f"?{n}", str(values[n]))
        if (report := works(text, mode)) is not None:
            found[combo] = report
    return found


def named_values(solution: object, names: list[str]) -> tuple[int, ...]:
    values = dict(solution.values)  # type: ignore[attr-defined]
    return tuple(values[f"?{n}"] for n in names)


# --------------------------------------------------------------------------- the lecture

def test_stride_on_7x7_is_1_or_2_and_3_is_refused_with_the_arithmetic() -> None:
    s = cnncalc.solve("7x7x3 -> conv(1, 3, s=?)")
    assert s.count == 2
    assert [sol.text for sol in s.solutions] == ["7x7x3 -> conv(1, 3, s=1)",
                                                  "7x7x3 -> conv(1, 3, s=2)"]
    assert [sol.report.totals.output_shape for sol in s.solutions] == [(5, 5, 1), (3, 3, 1)]
    (three,) = s.rejected
    assert three.value == 3 and three.problem is not None
    assert three.problem.code == "G001" and "(7 − 3 + 2·0)/3 + 1 = 2.33" in three.problem.message


def test_padding_that_keeps_32x32_is_2() -> None:
    yaml = "input: 32x32x3\nlayers:\n  - conv(10, 5, p=?)\nexpect:\n  output: 32x32x10\n"
    s = cnncalc.solve(yaml)
    assert s.count == 1
    (sol,) = s.solutions
    assert sol.text == yaml.replace("p=?", "p=2")  # P = (F − 1)/2
    assert sol.report.totals.params == 760  # ten 5×5×3 filters with bias


def test_without_expect_every_padding_up_to_the_kernel_works_smallest_first() -> None:
    s = cnncalc.solve("32x32x3 -> conv(10, 5, p=?)")
    assert s.count == 5
    assert [sol.report.totals.output_shape[0] for sol in s.solutions] == [28, 30, 32, 34, 36]


def test_224_to_7_in_five_stride_steps() -> None:
    text = "224x224x3 -> conv(8, 3, s=?a, p=1) -> conv(8, 3, s=?b, p=1) -> " \
           "conv(8, 3, s=?c, p=1) -> conv(8, 3, s=?d, p=1) -> conv(8, 3, s=?e, p=1)"
    yaml = f"input: 224x224x3\nlayers:\n  - {text.split(' -> ', 1)[1]}\nexpect:\n  output: 7x7x8\n"
    s = cnncalc.solve(yaml, top=100)
    truth = brute(yaml, {n: range(1, 4) for n in "abcde"})
    assert s.count == len(truth) > 0
    names = list("abcde")
    assert {named_values(sol, names) for sol in s.solutions} == set(truth)
    assert (2, 2, 2, 2, 2) in truth


def test_resnet_stem_paddings_include_torchvisions() -> None:
    yaml = ("input: 224x224x3\nlayers:\n  - conv(64, 7, s=2, p=?a) -> maxpool(3, s=2, p=?b)\n"
            "expect:\n  output: 56x56x64\n")
    s = cnncalc.solve(yaml, top=50)
    truth = brute(yaml, {"a": range(0, 7), "b": range(0, 3)})
    assert s.count == len(truth)
    assert {named_values(sol, ["a", "b"]) for sol in s.solutions} == set(truth)
    assert (3, 1) in truth


# --------------------------------------------------------------------------- semantics

def test_a_question_mark_in_a_repeat_is_one_unknown_per_repetition() -> None:
    repeated = cnncalc.solve("9x9x1 -> [conv(1, 3, s=?, p=1)] * 2", top=100)
    unrolled = cnncalc.solve("9x9x1 -> conv(1, 3, s=?, p=1) -> conv(1, 3, s=?, p=1)", top=100)
    assert repeated.count == unrolled.count == len(brute(
        "9x9x1 -> conv(1, 3, s=?a, p=1) -> conv(1, 3, s=?b, p=1)",
        {"a": range(1, 4), "b": range(1, 4)}))
    assert sorted(tuple(v for _, v in s.values) for s in repeated.solutions) == \
        sorted(tuple(v for _, v in s.values) for s in unrolled.solutions)
    shared = cnncalc.solve("9x9x1 -> [conv(1, 3, s=?s, p=1)] * 2", top=100)
    assert shared.count == len(brute("9x9x1 -> [conv(1, 3, s=?s, p=1)] * 2", {"s": range(1, 4)}))


def test_a_question_mark_in_a_block_body_is_one_per_call() -> None:
    yaml = ("input: 12x12x2\nblocks:\n  down: conv(4, 3, s=?, p=1)\n"
            "layers:\n  - down -> down\n")
    s = cnncalc.solve(yaml, top=100)
    truth = brute("12x12x2 -> conv(4, 3, s=?a, p=1) -> conv(4, 3, s=?b, p=1)",
                  {"a": range(1, 4), "b": range(1, 4)})
    assert s.count == len(truth)
    several = [sol for sol in s.solutions if sol.text is None]
    assert several, "calls given different strides cannot be written back into one body"
    for sol in s.solutions:
        assert sol.report.ok


def test_input_sizes_solved_with_a_named_unknown() -> None:
    s = cnncalc.solve("?nx?nx3 -> conv(4, 3) -> maxpool(2) -> conv(4, 3) -> maxpool(2)",
                      range=(1, 60), top=100)
    truth = [n for n in range(1, 61) if works(
        f"{n}x{n}x3 -> conv(4, 3) -> maxpool(2) -> conv(4, 3) -> maxpool(2)")]
    assert s.count == len(truth)
    assert sorted(dict(sol.values)["?n"] for sol in s.solutions) == truth
    # by hand: (n − 2) even, then ((n − 2)/2 − 2) even: n = 4k + 2 with n ≥ 10
    assert truth == list(range(10, 61, 4))


def test_block_call_argument_and_budget() -> None:
    yaml = ("input: 16x16x8\nlayers:\n  - basicblock(8, stride=?)\n  - gap -> fc(10)\n"
            "expect:\n  max_macs: 300000\n")
    s = cnncalc.solve(yaml, top=10)
    truth = brute(yaml.replace("stride=?", "stride=?a"), {"a": range(1, 5)})
    assert s.count == len(truth) > 0
    assert all(sol.report.totals.macs <= 300_000 for sol in s.solutions)


def test_every_shown_solution_reanalyses_cleanly() -> None:
    s = cnncalc.solve("20x20x3 -> conv(16, ?, s=2, p=?) -> maxpool(?, p=?) -> conv(32, 3, p=1)",
                      top=20)
    assert s.solutions
    for sol in s.solutions:
        assert sol.text is not None
        again = cnncalc.analyze(sol.text)
        assert again.ok and again.totals.output_shape == sol.report.totals.output_shape


def test_ranking_exact_divisions_then_least_padding() -> None:
    s = cnncalc.solve("224x224x3 -> conv(64, 7, s=2, p=?) -> maxpool(3, s=2, p=?)", top=50)
    costs = [sol.cost for sol in s.solutions]
    assert costs == sorted(costs)
    inexact = [sum(1 for p in sol.report.problems if p.code in ("G001", "G002"))
               for sol in s.solutions]
    assert [c[0] for c in costs] == inexact


def test_strict_mode_refuses_inexact_divisions() -> None:
    default = cnncalc.solve("224x224x3 -> conv(64, 7, s=2, p=?)", top=50)
    strict = cnncalc.solve("224x224x3 -> conv(64, 7, s=2, p=?)", mode="strict", top=50)
    # 224 − 7 is odd: never exact; p=0 loses input, p=1…6 read only padding
    assert default.count == 6 and strict.count == 0
    assert strict.blocker is not None and strict.blocker.code in ("G001", "G002")
    assert {(r.value, r.problem.code) for r in strict.rejected if r.problem} == {
        (0, "G001"), *((p, "G002") for p in range(1, 7))}


def test_impossible_names_the_layer_that_makes_it_so() -> None:
    s = cnncalc.solve("7x7x3 -> conv(1, 3, s=?) -> conv(1, 9)")
    assert not s.ok and s.count == 0
    assert s.blocker is not None and (s.blocker.code, s.blocker.path) == ("G003", "2")


def test_unconstrained_filters_have_no_finite_solution_set() -> None:
    s = cnncalc.solve("8x8x3 -> conv(?, 3)")
    assert s.count == 1024 and [u.text for u in s.unbounded] == ["?"]
    code, out, _ = run("solve", "8x8x3 -> conv(?, 3)")
    assert code == 0 and "no finite set of solutions" in out


def test_filters_fixed_by_the_expected_output() -> None:
    s = cnncalc.solve("input: 8x8x3\nlayers:\n  - conv(?, 3)\nexpect:\n  output: 6x6x10\n")
    assert s.count == 1 and dict(s.solutions[0].values) == {("1", 0): 10}
    assert not s.unbounded


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("spec", "code", "column"), [
    ("8x8x3 -> conv(8, 3, bias=?)", "A006", 26),
    ("8x8x3 -> dropout(?)", "A006", 18),
    ("8x8x3 -> relu * ?", "A006", 17),
])
def test_question_mark_where_no_whole_number_goes(spec: str, code: str, column: int) -> None:
    s = cnncalc.solve(spec)
    assert not s.ok and s.blocker is not None
    assert (s.blocker.code, s.blocker.location.column) == (code, column)  # type: ignore[union-attr]


def test_question_mark_inside_an_expression_is_a_syntax_error() -> None:
    code, _, err = run("solve", "8x8x3 -> conv(2*?, 3)")
    assert code == 2 and "S004" in err and "1:15" in err
    assert "not part of an expression" in err and "Traceback" not in err


@pytest.mark.parametrize(("line", "fixed"), [
    ("  - maxpool: ?", "- maxpool: '?'"),
    ("  - conv: {filters: 8, kernel: 3, padding: ?}", "- conv: {filters: 8, kernel: 3, padding: '?'}"),
])
def test_a_lone_question_mark_in_yaml_is_told_to_be_quoted(line: str, fixed: str) -> None:
    code, _, err = run("solve", "-", stdin=f"input: 8x8x3\nlayers:\n{line}\n")
    assert code == 2 and "S005" in err and f"3:{line.index('?') + 1}" in err
    assert fixed in err
    quoted = line.replace("?", "'?'")
    code, out, _ = run("solve", "-", stdin=f"input: 8x8x3\nlayers:\n{quoted}\n")
    assert code == 0 and "assignment" in out


def test_other_commands_report_each_unknown_where_it_is_written(tmp_path: Path) -> None:
    net = tmp_path / "net.yaml"
    net.write_text("input: 8x8x3\nlayers:\n  - conv(8, 3, p=?, s=?)\n")
    code, out, _ = run("check", str(net))
    assert code == 1
    assert f"{net}:3:18: A006 [error] padding ? is unknown" in out
    assert f"{net}:3:23: A006 [error] stride ? is unknown" in out
    code, out, _ = run("summary", "?x8x3 -> conv(8, 3)")
    assert code == 1 and "A007" in out and "cnncalc solve" in out


def test_twenty_unknowns_over_huge_ranges_are_refused_clearly() -> None:
    spec = "?x?x3 -> " + " -> ".join("conv(8, ?, p=?)" for _ in range(10))
    code, out, err = run("solve", spec, "--range", "1..1000000")
    assert code == 2 and out == ""
    assert "too large" in err and "Traceback" not in err
    many = "512x512x3 -> " + " -> ".join("conv(8, 3, s=?, p=?)" for _ in range(10))
    code, out, err = run("solve", many)
    assert code == 2 and "too large" in err
    with pytest.raises(ValueError, match="too large"):
        cnncalc.solve(many)


@pytest.mark.parametrize("bad", ["5..2", "0..9", "a..b", "1..", "1..99999999999"])
def test_bad_range_is_a_usage_error(bad: str) -> None:
    code, _, err = run("solve", "?x8x3 -> conv(8, 3)", "--range", bad)
    assert code == 2 and "range" in err and "Traceback" not in err


# --------------------------------------------------------------------------- CLI and JSON

def test_cli_json_is_one_object_with_the_solutions() -> None:
    code, out, err = run("solve", "7x7x3 -> conv(1, 3, s=?)", "--format", "json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["ok"] is True and data["count"] == 2
    assert [s["spec"] for s in data["solutions"]] == ["7x7x3 -> conv(1, 3, s=1)",
                                                       "7x7x3 -> conv(1, 3, s=2)"]
    assert data["solutions"][0]["values"][0] == {
        "unknown": "?", "path": "1", "argument": "stride", "owner": "conv", "value": 1,
        "location": {"line": 1, "column": 23}}
    assert data["rejected"][0]["value"] == 3
    assert data["rejected"][0]["problem"]["code"] == "G001"


def test_cli_exit_1_when_nothing_works_and_text_says_why() -> None:
    code, out, _ = run("solve", "7x7x3 -> conv(1, 3, s=?) -> conv(1, 9)")
    assert code == 1
    assert "No assignment of the unknowns works" in out
    assert "impossible at layer 2 (line 1, column 29): G003" in out


def test_cli_top_limits_the_solutions_shown() -> None:
    _, out, _ = run("solve", "32x32x3 -> conv(10, 5, p=?)", "--top", "2", "--format", "json")
    data = json.loads(out)
    assert data["count"] == 5 and len(data["solutions"]) == 2


def test_no_assignment_meets_expect_says_so_at_the_expectation() -> None:
    s = cnncalc.solve("input: 32x32x3\nlayers:\n  - conv(8, 3, p=?)\nexpect:\n  output: 31x31x8\n")
    assert s.count == 0 and s.blocker is not None
    assert (s.blocker.code, s.blocker.location.line) == ("X001", 5)  # type: ignore[union-attr]
    code, out, _ = run("solve", "-", stdin="input: 32x32x3\nlayers:\n  - conv(8, 3, p=?)\n"
                       "expect:\n  output: 31x31x8\n")
    assert code == 1 and "it fails `expect:` (line 5, column 3): X001" in out


def test_expected_outputs_are_checked_on_every_solution_shown() -> None:
    yaml = ("input: 16x16x3\nlayers:\n  - conv(8, 3, p=?) as a -> conv(8, 3, s=?)\n"
            "  - \"@a\"\n  - conv(4, 1)\nexpect:\n  outputs: [14x14x8, 16x16x4]\n")
    s = cnncalc.solve(yaml, top=50)
    assert not s.exact  # `outputs` is checked only on the solutions shown
    truth = brute(yaml.replace("p=?", "p=?a").replace("s=?", "s=?b"),
                  {"a": range(0, 3), "b": range(1, 4)})
    assert {named_values(sol, []) + tuple(v for _, v in sol.values) for sol in s.solutions} \
        == set(truth)


def test_unknowns_in_a_long_repeat_are_solved_layer_by_layer() -> None:
    """Ten paddings in a repeat and a shared stride after it: 3¹⁰ · 3 combinations, counted
    exactly. Independently: the ten paddings only shift the size (44 + 2·their sum, each sum
    reached by the coefficient of x^sum in (1 + x + x²)¹⁰ assignments); the stride is tried
    on each size by the brute-force judge."""
    s = cnncalc.solve("64x64x3 -> [conv(8, 3, p=?)] * 10 -> [conv(8, 3, s=?s, p=1)] * 3")
    ways = [1]
    for _ in range(10):
        ways = [sum(ways[j] for j in (i - 2, i - 1, i) if 0 <= j < len(ways))
                for i in range(len(ways) + 2)]
    expected = sum(ways[total] * sum(
        1 for stride in (1, 2, 3)
        if works(f"{44 + 2 * total}x{44 + 2 * total}x8 -> [conv(8, 3, s={stride}, p=1)] * 3"))
        for total in range(21))
    assert s.count == expected > 3**10
    first = s.solutions[0]
    assert [path for (path, _), _ in first.values[:3]] == ["1.1.1", "1.2.1", "1.3.1"]


@pytest.mark.parametrize(("yaml", "line", "column", "words"), [
    ("input: 8x8x3\nblocks:\n  foo(w=?): conv(w, 3)\nlayers:\n  - foo\n", 5, 5,
     "a default cannot be unknown"),
    ("input: 8x8x3\nlayers:\n  - conv(8, 3)\nexpect:\n  output: ?x?x8\n", 5, 11,
     "'?x?x8' cannot be unknown"),
])
def test_unknowns_where_none_can_stand_are_refused_where_written(
        yaml: str, line: int, column: int, words: str) -> None:
    report = cnncalc.analyze(yaml)
    (p,) = report.errors
    assert (p.code, p.location.line, p.location.column) == ("A006", line, column)  # type: ignore[union-attr]
    assert words in p.message
    code, out, _ = run("solve", "-", stdin=yaml)
    assert code == 1 and words in out and "Traceback" not in out


def test_an_unknown_inside_times_zero_is_refused_where_written() -> None:
    s = cnncalc.solve("8x8x3 -> [conv(8, 3, p=?)] * 0 -> relu")
    assert not s.ok and s.blocker is not None
    assert (s.blocker.code, s.blocker.location.column) == ("A006", 24)  # type: ignore[union-attr]
    assert "inside `* 0`, which builds nothing" in s.blocker.message


def test_unknowns_inside_groups_and_layer_arguments_given_as_yaml_text() -> None:
    """A ``?`` in a group written as a YAML value (``repeat``'s ``layers:``) or in a block's
    layer-valued argument written as text belongs to the layer inside, as in one line."""
    repeat = ("input: 32x32x3\nlayers:\n  - repeat: 2\n    layers: conv(8, 3, p=?) -> relu\n")
    s = cnncalc.solve(repeat, top=20)
    truth = brute("32x32x3 -> conv(8, 3, p=?a) -> relu -> conv(8, 3, p=?b) -> relu",
                  {"a": range(3), "b": range(3)})
    assert s.count == len(truth) == 9
    argument = ("input: 32x32x3\nblocks:\n  b(act=relu): conv(8, 3, p=1) -> act\n"
                "layers:\n  - b: {act: \"conv(8, 3, p=?)\"}\n")
    s = cnncalc.solve(argument)
    assert s.count == 3 and s.solutions[0].text == argument.replace("p=?", "p=0")


def test_a_pinned_zoo_network_with_nine_unknown_paddings() -> None:
    """VGG-16 from the zoo, its params and MACs pinned by `expect:`, with the padding of each
    of its nine 256/512 convs unknown (3⁹ = 19,683 assignments; states that differ only in
    their totals are walked once). Truth: the MACs of every assignment by the lecture's
    arithmetic (out = n + 2p − 2 for a 3×3 conv, MACs = out²·9·C_in·F, pools none), then
    every assignment whose MACs match walked for real."""
    zoo_text = (Path(cnncalc.__file__).parent / "zoo" / "vgg16.yaml").read_text()
    template = zoo_text.replace("conv(256, 3, p=1)", "conv(256, 3, p=?)").replace(
        "conv(512, 3, p=1)", "conv(512, 3, p=?)")
    assert template.count("p=?") == 3  # three repeats of three
    channels = [(128, 256), (256, 256), (256, 256), (256, 512), (512, 512), (512, 512),
                (512, 512), (512, 512), (512, 512)]

    def conv_macs(paddings: tuple[int, ...]) -> int | None:
        n, total = 56, 0
        for i, ((c, f), p) in enumerate(zip(channels, paddings, strict=True)):
            n = n + 2 * p - 2
            if n < 1:
                return None
            total += n * n * 9 * c * f
            if i % 3 == 2:
                n //= 2  # maxpool(2)
        return total

    pinned = walk(read_spec(zoo_text)[0]).totals.macs
    fixed = pinned - (conv_macs((1,) * 9) or 0)
    candidates = [c for c in itertools.product(range(3), repeat=9)
                  if (m := conv_macs(c)) is not None and fixed + m == pinned]

    def filled(paddings: tuple[int, ...]) -> str:
        text = zoo_text
        for block, f in ((0, 256), (1, 512), (2, 512)):
            body = f"conv({f}, 3, p=1) -> relu"
            ps = paddings[3 * block:3 * block + 3]
            unrolled = " -> ".join(f"conv({f}, 3, p={p}) -> relu" for p in ps)
            text = text.replace(f"  - repeat: 3\n    layers: {body}\n",
                                f"  - {json.dumps(unrolled)}\n", 1)
        assert "repeat: 3" not in text
        return text

    truth = {c for c in candidates if works(filled(c)) is not None}
    solved = cnncalc.solve(template, top=len(truth) + 1)
    assert (1,) * 9 in truth
    assert solved.count == len(truth)
    paths = [f"{b}.{r}.1" for b in (5, 7, 9) for r in (1, 2, 3)]  # repeat b, copy r, its conv
    found = {tuple({k[0]: v for k, v in s.values}[path] for path in paths)
             for s in solved.solutions}
    assert found == truth


def test_one_value_for_every_occurrence_is_said_once() -> None:
    """A `?` in a repeat is one unknown per repetition: a solution where all take the same
    value says it once, one where they differ lists each by its path."""
    code, out, _ = run("solve", "32x32x3 -> [conv(8, 3, p=?) -> relu] * 3 -> conv(4, 3, s=?)",
                       "--top", "2")
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    assert "1. padding (1:26) = 0 (all 3), stride (1:58) = 1" in lines
    assert ("2. padding (1:26) at 1.1.1 = 0, padding (1:26) at 1.2.1 = 0, padding (1:26) at "
            "1.3.1 = 1, stride (1:58) = 1") in lines
