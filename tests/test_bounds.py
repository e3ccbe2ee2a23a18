"""Bounds: no number in a spec, however large, crashes, hangs or overflows cnncalc.

Every argument is bounded from its text (A006), every check is closed-form or bounded,
every lint is linear in the rows, and every integer renders without a float. The closed
forms are compared with the naive loops they replace; the activation totals with hand
arithmetic.
"""

from __future__ import annotations

import decimal
import math
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc import Report, SpecSyntaxError
from cnncalc.layers import GROUP, LAYERS, Layer, arguments, common_divisors, widest_adaptive_window
from cnncalc.lints import LINTS, Flow, Where, largest_full_stride, unread_per_stride
from cnncalc.output import columns, formats, render
from cnncalc.output.export import to_pytorch
from cnncalc.report import LayerRow
from cnncalc.spec.build import MAX_ROWS
from cnncalc.values import (
    MAX_COUNT,
    MAX_REPEAT,
    MAX_SIZE,
    decimal_text,
    exact,
    fixed_text,
    percent,
    whole,
)

from .test_cli import run

SLOW = 2.0
"""Seconds one spec may take, generously: the real figures are milliseconds…"""

PER_ROW = 1e-4
"""… plus this much per row it expands to (``[relu] * 65536`` is 65,537 rows; ~20 µs each)."""

HUGE = ["1e300", "1e9999999", "9" * 5000, "1e3000", "2147483648", "9223372036854775808",
        "1e41", "1.5T", "1e-9999999", "0.000000000000000000000000000000000000000000001"]
ODD = [*HUGE, "0", "1", "2", "3", "-1", "1.5", "2147483647", "9223372036854775807", "1e40",
       "1G", "0x0", "3x5", "2147483647x1", "1x2147483647", "1e300x2", "same", "valid", "true",
       "false", "nan", "inf", ".5", "0" * 60 + "7", "0.99999999999999999999999", "65536"]
REPEATS = [*HUGE, "0", "1", "2", "3", "-1", "1.5", "1000001", "2147483647", "1G", "3x5", "true"]
"""Repeat counts: huge and odd ones, but none that legitimately expands to 10⁴ rows or more."""
INPUTS = ["8x8x3", "1x1x1", "4", "2147483647", "2147483647x1x1", "65536x65536x3",
          "1x2147483647x8", "3x3x2147483647"]
KINDS = sorted(set(LAYERS.values()), key=lambda k: k.name)
LEAVES = [k for k in KINDS if not any(a.convert is GROUP for a in arguments(k))]


def exercise(text: str) -> Report | None:
    """Analyse ``text`` and render the report every way the CLI can; None on a syntax error.

    Fails on any other exception and on a spec taking more than :data:`SLOW` seconds.
    """
    start = time.perf_counter()
    try:
        report = cnncalc.analyze(text)
    except SpecSyntaxError as exc:
        assert exc.problems and all(p.code.startswith("S") for p in exc.problems)
        report = None
    if report is not None:
        formats.to_json(report)
        columns.to_csv(report)
        columns.to_markdown(report)
        render.summary(report).plain  # noqa: B018 - rendering is the point
        for row in report.layers:
            if isinstance(row.node, Layer) and row.input_shape and row.output_shape:
                row.node.explain(row.input_shape, row.output_shape)
        for p in report.problems:
            formats.problem_line("f.yaml", p)
            formats.github_annotation("f.yaml", p)
        if report.ok:
            to_pytorch(report)
    elapsed = time.perf_counter() - start
    rows = len(report.layers) if report is not None else 0
    assert elapsed < SLOW + PER_ROW * rows, f"{elapsed:.2f} s for {text[:200]!r}"
    return report


def problems(text: str) -> list[tuple[int, int, str]]:
    report = cnncalc.analyze(text)
    return [(p.location.line, p.location.column, p.code) for p in report.problems
            if p.location is not None and not p.code.startswith("L")]


# --------------------------------------------------------------------------- generated

values = st.sampled_from(ODD)


