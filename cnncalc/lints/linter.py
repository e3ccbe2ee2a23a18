"""The driver: every rule in code order, and :func:`lint`, which turns their findings into
problems with the report's mode, paths and locations, in spec order."""

from __future__ import annotations

from ..diagnostics import Problem, resolve
from ..report import Report, in_calls
from .activations import (
    activation_before_softmax,
    channels_first_input,
    layer_after_softmax,
    stacked_activations,
)
from .common import Lint
from .flow import Flow
from .geometry import collapsed_spatial, large_kernel, pool_skips_input, stride_exceeds_kernel
from .waste import bias_before_bn, dominant_fc, excessive_dropout, identity_layer, linear_stack
from .widths import non_power_of_two_width

LINTS: tuple[Lint, ...] = (
    non_power_of_two_width,
    channels_first_input,
    collapsed_spatial,
    layer_after_softmax,
    dominant_fc,
    stride_exceeds_kernel,
    bias_before_bn,
    excessive_dropout,
    identity_layer,
    pool_skips_input,
    stacked_activations,
    activation_before_softmax,
    large_kernel,
    linear_stack,
)
"""Every lint, in code order."""


def lint(report: Report, flow: Flow | None = None) -> list[Problem]:
    """Run every lint on ``report``: problems in spec order, with the report's mode. Their
    fixes are not re-analysed yet (the caller does that: :func:`cnncalc.api.lint_report`);
    ``flow`` is the report's :class:`Flow` when the caller already built one.

    Findings about the input (no row) get the path ``input`` and the input's location.
    A finding repeated word for word on another repetition of the same spec layer
    (``[...] * N``) is reported once.
    """
    flow = flow if flow is not None else Flow(report.layers)
    input_location = report.spec.input_location if report.spec is not None else None
    seen: set[tuple[str, int, str]] = set()
    ranked: list[tuple[int, int, Problem]] = []
    index = {row.path: n for n, row in enumerate(report.layers)}
    for order, check in enumerate(LINTS):
        for row, finding in check(report, flow):
            key = (finding.code, id(row.node) if row is not None else 0, finding.message)
            if key in seen:
                continue
            seen.add(key)
            if row is None:
                problems = resolve([finding], report.mode, "input", input_location)
                rank = -1
            else:
                problems = [in_calls(p, row, report.layers)
                            for p in resolve([finding], report.mode, row.path, row.location)]
                rank = index[row.path]
            ranked += [(rank, order, p) for p in problems]
    ranked.sort(key=lambda t: (t[0], t[1]))
    return [p for _, _, p in ranked]

