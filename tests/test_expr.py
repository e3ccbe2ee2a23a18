"""The expression language of spec §10 (cnncalc.spec.expr): precedence, associativity and
exact arithmetic against Python's own evaluation of the same text (the oracle, here in the
test only: the package never evaluates Python), ``divisible`` against a copy of torchvision's
``_make_divisible``, every error class located at its offset, and the bounds."""

from __future__ import annotations

import math
import re
import time
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnncalc.spec import expr as x
from cnncalc.spec.expr import (
    ExprError,
    ExprSyntaxError,
    ExprValueError,
    UnknownName,
    arithmetic,
    evaluate,
    is_literal,
    names,
    whole,
)

ENV: dict[str, F | int] = {"a": 7, "b": -3, "width": 64, "C": 10, "half": F(1, 2), "z": 0}
OPS = ["+", "-", "*", "/", "//", "==", "!=", "<", "<=", ">", ">="]
LITERALS = {"0": F(0), "1": F(1), "2": F(2), "3": F(3), "12": F(12), "0.5": F(1, 2),
            "1.25": F(5, 4), "2.5e1": F(25), "1e-3": F(1, 1000), "1.5K": F(1500), "2M": F(2 * 10**6)}


def oracle(text: str) -> F:
    """Python's own value of ``text`` (literals already written as ``F(...)``), exactly."""
    # ceil/floor as exact Fractions: Python's int / int would be a float (1 / 3 inexact)
    scope = {"F": F, "min": min, "max": max, "ceil": lambda x: F(math.ceil(x)),
             "floor": lambda x: F(math.floor(x)), **ENV}
    scope.update({k: F(val) for k, val in ENV.items()})
    return F(eval(text, {"__builtins__": {}}, scope))  # the test's oracle, never the package's


def _pair(text: str, py: str) -> tuple[str, str]:
    return text, py


_atoms = st.one_of(
    st.integers(0, 60).map(lambda n: _pair(str(n), f"F({n})")),
    st.sampled_from(sorted(LITERALS)).map(lambda t: _pair(t, f"F({LITERALS[t].numerator}, "
                                                            f"{LITERALS[t].denominator})")),
    st.sampled_from(sorted(ENV)).map(lambda n: _pair(n, n)),
)


def _extend(kids: st.SearchStrategy[tuple[str, str]]) -> st.SearchStrategy[tuple[str, str]]:
    return st.one_of(
        st.tuples(kids, st.sampled_from(OPS), kids).map(
            lambda t: _pair(f"{t[0][0]} {t[1]} {t[2][0]}", f"{t[0][1]} {t[1]} {t[2][1]}")),
        kids.map(lambda k: _pair(f"({k[0]})", f"({k[1]})")),
        kids.map(lambda k: _pair(f"-{k[0]}", f"-{k[1]}")),
        st.tuples(st.sampled_from(["min", "max"]), kids, kids).map(
            lambda t: _pair(f"{t[0]}({t[1][0]}, {t[2][0]})", f"{t[0]}({t[1][1]}, {t[2][1]})")),
        st.tuples(st.sampled_from(["ceil", "floor"]), kids).map(
            lambda t: _pair(f"{t[0]}({t[1][0]})", f"{t[0]}({t[1][1]})")),
    )


expressions = st.recursive(_atoms, _extend, max_leaves=10)


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(expressions)
def test_random_expressions_evaluate_as_python_does(pair: tuple[str, str]) -> None:
    text, py = pair
    try:
        expected: F | None = oracle(py)
    except ZeroDivisionError:
        expected = None
    try:
        got: F | None = evaluate(text, ENV)
    except ExprSyntaxError as e:  # only the nesting bound, which Python does not have
        assume("levels deep" not in e.message)
        raise
    except ExprValueError as e:
        assert expected is None, (text, e.message)
        assert e.message.startswith("division by zero"), e.message
        return
    assert got == expected, text
    assert names(text) <= set(ENV)