@st.composite
def layer(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(st.sampled_from(KINDS if depth < 2 else LEAVES))
    name = draw(st.sampled_from([n for n, k in LAYERS.items() if k is kind]))
    parts = []
    for a in arguments(kind):
        if a.convert is GROUP:
            if a.positional or draw(st.booleans()):
                groups = draw(st.lists(group(depth + 1), min_size=1, max_size=2 if a.variadic else 1))
                parts += groups if a.positional else [f"{a.name}={groups[0]}"]
        elif a.positional:
            if a.required or draw(st.booleans()):
                parts.append(draw(st.sampled_from(REPEATS) if a.name == "times" else values))
        elif draw(st.integers(0, 2)) == 0:
            parts.append(f"{draw(st.sampled_from([a.name, a.short or a.name]))}={draw(values)}")
    return f"{name}({', '.join(parts)})" if parts else name


@st.composite
def group(draw: st.DrawFn, depth: int = 0) -> str:
    items = draw(st.lists(layer(depth), max_size=2))
    text = "[" + " -> ".join(items) + "]"
    return f"{text} * {draw(st.sampled_from(REPEATS))}" if draw(st.booleans()) else text


@st.composite
def spec(draw: st.DrawFn) -> str:
    items = draw(st.lists(st.one_of(layer(), group()), min_size=1, max_size=3))
    return " -> ".join([draw(st.sampled_from(INPUTS)), *items])


@settings(max_examples=250, deadline=None, derandomize=True, database=None)
@given(spec())
def test_generated_specs_analyse_or_raise_spec_syntax_error_quickly(text: str) -> None:
    exercise(text)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_argument_position_of_every_kind_takes_huge_numbers(kind: type) -> None:
    """Each argument of each kind, in turn, gets each huge value; the rest stay sane."""
    sane = {"filters": "8", "kernel": "3", "units": "10", "size": "2", "scale": "2", "p": "1",
            "times": "2", "groups": "1"}
    for a in arguments(kind):
        if a.convert is GROUP:
            continue
        for big in [*HUGE, "2147483647", "2147483647x2147483647"]:
            parts = []
            for b in arguments(kind):
                if b.convert is GROUP:
                    parts.append("[relu]")
                elif b is a:
                    parts.append(f"{b.name}={big}")
                elif b.required:
                    parts.append(f"{b.name}={sane.get(b.name, '2')}")
            for inp in ("8x8x3", "2147483647x1x1"):
                report = exercise(f"{inp} -> {kind.name}({', '.join(parts)}) -> relu -> fc(10)")
                assert report is not None


# --------------------------------------------------------------------------- the issue's cases

def at(text: str, needle: str, nth: int = 0) -> tuple[int, int, str]:
    """(1, column, "A006") of the ``nth`` occurrence of ``needle`` in a one-line spec."""
    column = -1
    for _ in range(nth + 1):
        column = text.index(needle, column + 1)
    return 1, column + 1, "A006"


CASES = [
    ("8x8x3 -> conv(1e9999999, 3)", ["1e9999999"]),
    ("4 -> fc(1e200) -> fc(1e200)", ["1e200", "1e200"]),
    ("4 -> fc(1e3000)", ["1e3000"]),
    ("4 -> [] * 1e300", ["1e300"]),
    ("8x8x1 -> maxpool(1, s=1e300)", ["1e300"]),
    ("8x8x3 -> conv(8, 3, s=1e300)", ["1e300"]),
    ("8x8x3 -> adaptiveavgpool(1e300)", ["1e300"]),
    ("8x8x3 -> conv(8, 3, p=" + "9" * 5000 + ")", ["999"]),
    ("8x8x3 -> [relu] * 1000001", ["1000001"]),
    ("8x8x3 -> dropout(1e-9999999)", ["1e-9999999"]),  # refused as too close to 0
    # float arguments are stored as float32: beyond ±3.4e38 they would become infinity
    ("8x8x3 -> layerscale(init=1e39) -> bn(eps=4e38) -> leakyrelu(-1e39)", ["1e39", "4e38", "-1e39"]),
    # outputs beyond 2**63 − 1 elements: an error at the layer, never a huge number
    ("8x8x3 -> adaptiveavgpool(2147483647)", ["adaptiveavgpool"]),
    ("1024x1024x3 -> upsample(65536) -> upsample(65536) -> relu", ["upsample"]),  # the 2nd
    ("4 -> fc(2147483647) -> concat([fc(2147483647)], [fc(2147483647)])", []),
]


@pytest.mark.parametrize(("text", "needles"), CASES)
def test_huge_numbers_are_a006_errors_at_their_text(text: str, needles: list[str]) -> None:
    expected = [at(text, n, needles[:i].count(n)) for i, n in enumerate(needles)]
    if "upsample" in needles:
        expected = [at(text, "upsample", 1)]  # the second one overflows
    assert problems(text) == expected
    exercise(text)


def test_messages_say_the_bound_and_shorten_long_numbers() -> None:
    (p,) = cnncalc.analyze("8x8x3 -> conv(8, 3, p=" + "9" * 5000 + ")").problems
    assert "must be at most 2,147,483,647" in p.message and "2³¹ − 1" in p.message
    assert len(p.message) < 200 and "5,000 characters" in p.message
    (p,) = cnncalc.analyze("8x8x3 -> [relu] * 1e300").problems
    assert "at most 100,000" in p.message
    (p,) = [p for p in cnncalc.analyze("8x8x3 -> adaptiveavgpool(2147483647)").problems]
    assert "9,223,372,036,854,775,807" in p.message and p.suggestions


@pytest.mark.parametrize("text", [
    "input: 2147483648x1x1\nlayers: [relu]\n",
    "input: 2147483647x2147483647x3\nlayers: [relu]\n",
    "input: 1e300\nlayers: [relu]\n",
])
def test_an_input_beyond_the_bounds_is_a007(text: str) -> None:
    report = cnncalc.analyze(text)
    assert [(p.code, p.location.line if p.location else 0) for p in report.problems] == [("A007", 1)]


@pytest.mark.parametrize(("key", "value", "ok"), [
    ("max_macs", "1e300", False), ("macs", "9" * 5000, False), ("max_memory", "9" * 5000, False),
    ("max_activation_bytes", "10000000000000000000TB", False), ("max_flops", "9223372036854775807", True),
    ("max_memory", "9223372036854775807", True), ("max_macs", "15.5G", True),
])
def test_expect_numbers_are_bounded_at_2_63(key: str, value: str, ok: bool) -> None:
    report = exercise(f"input: 8x8x3\nlayers:\n  - conv(8, 3)\nexpect:\n  {key}: {value}\n")
    assert report is not None
    assert [p.code for p in report.problems if not p.code.startswith("L")] == ([] if ok else ["A006"])


def test_a_budget_overrun_by_a_huge_factor_renders_exactly() -> None:
    text = ("input: 65536x65536x3\nlayers:\n  - fc(2147483647) -> fc(2147483647)\n"
            "expect:\n  max_macs: 1\n")
    report = exercise(text)
    assert report is not None
    (p,) = [p for p in report.problems if p.code == "X003"]
    macs = 65536 * 65536 * 3 * 2147483647 + 2147483647**2
    assert f"{macs:,}" in p.message and f"({(macs - 1) * 100:,}.0%)" in p.message


# --------------------------------------------------------------------------- no hangs

@pytest.mark.parametrize("text", [
    "8x8x3 -> conv(8, 3, s={})", "8x8x3 -> adaptiveavgpool({})", "8x8x3 -> maxpool(3, s={})",
    "8x8x3 -> dwconv(3, s={}, m={})", "8x8x6 -> conv(10, 3, g={})", "8x8x{} -> conv(10, 3, g=4)",
    "8x8x3 -> conv(8, 3, d={}, s=2)", "8x8x3 -> deconv(8, 3, s={})", "8x8x3 -> conv(8, {}, s=3)",
    "{}x{}x1 -> maxpool(2, s=3) -> conv(8, 5, s=2)", "1x1x{} -> conv(16, 3, p=1) -> relu",
])
def test_analysis_time_does_not_grow_with_the_numbers(text: str) -> None:
    times = {}
    for n in (2, 100_000, 2**31 - 1):
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            exercise(text.replace("{}", str(n)))
            best = min(best, time.perf_counter() - start)
        times[n] = best
    assert times[2**31 - 1] < 0.05 + 5 * times[2], times


class CountingFlow(Flow):
    """A Flow that counts its steps: every ``after`` and every ``before`` lookup."""

    steps = 0

    def __init__(self, rows: tuple[LayerRow, ...]) -> None:
        super().__init__(rows)
        flow = self

        class Before(dict[str, LayerRow]):
            def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
                flow.steps += 1
                return super().get(key, default)

        self.before = Before(self.before)

    def after(self, row: LayerRow) -> tuple[Where, LayerRow | None]:
        self.steps += 1
        return super().after(row)


@pytest.mark.parametrize("text", [
    "8x8x3 -> [identity] * 3000",
    "1x1x8 -> " + " -> ".join(["conv(8, 3, p=1)"] * 3000),   # L003's source search
    "8x8x8 -> " + " -> ".join(["conv(9, 3, p=1) -> relu"] * 1500),   # L001's feeds_output
    "8x8x8 -> conv(9, 3, p=1) -> " + " -> ".join(["relu"] * 3000),
    "1x1x8 -> [conv(8, 3, p=1) -> relu -> dropout(0) -> identity] * 750",
    "8x8x8 -> [[relu] * 30] * 100",
])
def test_every_lint_takes_steps_linear_in_the_rows(text: str) -> None:
    report = cnncalc.analyze(text)
    rows = len(report.layers)
    assert report.ok and rows >= 3000
    for check in LINTS:
        flow = CountingFlow(report.layers)
        flow.steps = 0
        list(check(report, flow))
        assert flow.steps <= 4 * rows, (check.__name__, flow.steps, rows)  # quadratic: ~rows²/2


def test_the_issues_long_specs_finish_in_seconds() -> None:
    for text in ("8x8x3 -> [identity] * 30000",   # 100,000 took 29 s before
                 "1x1x8 -> " + " -> ".join(["conv(8, 3, p=1)"] * 5000)):  # 20,000 took 36 s
        start = time.perf_counter()
        assert cnncalc.analyze(text).ok
        assert time.perf_counter() - start < 5  # linear: well under a second when idle


def test_an_empty_group_repeated_a_million_times_costs_nothing() -> None:
    start = time.perf_counter()
    report = cnncalc.analyze(f"8x8x3 -> [] * {MAX_REPEAT} -> [[] * {MAX_REPEAT}] * 3 -> relu")
    assert report.ok and report.totals.output_shape == (8, 8, 3)
    assert time.perf_counter() - start < SLOW
    assert MAX_REPEAT == MAX_ROWS


# --------------------------------------------------------------------------- closed forms

@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 60), st.integers(1, 60))
def test_widest_adaptive_window_matches_the_loop(n: int, o: int) -> None:
    naive = max(-(-(i + 1) * n // o) - i * n // o for i in range(o))
    assert widest_adaptive_window(n, o) == naive


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 12))
def test_unread_rows_and_l006_searches_match_the_loops(kernel: int, stride: int, d: int) -> None:
    naive = stride - len({(j * d) % stride for j in range(kernel)})
    assert unread_per_stride(kernel, stride, d) == naive
    assert largest_full_stride(kernel, stride, d) == max(
        s for s in range(1, stride + 1) if stride and unread_per_stride(kernel, s, d) == 0)


