"""cnncalc: output volumes, parameters, cost and stride/padding validation for CNNs.

>>> import cnncalc
>>> cnncalc.analyze("32x32x3 -> conv(10, 5, p=2)").totals.params
760
"""

from .api import analyze, solve, validate
from .design.sizes import InputSizes, input_sizes
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
