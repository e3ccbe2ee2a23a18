"""Expressions wherever a number goes (spec §10): ``4*width``, ``(kernel - 1) // 2``,
``max(1, C // 4)``, ``divisible(C*expand, 8)``, ``expand != 1``.

A small grammar of its own — a tokenizer and a recursive-descent parser into a tiny frozen
AST, evaluated over exact :class:`~fractions.Fraction` — never Python's ``eval``. Grammar,
with Python's precedence (loosest first) and left associativity::

    comparison := sum (('==' | '!=' | '<' | '<=' | '>' | '>=') sum)*
    sum        := product (('+' | '-') product)*
    product    := unary (('*' | '/' | '//') unary)*
    unary      := '-' unary | primary
    primary    := NUMBER | NAME | NAME '(' comparison (',' comparison)* ')' | '(' comparison ')'

- Numbers are read as v1 reads them (:func:`cnncalc.values.exact`: ``1e-6``, ``1.5M``).
  Per-axis sizes (``3x5``) are literals, never part of an expression.
- ``/`` is exact (``7/2`` is 7/2), ``//`` floors exactly (``-7 // 2`` is −4), as in Python.
- Comparisons give 1 or 0 and **chain as in Python**: ``a < b < c`` is ``a < b and b < c``
  (``b`` evaluated once, and the rest skipped once one is false), so ``3 > 2 > 1`` is 1.
- Functions: ``min(a, b, …)`` and ``max(a, b, …)`` take two or more arguments (as Python's do);
  ``ceil(x)``, ``floor(x)`` one; ``divisible(v, d)`` is torchvision's ``_make_divisible(v, d)``
  exactly (``d`` a whole number ≥ 1). Function names are lower case; names are case-sensitive.

Bounded: at most :data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of nesting, and
every intermediate numerator and denominator below :data:`MAX_VALUE`, so no text makes the
exact arithmetic hang. Every problem is an :class:`ExprError` carrying its message and the
offset in the expression text where it is (the caller adds it to the spec's line:column).
"""

from .evaluate import arithmetic, evaluate, make_divisible, render, show, whole
from .grammar import (
    MAX_DEPTH,
    MAX_LENGTH,
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
    is_literal,
    names,
    offset_of,
    parse,
)

__all__ = [
    "MAX_DEPTH", "MAX_LENGTH", "MAX_VALUE", "Call", "Chain", "Compare", "Env", "Expr", "ExprError",
    "ExprSyntaxError", "ExprValueError", "Group", "Name", "Neg", "Num", "UnknownName", "arithmetic",
    "evaluate", "is_literal", "make_divisible", "names", "offset_of", "parse", "render", "show",
    "whole",
]