def test_l006_suggestions_stay_the_loops_answers() -> None:
    fixes = [p.suggestions for text in ("32x32x3 -> conv(16, 2, s=3) -> relu",
                                        "13x13x3 -> conv(16, 3, d=2, s=4) -> relu")
             for p in cnncalc.analyze(text).problems if p.code == "L006"]
    assert fixes[0][0] == "conv(16, 2, s=2) → 16×16×16"
    # the loop's other answer, k=3, is not shown: re-analysed, (32 − 3)/3 + 1 loses input (G001)
    assert "conv(16, 3, s=3) → 10×10×16" not in fixes[0]
    # d=2, s=4: only odd strides read every row and the kernel cannot help (gcd 2); the
    # loop's answer s=3 loses input on 13 rows ((13 − 5)/3 + 1 = 3.67), so re-analysis drops it
    assert fixes[1] == ()


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.integers(1, 5000), st.integers(1, 5000), st.integers(1, 64))
def test_common_divisors_divide_both(channels: int, filters: int, groups: int) -> None:
    naive = {d for d in range(1, min(channels, filters) + 1)
             if channels % d == 0 and filters % d == 0}
    got = common_divisors(channels, filters, groups)
    assert got and set(got) <= naive
    assert [abs(d - groups) for d in got] == sorted(abs(d - groups) for d in got)


