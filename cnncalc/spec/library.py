"""The built-in block library (spec §10): ``library.yaml`` beside this module, written in the
same YAML form as a spec's ``blocks:``, read once on the first call that needs it (PyYAML is
imported only then, so a spec that calls no library block never loads it)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from .syntax import BlockDef

PATH = Path(__file__).with_name("library.yaml")


@dataclass(frozen=True)
class Library:
    blocks: dict[str, BlockDef]
    """By lower-case name."""
    examples: dict[str, str]
    text: str

    def source(self, name: str) -> str:
        """A block's definition as the file writes it (its comment lines included)."""
        defn = self.blocks[name.lower()]
        lines = self.text.splitlines()
        start = end = defn.location.line - 1
        while start > 0 and lines[start - 1].strip().startswith("#"):
            start -= 1
        indent = len(lines[end]) - len(lines[end].lstrip())
        end += 1
        while end < len(lines) and (not lines[end].strip() or
                                    len(lines[end]) - len(lines[end].lstrip()) > indent):
            end += 1
        return "\n".join(line[indent:] for line in lines[start:end]).rstrip()

    def signature(self, name: str) -> str:
        defn = self.blocks[name.lower()]
        params = ", ".join(p.name if p.default is None else f"{p.name}={_text(p.default)}"
                           for p in defn.params)
        return f"{defn.name}({params})"


def _text(value: object) -> str:
    return str(getattr(value, "text", "…"))


@cache
def library() -> Library:
    from . import yamlspec  # PyYAML: only when a library block is called or listed

    text = PATH.read_text(encoding="utf-8")
    defs, examples = yamlspec.load_library(text)
    return Library({d.name.lower(): replace(d, library=True) for d in defs}, examples, text)


NAMES = ("basicblock", "bottleneck", "inverted_residual", "mbconv", "se", "fire", "dense_layer",
         "convnext_block", "shufflenet_unit")
"""The library's block names, known without reading the file (a test keeps them equal)."""


__all__ = ["NAMES", "Library", "library"]