@pytest.mark.parametrize(("text", "value"), [
    ("2 + 3 * 4", 14), ("(2 + 3) * 4", 20), ("10 - 4 - 3", 3), ("10 - (4 - 3)", 9),
    ("100 // 10 // 3", 3), ("100 // (10 // 3)", 33), ("2 * 3 // 4", 1), ("2 * (3 // 4)", 0),
    ("7 / 2 * 2", 7), ("7 // 2 * 2", 6), ("8 / 4 / 2", 1), ("-7 // 2", -4), ("7 // -2", -4),
    ("-2 * -3", 6), ("- - 3", 3), ("2 - -3", 5), ("1 + 1 == 2", 1), ("1 + (1 == 2)", 1),
    ("1 < 2 < 3", 1), ("3 > 2 > 1", 1), ("(3 > 2) > 1", 0), ("1 < 3 > 2", 1), ("2 == 2 == 2", 1),
    ("(2 == 2) == 2", 0), ("1 != 1 < 1 / 0", 0), ("7 / 2 // 1", 3), ("0.1 + 0.2 == 0.3", 1),
    ("min(3, 1, 2)", 1), ("max(-1, -5)", -1), ("ceil(7 / 2)", 4), ("floor(-7 / 2)", -4),
    ("ceil(-0.5)", 0), ("1.5M // 1K", 1500), ("1e-6 * 1e6", 1), ("width // 2 + C", 42),
])
def test_precedence_and_associativity_table(text: str, value: int) -> None:
    assert evaluate(text, ENV) == value
    assert evaluate(text, ENV) == oracle(re.sub(r"(?<![\w.])(\d+(?:\.\d*)?(?:e-?\d+)?)([MK]?)",
                                                lambda m: f"(F('{m[1]}')*{_scale(m[2])})", text))


def _scale(suffix: str) -> int:
    return {"": 1, "K": 1000, "M": 10**6}[suffix]


def test_division_is_exact_and_floor_division_floors() -> None:
    assert evaluate("1 / 3 + 1 / 6", {}) == F(1, 2)
    assert evaluate("C / 4", {"C": 10}) == F(5, 2)
    assert evaluate("(C + 1) // 4", {"C": 10}) == 2
    assert evaluate("half * 3", ENV) == F(3, 2)


def torchvision_make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, copied as it is written there."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@pytest.mark.parametrize("d", [1, 2, 4, 8, 16])
def test_divisible_is_torchvisions_make_divisible(d: int) -> None:
    for v in range(1, 2001):
        assert whole(f"divisible({v}, {d})", {}) == torchvision_make_divisible(v, d), (v, d)


def test_divisible_on_channel_times_expand_ratios_as_efficientnet_calls_it() -> None:
    for c in range(1, 400):
        for expand in ("1", "4", "6", "0.25", "4.5", "2.5"):
            got = whole("divisible(C * e, 8)", {"C": c, "e": F(expand)})
            assert got == torchvision_make_divisible(c * float(expand), 8), (c, expand)


def test_divisible_needs_a_whole_divisor_of_at_least_one() -> None:
    for text in ("divisible(10, 0)", "divisible(10, 2.5)", "divisible(10, -8)"):
        with pytest.raises(ExprValueError, match="divisor must be a whole number") as e:
            evaluate(text, {})
        assert e.value.offset == 14


