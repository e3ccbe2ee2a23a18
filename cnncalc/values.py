"""Argument values read from their text as written: counts, sizes, paddings, flags.

Every converter takes the text of one argument and returns a typed value or
raises :class:`ValueError` with a message that says what was expected. Nothing
is evaluated as code, and ``0x3`` is the pair 0×3, never hexadecimal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from math import prod
from typing import Any

from .shapes import Shape, same_padding

Pair = tuple[int, int]

MAX_SIZE = 2**31 - 1
"""The largest size, kernel, stride, padding, dilation, channel, group, unit, multiplier or
scale a spec may write: 2³¹ − 1, the int32 limit frameworks and exchange formats (cuDNN,
ONNX, TensorFlow's shape functions) put on one dimension."""

MAX_COUNT = 2**63 - 1
"""The largest count a spec may write in ``expect:`` (params, MACs, FLOPs, byte budgets) and
the most elements one tensor may hold: 2⁶³ − 1, the int64 that frameworks count with
(PyTorch's ``numel``). VGG-16's 15.5 G MACs are far below it."""

MAX_REPEAT = 100_000
"""The largest repeat count (``[...] * N``): the spec's limit on rows (``build.MAX_ROWS``)."""

MAX_MAGNITUDE = 40
"""Written numbers are read only between 1e−40 and 1e40 in magnitude (and with at most
:data:`MAX_DIGITS` significant digits): decided from the text, before any value is built, so
``1e9999999`` never becomes a ten-million-digit integer. Every bound above is far inside."""

MAX_DIGITS = 60

_SUFFIX = {"": 0, "k": 3, "m": 6, "g": 9, "t": 12}
_NUMBER = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?([kKmMgGtT]?)$")
_BYTES = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


class TooLarge(ValueError):
    """A number beyond :data:`MAX_MAGNITUDE`, refused from its text."""


def quoted(text: str, width: int = 40) -> str:
    """``'text'`` for a message, shortened in the middle when it is long.

    >>> quoted("1e300"), quoted("9" * 100)
    ("'1e300'", "'99999999999999999999…(100 characters)'")
    """
    text = text.strip()
    if len(text) <= width:
        return f"'{text}'"
    return f"'{text[:width // 2]}…({len(text):,} characters)'"


def exact(text: str, suffixes: bool = True) -> Fraction:
    """The exact value of a written number, refused from its text when it is out of reach.

    A K/M/G/T suffix multiplies by a power of 1000. The magnitude is worked out from the
    digits and the exponent as written, so no huge value is ever built.

    >>> exact("1.5M"), exact("760"), exact("2.5e3"), exact("1e-5")
    (Fraction(1500000, 1), Fraction(760, 1), Fraction(2500, 1), Fraction(1, 100000))
    >>> exact("1e9999999")
    Traceback (most recent call last):
    cnncalc.values.TooLarge: '1e9999999' is too large: cnncalc reads numbers up to 1e40
    """
    m = _NUMBER.match(text.strip())
    if not m or not (m.group(2) or m.group(3)) or (m.group(5) and not suffixes):
        raise ValueError(f"{quoted(text)} is not a number")
    sign, integer, fraction, exponent, suffix = m.groups()
    fraction = fraction or ""
    digits = (integer + fraction).lstrip("0")
    significant = digits.rstrip("0")
    if not significant:
        return Fraction(0)
    exp_text = (exponent or "0").lstrip("+-").lstrip("0") or "0"
    if len(exp_text) > 6:  # beyond any magnitude below; and int() stays cheap
        big = not (exponent or "").startswith("-")
    else:
        e = int(exponent or 0) + _SUFFIX[suffix.lower()]
        # value = int(significant) · 10**scale; its leading digit sits at 10**(magnitude − 1)
        scale = e - len(fraction) + (len(digits) - len(significant))
        magnitude = len(significant) + scale
        if -MAX_MAGNITUDE < magnitude and (magnitude <= MAX_MAGNITUDE or (
                magnitude == MAX_MAGNITUDE + 1 and significant == "1")):
            if len(significant) > MAX_DIGITS:
                raise ValueError(f"{quoted(text)} has more than {MAX_DIGITS} significant digits")
            mantissa = int(significant) * (-1 if sign == "-" else 1)
            return Fraction(mantissa * 10**scale) if scale >= 0 else \
                Fraction(mantissa, 10**-scale)
        big = magnitude > 0
    if big:
        raise TooLarge(f"{quoted(text)} is too large: cnncalc reads numbers up to "
                       f"1e{MAX_MAGNITUDE}")
    raise ValueError(f"{quoted(text)} is too close to 0: cnncalc reads numbers down to "
                     f"1e-{MAX_MAGNITUDE}")


def number(text: str) -> Fraction:
    """An exact number, with an optional K/M/G/T suffix (powers of 1000).

    >>> number("1.5M"), number("760")
    (Fraction(1500000, 1), Fraction(760, 1))
    """
    return exact(text)


_WHY = {MAX_SIZE: "2³¹ − 1, the largest dimension frameworks accept",
        MAX_COUNT: "2⁶³ − 1, the largest count frameworks keep",
        MAX_REPEAT: "cnncalc's limit on the layers a spec expands to"}


def whole(text: str, minimum: int = 1, maximum: int = MAX_SIZE) -> int:
    """A whole number from ``minimum`` to ``maximum``; K/M/G suffixes allowed.

    >>> whole("64"), whole("1.5M"), whole("0", minimum=0)
    (64, 1500000, 0)
    >>> whole("2.5")
    Traceback (most recent call last):
    ValueError: '2.5' is not a whole number
    >>> whole("1e300")
    Traceback (most recent call last):
    ValueError: '1e300' must be at most 2,147,483,647 (2³¹ − 1, the largest dimension frameworks accept)
    """
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit() and len(stripped) <= 18:  # the common case
        value: Fraction | int = int(stripped)
    else:
        try:
            value = exact(text)
        except TooLarge:
            value = maximum + 1  # say which bound applies here, not the reader's
        if value.denominator != 1:
            raise ValueError(f"{quoted(text)} is not a whole number")
    if value < minimum:
        raise ValueError(f"{quoted(text)} must be at least {minimum}")
    if value > maximum:
        why = _WHY.get(maximum)  # the text, never the value: it may be huge
        raise ValueError(f"{quoted(text)} must be at most {maximum:,}"
                         + (f" ({why})" if why else ""))
    return int(value)


def count(text: str) -> int:
    """A size, kernel, stride, channel or unit count: 1 … :data:`MAX_SIZE`."""
    return whole(text, 1)


def total(text: str) -> int:
    """An exact count or budget in ``expect:`` (params, MACs, FLOPs): 0 … :data:`MAX_COUNT`.

    >>> total("15.5G")
    15500000000
    """
    return whole(text, 0, MAX_COUNT)


def repeat_count(text: str) -> int:
    """A repeat count (``* N``): 0 (the identity) … :data:`MAX_REPEAT`."""
    return whole(text, 0, MAX_REPEAT)


MAX_RANK = 3
"""The most spatial axes a volume has: ``L×C`` (1-D), ``H×W×C`` (2-D), ``D×H×W×C`` (3-D)."""

Sizes = tuple[int, ...]
"""A per-axis size as written: one number ``(3,)`` that stands for every spatial axis, or one
per axis (``3x5`` → ``(3, 5)``); :func:`per_axis` resolves it against an input's rank."""


def _sizes(text: str, minimum: int) -> Sizes:
    parts = re.split(r"[x×]", text.strip(), flags=re.IGNORECASE)
    if 1 <= len(parts) <= MAX_RANK and all(parts):
        return tuple(whole(p, minimum) for p in parts)
    raise ValueError(f"{quoted(text)} is not a size: write one number (3) or one per axis "
                     "(3x5, 3x3x3)")


def pair(text: str) -> Sizes:
    """A size ≥ 1: one number for every spatial axis (``3``) or one per axis (``1x7``,
    ``3x3x3``). The rank is not fixed here: it comes from the input (:func:`per_axis`).

    >>> pair("3"), pair("1x7"), pair("3x3x3")
    ((3,), (1, 7), (3, 3, 3))
    """
    return _sizes(text, 1)


def natural_pair(text: str) -> Sizes:
    """A size ≥ 0 per axis: ``0x3`` is 0 rows and 3 columns.

    >>> natural_pair("0x3")
    (0, 3)
    """
    return _sizes(text, 0)


size = pair
natural_size = natural_pair


def per_axis(sizes: Sizes, rank: int) -> Sizes:
    """``sizes`` for ``rank`` spatial axes: one number stands for every axis.

    >>> per_axis((3,), 3), per_axis((1, 7), 2)
    ((3, 3, 3), (1, 7))
    """
    if len(sizes) == 1:
        return sizes * rank
    if len(sizes) != rank:
        raise ValueError(f"{format_sizes(sizes)} has {len(sizes)} sizes, not {rank}")
    return sizes


def fits_rank(sizes: Sizes, rank: int) -> bool:
    return len(sizes) in (1, rank)


@dataclass(frozen=True)
class Padding:
    """``same`` (TensorFlow's rule), or explicit symmetric padding per axis (``valid`` is 0).

    ``sizes`` is as written: one number for every axis, or one per axis."""

    sizes: Sizes = (0,)
    same: bool = False

    def resolve(self, size: Sizes, kernel: Sizes, stride: Sizes, dilation: Sizes
                ) -> tuple[tuple[int, int], ...]:
        """``(begin, end)`` per axis for an input of spatial ``size`` (kernel, stride and
        dilation already per axis).

        >>> Padding(same=True).resolve((224, 224), (7, 7), (2, 2), (1, 1))
        ((2, 3), (2, 3))
        >>> Padding((1,)).resolve((16, 112, 112), (3, 3, 3), (1, 1, 1), (1, 1, 1))
        ((1, 1), (1, 1), (1, 1))
        """
        if not self.same:
            return tuple((p, p) for p in per_axis(self.sizes, len(size)))
        return tuple(same_padding(n, k, s, d)
                     for n, k, s, d in zip(size, kernel, stride, dilation, strict=True))

    def __str__(self) -> str:
        return "same" if self.same else format_sizes(self.sizes)


def padding(text: str) -> Padding:
    """``same``, ``valid``, ``2``, ``0x3`` or ``0x1x1``.

    >>> padding("same").same, padding("valid").sizes, padding("1x2").sizes
    (True, (0,), (1, 2))
    """
    word = text.strip().lower()
    if word == "same":
        return Padding(same=True)
    if word == "valid":
        return Padding()
    try:
        return Padding(natural_pair(text))
    except ValueError:
        if word[:1].isdigit():  # a number's own error says more (too large, not whole…)
            raise
        raise ValueError(f"{quoted(text)} is not a padding: write a number, one per axis "
                         "(0x1x1), same or valid") from None


def boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"{quoted(text)} is not true or false")


