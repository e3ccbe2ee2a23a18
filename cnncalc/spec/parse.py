"""Text to a typed spec: the one-line or YAML reader, then the builder.

What a CLI argument *is* (text, path, stdin, zoo name) is decided by
:func:`cnncalc.spec.source.classify`; this module turns what was read into a
:class:`~cnncalc.spec.build.Spec`.
"""

from __future__ import annotations

from pathlib import Path

from ..diagnostics import Location, SpecSyntaxError, syntax_error
from . import oneline
from .build import Spec, build
from .source import MAX_SPEC_BYTES, Source, from_text, read_path


def read_spec(source: str | Path | Source) -> tuple[Spec, str]:
    """Parse a spec from text (one-line or YAML), a path, or a :class:`Source`; returns it
    with its text. What a CLI argument is, is decided by :func:`cnncalc.spec.source.classify`."""
    src = read_source(source)
    return parse_source(src), src.text


def read_source(source: str | Path | Source) -> Source:
    """The text of a spec given as text (one-line or YAML), a path, or a :class:`Source`."""
    if isinstance(source, Source):
        return source
    if isinstance(source, Path):
        return read_path(source)
    if len(source) > MAX_SPEC_BYTES or len(source.encode("utf-8", "surrogatepass")) \
            > MAX_SPEC_BYTES:
        raise syntax_error("S008", f"the spec is larger than {MAX_SPEC_BYTES // 2**20} MiB, "
                           "cnncalc's limit", Location(1, 1))
    return from_text(source)


def parse_source(src: Source) -> Spec:
    """Parse read text into a typed spec; a syntax error carries the text it points into."""
    try:
        if src.is_yaml:
            from . import yamlspec  # PyYAML is imported only for YAML specs
            raw = yamlspec.load(src.text)
        else:
            raw = oneline.parse(src.text)
        return build(raw)
    except SpecSyntaxError as exc:
        exc.source = src.text
        raise


__all__ = ["parse_source", "read_source", "read_spec"]
