"""``cnncalc draw``: the network as the lecture draws it (spec §11).

- :mod:`.graph` — the report as volumes, joins and chains, folded by ``--depth``
- :mod:`.layout` — pure geometry: boxes, labels, joins and arrows at exact positions
- :mod:`.svg` — the layout as a standalone SVG document
- :mod:`.dot`, :mod:`.mermaid` — the same graph as Graphviz and Mermaid text

Each returns a string; the CLI writes it.
"""

from __future__ import annotations

from ...report import Report
from .dot import to_dot
from .graph import build
from .layout import layout
from .mermaid import to_mermaid
from .svg import to_svg

FORMATS = ("svg", "dot", "mermaid")


def draw(report: Report, fmt: str = "svg", depth: int | None = None) -> str:
    """The report drawn in ``fmt`` (one of :data:`FORMATS`), blocks deeper than ``depth``
    folded.

    >>> from cnncalc import analyze
    >>> draw(analyze("32x32x3 -> conv(10, 5, p=2) -> relu"), "mermaid").splitlines()[:3]
    ['flowchart LR', '  v0["32×32×3"]', '  v1["32×32×10"]']
    """
    picture = build(report, depth)
    if fmt == "dot":
        return to_dot(picture)
    if fmt == "mermaid":
        return to_mermaid(picture)
    return to_svg(layout(picture))


__all__ = ["FORMATS", "draw"]