FLOAT32_MAX = 3.4028234663852886e38
"""The largest float32: frameworks store ``eps``, slopes and initial values as float32."""


def real(text: str) -> float:
    """A real number (``eps``, ``slope``…), read exactly and rounded to a float once; refused
    beyond float32's range, where PyTorch would store infinity.

    >>> real("1e-5"), real("0.5")
    (1e-05, 0.5)
    >>> real("-1e39")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: '-1e39' is beyond float32's range (±3.4·10³⁸), where frameworks store it: ...
    """
    exact = number(text)
    if abs(exact) > FLOAT32_MAX:
        raise ValueError(f"{quoted(text)} is beyond float32's range (±3.4·10³⁸), where "
                         "frameworks store it: it would become infinity")
    return float(exact)


def positive_real(text: str) -> float:
    """A real number above 0 (``eps``); :func:`number` refuses anything a float rounds to 0.

    >>> positive_real("1e-5")
    1e-05
    """
    value = real(text)
    if value <= 0:
        raise ValueError(f"{quoted(text)} must be greater than 0")
    return value


def probability(text: str) -> float:
    """A probability in [0, 1) that stays below 1 as a float (dropout's ``p``).

    >>> probability("0.5")
    0.5
    >>> probability("0.99999999999999999999")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: '0.99999999999999999999' rounds to 1 as a float (what frameworks store)...
    """
    exact = number(text)
    if not 0 <= exact < 1:
        raise ValueError(f"{quoted(text)} must be at least 0 and below 1")
    value = float(exact)
    if value >= 1:
        raise ValueError(f"{quoted(text)} rounds to 1 as a float (what frameworks store), which "
                         "would drop everything: write at most 0.9999999")
    return value


