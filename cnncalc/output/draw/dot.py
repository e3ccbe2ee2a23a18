"""The picture graph as Graphviz DOT: a box per volume (its shape), a circle per join,
the layers on the edges, ``@NAME`` routes dashed, problems coloured."""

from __future__ import annotations

from ...diagnostics import Severity
from ...shapes import format_shape
from .graph import Join, Picture, Volume, codes_of, edges, severity_rank, walk

COLOUR = {Severity.ERROR: "#c62828", Severity.WARNING: "#c77700"}


def quoted(text: str) -> str:
    r"""A DOT string: backslashes and quotes escaped, lines joined by ``\n``.

    >>> quoted('a "b" \\ c')
    '"a \\"b\\" \\\\ c"'
    """
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")
    return f'"{out}"'


def node_line(item: Volume | Join) -> str:
    severity = severity_rank(item.marks)
    marks = codes_of(item.marks)
    if isinstance(item, Volume):
        text = "?" if item.shape is None else format_shape(item.shape)
        attrs = ["shape=box3d" if item.route is None else "shape=box, style=dashed"]
        if item.folded:
            attrs.append('fillcolor="#d1c4e9", style=filled')
        name = f"v{item.key}"
    else:
        text = item.glyph + "".join(f"\n{a}" for a in item.after)
        attrs = ["shape=circle" if item.glyph != "concat" else "shape=box, style=rounded"]
        name = f"j{item.key}"
    if marks:
        text += f"\n{marks}"
    if severity in COLOUR:
        attrs.append(f'color="{COLOUR[severity]}", fontcolor="{COLOUR[severity]}", penwidth=2')
    return f"  {name} [label={quoted(text)}, {', '.join(attrs)}];"


def to_dot(picture: Picture) -> str:
    """``digraph``, left to right.

    >>> from cnncalc import analyze
    >>> from .graph import build
    >>> print(to_dot(build(analyze("8x8x3 -> conv(4, 3)"))))  # doctest: +NORMALIZE_WHITESPACE
    digraph cnncalc {
      graph [rankdir=LR, label="network\\n8×8×3 → 6×6×4 · 112 params · 3,888 MACs", labelloc=t];
      node [fontname="DejaVu Sans, Arial, Helvetica, sans-serif", fontsize=11];
      edge [fontname="DejaVu Sans, Arial, Helvetica, sans-serif", fontsize=10];
      v0 [label="8×8×3", shape=box3d];
      v1 [label="6×6×4", shape=box3d];
      v0 -> v1 [label="conv 3×3, 4"];
    }
    <BLANKLINE>
    """
    font = "DejaVu Sans, Arial, Helvetica, sans-serif"
    keys = {item.key: ("v" if isinstance(item, Volume) else "j") for item in walk(picture.chain)}
    title = "\n".join((picture.title, picture.subtitle, *picture.notes))
    lines = ["digraph cnncalc {",
             f"  graph [rankdir=LR, label={quoted(title)}, labelloc=t];",
             f"  node [fontname={quoted(font)}, fontsize=11];",
             f"  edge [fontname={quoted(font)}, fontsize=10];"]
    lines += [node_line(item) for item in walk(picture.chain)]
    for a, b, caption, route in edges(picture):
        attrs = [f"label={quoted(chr(10).join(caption))}"] if caption else []
        if route:
            attrs.append('style=dashed, color="#3f6fb5"')
        tail = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {keys[a]}{a} -> {keys[b]}{b}{tail};")
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["to_dot"]
