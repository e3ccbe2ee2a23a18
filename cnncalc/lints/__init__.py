"""Architecture lints: what a demanding reviewer of CNN code would flag.

Nothing here makes a network invalid. Each lint is a small generator over a
finished :class:`~cnncalc.analysis.Report` that yields ``(row, finding)`` pairs
(``row`` is None for whole-network findings such as the input's layout);
:func:`lint` runs every lint in :data:`LINTS` and turns the findings into
:class:`~cnncalc.diagnostics.Problem` objects with the mode's severity, the
row's path and its location. Codes ``L001``… are documented in
:data:`cnncalc.diagnostics.RULES`. The caller re-analyses the findings' fixes
(:func:`cnncalc.api.lint_report`): lints never import :mod:`cnncalc.fixes`.

The package, one module per job:

- :mod:`~cnncalc.lints.flow`: :class:`Flow`, which layer feeds which (from the rows'
  parent links);
- :mod:`~cnncalc.lints.common`: the shape of a rule and what rules share;
- the rules, by theme: :mod:`~cnncalc.lints.widths` (L001),
  :mod:`~cnncalc.lints.activations` (L002, L004, L011, L012),
  :mod:`~cnncalc.lints.geometry` (L003, L006, L010, L013) and
  :mod:`~cnncalc.lints.waste` (L005, L007, L008, L009, L014);
- :mod:`~cnncalc.lints.linter`: :data:`LINTS` in code order and :func:`lint`.

Severity policy (the per-mode table lives in ``RULES``):

- likely bugs (``L002`` channels-first input, ``L004`` a layer after softmax,
  ``L012`` an activation before softmax) are warnings in every mode, lenient
  included — the framework accepts them, but they are almost never meant;
- wasted or skipped computation (``L003``, ``L006``, ``L008``–``L011``) is a
  warning, demoted to a note in lenient mode;
- design and efficiency advice (``L001``, ``L005``, ``L007``, ``L013``,
  ``L014``) is a note (``L005`` and ``L007`` become warnings in strict mode)
  and is silent in lenient mode.

Lints never raise errors: an architecture that computes is valid. A layer
inside ``[...] * N`` is one spec layer, so a finding that every repetition
would repeat word for word is reported once, at the first repetition.

>>> from cnncalc import analyze
>>> report = analyze("32x32x3 -> conv(10, 3) -> relu -> relu -> gap -> fc(10)")
>>> [(p.code, p.path, str(p.severity)) for p in lint(report)]
[('L001', '1', 'note'), ('L011', '3', 'warning')]
"""


from .common import Lint, largest_full_stride, unread_per_stride
from .flow import Flow, Where, leaves, node_of
from .linter import LINTS, lint
from .widths import pinned_channels, powers_of_two_near

__all__ = ["LINTS", "Flow", "Lint", "Where", "largest_full_stride", "leaves", "lint", "node_of",
           "pinned_channels", "powers_of_two_near", "unread_per_stride"]