def test_g004_suggests_common_divisors_in_bounded_time() -> None:
    report = cnncalc.analyze("8x8x12 -> conv(18, 3, g=5)")
    (p,) = [p for p in report.problems if p.code == "G004"]
    assert p.suggestions and all(s.startswith("g=") for s in p.suggestions)
    assert {int(s[2:]) for s in p.suggestions} <= {1, 2, 3, 6}
    start = time.perf_counter()  # gcd 2**29: the old loop ran 2**30 times
    report = cnncalc.analyze("1x1x1073741824 -> conv(1610612736, 1, g=3)")
    assert time.perf_counter() - start < 1.0
    (p,) = [p for p in report.problems if p.code == "G004"]
    assert p.suggestions
    assert all(1073741824 % int(s[2:]) == 0 and 1610612736 % int(s[2:]) == 0
               for s in p.suggestions)


# --------------------------------------------------------------------------- exact numbers

@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 10**20), st.integers(0, 6), st.integers(-30, 25),
       st.sampled_from(["", "k", "M", "G", "T"]))
def test_numbers_are_read_exactly(mantissa: int, point: int, exponent: int, suffix: str) -> None:
    digits = str(mantissa).rjust(point + 1, "0")
    text = f"{digits[:len(digits) - point]}.{digits[len(digits) - point:]}e{exponent}{suffix}"
    scale = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}[suffix]
    truth = Fraction(mantissa, 10**point) * Fraction(10) ** exponent * scale
    if truth == 0 or Fraction(1, 10**40) <= truth <= 10**40:
        assert exact(text) == truth
    else:
        with pytest.raises(ValueError):
            exact(text)
    if truth.denominator == 1 and 1 <= truth <= MAX_SIZE:
        assert whole(text) == truth


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 10**9), st.integers(1, 10**5))
def test_exact_rendering_matches_floats_where_floats_are_exact(a: int, b: int) -> None:
    value = Fraction(a, b)
    if value >= 2**16 or (value * 1000).denominator in (1, 2, 4, 5, 8, 10):
        return  # beyond 2**16 a float's error reaches the digits shown; a decimal tie may go
    assert fixed_text(value, 2, grouped=True) == f"{a / b:,.2f}"
    assert percent(a, b) == f"{a / b:,.1%}"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 10**80), st.integers(1, 10**40), st.integers(0, 3))
