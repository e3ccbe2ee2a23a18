"""The picture graph as a Mermaid flowchart (GitHub and docs sites render it): a node per
volume (its shape), a circle per join, the layers on the edges, routes dotted."""

from __future__ import annotations

from ...diagnostics import Severity
from ...shapes import format_shape
from .graph import Join, Picture, Volume, codes_of, edges, severity_rank, walk

ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "\\": "#92;",
            "|": "#124;", "`": "#96;", "\n": "<br/>"}
"""Characters a quoted Mermaid label cannot hold as they are, as Mermaid's entity codes
(``#`` first: every code starts with one)."""


def label(text: str) -> str:
    """A quoted Mermaid label.

    >>> label('a "b" <c> & #1 | d')
    '"a #quot;b#quot; #lt;c#gt; #amp; #35;1 #124; d"'
    """
    out = "".join(ENTITIES.get(ch, ch) for ch in text)
    return f'"{out}"'


def node_line(item: Volume | Join) -> str:
    marks = codes_of(item.marks)
    if isinstance(item, Volume):
        text = "?" if item.shape is None else format_shape(item.shape)
        if marks:
            text += f"\n{marks}"
        return f"  v{item.key}[{label(text)}]"
    text = item.glyph + "".join(f"\n{a}" for a in item.after) + (f"\n{marks}" if marks else "")
    return f"  j{item.key}(({label(text)}))"


def to_mermaid(picture: Picture) -> str:
    """``flowchart LR``: nodes, then edges, then the classes marking problems."""
    items = list(walk(picture.chain))
    keys = {item.key: ("v" if isinstance(item, Volume) else "j") for item in items}
    lines = ["flowchart LR"]
    lines += [node_line(item) for item in items]
    for a, b, caption, route in edges(picture):
        arrow = "-.->" if route else "-->"
        text = f"|{label(chr(10).join(caption))}|" if caption else ""
        lines.append(f"  {keys[a]}{a} {arrow}{text} {keys[b]}{b}")
    marked = {s: [f"{keys[i.key]}{i.key}" for i in items if severity_rank(i.marks) is s]
              for s in (Severity.ERROR, Severity.WARNING)}
    styles = {Severity.ERROR: "stroke:#c62828,stroke-width:2px,color:#c62828",
              Severity.WARNING: "stroke:#c77700,stroke-width:2px,color:#c77700"}
    for s, names in marked.items():
        if names:
            lines.append(f"  classDef {s.value} {styles[s]}")
            lines.append(f"  class {','.join(names)} {s.value}")
    folded = [f"v{i.key}" for i in items if isinstance(i, Volume) and i.folded]
    if folded:
        lines.append("  classDef folded fill:#d1c4e9")
        lines.append(f"  class {','.join(folded)} folded")
    return "\n".join(lines) + "\n"


__all__ = ["to_mermaid"]
