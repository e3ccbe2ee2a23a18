"""Rank checks every layer shares (spec §1, Ranks): a rank-explicit alias (``conv3d``) on an
input of another rank, and a per-axis size (``kernel 3x5``) whose length is neither 1 nor the
input's number of spatial axes. Both are error G010 (rank-mismatch), with a fix.

They run before a kind's own ``check`` (:meth:`~cnncalc.layers.base.Layer.validate`), so a
kind's checks, shape rule and counts may resolve its sizes with
:func:`~cnncalc.values.per_axis` without looking at the rank again.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from typing import Any, cast

from .. import values as v
from ..diagnostics import Finding, Fix
from ..shapes import Shape, format_shape, rank, rank_name
from ..values import Padding, Sizes

PER_AXIS = (v.pair, v.natural_pair)
"""The converters whose values are per-axis sizes (``padding`` is one too, unless ``same``)."""


@functools.cache
def _per_axis_fields(kind: Any) -> tuple[str, ...]:  # Any: mypy sees dataclass types unhashable
    """The names of ``kind``'s arguments that may hold per-axis sizes (once per kind)."""
    return tuple(f.name for f in dataclasses.fields(kind)
                 if f.metadata.get("convert") in (*PER_AXIS, v.padding))


def per_axis_values(node: Any) -> Iterator[tuple[str, Sizes, Any]]:
    """``(argument name, sizes as written, how to write new sizes back)`` for every per-axis
    argument of ``node`` that is set."""
    for name in _per_axis_fields(cast(Any, type(node))):
        value = getattr(node, name)
        if isinstance(value, Padding):
            if not value.same:
                yield name, value.sizes, Padding
        elif isinstance(value, tuple):
            yield name, value, tuple


def ranked_name(base: str, r: int | str) -> str:
    """A rank-explicit alias: ``conv`` → ``conv3d``; ``conv{r}dtranspose`` → ``conv1dtranspose``.

    >>> ranked_name("conv", 3), ranked_name("conv{r}dtranspose", 1)
    ('conv3d', 'conv1dtranspose')
    """
    return base.format(r=r) if "{r}" in base else f"{base}{r}d"


def _resized(sizes: Sizes, r: int) -> Sizes:
    """A guess at what ``sizes`` meant for ``r`` axes: the last ``r`` of them, or the first
    repeated in front (``3x5`` on 3-D → ``3x3x5``); the fix is re-analysed before it is shown.

    >>> _resized((1, 7, 7), 2), _resized((3, 5), 3)
    ((7, 7), (3, 3, 5))
    """
    if len(sizes) >= r:
        return sizes[len(sizes) - r:]
    return (sizes[0],) * (r - len(sizes)) + sizes


def rank_findings(node: Any, inp: Shape) -> Iterator[Finding]:
    """G010 when ``node``'s rank-explicit alias or one of its per-axis sizes does not fit
    the rank of ``inp``."""
    r = rank(inp)
    want = node.alias_rank
    if want is not None and want != r and not (want == 1 and r == 0 and node.takes_flat):
        needs = rank_name(want).split(" ", 1)[1].strip("()")
        instead = ranked_name(node.ranked[0], r) if r else node.name
        fixed = dataclasses.replace(node, alias_rank=r or None)
        yield Finding("G010", f"{node.written_name()} needs a {want}-D {needs} input, but its "
                      f"input {format_shape(inp)} is {rank_name(r)}",
                      ((f"use {instead} (or {node.name}, which takes any rank) here"
                        if r else "put it before the first fc/flatten"),),
                      fatal=True, fixes=(Fix(fixed.describe(), node, (fixed,)),) if r else ())
        return
    if r == 0:
        return  # a flat vector: the kind's own check says whether it needs a volume
    for name, sizes, back in per_axis_values(node):
        if len(sizes) in (1, r):
            continue
        example = "x".join([str(sizes[0])] * r)
        new = dataclasses.replace(node, **{name: back(_resized(sizes, r))})
        yield Finding("G010", f"{name} {v.format_sizes(sizes)} has {len(sizes)} sizes but the "
                      f"input {format_shape(inp)} is {rank_name(r)}: give one number"
                      + (f" or {r} ({example})" if r > 1 else f" ({example})"), fatal=True,
                      fixes=(Fix(new.describe(), node, (new,)),))
        return
