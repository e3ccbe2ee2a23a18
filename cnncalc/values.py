"""Argument values read from their text as written: counts, sizes, paddings, flags.

Every converter takes the text of one argument and returns a typed value or
raises :class:`ValueError` with a message that says what was expected. Nothing
is evaluated as code, and ``0x3`` is the pair 0×3, never hexadecimal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .shapes import Shape, same_padding

Pair = tuple[int, int]

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)([kmgt]?)$", re.IGNORECASE)
_BYTES = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def number(text: str) -> Decimal:
    """An exact decimal, with an optional K/M/G/T suffix (powers of 1000).

    >>> number("1.5M"), number("760"), number("2.5e3")
    (Decimal('1500000.0'), Decimal('760'), Decimal('2.5E+3'))
    """
    m = _NUMBER.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a number")
    try:
        return Decimal(m.group(1)) * _SUFFIX[m.group(2).lower()]
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError(f"'{text}' is not a number") from None


def whole(text: str, minimum: int = 1) -> int:
    """A whole number ≥ ``minimum``; K/M/G suffixes allowed.

    >>> whole("64"), whole("1.5M"), whole("0", minimum=0)
    (64, 1500000, 0)
    >>> whole("2.5")
    Traceback (most recent call last):
    ValueError: '2.5' is not a whole number
    """
    if text.isdigit():  # the common case, without Decimal
        value: Decimal | int = int(text)
    else:
        value = number(text)
    if value != int(value):
        raise ValueError(f"'{text}' is not a whole number")
    if value < minimum:
        raise ValueError(f"'{text}' must be at least {minimum}")
    return int(value)


def count(text: str) -> int:
    return whole(text, 1)


def natural(text: str) -> int:
    return whole(text, 0)


def _pair(text: str, minimum: int) -> Pair:
    parts = re.split(r"[x×]", text.strip(), flags=re.IGNORECASE)
    if len(parts) == 1:
        n = whole(parts[0], minimum)
        return n, n
    if len(parts) == 2 and all(parts):
        return whole(parts[0], minimum), whole(parts[1], minimum)
    raise ValueError(f"'{text}' is not a size: write one number (3) or HxW (3x5)")


def pair(text: str) -> Pair:
    """A size ≥ 1 for both axes: ``3`` or ``3x5``.

    >>> pair("3"), pair("1x7")
    ((3, 3), (1, 7))
    """
    return _pair(text, 1)


def natural_pair(text: str) -> Pair:
    """A size ≥ 0 for both axes: ``0x3`` is 0 rows and 3 columns.

    >>> natural_pair("0x3")
    (0, 3)
    """
    return _pair(text, 0)


@dataclass(frozen=True)
class Padding:
    """``same`` (TensorFlow's rule), or explicit symmetric rows×columns (``valid`` is 0)."""

    hw: Pair = (0, 0)
    same: bool = False

    def resolve(self, size: Pair, kernel: Pair, stride: Pair, dilation: Pair
                ) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` for an input of ``size`` (H, W).

        >>> Padding(same=True).resolve((224, 224), (7, 7), (2, 2), (1, 1))
        (2, 3, 2, 3)
        """
        if not self.same:
            return self.hw[0], self.hw[0], self.hw[1], self.hw[1]
        top, bottom = same_padding(size[0], kernel[0], stride[0], dilation[0])
        left, right = same_padding(size[1], kernel[1], stride[1], dilation[1])
        return top, bottom, left, right

    def __str__(self) -> str:
        return "same" if self.same else format_pair(self.hw)


def padding(text: str) -> Padding:
    """``same``, ``valid``, ``2`` or ``0x3``.

    >>> padding("same").same, padding("valid").hw, padding("1x2").hw
    (True, (0, 0), (1, 2))
    """
    word = text.strip().lower()
    if word == "same":
        return Padding(same=True)
    if word == "valid":
        return Padding()
    try:
        return Padding(natural_pair(text))
    except ValueError:
        raise ValueError(f"'{text}' is not a padding: write a number, HxW, same or valid") from None


def boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"'{text}' is not true or false")


def real(text: str) -> float:
    try:
        return float(number(text))
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None


def positive_real(text: str) -> float:
    value = real(text)
    if value <= 0:
        raise ValueError(f"'{text}' must be greater than 0")
    return value


def probability(text: str) -> float:
    value = real(text)
    if not 0 <= value < 1:
        raise ValueError(f"'{text}' must be at least 0 and below 1")
    return value


def shape(text: str) -> Shape:
    """An input volume ``HxWxC`` or a flat size ``N``.

    >>> shape("32x32x3"), shape("4096")
    ((32, 32, 3), (4096,))
    """
    parts = re.split(r"[x×]", text.strip(), flags=re.IGNORECASE)
    if len(parts) not in (1, 3) or not all(parts):
        hint = f" (for one channel: {text.strip()}x1)" if len(parts) == 2 and all(parts) else ""
        raise ValueError(f"'{text}' is not a shape: write HxWxC (32x32x3) or a flat size (4096)"
                         + hint)
    return tuple(whole(p, 1) for p in parts)


def byte_size(text: str) -> int:
    """A memory size: ``700MB``, ``2GiB``, ``1.5G``, ``1048576``.

    >>> byte_size("2GiB"), byte_size("700MB"), byte_size("1.5G")
    (2147483648, 700000000, 1500000000)
    """
    m = re.match(r"^\s*(\d+\.?\d*|\.\d+)\s*([a-z]*)\s*$", text, re.IGNORECASE)
    if not m or m.group(2).lower() not in _BYTES:
        raise ValueError(f"'{text}' is not a memory size: write e.g. 700MB, 2GiB or 1048576")
    return int(Decimal(m.group(1)) * _BYTES[m.group(2).lower()])


def format_pair(p: Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def format_value(value: Any) -> str:
    """How a typed value is written back in a spec."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return format_pair(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


Converter = Callable[[str], Any]