def shape(text: str) -> Shape:
    """An input volume — ``LxC`` (1-D), ``HxWxC`` (2-D), ``DxHxWxC`` (3-D) — or a flat size
    ``N``; each size at most :data:`MAX_SIZE`, the whole at most :data:`MAX_COUNT` elements.

    >>> shape("32x32x3"), shape("4096"), shape("16000x1"), shape("16x112x112x3")
    ((32, 32, 3), (4096,), (16000, 1), (16, 112, 112, 3))
    """
    parts = re.split(r"[x×]", text.strip(), flags=re.IGNORECASE)
    if not 1 <= len(parts) <= MAX_RANK + 1 or not all(parts):
        raise ValueError(f"{quoted(text)} is not a shape: write LxC (16000x1), HxWxC (32x32x3), "
                         "DxHxWxC (16x112x112x3) or a flat size (4096)")
    sizes = tuple(whole(p, 1) for p in parts)
    if prod(sizes) > MAX_COUNT:
        raise ValueError(f"{quoted(text)} holds {prod(sizes):,} elements, more than {MAX_COUNT:,} "
                         f"({_WHY[MAX_COUNT]})")
    return sizes


def byte_size(text: str) -> int:
    """A memory size: ``700MB``, ``2GiB``, ``1.5G``, ``1048576``; at most :data:`MAX_COUNT`.

    >>> byte_size("2GiB"), byte_size("700MB"), byte_size("1.5G")
    (2147483648, 700000000, 1500000000)
    """
    m = re.match(r"^\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*([a-z]*)\s*$", text, re.IGNORECASE)
    if not m or m.group(2).lower() not in _BYTES:
        raise ValueError(f"{quoted(text)} is not a memory size: write e.g. 700MB, 2GiB or 1048576")
    value = exact(m.group(1), suffixes=False) * _BYTES[m.group(2).lower()]
    if value > MAX_COUNT:
        raise ValueError(f"{quoted(text)} must be at most {MAX_COUNT:,} bytes ({_WHY[MAX_COUNT]})")
    return int(value)