def test_exact_rendering_matches_decimal_arithmetic_at_any_size(a: int, b: int, places: int
                                                                ) -> None:
    step = decimal.Decimal(1).scaleb(-places)
    with decimal.localcontext(prec=200, rounding=decimal.ROUND_HALF_EVEN):
        truth = (decimal.Decimal(a) / decimal.Decimal(b)).quantize(step)
        pct = (decimal.Decimal(100 * a) / decimal.Decimal(b)).quantize(step)
    assert fixed_text(Fraction(a, b), places) == f"{truth:,}"
    assert percent(a, b, places) == f"{pct:,}%"


@pytest.mark.parametrize("n", [10**200, 2**256, MAX_COUNT**3])
def test_huge_integers_render_without_floats(n: int) -> None:
    assert formats.human(n).endswith("T") and formats.mb(n).endswith("GB")
    assert percent(n, 3).endswith("%")


def test_macs_use_thousands_separators_like_weights() -> None:
    code, out, _ = run("8x8x3 -> conv(8, 3, p=1) -> fc(10)", "--no-verify")
    assert code == 0
    conv = next(line for line in out.splitlines() if line.startswith("1 "))
    # 3·3·3·8 = 216 weights, 216·64 = 13,824 MACs → 13.82K; fc: 512·10 = 5,120 MACs
    fc = next(line for line in out.splitlines() if line.startswith("2 "))
    assert "13.82K" in conv and "5,120" in fc.split()[-2:][0] + fc
    assert formats.human(5120) == "5,120" and formats.human(9999) == "9,999"


