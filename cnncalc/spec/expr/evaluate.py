"""Evaluating expressions exactly, and showing their arithmetic (see :mod:`cnncalc.spec.expr`)."""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable
from fractions import Fraction

from ... import values as v
from ..syntax import clip
from .grammar import (
    MAX_VALUE,
    Call,
    Chain,
    Compare,
    Env,
    Expr,
    ExprError,
    ExprSyntaxError,
    ExprValueError,
    Group,
    Name,
    Neg,
    Num,
    UnknownName,
    offset_of,
    parse,
    walk,
)

# --- evaluation -----------------------------------------------------------------------------

def make_divisible(value: Fraction, divisor: int) -> Fraction:
    """torchvision's ``_make_divisible(v, divisor)`` (min_value = divisor), exactly: round to
    the nearest multiple of ``divisor``, at least ``divisor``, and never below 90 % of ``v``.

    >>> make_divisible(Fraction(96), 8), make_divisible(Fraction(20), 16), make_divisible(Fraction(9), 8)
    (Fraction(96, 1), Fraction(32, 1), Fraction(16, 1))
    """
    new = max(divisor, math.floor(value + Fraction(divisor, 2)) // divisor * divisor)
    if new < Fraction(9, 10) * value:
        new += divisor
    return Fraction(new)


def _bounded(value: Fraction, offset: int, what: Callable[[], str]) -> Fraction:
    if abs(value.numerator) >= MAX_VALUE or value.denominator >= MAX_VALUE:
        part = "value" if abs(value.numerator) >= MAX_VALUE else "denominator"
        raise ExprValueError(f"{what()} has a {part} beyond 10¹⁰⁰, cnncalc's bound on the exact "
                             "arithmetic of expressions", offset)
    return value


_ARITHMETIC: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": lambda a, b: Fraction(a // b),
}
_COMPARISONS: dict[str, Callable[[Fraction, Fraction], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge,
}


def _arith(op: str, left: Fraction, right: Fraction, offset: int) -> Fraction:
    if right == 0 and op in ("/", "//"):
        raise ExprValueError(f"division by zero: {clip(show(left), 30)} {op} 0", offset)
    return _bounded(_ARITHMETIC[op](left, right), offset,
                    lambda: clip(f"{show(left)} {op} {show(right)}"))


_ARITY: dict[str, tuple[int, int | None, str]] = {
    "min": (2, None, "min(a, b, …)"), "max": (2, None, "max(a, b, …)"),
    "ceil": (1, 1, "ceil(x)"), "floor": (1, 1, "floor(x)"), "divisible": (2, 2, "divisible(v, d)"),
}


def _call(node: Call, args: list[Fraction]) -> Fraction:
    if node.name == "min":
        return min(args)
    if node.name == "max":
        return max(args)
    if node.name == "ceil":
        return Fraction(math.ceil(args[0]))
    if node.name == "floor":
        return Fraction(math.floor(args[0]))
    value, divisor = args
    if divisor.denominator != 1 or divisor < 1:
        raise ExprValueError(f"divisible's divisor must be a whole number of at least 1, not "
                             f"{show(divisor)}", offset_of(node.args[1]))
    return _bounded(make_divisible(value, int(divisor)), node.offset, lambda: "divisible(…)")


def _eval(node: Expr, env: Env) -> Fraction:
    match node:
        case Num(_, value):
            return value
        case Name(name):
            return Fraction(env[name])
        case Group(inner):
            return _eval(inner, env)
        case Neg(operand):
            return -_eval(operand, env)
        case Chain(first, rest):
            value = _eval(first, env)
            for op, offset, operand in rest:
                value = _arith(op, value, _eval(operand, env), offset)
            return value
        case Compare(first, rest):
            left = _eval(first, env)
            for op, _, operand in rest:
                right = _eval(operand, env)
                if not _COMPARISONS[op](left, right):
                    return Fraction(0)  # Python's chaining stops at the first false link
                left = right
            return Fraction(1)
        case Call():
            return _call(node, [_eval(arg, env) for arg in node.args])


def _check(tree: Expr, env: Env) -> None:
    """Every name defined and every call known, with its arity: first problem in the text."""
    problems: list[ExprError] = []
    for node in walk(tree):
        if isinstance(node, Name) and node.name not in env:
            problems.append(_unknown(node.name, node.offset, list(env)))
        elif isinstance(node, Call):
            if node.name not in _ARITY:
                problems.append(_unknown(node.name, node.offset, list(_ARITY), "function "))
                continue
            low, high, usage = _ARITY[node.name]
            if len(node.args) < low or (high is not None and len(node.args) > high):
                many = f"{low}" if low == high else f"at least {low}"
                problems.append(ExprSyntaxError(
                    f"{node.name} takes {many} argument{'s' * (low != 1)} ({usage}), not "
                    f"{len(node.args)}", node.offset))
    if problems:
        raise min(problems, key=lambda p: p.offset)


def _unknown(name: str, offset: int, known: list[str], what: str = "") -> UnknownName:
    same_case = [k for k in known if k.lower() == name.lower()]
    close = same_case or difflib.get_close_matches(name, known, n=1)
    suggestion = close[0] if close else None
    if not what and name in _ARITY:
        return UnknownName(f"{name!r} is a function: call it, {_ARITY[name][2]}", offset, name,
                           None)
    hint = f": did you mean {suggestion!r}?" if suggestion else ""
    if not what and not suggestion and known:
        hint = f" (defined here: {', '.join(sorted(known)[:8])}{', …' * (len(known) > 8)})"
    if what and not suggestion:
        hint = f" (functions: {', '.join(_ARITY)})"
    return UnknownName(f"unknown {what}name {name!r}{hint}", offset, name, suggestion)


def evaluate(expr: Expr | str, env: Env) -> Fraction:
    """The exact value of an expression where ``env`` gives the names' values.

    >>> evaluate("max(1, C // 4) + 4*width", {"C": 10, "width": 16})
    Fraction(66, 1)
    >>> evaluate("(kernel - 1) / 2 < 2 < 3", {"kernel": 5})
    Fraction(0, 1)
    """
    tree = parse(expr) if isinstance(expr, str) else expr
    _check(tree, env)
    return _eval(tree, env)


def whole(expr: Expr | str, env: Env, minimum: int | None = None,
          maximum: int | None = None) -> int:
    """The value of an expression where a whole number is needed (a channel count, a kernel,
    a repeat count…), optionally within ``minimum``…``maximum``; otherwise an
    :class:`ExprValueError` that shows the arithmetic.

    >>> whole("0.75*C", {"C": 12})
    9
    >>> whole("0.75*C", {"C": 10})
    Traceback (most recent call last):
    cnncalc.spec.expr.ExprValueError: 0.75·C = 0.75·10 = 7.5 is not a whole number
    """
    tree = parse(expr) if isinstance(expr, str) else expr
    value = evaluate(tree, env)
    if value.denominator != 1:
        raise ExprValueError(f"{arithmetic(tree, env, value)} is not a whole number", 0)
    if minimum is not None and value < minimum:
        raise ExprValueError(f"{arithmetic(tree, env, value)} must be at least {minimum:,}", 0)
    if maximum is not None and value > maximum:
        raise ExprValueError(f"{arithmetic(tree, env, value)} must be at most {maximum:,}", 0)
    return int(value)


# --- showing the arithmetic -----------------------------------------------------------------

def show(value: Fraction | int) -> str:
    """An exact value as a message writes it: ``10``, ``7.5``, ``11/3``.

    >>> show(Fraction(15, 2)), show(Fraction(11, 3)), show(Fraction(-1, 8)), show(4)
    ('7.5', '11/3', '-0.125', '4')
    """
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    den, places = value.denominator, 0
    while den % 10 == 0 or den % 5 == 0 or den % 2 == 0:
        den //= 2 if den % 2 == 0 else 5
        places += 1
    if den == 1 and places <= 40:  # a terminating decimal: written in full
        return v.decimal_text(value, places=places, exact_looking=False)
    return f"{value.numerator}/{value.denominator}"


def render(expr: Expr, env: Env | None = None) -> str:
    """The expression as written (``*`` as ``·``), or with ``env``'s values put in for names.

    >>> render(parse("0.75 * C + (k-1)//2")), render(parse("C - n"), {"C": 10, "n": -1})
    ('0.75·C + (k - 1) // 2', '10 - (-1)')
    """
    match expr:
        case Num(text):
            return text
        case Name(name):
            if env is None or name not in env:
                return name
            value = Fraction(env[name])
            text = show(value)
            return f"({text})" if value < 0 or "/" in text else text
        case Group(inner):
            return f"({render(inner, env)})"
        case Neg(operand):
            return f"-{render(operand, env)}"
        case Chain(first, rest) | Compare(first, rest):
            parts = [render(first, env)]
            for op, _, operand in rest:
                parts.append(("·" if op == "*" else f" {op} ") + render(operand, env))
            return "".join(parts)
        case Call(name, args):
            return f"{name}({', '.join(render(a, env) for a in args)})"


def arithmetic(expr: Expr | str, env: Env, value: Fraction | None = None) -> str:
    """``0.75·C = 0.75·10 = 7.5``: the expression, its names' values, its value (steps that
    repeat the previous one are left out; each step clipped to 60 characters).

    >>> arithmetic("0.75*C", {"C": 10}), arithmetic("n", {"n": Fraction(5, 2)})
    ('0.75·C = 0.75·10 = 7.5', 'n = 2.5')
    """
    tree = parse(expr) if isinstance(expr, str) else expr
    if value is None:
        value = evaluate(tree, env)
    steps: list[str] = []
    for step in (render(tree), render(tree, env), show(value)):
        if not steps or steps[-1] != step:
            steps.append(clip(step))
    return " = ".join(steps)