def decimal_text(value: Fraction | int, places: int = 2, grouped: bool = False,
                 exact_looking: bool = True) -> str:
    """An exact number rounded (half to even) to ``places`` decimals, trailing zeros dropped.
    No float is involved, so any size renders. With ``exact_looking`` a fraction that would
    round to a whole number gets more decimals (up to 30) until it no longer looks whole.

    >>> decimal_text(Fraction(7, 3)), decimal_text(Fraction(5, 2)), decimal_text(3)
    ('2.33', '2.5', '3')
    >>> decimal_text(Fraction(2999, 1000)), decimal_text(10**50 + Fraction(1, 3), grouped=True)[-8:]
    ('2.999', '0,000.33')
    """
    value = Fraction(value)
    scaled = round(value * 10**places)
    while exact_looking and places < 30 and scaled % 10**places == 0 and value.denominator != 1:
        places += 1  # a fraction that rounds to a whole number: show where it differs
        scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    whole_part, frac = divmod(abs(scaled), 10**places)
    text = f"{whole_part:,}" if grouped else str(whole_part)
    digits = f"{frac:0{places}d}".rstrip("0") if places else ""
    return sign + text + (f".{digits}" if digits else "")


def fixed_text(value: Fraction | int, places: int, grouped: bool = True) -> str:
    """Like Python's ``f"{x:,.{places}f}"`` but exact (half to even): ``12.50``.

    >>> fixed_text(Fraction(25, 2), 2), fixed_text(10**30, 1)[:6]
    ('12.50', '1,000,')
    """
    scaled = round(Fraction(value) * 10**places)
    sign = "-" if scaled < 0 else ""
    whole_part, frac = divmod(abs(scaled), 10**places)
    text = f"{whole_part:,}" if grouped else str(whole_part)
    return sign + text + (f".{frac:0{places}d}" if places else "")


def percent(part: int, whole: int, places: int = 1) -> str:
    """``part / whole`` as a percentage like ``f"{part / whole:.1%}"``, but exact: no float,
    so any size renders.

    >>> percent(1, 8), percent(2, 3, 0), percent(1, 2), percent(10**60, 1, 0)[:6]
    ('12.5%', '67%', '50.0%', '100,00')
    """
    return fixed_text(Fraction(100 * part, whole), places) + "%"


def format_sizes(p: Sizes) -> str:
    """A per-axis size as a spec writes it: ``3``, ``3x5``, ``1x7x7``.

    >>> format_sizes((3,)), format_sizes((3, 5)), format_sizes((3, 3))
    ('3', '3x5', '3x3')
    """
    return str(p[0]) if len(p) == 1 else "x".join(map(str, p))


format_pair = format_sizes


def format_value(value: Any) -> str:
    """How a typed value is written back in a spec."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        return format_sizes(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


Converter = Callable[[str], Any]
