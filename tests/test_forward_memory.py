"""The forward pass's promise, measured: peak RSS <= --max-memory + the interpreter's baseline.

Every layer kind in the registry (`cnncalc.layers.LAYERS`) has at least one spec below; a
new kind without one fails `test_every_kind_has_a_memory_spec`. Each spec is run as
``cnncalc summary SPEC --max-memory X`` in a fresh interpreter that reports its own
high-water mark (VmHWM of /proc/self/status, written at exit: a fresh process, so no
inherited RSS from pytest). X is the pass's own estimate for that spec (the tightest budget
that still runs it, so the pass must run, and every row must be verified), so a buffer the
model forgot shows up as peak > X + baseline. The baseline is measured the same way on a
trivial spec (numpy imported, BLAS used once). The specs are sized (tens of MB) so that a
forgotten input-sized buffer would exceed the slack the model counts.

A second set runs adversarial specs (the reproducers of issue 8) at a tiny budget: they
must be skipped with a V002 note, exit 0, and stay within the same bound.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest

import cnncalc
from cnncalc.forward import plan
from cnncalc.layers import LAYERS

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="needs Linux /proc to measure peak RSS")

CHILD = """
import atexit, sys
def _hwm():
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    sys.stderr.write(f"\\nVmHWM {kb}\\n")
atexit.register(_hwm)
from cnncalc.cli import main
sys.argv = ["cnncalc", *sys.argv[1:]]
main()
"""

# kind name -> specs; sizes chosen so that each layer's buffers are tens of MB
KIND_SPECS: dict[str, list[str]] = {
    "conv": [
        "256x256x32 -> conv(32, 3, p=1)",               # im2col row blocks with padded slabs
        "32x32x64 -> conv(64, 3, p=1)",                 # whole small images per block
        "128x128x256 -> conv(256, 1)",                  # 1x1: one GEMM, no scratch
        "96x96x64 -> conv(64, 3, p=same, d=40)",        # taps: huge dilation, no padded copy
        "32x32x512 -> conv(4, 15)",                     # taps: huge kh*kw*C
        "128x128x64 -> conv(64, 3, p=1, g=4)",          # grouped: per-group GEMM temporaries
    ],
    "dwconv": ["256x256x64 -> dwconv(3, p=1, m=2)"],
    "deconv": ["64x64x64 -> deconv(64, 4, s=2, p=1)", "32x32x32 -> deconv(32, 3, s=2, g=4)"],
    "maxpool": ["256x256x32 -> maxpool(3, s=2, p=1)", "256x256x16 -> maxpool(64, s=1)"],
    "avgpool": ["256x256x32 -> avgpool(2)", "256x256x16 -> avgpool(33, s=3, p=16, ceil=true)"],
    "gap": ["256x256x32 -> gap"],
    "globalmaxpool": ["256x256x32 -> globalmaxpool"],
    "adaptiveavgpool": ["256x256x32 -> adaptiveavgpool(300)", "64x64x8 -> adaptiveavgpool(1000)"],
    "bn": ["256x256x32 -> bn"],
    "relu": ["256x256x32 -> relu"],
    "relu6": ["256x256x32 -> relu6"],
    "leakyrelu": ["256x256x32 -> leakyrelu(0.1)"],
    "prelu": ["256x256x32 -> prelu"],
    "elu": ["256x256x32 -> elu"],
    "gelu": ["256x256x32 -> gelu"],
    "silu": ["256x256x32 -> silu"],
    "sigmoid": ["256x256x32 -> sigmoid"],
    "tanh": ["256x256x32 -> tanh"],
    "hardswish": ["256x256x32 -> hardswish"],
    "softmax": ["256x256x32 -> softmax", "8000000 -> softmax"],
    "lrn": ["256x256x32 -> lrn(5)", "4000000 -> lrn(100000)"],
    "layernorm": ["256x256x32 -> layernorm", "4000000 -> layernorm"],
    "groupnorm": ["256x256x32 -> groupnorm(4)", "256x256x32 -> gn(32, affine=false)"],
    "instancenorm": ["256x256x32 -> instancenorm(affine=true)"],
    "layerscale": ["256x256x32 -> layerscale"],
    "hardsigmoid": ["256x256x32 -> hardsigmoid"],
    "mish": ["256x256x32 -> mish"],
    "shuffle": ["256x256x32 -> shuffle(4)", "4000000 -> shuffle(8)"],
    "identity": ["256x256x32 -> identity"],
    "dropout": ["256x256x32 -> dropout"],
    "flatten": ["256x256x32 -> flatten"],
    "fc": ["256x256x32 -> fc(10)", "4096 -> fc(4096)", "256x256x32 -> fc(48, flatten=false)"],
    "pad": ["256x256x32 -> pad(40)"],
    "upsample": ["256x256x32 -> upsample(2)"],
    "repeat": ["256x256x16 -> [conv(16, 3, p=1) -> relu] * 3"],
    "residual": ["256x256x16 -> residual([conv(16, 3, p=1) -> bn -> relu -> conv(16, 3, p=1)])",
                 "256x256x16 -> residual([conv(32, 3, s=2, p=1)], shortcut=[conv(32, 1, s=2)])"],
    "concat": ["256x256x16 -> concat([conv(16, 1)], [conv(16, 3, p=1)], [maxpool(3, s=1, p=1)], [])"],
    "gate": ["256x256x32 -> gate([gap -> conv(8, 1) -> relu -> conv(32, 1) -> sigmoid])",
             "256x256x32 -> gate([conv(1, 3, p=1) -> sigmoid])",
             "256x256x32 -> gate([conv(32, 3, p=1) -> sigmoid])"],
    "split": ["256x256x32 -> split([], [conv(16, 3, p=1) -> relu])",
              "256x256x48 -> split([conv(16, 1)], [maxpool(3, s=1, p=1)], [dwconv(3, p=1)])"],
}

ADVERSARIAL = [
    "8x8x3 -> conv(8, 3, p=same, d=5000)",
    "64x64x2048 -> conv(1, 15)",
    "4096x4096x64 -> conv(64, 3, p=1)",
    "1x1x1 -> deconv(1, 20000)",
    "4000x4000x1 -> maxpool(4000)",
    "1x1x1 -> adaptiveavgpool(30000)",
    "100000000 -> lrn(1000)",
    "1x1x3 -> pad(20000)",
    "1x1x3 -> upsample(20000)",
]


def run(spec: str, budget: int) -> tuple[int, int, str]:
    """(exit code, peak RSS in bytes, stdout) of ``cnncalc summary SPEC --max-memory budget``."""
    proc = subprocess.run([sys.executable, "-c", CHILD, "summary", spec, "--format", "json",
                           "--max-memory", str(budget)],
                          capture_output=True, text=True, timeout=120)
    hwm = [line for line in proc.stderr.splitlines() if line.startswith("VmHWM ")]
    assert hwm, proc.stderr
    return proc.returncode, int(hwm[-1].split()[1]) * 1024, proc.stdout


@cache
def baseline() -> int:
    """The interpreter with numpy imported and BLAS used once: the most of a few runs."""
    return max(run("32x32x16 -> conv(64, 3, p=1) -> fc(10)", 2**30)[1] for _ in range(3))


def test_every_kind_has_a_memory_spec() -> None:
    kinds = {kind.name for kind in LAYERS.values()}
    assert kinds <= set(KIND_SPECS), f"add a memory spec for {sorted(kinds - set(KIND_SPECS))}"
    for name, specs in KIND_SPECS.items():
        for spec in specs:
            report = cnncalc.analyze(spec)
            assert report.ok, (spec, report.errors)
            assert any(r.kind == name for r in report.layers), (name, spec)


def test_peak_rss_within_budget_for_every_kind() -> None:
    base = baseline()
    cases = [(name, spec, plan(cnncalc.analyze(spec)).peak_bytes)
             for name, specs in KIND_SPECS.items() for spec in specs]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: run(c[1], c[2]), cases))
    over = []
    for (name, spec, budget), (code, peak, out) in zip(cases, results, strict=True):
        assert code == 0, (spec, out)
        report = json.loads(out)
        assert all(row["verified"] for row in report["layers"]), (spec, report["problems"])
        if peak > budget + base:
            over.append(f"{name}: {spec}: peak {peak / 2**20:.1f} MiB > budget "
                        f"{budget / 2**20:.1f} + baseline {base / 2**20:.1f} MiB")
    assert not over, "\n".join(over)


# GEMMs whose BLAS threads touch the most of their buffers (benchmarks/bench_blas_buffers.py)
THREADED = ["256x256x256 -> fc(256, flatten=false)", "128x128x1024 -> conv(1024, 1)",
            "320x320x64 -> conv(64, 1)"]


@pytest.mark.parametrize("spec", THREADED)
def test_peak_rss_within_budget_with_every_blas_thread(spec: str) -> None:
    """A budget with room for a BLAS buffer per CPU: the pass may use every thread, and
    each one's buffer is in the budget."""
    cpus = len(os.sched_getaffinity(0))
    budget = plan(cnncalc.analyze(spec)).peak_at(cpus)
    code, peak, out = run(spec, budget)
    assert code == 0, out
    assert all(row["verified"] for row in json.loads(out)["layers"])
    base = baseline()
    assert peak <= budget + base, (f"{spec}: peak {peak / 2**20:.1f} MiB > budget "
                                   f"{budget / 2**20:.1f} + baseline {base / 2**20:.1f} MiB")


@pytest.mark.parametrize("spec", ADVERSARIAL)
def test_adversarial_specs_are_skipped_within_a_tiny_budget(spec: str) -> None:
    budget = 2**20
    code, peak, out = run(spec, budget)
    assert code == 0
    problems = json.loads(out)["problems"]
    assert [p["code"] for p in problems if p["code"].startswith("V")] == ["V002"]
    assert peak <= budget + baseline()
