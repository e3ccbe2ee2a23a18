"""Measure what BLAS's own buffers add to the forward pass's resident memory.

Run: ``python benchmarks/bench_blas_buffers.py [--threads 1 2 ...]``

For each GEMM shape M x K x N (float32, as the kernels call ``np.matmul``) and each BLAS
thread count, a fresh interpreter makes the operands and the result first, then runs the
GEMM into the result; the growth of its peak RSS (VmHWM) is what BLAS touched of its
buffers. Printed beside it is what the memory model counts for it
(``cnncalc.forward.plan``): ``threads * min(BLAS_BUFFER_BYTES, operand bytes)``. A row
whose measurement exceeds the model is marked ``OVER``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnncalc.forward import BLAS_BUFFER_BYTES

CHILD = """
import sys
import numpy as np
def hwm():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))
np.ones((32, 16), np.float32) @ np.ones((16, 64), np.float32)  # BLAS loaded and used once
m, k, n = map(int, sys.argv[1:4])
x = np.ones((m, k), np.float32)
w = np.ones((k, n), np.float32)
y = np.ones((m, n), np.float32)
before = hwm()
np.matmul(x, w, out=y)
print(hwm() - before)
"""

SHAPES = [  # M x K x N: the kernels' GEMMs, from 1x1 convs and per-position fc to fc heads
    (65536, 32, 48), (100000, 64, 64), (65536, 256, 256), (16384, 1024, 1024),
    (16384, 2048, 2048), (4096, 4096, 4096), (1024, 4096, 4096), (256, 8192, 8192),
    (32, 100000, 1000), (1, 2097152, 10),
]


def measure(m: int, k: int, n: int, threads: int) -> int:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(m), str(k), str(n)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return int(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+",
                        default=sorted({1, len(os.sched_getaffinity(0))}))
    args = parser.parse_args()
    mib = 2**20
    print(f"BLAS_BUFFER_BYTES = {BLAS_BUFFER_BYTES / mib:.0f} MiB per thread")
    print(f"{'M x K x N':>22} {'threads':>7} {'touched':>9} {'model':>9}")
    worst = 0.0
    for m, k, n in SHAPES:
        operands = 4 * k * (m + n)
        for t in args.threads:
            got = measure(m, k, n, t)
            model = t * min(BLAS_BUFFER_BYTES, operands)
            worst = max(worst, got / model)
            flag = "  OVER" if got > model else ""
            print(f"{m:>8} x {k:>6} x {n:>4} {t:>7} {got / mib:>7.1f} M {model / mib:>7.1f} M"
                  f"{flag}")
    print(f"largest touched / model: {worst:.2f}")


if __name__ == "__main__":
    main()
