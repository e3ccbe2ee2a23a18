"""The NumPy forward pass: speed against NumPy's own matmul peak and against torch, and memory.

Prints every figure (one run, best of a few repeats):
- NumPy float32 matmul peak (GFLOP/s) measured in this run;
- VGG-16 and ResNet-50 at 224×224×3, batch 1, from the zoo through the public API
  (``cnncalc.forward.verify_report`` on ``cnncalc.analyze``'s report): the whole pass
  (weights made layer by layer + kernels), GFLOP/s (2·MACs / pass time) and the ratio to
  the matmul peak;
- torch's CPU forward of the same networks — built by ``exec``-ing cnncalc's own PyTorch
  export of the zoo spec (same thread count, no_grad, eval) — and the ratio;
- `cnncalc summary vgg16` (verification on) as a whole process: seconds and peak RSS;
- contended: VGG-16's verification pass while a busy-loop process holds one core, with
  the pass's thread policy (cnncalc.forward.blas_threads), BLAS's default threads, and one
  thread (best of a few runs each). The policy should be close to the best of the two.

- R3D-18 (16×112×112×3 clips, 3-D convolutions) and M5 (1-D audio) the same way, and
  `cnncalc summary r3d_18 --max-memory 2GiB` as a whole process (seconds, peak RSS).

Targets: VGG-16's pass ≥ 60 % of the matmul peak and ≤ 1.3× torch; ResNet-50 ≤ 2× torch;
R3D-18 ≤ 1.5× torch and within 2 GiB; `cnncalc summary vgg16` ≤ 1.0 s and ≤ 700 MB peak RSS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from cnncalc import analyze, forward, zoo  # noqa: E402
from cnncalc.output.export import to_pytorch  # noqa: E402

REPEAT = 3


def matmul_peak() -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    b = a.copy()
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * 2048**3 / best / 1e9


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def cnncalc_forward(name: str) -> tuple[float, int]:
    """(whole pass seconds, MACs), best of REPEAT, through the public API."""
    path = zoo.path(name)
    assert path is not None
    report = analyze(path)
    best = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        verified = forward.verify_report(report)
        best = min(best, time.perf_counter() - start)
        assert all(row.verified for row in verified.layers), "shape mismatch"
    return best, report.totals.macs


def torch_forward(name: str) -> float | None:
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    model = _torch_model(name, nn)
    model.eval()
    path = zoo.path(name)
    assert path is not None
    shape = analyze(path).input_shape  # channels last; torch wants them second
    x = torch.randn(1, shape[-1], *shape[:-1])
    with torch.no_grad():
        model(x)
        return min(_timed(lambda: model(x)) for _ in range(REPEAT + 2))


def _torch_model(name: str, nn: object) -> object:
    """The zoo network as torch modules: cnncalc's own PyTorch export, executed."""
    import types
    path = zoo.path(name)
    assert path is not None
    module = types.ModuleType(f"exported_{name}")
    exec(compile(to_pytorch(analyze(path)), f"<{name}>", "exec"), module.__dict__)
    return module.build()


def whole_process(name: str, *extra: str) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of `cnncalc summary NAME` with verification on."""
    exe = shutil.which("cnncalc") or str(Path(sys.executable).with_name("cnncalc"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([exe, "summary", name, *extra], capture_output=True, env=env)  # bytecode
    best, rss = float("inf"), 0.0
    for _ in range(REPEAT):
        start = time.perf_counter()
        proc = subprocess.Popen([exe, "summary", name, "--format", "json", *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        out = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
        best = min(best, time.perf_counter() - start)
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.returncode == 0 and b'"verified": true' in out
        rss = max(rss, usage.ru_maxrss / 1024)  # this child alone (Linux: kB)
    return best, rss


def contended(name: str = "vgg16") -> None:
    """The pass with one core busy elsewhere: policy vs default threads vs one thread."""
    from threadpoolctl import threadpool_info

    from cnncalc import forward
    path = zoo.path(name)
    assert path is not None
    report = analyze(path)
    configured = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
                     default=1)
    cpus = sorted(os.sched_getaffinity(0))
    policy = forward.blas_threads
    rows = []
    for busy in (False, True):
        hog = None
        if busy:
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            os.sched_setaffinity(hog.pid, {cpus[-1]})
            time.sleep(0.5)
        try:
            for label, choose in (("policy", policy), (f"default ({configured})", lambda c: c),
                                  ("1 thread", lambda c: 1)):
                forward.blas_threads = choose  # type: ignore[assignment]
                picked = choose(configured)
                best = min(_timed(lambda: forward.verify_report(report)) for _ in range(REPEAT))
                rows.append((busy, label, picked, best))
        finally:
            forward.blas_threads = policy  # type: ignore[assignment]
            if hog is not None:
                hog.kill()
                hog.wait()
    for busy, label, picked, best in rows:
        state = "one core busy" if busy else "idle        "
        print(f"{name} pass, {state}: {label:12s} -> {picked} thread(s): {best:.3f} s")


def main() -> None:
    # First, while this process is small: a forked child's peak RSS starts at its parent's.
    seconds, rss = whole_process("vgg16")
    video = whole_process("r3d_18", "--max-memory", "2GiB") if zoo.path("r3d_18") else None
    threads = os.environ.get("OMP_NUM_THREADS", str(os.cpu_count()))
    peak = matmul_peak()
    print(f"cores {os.cpu_count()}, threads {threads}; numpy {np.__version__}")
    print(f"numpy float32 matmul peak: {peak:.1f} GFLOP/s")
    for name in ("vgg16", "resnet50", "r3d_18", "m5"):
        if zoo.path(name) is None:
            continue
        total, macs = cnncalc_forward(name)
        gflops = 2 * macs / total / 1e9
        print(f"{name}: cnncalc pass {total:.3f} s, {gflops:.1f} GFLOP/s = "
              f"{gflops / peak:.0%} of matmul peak")
        t = torch_forward(name)
        if t is not None:
            print(f"{name}: torch forward {t:.3f} s; cnncalc pass / torch = {total / t:.2f}×")
    print(f"cnncalc summary vgg16 (verified), whole process: {seconds:.3f} s, "
          f"peak RSS {rss:.0f} MB")
    if video is not None:
        print(f"cnncalc summary r3d_18 --max-memory 2GiB (verified), whole process: "
              f"{video[0]:.3f} s, peak RSS {video[1]:.0f} MB")
    contended()


if __name__ == "__main__":
    main()
