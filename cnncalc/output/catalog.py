"""The listings that are not one report: the layer catalog, the zoo, the rules, and
``check``'s JSON over many files. Rows and JSON text only; the CLI shows them."""

from __future__ import annotations

from collections.abc import Sequence
from difflib import get_close_matches
from typing import Any

from ..diagnostics import MODES, RULES, Problem, Severity
from ..layers import LAYERS, RANKS, arguments, ranked_name
from ..report import Report
from ..shapes import format_shape
from ..spec.library import library
from ..values import format_value
from .formats import clean, dumps, human

LayerEntry = tuple[str, list[str], str, str, str]
"""A catalog row: name, aliases, arguments, formula, one-line description."""


def default_text(value: Any) -> str:
    """An argument's default as the catalog shows it."""
    if value is None:
        return "kernel"
    if value == ():
        return "[]"
    return format_value(value)


def layer_entries() -> list[LayerEntry]:
    """One row per layer kind, with every name it is known by."""
    seen: dict[type, list[str]] = {}
    for name, kind in LAYERS.items():
        if name not in RANKS:  # rank-explicit aliases: one entry per pattern, below
            seen.setdefault(kind, []).append(name)
    for kind, names in seen.items():
        names += [ranked_name(base, "{1,2,3}") for base in kind.ranked]  # conv{1,2,3}d
    rows = []
    for kind, names in seen.items():
        args = ", ".join(
            a.name + (f"/{a.short}" if a.short else "")
            + ("" if a.required else f"={default_text(a.default)}")
            + "".join(f"|{w}" for w in a.words) + ("…" if a.variadic else "")
            for a in arguments(kind))
        doc = (kind.__doc__ or "").strip().splitlines()[0]
        rows.append((kind.name, [n for n in names if n != kind.name], args, kind.formula, doc))
    return rows


ZOO_HEADERS = [("Name", "<"), ("Input", "<"), ("Params", ">"), ("MACs", ">"), ("Description", "<")]


def zoo_rows(reports: Sequence[tuple[str, Report]]) -> list[list[str]]:
    return [[n, format_shape(r.input_shape), f"{r.totals.params:,}", human(r.totals.macs),
             clean(r.spec.description or "") if r.spec else ""] for n, r in reports]


def zoo_json(reports: Sequence[tuple[str, Report]], ascii_only: bool) -> str:
    return dumps([{
        "name": n, "description": r.spec.description if r.spec else None,
        "input": list(r.input_shape or ()), "params": r.totals.params,
        "non_trainable": r.totals.non_trainable, "macs": r.totals.macs,
        "output": list(r.totals.output_shape or ())} for n, r in reports], ascii_only)


def block_entries(name: str | None = None) -> list[dict[str, str]]:
    """The built-in block library (spec §10), or one block of it: name, signature, source
    (the YAML as shipped, its comment included) and a one-line example. Unknown names raise
    :class:`ValueError` with the did-you-mean."""
    lib = library()
    keys = list(lib.blocks)
    if name is not None:
        if name.lower() not in lib.blocks:
            close = get_close_matches(name.lower(), keys, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else \
                f"the library's blocks are {', '.join(keys)}"
            raise ValueError(f"no library block '{clean(name)[:40]}': {hint}")
        keys = [name.lower()]
    return [{"name": lib.blocks[k].name, "signature": lib.signature(k), "source": lib.source(k),
             "example": lib.examples.get(k, "")} for k in keys]


def blocks_text(entries: Sequence[dict[str, str]]) -> str:
    """The library as ``cnncalc blocks`` prints it: each block's signature, source and
    example, separated by a blank line."""
    return "\n\n".join(f"{e['signature']}\n\n{_indent(e['source'])}\n\n  example: "
                       f"cnncalc summary \"{e['example']}\"" for e in entries)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


RULES_HEADERS = [("Code", "<"), ("Name", "<"), ("default/strict/lenient", "<"), ("Meaning", "<"),
                 ("Example", "<")]


def rules_rows() -> list[list[str]]:
    return [[r.code, r.name, " / ".join(str(r.severity[m] or "—") for m in MODES), r.summary,
             r.example] for r in RULES.values()]


def check_json(results: Sequence[tuple[str, Sequence[Problem]]], ascii_only: bool) -> str:
    """``check --format json``: every file with its problems."""
    return dumps({"cnncalc": "1", "files": [
        {"file": n, "ok": not any(p.severity is Severity.ERROR for p in ps),
         "problems": [p.to_dict() for p in ps]} for n, ps in results]}, ascii_only)


__all__ = ["check_json", "layer_entries", "rules_rows", "zoo_json", "zoo_rows"]