@pytest.mark.parametrize(("text", "cls", "offset", "message"), [
    ("", ExprSyntaxError, 0, "empty expression"),
    ("(C + 1", ExprSyntaxError, 0, "'(' is never closed: add ')'"),
    ("max(1, (C + 1)", ExprSyntaxError, 3, "'(' is never closed"),
    ("C + 1)", ExprSyntaxError, 5, "')' has no matching '('"),
    ("n -", ExprSyntaxError, 2, "the expression ends after '-': write what follows it"),
    ("4 * ", ExprSyntaxError, 2, "ends after '*'"),
    ("2 * / 3", ExprSyntaxError, 4, "two operators in a row: '*' then '/'"),
    ("2 + + 3", ExprSyntaxError, 4, "two operators in a row: '+' then '+'"),
    ("* 3", ExprSyntaxError, 0, "expected a number, a name or '(' at the start, not '*'"),
    ("2 3", ExprSyntaxError, 2, "missing operator between '2' and '3'"),
    ("C width", ExprSyntaxError, 2, "missing operator between 'C' and 'width'"),
    ("()", ExprSyntaxError, 0, "empty parentheses"),
    ("1, 2", ExprSyntaxError, 1, "',' outside a call"),
    ("2 ** 3", ExprSyntaxError, 2, "'**' (powers) is not part of expressions"),
    ("C % 2", ExprSyntaxError, 2, "unexpected character '%'"),
    ("n = 1", ExprSyntaxError, 2, "compare with =="),
    ("3 × n", ExprSyntaxError, 2, "multiply with *"),
    ("2n", ExprSyntaxError, 0, "'2n' is not a number"),
    ("3x5 + 1", ExprSyntaxError, 0, "'3x5' is a per-axis size"),
    ("1e99 * 2", ExprValueError, 0, "'1e99' is too large"),
    ("min(1)", ExprSyntaxError, 0, "min takes at least 2 arguments (min(a, b, …)), not 1"),
    ("1 + ceil(1, 2)", ExprSyntaxError, 4, "ceil takes 1 argument (ceil(x)), not 2"),
    ("divisible(C)", ExprSyntaxError, 0, "divisible takes 2 arguments (divisible(v, d)), not 1"),
    ("1 + round(C)", UnknownName, 4, "unknown function name 'round' (functions: min, max,"),
    ("Max(1, C)", UnknownName, 0, "unknown function name 'Max': did you mean 'max'?"),
    ("4 * widht", UnknownName, 4, "unknown name 'widht': did you mean 'width'?"),
    ("c // 4", UnknownName, 0, "unknown name 'c': did you mean 'C'?"),
    ("C + qqq", UnknownName, 4, "unknown name 'qqq' (defined here: C, a, b, half, width, z)"),
    ("min + 1", UnknownName, 0, "'min' is a function: call it, min(a, b, …)"),
    ("C / z", ExprValueError, 2, "division by zero: 10 / 0"),
    ("1 + C // (a - 7)", ExprValueError, 6, "division by zero: 10 // 0"),
])
def test_errors_say_what_and_where(text: str, cls: type[ExprError], offset: int,
                                   message: str) -> None:
    with pytest.raises(cls) as e:
        evaluate(text, ENV)
    assert message in e.value.message, e.value.message
    assert e.value.offset == offset
    assert isinstance(e.value, ValueError)  # callers that read v1 values catch ValueError


def test_unknown_name_carries_the_name_and_the_suggestion() -> None:
    with pytest.raises(UnknownName) as e:
        evaluate("strid + 1", {"stride": 2})
    assert (e.value.name, e.value.suggestion, e.value.offset) == ("strid", "stride", 0)


def test_the_first_problem_in_the_text_is_reported() -> None:
    with pytest.raises(UnknownName) as e:
        evaluate("max(q, 1) + p", {})
    assert (e.value.name, e.value.offset) == ("q", 4)


def test_whole_shows_the_arithmetic() -> None:
    with pytest.raises(ExprValueError) as e:
        whole("0.75*C", {"C": 10})
    assert e.value.message == "0.75·C = 0.75·10 = 7.5 is not a whole number"
    with pytest.raises(ExprValueError, match=r"^\(C \+ 1\) / 3 = \(10 \+ 1\) / 3 = 11/3 is not "):
        whole("(C + 1) / 3", {"C": 10})
    with pytest.raises(ExprValueError, match=r"^2.5 is not a whole number$"):
        whole("2.5", {})
    with pytest.raises(ExprValueError, match=r"^n = 2.5 is not a whole number$"):
        whole("n", {"n": F(5, 2)})
    with pytest.raises(ExprValueError, match=r"^C // 4 = 3 // 4 = 0 must be at least 1$"):
        whole("C // 4", {"C": 3}, minimum=1)
    with pytest.raises(ExprValueError, match=r"^C - n = 10 - \(-1\) = 11 must be at most 10$"):
        whole("C - n", {"C": 10, "n": -1}, maximum=10)
    assert whole("0.75*C", {"C": 12}) == 9
    assert whole("max(1, C // 4)", {"C": 3}, minimum=1) == 1


def test_arithmetic_of_a_long_expression_is_clipped() -> None:
    text = " + ".join(["width"] * 50)
    shown = arithmetic(text, ENV)
    assert shown.endswith(" = 3200") and len(shown) < 150