def test_batch_is_bounded_on_the_command_line_and_in_the_api() -> None:
    code, _, err = run("8x8x3 -> conv(8, 3)", "--no-verify", "--batch", "9" * 400)
    assert code == 2 and "2147483647" in err and "Traceback" not in err
    code, out, _ = run("8x8x3 -> conv(8, 3)", "--no-verify", "--batch", str(MAX_SIZE))
    assert code == 0 and "Activations" in out
    with pytest.raises(ValueError, match="batch"):
        cnncalc.analyze("8x8x3 -> relu", batch=MAX_SIZE + 1)


@pytest.mark.parametrize("command", ["summary", "check", "explain", "export"])
@pytest.mark.parametrize("text", ["8x8x3 -> conv(8, 3, s=1e300)", "4 -> fc(1e200) -> fc(1e200)",
                                  "8x8x3 -> adaptiveavgpool(2147483647)"])
def test_the_cli_reports_huge_numbers_with_exit_1(command: str, text: str, tmp_path: object
                                                  ) -> None:
    if command == "check":
        from pathlib import Path
        f = Path(str(tmp_path)) / "net.yaml"
        f.write_text(f"input: {text.split(' -> ', 1)[0]}\nlayers:\n  - {text.split(' -> ', 1)[1]}\n")
        text = str(f)
    args = [command, text] + (["--no-verify"] if command == "summary" else [])
    code, out, err = run(*args)
    assert code == 1, (out, err)
    assert "A006" in out + err and "Traceback" not in out + err


# --------------------------------------------------------------------------- activations

def test_activation_bytes_count_residual_sums_and_concatenations() -> None:
    r = cnncalc.analyze("8x8x4 -> residual([conv(4, 3, p=1)]) -> concat([], [conv(2, 1)]) "
                        "-> [relu] * 2", batch=2, dtype="float16")
    elements = (8 * 8 * 4      # conv in the body
                + 8 * 8 * 4    # the residual sum
                + 8 * 8 * 2    # conv(2, 1) in the second branch ([] makes no tensor)
                + 8 * 8 * 6    # the concatenation
                + 2 * 8 * 8 * 6)  # the two relus; the repeat adds nothing of its own
    assert r.totals.activation_bytes == elements * 2 * 2


def test_max_activation_bytes_sees_a_block_output() -> None:
    # The concatenation alone is 128·128·8000 floats = 524,288,000 bytes.
    text = ("input: 128x128x4000\nlayers:\n  - concat([], [])\nexpect:\n"
            "  max_activation_bytes: 500MB\n")
    report = cnncalc.analyze(text)
    assert report.totals.activation_bytes == 128 * 128 * 8000 * 4
    (p,) = [p for p in report.problems if p.code == "X003"]
    assert "524,288,000" in p.message and p.location is not None and p.location.line == 5


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 2**70), st.integers(1, 2**31 - 1))
def test_the_division_text_never_makes_a_fraction_look_whole(span: int, stride: int) -> None:
    value = Fraction(span, stride) + 1
    text = decimal_text(value)
    assert ("." in text) == (value.denominator != 1)
    assert abs(Fraction(text) - value) <= Fraction(1, 200)  # rounded, never wrong
    old = f"{float(value):.2f}".rstrip("0").rstrip(".")  # the float text it replaces
    if value < 2**16 and "." in old and (value * 1000).denominator not in (1, 2, 4, 5, 8, 10):
        assert text == old


def test_g001_shows_the_lectures_arithmetic_exactly_at_any_size() -> None:
    (p,) = [p for p in cnncalc.analyze("7x7x3 -> conv(1, 3, s=3)").problems if p.code == "G001"]
    assert p.message.startswith("(7 − 3 + 2·0)/3 + 1 = 2.33 is not an integer")
    n = 2**31 - 1  # (n − 2)/(n − 1) + 1 is 1.99999999953…: it must not print as 2
    (p,) = [p for p in cnncalc.analyze(f"{n}x1x1 -> conv(1, 2x1, s={n - 1}x1)").problems
            if p.code in ("G001", "G002")]
    assert f"({n} − 2 + 2·0)/{n - 1} + 1 = 1.9999999995" in p.message
