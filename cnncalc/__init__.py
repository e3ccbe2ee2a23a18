"""cnncalc: output volumes, parameters, cost and stride/padding validation for CNNs.

>>> import cnncalc
>>> cnncalc.analyze("32x32x3 -> conv(10, 5, p=2)").totals.params
760
"""

from typing import TYPE_CHECKING, Any

from .api import analyze, solve, validate
from .diagnostics import (
    ArchitectureError,
    Location,
    Problem,
    Severity,
    SpecError,
    SpecSyntaxError,
)
from .report import LayerRow, Report, Totals
from .version import __version__

if TYPE_CHECKING:
    from .design.sizes import InputSizes, input_sizes


def __getattr__(name: str) -> Any:
    """``input_sizes`` and ``InputSizes``, loaded at first use: the design package stays off
    the start-up of every command (``cnncalc check`` runs on every commit)."""
    if name in ("input_sizes", "InputSizes"):
        from .design import sizes
        return getattr(sizes, name)
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")

__all__ = [
    "ArchitectureError",
    "InputSizes",
    "LayerRow",
    "Location",
    "Problem",
    "Report",
    "Severity",
    "SpecError",
    "SpecSyntaxError",
    "Totals",
    "__version__",
    "analyze",
    "input_sizes",
    "solve",
    "validate",
]
