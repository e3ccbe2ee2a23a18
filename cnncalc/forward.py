"""The NumPy forward pass that proves every shape.

Memory. The pass keeps a promise: its peak resident memory never exceeds the interpreter's
baseline (NumPy imported) plus ``max_memory``. Before anything runs, `plan` walks the
network exactly as the pass will and adds up, at every layer, every buffer alive then:
the inputs held by enclosing blocks and their finished branch outputs, the layer's input,
weights and output, and the kernel's own scratch (im2col blocks, padding copies, prefix
sums, chunk temporaries), which each kernel reports through its ``kernels.scratch_*``
function and keeps bounded by working in chunks. When the largest sum exceeds the budget
the pass is skipped with a V002 note naming the layer; a MemoryError while running (the
machine has less free memory than the budget) is a V002 note too. V001 is only ever a
shape the formulas got wrong (or a kernel failing, which is a bug as well).

Time. `plan` also estimates each layer's work in the kernel's real cost (GEMM
multiply-adds, element passes, Python-level loop steps; see `WORK_*`), and the pass is
skipped with a V002 note when the total exceeds `MAX_WORK` (about 20 s here). Kernels
whose cost used to grow with a number in the spec are vectorised (LRN and adaptive
pooling by prefix sums, pools separable with doubling for big windows).

Threads. BLAS threads are chosen with threadpoolctl (imported only here, never on the
``cnncalc check`` path): at most the CPUs this process may run on
(``os.sched_getaffinity``), minus the other tasks runnable right now (the running count
of ``/proc/loadavg``, the largest of a few samples; the 1-minute load average where
/proc is missing), and never more than BLAS is already configured for (so
``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` still win). OpenBLAS threads that wait on a
core someone else is using slow every GEMM down (VGG-16 took 2-3x longer with one core
busy elsewhere), while one thread per free core is never much slower than one thread.
Each BLAS thread packs into a buffer of its own (`BLAS_BUFFER_BYTES`), so the memory model
counts one thread's and the pass uses no more threads than ``--max-memory`` has room for.

Each layer's arrays are made just before it runs and dropped right after. Weight values
are a seeded random block tiled to size (a shape check needs real arithmetic, not fresh
random numbers for each of VGG-16's 138 M weights).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .cost import WORK_ELEMENT, WORK_MAC, WORK_STEP, Cost
from .diagnostics import Problem, Severity
from .layers import Block, Group, Layer, Node
from .report import LayerRow, Report, with_verified
from .shapes import Shape, elements, format_shape

Array = np.ndarray
SEED = 20261129
BLOCK = 1 << 16
"""Random values drawn once and tiled into every weight array."""

DEFAULT_MAX_MEMORY = 2 * 2**30
"""The budget when none is given (the CLI's ``--max-memory`` default)."""
SLACK_BYTES = 4 << 20
"""Counted at every layer on top of the modelled buffers: chunk temporaries of the
element-wise kernels, the random block, small per-layer arrays."""

BLAS_BUFFER_BYTES = 32 << 20
"""OpenBLAS's buffer per thread on x86-64 (``BUFFER_SIZE``, 32 MiB unless built otherwise):
each BLAS thread of a GEMM packs its panels there, touching at most the buffer and at most
the GEMM's operands, and the touched pages stay for the rest of the process. Measured
(``benchmarks/bench_blas_buffers.py``): up to 29 MiB on one thread and 43 MiB on two."""

MAX_WORK = 2e10
"""The most work the pass takes on (about 20 s at the rates above on this kind of CPU)."""


# --------------------------------------------------------------------------- cost model

def layer_cost(node: Layer, inp: Shape, out: Shape, batch: int) -> Cost:
    """The scratch bytes and work of ``node``'s kernel on ``batch`` inputs of shape ``inp``
    (each kind answers for its own kernel)."""
    return node.cost(inp, out, batch)


@dataclass(frozen=True, slots=True)
class Plan:
    """What the pass would need: peak bytes with one BLAS thread (and the row where it
    peaks), total work, and what more BLAS threads would need."""

    peak_bytes: int
    peak_row: LayerRow | None
    work: float
    work_row: LayerRow | None
    """The row with the most work."""
    threaded: tuple[tuple[int, int], ...] = ()
    """For each step after a GEMM: (bytes alive besides BLAS's buffers, bytes BLAS has
    touched per thread so far); with t threads that step needs ``bytes + t·per_thread``."""

    def peak_at(self, threads: int) -> int:
        """The peak with ``threads`` BLAS threads (a step before any GEMM may be the peak)."""
        return max(self.peak_bytes,
                   max((base + threads * unit for base, unit in self.threaded), default=0))

    def threads_within(self, budget: int, most: int) -> int:
        """The most BLAS threads (1 … ``most``) whose peak fits ``budget`` (at least 1)."""
        for base, unit in self.threaded:
            if base + most * unit > budget:
                most = max(1, (budget - base) // unit)
        return most


def plan(report: Report) -> Plan:
    """Walk the layer tree as `Pass` will, adding up the bytes alive at every step (with
    one BLAS thread; `Plan.peak_at` for more)."""
    size = np.dtype(np.float32).itemsize
    batch = report.batch
    rows = report.layers
    peak, peak_row = 0, None
    work, most, work_row = 0.0, 0.0, None
    blas = 0
    """Bytes of BLAS's buffer touched so far by one thread (they stay)."""
    threaded: list[tuple[int, int]] = []

    def nbytes(shape: Shape | None) -> int:
        return 0 if shape is None else elements(shape) * batch * size

    def group(nodes: Group, indices: Sequence[int], held: int) -> int:
        """Visit a group (its nodes and their rows) whose input is kept alive elsewhere;
        returns its output's bytes (0 for an empty group: its output is its input)."""
        last = 0
        for node, index in zip(nodes, indices, strict=True):
            last = visit(node, index, held)
        return last

    def visit(node: Node, index: int, held: int) -> int:
        out_b = _visit(node, index, held + kept)
        keep(rows[index])
        return out_b

    kept = 0
    """Bytes of the named tensors a later route reads, alive until their last reader."""

    def keep(row: LayerRow) -> None:
        nonlocal kept
        if row.keep:
            kept += nbytes(row.output_shape)
        if row.release and row.source is not None and row.source >= 0:
            kept -= nbytes(rows[row.source].output_shape)

    def _visit(node: Node, index: int, held: int) -> int:
        nonlocal peak, peak_row, work, most, work_row, blas
        row = rows[index]
        inp, out = row.input_shape, row.output_shape
        in_b, out_b = nbytes(inp), nbytes(out)
        if node.reads:  # a route: the named tensor, already counted
            return out_b
        if isinstance(node, Block):
            node = row.node if isinstance(row.node, Block) else node  # as the walk settled it
            groups = node.groups()
            parts = zip(groups, report.group_rows(index, groups), strict=True)
            if node.chained:  # the block keeps its input while the copies run
                for g, indices in parts:
                    group(g, indices, held + in_b)
                return out_b
            done = 0
            for g, indices in parts:
                done += group(g, indices, held + in_b + done)
            need = held + in_b + done + out_b + SLACK_BYTES
            work += 2 * (done + out_b) / size * WORK_ELEMENT
        else:
            assert isinstance(node, Layer)  # a Node is a Block or a Layer
            if inp is None or out is None:
                return out_b
            cost = layer_cost(node, inp, out, batch)
            weights = sum(elements(s) for s in node.weight_shapes(inp).values()) * size
            blas = max(blas, min(BLAS_BUFFER_BYTES, cost.gemm))
            need = held + in_b + weights + out_b + cost.scratch + SLACK_BYTES
            work += cost.work + weights / size * WORK_ELEMENT
            if cost.work > most:
                most, work_row = cost.work, row
        if blas:
            threaded.append((need, blas))
        need += blas
        if need > peak:
            peak, peak_row = need, row
        return out_b

    if report.spec is not None and report.input_shape is not None:
        if any(r.source == -1 for r in rows):  # a route reads the input: it stays
            kept += nbytes(report.input_shape)
        group(report.spec.layers, report.roots, 0)
    return Plan(peak, peak_row, work, work_row, tuple(threaded))


def estimate_peak_bytes(report: Report) -> int:
    """Bytes the pass needs at its peak (every buffer alive at its largest moment)."""
    return plan(report).peak_bytes


# --------------------------------------------------------------------------- threads

def _others_running() -> int:
    """Tasks runnable right now besides this one (largest of a few samples)."""
    try:
        seen = 0
        for i in range(3):
            with open("/proc/loadavg", encoding="ascii") as f:
                seen = max(seen, int(f.read().split()[3].split("/")[0]) - 1)
            if i < 2:
                time.sleep(0.001)
        return max(0, seen)
    except (OSError, ValueError, IndexError):
        try:
            return max(0, math.ceil(os.getloadavg()[0]))
        except OSError:
            return 0


def _cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def blas_threads(configured: int) -> int:
    """BLAS threads for the pass: free CPUs, at least 1, at most ``configured``."""
    return max(1, min(configured, _cpus() - _others_running()))


# --------------------------------------------------------------------------- the pass

@dataclass
class Pass:
    """One walk over the layer tree, each node with its row (the rows' own parent links),
    recording each row's verdict."""

    report: Report
    tick: Callable[[], None]

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(SEED)
        self.block = (self.rng.standard_normal(BLOCK) * 0.05).astype(np.float32)
        self.current = 0
        """The row of the node running now (the last one started)."""
        self.verified: list[bool | None] = [None] * len(self.report.layers)
        self.problems: list[Problem] = []
        self.kept: dict[int, Array] = {}
        """Named tensors a later route reads, by the row that made them (-1: the input);
        each is dropped after its last reader (spec §9)."""

    def tiled(self, shape: tuple[int, ...]) -> Array:
        """The random block repeated to ``shape`` (exactly one array of that size)."""
        out = np.empty(shape, dtype=np.float32)
        flat = out.reshape(-1)
        full = flat.size // BLOCK
        flat[: full * BLOCK].reshape(full, BLOCK)[...] = self.block
        flat[full * BLOCK :] = self.block[: flat.size - full * BLOCK]
        return out

    def weights(self, shapes: dict[str, tuple[int, ...]]) -> dict[str, Array]:
        out = {}
        for name, shape in shapes.items():
            arr = self.tiled(shape)
            if name == "var":
                np.abs(arr, out=arr)
                arr += 1
            out[name] = arr
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

    def group(self, group: Group, rows: Sequence[int], x: Array) -> Array:
        for node, index in zip(group, rows, strict=True):
            x = self.node(node, index, x)
        return x

    def node(self, node: Node, index: int, x: Array) -> Array:
        self.current = index
        row = self.report.layers[index]
        if node.reads and row.source is not None:  # a route: the named tensor, as it is
            y = self.kept.pop(row.source) if row.release else self.kept[row.source]
        else:
            y = self.run(node, index, x)
        if row.keep:
            self.kept[index] = y
        self.expect(index, y)
        return y

    def run(self, node: Node, index: int, x: Array) -> Array:
        if isinstance(node, Block):
            settled = self.report.layers[index].node  # as the walk settled it (auto shortcuts)
            node = settled if isinstance(settled, Block) else node
            groups = node.groups()
            parts = zip(groups, self.report.group_rows(index, groups), strict=True)
            if node.chained:
                y = x
                for g, rows in parts:
                    y = self.group(g, rows, y)
            else:
                outs = [self.group(g, rows, xi)
                        for (g, rows), xi in zip(parts, node.slices(x), strict=True)]
                y = node.merge(outs)
                del outs
        else:
            assert isinstance(node, Layer)  # a Node is a Block or a Layer
            w = self.weights(node.weight_shapes(tuple(int(n) for n in x.shape[1:])))
            y = node.forward(x, w)
            del w
            self.tick()
        return y


SMALL_WORK = 5e7
"""Passes below this much work (~50 ms) leave BLAS threads alone: their GEMMs are too small
for OpenBLAS to thread, and choosing costs ~30 ms (threadpoolctl scans the loaded libraries)."""


def _threads(need: Plan, budget: int) -> AbstractContextManager[object]:
    """Limit BLAS threads for the pass per `blas_threads`, and to as many as the memory
    budget has room for (each thread's buffer, `BLAS_BUFFER_BYTES`); left alone for
    small passes with room for a thread per CPU."""
    cpus = max(_cpus(), os.cpu_count() or 1)
    fits = need.threads_within(budget, cpus)
    if need.work < SMALL_WORK and fits >= cpus:
        return nullcontext()
    from threadpoolctl import ThreadpoolController  # ~30 ms: only for passes that use BLAS
    ctl = ThreadpoolController()
    blas = [lib.num_threads for lib in ctl.select(user_api="blas").lib_controllers]
    limit: AbstractContextManager[object] = ctl.limit(
        limits=min(fits, blas_threads(max(blas, default=1))), user_api="blas")
    return limit


def _skipped(report: Report, why: str, row: LayerRow | None, fixes: tuple[str, ...]) -> Report:
    where = f" (at {row.path}: {row.spec})" if row is not None else ""
    return with_verified(report, [None] * len(report.layers), [Problem(
        Severity.NOTE, "V002", f"the forward pass was skipped: {why}{where}",
        row.path if row is not None else "", row.location if row is not None else None, fixes)])


_MEMORY_FIXES = ("raise --max-memory (max_memory=) to run it, or lower --batch",)


class Progress(Protocol):
    """What the pass reports its progress to (the CLI's bar): ``start`` with the number of
    layers, ``advance`` after each, ``stop`` at the end."""

    def start(self, total: int) -> None: ...
    def advance(self) -> None: ...
    def stop(self) -> None: ...


def verify_report(report: Report, max_memory: int | None = None,
                  progress: Progress | None = None) -> Report:
    """Run the forward pass when it fits ``max_memory`` (default `DEFAULT_MAX_MEMORY`)
    and `MAX_WORK`; set every row's ``verified``. Never raises: running out of memory or
    time is a V002 note, anything else going wrong a V001 error. ``progress`` hears about a
    pass longer than about a second."""
    if not report.ok or report.input_shape is None:
        return report
    budget = DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    try:
        need = plan(report)
    except (OverflowError, ValueError, MemoryError):  # numbers beyond any float estimate
        return _skipped(report, "the network is too large to estimate its memory", None,
                        _MEMORY_FIXES)
    if need.peak_bytes > budget:
        return _skipped(report, f"it needs about {need.peak_bytes / 2**20:,.1f} MiB, more than "
                        f"the {budget / 2**20:,.1f} MiB allowed", need.peak_row, _MEMORY_FIXES)
    if need.work > MAX_WORK:
        return _skipped(report, f"it would take about {need.work / 1e9:,.0f} s, more than a "
                        f"check should ({MAX_WORK / 1e9:.0f} s)", need.work_row,
                        ("verify a smaller input size or batch, or pass --no-verify",))
    leaves = sum(not r.is_block for r in report.layers)
    bar = progress if need.work > 1e9 else None  # only passes longer than about a second
    if bar is not None:
        bar.start(leaves)
    run = Pass(report, bar.advance if bar else (lambda: None))
    layers = report.spec.layers if report.spec else ()
    try:
        with _threads(need, budget):
            # the input is not kept here (unless a route reads it): the pass frees each
            # activation once used
            x = run.rng.standard_normal((report.batch, *report.input_shape), dtype=np.float32)
            if any(r.source == -1 for r in report.layers):
                run.kept[-1] = x
            run.group(layers, report.roots, x)
            del x
    except MemoryError:
        row = report.layers[run.current]
        return _skipped(report, "this machine ran out of memory", row,
                        ("lower --max-memory (max_memory=) to the memory this machine has "
                         "free, or lower --batch",))
    except Exception as exc:  # a kernel failing is a bug in cnncalc: report, never raise
        row = report.layers[run.current]
        run.problems.append(Problem(
            Severity.ERROR, "V001", f"the forward pass failed: {type(exc).__name__}: {exc}; "
            "this is a bug in cnncalc, please report it with this spec", row.path, row.location))
    finally:
        if bar:
            bar.stop()
    return with_verified(report, run.verified, run.problems)


__all__: Sequence[str] = [
    "DEFAULT_MAX_MEMORY", "WORK_ELEMENT", "WORK_MAC", "WORK_STEP", "Cost", "Progress",
    "estimate_peak_bytes", "plan", "verify_report"]