def test_names_are_the_parameters_an_expression_reads() -> None:
    assert names("divisible(C * expand, 8) + max(1, C // 4)") == {"C", "expand"}
    assert names("12") == frozenset()
    assert names("ceil(x) + floor(y) * min(p, q)") == {"x", "y", "p", "q"}


@pytest.mark.parametrize(("text", "literal"), [
    ("64", True), (" 64 ", True), ("1.5M", True), ("1e-6", True), ("-0.5", True),
    ("3x5", True), ("1x7x7", True), ("3X3", True), ("2.5e3", True),
    ("width", False), ("2*C", False), ("(3)", False), ("same", False), ("true", False),
    ("-n", False), ("1 + 2", False), ("min(1, 2)", False), ("", False), ("3x", False),
])
def test_is_literal(text: str, literal: bool) -> None:
    assert is_literal(text) is literal


def test_literals_mean_what_the_v1_reader_reads() -> None:
    from cnncalc import values
    for text in ("64", "1.5M", "1e-6", "2.5e3", "0.5", "12K", "1G"):
        assert is_literal(text) and evaluate(text, {}) == values.number(text)


def _fast(fn: object, *args: object) -> ExprError:
    start = time.perf_counter()
    with pytest.raises(ExprError) as e:
        fn(*args)  # type: ignore[operator]
    assert time.perf_counter() - start < 1.0
    return e.value


def test_bounds_long_text_is_refused_from_its_length() -> None:
    e = _fast(evaluate, "1+" * 5000 + "1", {})
    assert isinstance(e, ExprSyntaxError) and "10,001 characters long" in e.message
    assert e.offset == 0


def test_bounds_thousands_of_terms_within_the_length_evaluate_fast() -> None:
    start = time.perf_counter()
    assert evaluate("+".join(["C"] * 4999), {"C": 3}) == 3 * 4999
    assert evaluate("*".join(["1"] * 4999) + "+ C", {"C": 3}) == 4
    assert evaluate(" < ".join(map(str, range(1000))), {}) == 1
    assert time.perf_counter() - start < 20  # a hang guard, not a benchmark (bench_cli times it)


def test_bounds_deep_nesting() -> None:
    e = _fast(evaluate, "(" * 4000 + "1" + ")" * 4000, {})
    assert isinstance(e, ExprSyntaxError) and "nests more than 32 levels" in e.message
    assert e.offset == x.MAX_DEPTH
    e = _fast(evaluate, "-" * 9000 + "1", {})
    assert "nests more than 32 levels" in e.message
    e = _fast(evaluate, "min(" * 1000 + "1" + ", 1)" * 1000, {})
    assert "nests more than 32 levels" in e.message and e.offset == 4 * x.MAX_DEPTH + 3  # the 33rd call's (
    assert evaluate("(" * 32 + "1" + ")" * 32, {}) == 1


def test_bounds_huge_values() -> None:
    e = _fast(evaluate, "9e39 * 9e39 * 9e39", {})
    assert isinstance(e, ExprValueError) and "beyond 10¹⁰⁰" in e.message
    assert e.offset == 12  # the product that crosses the bound
    e = _fast(evaluate, "1e-40 * 1e-40 * 3e-40", {})
    assert "denominator beyond 10¹⁰⁰" in e.message
    e = _fast(evaluate, " * ".join(["n"] * 2000), {"n": 10**39})
    assert "beyond 10¹⁰⁰" in e.message
    e = _fast(evaluate, "1" + " / 7" * 2000, {})
    assert "denominator beyond" in e.message
    e = _fast(evaluate, "divisible(9.99e39 * 1e30 * 1e30, 1e39 * 1e30 * 1e30)", {})
    assert "beyond 10¹⁰⁰" in e.message
    assert evaluate("9e39 * 9e39 / 9e39", {}) == 9 * 10**39


def test_the_package_never_evaluates_python() -> None:
    for path in Path(x.__file__).parent.glob("*.py"):
        source = path.read_text()
        assert not re.search(r"(?<![\w.])(eval|exec|compile)\(|import ast|from ast", source), path
