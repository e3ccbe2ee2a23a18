"""The layout as a standalone SVG document: no scripts, no links, no external fonts (a font
list ending in a generic family), every text escaped, integers only: the same layout always
gives the same bytes."""

from __future__ import annotations

import re
from html import escape

from ...diagnostics import Severity
from .geometry import STACK, Arrow, Box, Glyph, Label, Layout

FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"
INK, MUTED, ROUTE = "#263238", "#607d8b", "#3f6fb5"
SEVERITY = {Severity.ERROR: "#c62828", Severity.WARNING: "#c77700", Severity.NOTE: MUTED}
FACES = {  # front, top, side
    "volume": ("#bbdefb", "#e3f2fd", "#90caf9"),
    "folded": ("#d1c4e9", "#ede7f6", "#b39ddb"),
    "route": ("#ffffff", "#ffffff", "#f5f5f5"),
    "unknown": ("#eeeeee", "#f5f5f5", "#e0e0e0"),
}
TEXT = {"title": INK, "subtitle": MUTED, "note": SEVERITY[Severity.ERROR], "size": INK,
        "caption": "#37474f", "code": INK, "stage": MUTED}

NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry at all (spec text reaches here already cleaned of
controls and lone surrogates; this is the last guard)."""


WHITESPACE = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
"""Kept as they are inside an attribute (XML would turn them into spaces)."""


def text(s: str) -> str:
    """Element text: ``&``, ``<``, ``>`` escaped (``html.escape``: ``xml.sax.saxutils``
    would import ``urllib`` and ``email``, 25 ms of start-up for every command)."""
    return escape(NOT_XML.sub("\ufffd", s), quote=False)


def attr(s: str) -> str:
    """A double-quoted attribute value, quotes and whitespace escaped."""
    value = escape(NOT_XML.sub("\ufffd", s), quote=True)
    return '"' + re.sub("[\n\r\t]", lambda m: WHITESPACE[m.group()], value) + '"'


def points(pts: list[tuple[int, int]]) -> str:
    return " ".join(f"{x},{y}" for x, y in pts)


def box(b: Box) -> list[str]:
    front, top, side = FACES[b.style]
    stroke = SEVERITY[b.severity] if b.severity else INK
    width = "2" if b.severity else "1"
    dash = ' stroke-dasharray="4 3"' if b.style in ("route", "unknown") else ""
    common = f'stroke="{stroke}" stroke-width="{width}" stroke-linejoin="round"{dash}'
    out = ["<g>"]
    if b.tip:
        out.append(f"<title>{text(b.tip)}</title>")
    for n in reversed(range(b.copies)):
        x, y = b.x + n * STACK, b.y - n * STACK
        if b.dx or b.dy:
            out.append(f'<polygon points="{points([(x, y), (x + b.dx, y - b.dy), (x + b.w + b.dx, y - b.dy), (x + b.w, y)])}" fill="{top}" {common}/>')  # noqa: E501
            out.append(f'<polygon points="{points([(x + b.w, y), (x + b.w + b.dx, y - b.dy), (x + b.w + b.dx, y + b.h - b.dy), (x + b.w, y + b.h)])}" fill="{side}" {common}/>')  # noqa: E501
        out.append(f'<rect x="{x}" y="{y}" width="{b.w}" height="{b.h}" fill="{front}" {common}/>')
    out.append("</g>")
    return out


def glyph(g: Glyph) -> list[str]:
    stroke = SEVERITY[g.severity] if g.severity else INK
    x0, y0, _, _ = g.bounds()
    if g.w == g.h:
        shape = f'<circle cx="{g.cx}" cy="{g.cy}" r="{g.w // 2}"'
        size = 15
    else:
        shape = f'<rect x="{x0}" y="{y0}" width="{g.w}" height="{g.h}" rx="{g.h // 2}"'
        size = 10
    return [f'{shape} fill="#fff8e1" stroke="{stroke}" stroke-width="1.5"/>',
            f'<text x="{g.cx}" y="{g.cy + size * 7 // 20}" font-size="{size}" text-anchor="middle" '
            f'fill="{stroke}">{text(g.text)}</text>']


def label(t: Label) -> str:
    fill = SEVERITY[t.severity] if t.severity and t.role == "code" else TEXT[t.role]
    weight = ' font-weight="bold"' if t.role in ("title", "code") else ""
    if t.role in ("title", "subtitle", "note"):
        return (f'<text x="{t.x}" y="{t.y + t.size}" font-size="{t.size}" fill="{fill}"'
                f'{weight}>{text(t.text)}</text>')
    return (f'<text x="{t.x + t.w // 2}" y="{t.y + t.size}" font-size="{t.size}" '
            f'text-anchor="middle" fill="{fill}"{weight}>{text(t.text)}</text>')


def head(a: Arrow) -> str:
    (x0, y0), (x1, y1) = a.points[-2], a.points[-1]
    dx, dy = (x1 > x0) - (x1 < x0), (y1 > y0) - (y1 < y0)
    if a.route:
        dx, dy = 0, 1  # a route comes down onto the box it feeds
    if dx and dy:
        dy = 0
    px, py = -dy, dx  # perpendicular
    pts = [(x1, y1), (x1 - 6 * dx + 3 * px, y1 - 6 * dy + 3 * py),
           (x1 - 6 * dx - 3 * px, y1 - 6 * dy - 3 * py)]
    return f'<polygon points="{points(pts)}" fill="{ROUTE if a.route else INK}"/>'


def arrow(a: Arrow) -> list[str]:
    if len(a.points) < 2 or (len(a.points) == 2 and a.points[0] == a.points[1]):
        return []
    if a.route and len(a.points) == 3:  # from an earlier row
        (sx, sy), (_, cy), (tx, ty) = a.points
        out = [f'<path d="M{sx},{sy} C{sx},{cy} {tx},{cy} {tx},{ty}" fill="none" '
               f'stroke="{ROUTE}" stroke-width="1.2" stroke-dasharray="5 3"/>']
    else:
        dash = f' stroke="{ROUTE}" stroke-dasharray="5 3"' if a.route else f' stroke="{INK}"'
        out = [f'<polyline points="{points(list(a.points))}" fill="none"{dash} '
               'stroke-width="1.2"/>']
    if a.head:
        out.append(head(a))
    return out


def to_svg(layout: Layout) -> str:
    """The SVG document (UTF-8 text, one element a line)."""
    w, h = layout.width, layout.height
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family={attr(FONT)}>',
           f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>']
    for b in layout.bars:
        out.append(f'<polyline points="{b.x0},{b.y + 3} {b.x0},{b.y} {b.x1},{b.y} {b.x1},{b.y + 3}" '
                   f'fill="none" stroke="{MUTED}" stroke-width="1"/>')
    for a in layout.arrows:
        out += arrow(a)
    for bx in layout.boxes:
        out += box(bx)
    for g in layout.glyphs:
        out += glyph(g)
    out += [label(t) for t in layout.labels]
    out.append("</svg>")
    return "\n".join(out) + "\n"


__all__ = ["FONT", "to_svg"]
