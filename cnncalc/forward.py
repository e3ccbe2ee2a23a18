"""The NumPy forward pass that proves every shape.

Each layer's arrays are made just before it runs and dropped right after, so
peak memory is one layer's weights plus the activations alive at that moment.
Weight values are a seeded random block tiled to size (a shape check needs real
arithmetic, not fresh random numbers for each of VGG-16's 138 M weights).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .analysis import Report, with_verified
from .diagnostics import Problem, Severity
from .layers import Block, Group, Layer, Node
from .shapes import Shape, elements, format_shape

Array = np.ndarray
SEED = 20261129
BLOCK = 1 << 16
"""Random values drawn once and tiled into every weight array."""


def estimate_peak_bytes(report: Report) -> int:
    """Bytes the pass needs at its peak: the largest layer's input, output and weights,
    plus what the outermost open blocks hold (their input, finished branch outputs)."""
    size = np.dtype(np.float32).itemsize
    batch = report.batch
    peak = 0
    held: dict[int, int] = {}
    for row in report.layers:
        if row.input_shape is None or row.output_shape is None:
            continue
        held = {d: b for d, b in held.items() if d < row.depth}
        io = (elements(row.input_shape) + elements(row.output_shape)) * batch * size
        if row.is_block:
            held[row.depth] = io
            continue
        weights = 0
        if isinstance(row.node, Layer):
            weights = sum(elements(s) for s in row.node.weight_shapes(row.input_shape).values())
        peak = max(peak, io + weights * size + sum(held.values()))
    return peak


@dataclass
class Pass:
    """One walk over the layer tree in report order, recording each row's verdict."""

    report: Report
    tick: Callable[[], None]

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(SEED)
        self.block = (self.rng.standard_normal(BLOCK) * 0.05).astype(np.float32)
        self.index = 0
        self.kernel_seconds = 0.0
        """Time spent in forward kernels alone (weights excluded), for benchmarks."""
        self.verified: list[bool | None] = [None] * len(self.report.layers)
        self.problems: list[Problem] = []

    def weights(self, shapes: dict[str, tuple[int, ...]]) -> dict[str, Array]:
        out = {}
        for name, shape in shapes.items():
            arr = np.resize(self.block, shape)
            out[name] = np.abs(arr) + 1 if name == "var" else arr
        return out

    def expect(self, index: int, array: Array) -> None:
        row = self.report.layers[index]
        got: Shape = tuple(int(n) for n in array.shape[1:])
        ok = got == row.output_shape and array.shape[0] == self.report.batch
        self.verified[index] = ok
        if not ok:
            self.problems.append(Problem(
                Severity.ERROR, "V001", f"the forward pass produced {format_shape(got)} but the "
                f"formula gives {format_shape(row.output_shape)}: this is a bug in cnncalc, "
                "please report it with this spec", row.path, row.location))

    def group(self, group: Group, x: Array) -> Array:
        for node in group:
            x = self.node(node, x)
        return x

    def node(self, node: Node, x: Array) -> Array:
        index = self.index
        self.index += 1
        if isinstance(node, Block):
            if node.chained:
                y = x
                for g in node.groups():
                    y = self.group(g, y)
            else:
                outs = [self.group(g, x) for g in node.groups()]
                start = time.perf_counter()
                y = node.merge(outs)
                self.kernel_seconds += time.perf_counter() - start
        else:
            assert isinstance(node, Layer)  # a Node is a Block or a Layer
            w = self.weights(node.weight_shapes(tuple(int(n) for n in x.shape[1:])))
            start = time.perf_counter()
            y = node.forward(x, w)
            self.kernel_seconds += time.perf_counter() - start
            del w
            self.tick()
        self.expect(index, y)
        return y


def verify_report(report: Report, max_memory: int | None = None, progress: bool = False
                  ) -> Report:
    """Run the forward pass when it fits ``max_memory``; set every row's ``verified``."""
    if not report.ok or report.input_shape is None:
        return report
    need = estimate_peak_bytes(report)
    if max_memory is not None and need > max_memory:
        return with_verified(report, [None] * len(report.layers), [Problem(
            Severity.NOTE, "V002", f"the forward pass was skipped: it needs about "
            f"{need / 2**20:,.0f} MiB, more than the {max_memory / 2**20:,.0f} MiB allowed",
            "", None, ("raise --max-memory to run it, or lower --batch",))])
    leaves = sum(not r.is_block for r in report.layers)
    # A bar only for passes longer than about a second (~20 GMACs at NumPy's speed here).
    bar = _Bar(leaves) if progress and report.totals.macs * report.batch > 20 * 10**9 else None
    run = Pass(report, bar.advance if bar else (lambda: None))
    x = run.rng.standard_normal((report.batch, *report.input_shape), dtype=np.float32)
    try:
        run.group(report.spec.layers if report.spec else (), x)
    except (ValueError, MemoryError, IndexError) as exc:
        path = report.layers[min(run.index, len(report.layers)) - 1].path
        run.problems.append(Problem(Severity.ERROR, "V001", f"the forward pass failed: {exc}",
                                    path, None))
    finally:
        if bar:
            bar.stop()
    return with_verified(report, run.verified, run.problems)


class _Bar:
    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import Progress
        self.progress = Progress(console=Console(stderr=True), transient=True)
        self.task = self.progress.add_task("forward pass", total=total)
        self.progress.start()

    def advance(self) -> None:
        self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()


__all__: Sequence[str] = ["estimate_peak_bytes", "verify_report"]
