"""The built-in architectures: YAML specs shipped inside the package, usable by name."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def names() -> list[str]:
    """The zoo's architecture names, sorted.

    >>> "resnet50" in names()
    True
    """
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def path(name: str) -> Path | None:
    """The spec file of a zoo architecture, or None when there is none by that name."""
    candidate = HERE / f"{name.lower().replace('-', '_')}.yaml"
    return candidate if candidate.is_file() else None
