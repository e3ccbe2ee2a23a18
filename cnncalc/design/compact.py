"""Sets of whole numbers as arithmetic progressions: the pieces ``cnncalc sizes`` finds, and
the compact form it shows (runs, ``32, 64, 96, …`` progressions, a short irregular prefix).

Work is bounded by the number of pieces and the periods, never by the size of the numbers:
a periodic tail (every piece that runs to the end of the range) is written per residue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import gcd

MAX_BITMAP = 1 << 22
"""Widest stretch of numbers written out one by one before compacting (4 MB)."""

MAX_PERIOD = 1 << 16
"""Largest common period of a periodic tail compacted per residue."""


@dataclass(frozen=True, slots=True)
class Progression:
    """``first, first + step, …`` — ``count`` numbers (a run when ``step`` is 1).

    >>> p = Progression(32, 32, 32)
    >>> p.last, 96 in p, 100 in p, p.to_dict()
    (1024, True, False, {'first': 32, 'last': 1024, 'step': 32})
    """

    first: int
    step: int
    count: int

    @property
    def last(self) -> int:
        return self.first + self.step * (self.count - 1)

    def __contains__(self, n: object) -> bool:
        return (isinstance(n, int) and self.first <= n <= self.last
                and (n - self.first) % self.step == 0)

    def at(self, t: int) -> int:
        return self.first + self.step * t

    def part(self, start: int, stop: int, every: int = 1) -> Progression:
        """Terms ``start, start + every, …`` below ``stop`` (indices into this progression)."""
        return Progression(self.at(start), self.step * every, max(0, -(-(stop - start) // every)))

    def below(self, n: int) -> int | None:
        """The largest term < ``n``, or None."""
        if n <= self.first:
            return None
        return self.first + self.step * min(self.count - 1, (n - 1 - self.first) // self.step)

    def above(self, n: int) -> int | None:
        """The smallest term > ``n``, or None."""
        if n >= self.last:
            return None
        return self.first + self.step * max(0, (n - self.first) // self.step + 1)

    def to_dict(self) -> dict[str, int]:
        return {"first": self.first, "last": self.last, "step": self.step}


def lcm(a: int, b: int) -> int:
    return a * b // gcd(a, b)


def _greedy(bits: bytearray, lo: int) -> list[Progression]:
    """Compact the numbers ``lo + i`` with ``bits[i]`` set: runs first, then progressions
    whose terms have no set neighbour above (so a progression never eats into a run)."""
    out: list[Progression] = []
    n = len(bits)
    i = bits.find(1)
    while i >= 0:
        if i + 1 < n and bits[i + 1]:
            end = bits.find(0, i)
            end = n if end < 0 else end
            out.append(Progression(lo + i, 1, end - i))
            bits[i:end] = bytes(end - i)
        else:
            j = bits.find(1, i + 1)
            if j < 0:
                out.append(Progression(lo + i, 1, 1))
                bits[i] = 0
            else:
                d, k = j - i, 1
                while i + k * d < n and bits[i + k * d] and not (
                        i + k * d + 1 < n and bits[i + k * d + 1]):
                    k += 1
                out.append(Progression(lo + i, d if k > 1 else 1, k))
                bits[i:i + (k - 1) * d + 1:d] = bytes(k)
        i = bits.find(1, i)
    return sorted(out, key=lambda p: p.first)


def _naive(pieces: Sequence[Progression]) -> list[Progression]:
    """Merge pieces end to end where they continue each other: runs that touch, single
    numbers at equal distances (no other compaction).

    >>> _naive([Progression(3, 1, 1), Progression(13, 1, 1), Progression(23, 1, 1),
    ...         Progression(30, 1, 5), Progression(35, 1, 2)])
    [Progression(first=3, step=10, count=3), Progression(first=30, step=1, count=7)]
    """
    out: list[Progression] = []
    for p in sorted(pieces, key=lambda p: p.first):
        last = out[-1] if out else None
        if last is None:
            out.append(p)
        elif last.count == 1 and (p.count == 1 or p.step == p.first - last.first):
            out[-1] = Progression(last.first, p.first - last.first, p.count + 1)
        elif (p.count == 1 or p.step == last.step) and last.last + last.step == p.first \
                and (last.step == 1 or p.count == 1 or last.count > 1):
            out[-1] = Progression(last.first, last.step, last.count + p.count)
        else:
            out.append(p)
    return out


def compact(accepted: Sequence[Progression], pieces: Sequence[Progression], lo: int, hi: int
            ) -> list[Progression]:
    """The ``accepted`` numbers (a union of some of the disjoint ``pieces`` that cover
    ``lo..hi``) as few progressions as this finds, sorted by their first term.

    >>> run = [Progression(1, 1, 3), Progression(4, 2, 4), Progression(5, 2, 3)]
    >>> compact(run[1:], run, 1, 11)
    [Progression(first=4, step=1, count=7)]
    >>> odd = [Progression(1, 2, 500_000_000), Progression(2, 2, 500_000_000)]
    >>> compact(odd[:1], odd, 1, 10**9)   # a periodic tail, never written out
    [Progression(first=1, step=2, count=500000000)]
    """
    accepted = [p for p in accepted if p.count > 0]
    if not accepted:
        return []
    tails = [p for p in pieces if p.count > 1 and p.last + p.step > hi]
    period = 1
    for p in tails:
        period = lcm(period, p.step)
        if period > MAX_PERIOD:
            return _naive(accepted)
    start = max([lo, *(p.last + 1 for p in pieces if p.count and p not in tails),
                 *(p.first for p in tails)])
    if hi - start + 1 < 2 * period:  # no periodic tail worth the name: write it all out
        start = hi + 1
    if start - lo > MAX_BITMAP:
        return _naive(accepted)
    head = _bits(accepted, lo, start - 1) if start > lo else bytearray()
    out: list[Progression] = []
    if start <= hi:  # the tail: one progression per accepted residue, at its least period
        bits = _bits(accepted, start, start + period - 1)
        d = next(d for d in range(1, period + 1) if period % d == 0
                 and bits[:period - d] == bits[d:period])
        for r in range(d):
            if bits[r]:
                first = start + r
                while first - d >= lo and head[first - d - lo]:  # continue into the head
                    first -= d
                    head[first - lo] = 0
                out.append(Progression(first, d, (hi - first) // d + 1))
        out = _merge_runs(out, hi)
    return sorted(_greedy(head, lo) + out, key=lambda p: p.first)


def _merge_runs(tail: list[Progression], hi: int) -> list[Progression]:
    """Every residue of a period from one start on: one run."""
    if len(tail) > 1 and len(tail) == tail[0].step:
        first = min(p.first for p in tail)
        if all(p.first - first < p.step for p in tail):
            return [Progression(first, 1, hi - first + 1)]
    return tail


def _bits(progressions: Iterable[Progression], lo: int, hi: int) -> bytearray:
    """A byte per number in ``lo..hi``: 1 where some progression has it."""
    bits = bytearray(hi - lo + 1)
    for p in progressions:
        first = p.first if p.first >= lo else p.first + -(-(lo - p.first) // p.step) * p.step
        last = min(p.last, hi)
        if first <= last:
            k = (last - first) // p.step + 1
            bits[first - lo:last - lo + 1:p.step] = b"\x01" * k
    return bits


__all__ = ["Progression", "compact"]
