"""The built-in architectures: YAML specs shipped inside the package, usable by name."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def names() -> list[str]:
    """The zoo's architecture names, sorted.

    >>> "resnet50" in names()
    True
    """
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def path(name: str) -> Path | None:
    """The spec file of a zoo architecture, or None when there is none by that name.

    Only a short word is looked up; any other text is no zoo name (never a file-system call).

    >>> path("x" * 300) is None, path("32x32x3 -> relu") is None, path("VGG16").name
    (True, True, 'vgg16.yaml')
    """
    if not _NAME.fullmatch(name):
        return None
    key = name.lower().replace("-", "_")
    return HERE / f"{key}.yaml" if key in names() else None
