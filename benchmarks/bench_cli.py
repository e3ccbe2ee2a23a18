"""Whole-process and in-process timings for the CLI paths that must feel instant.

Prints every figure; run with the project's virtualenv:  python benchmarks/bench_cli.py

- `cnncalc summary` of a 200-layer YAML spec (target ≤ 0.25 s whole process)
- `cnncalc summary resnet50 --no-verify` (target ≤ 0.25 s; torchinfo needs ~3.5 s)
- analysing a 10,000-layer spec in process (target ≤ 1 s) and the 10k/1k ratio (≤ 12)
- `cnncalc check` of 100 spec files (target ≤ 1 s whole process)
- whether numpy is imported on the summary --no-verify and check paths (it must not be)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CNNCALC = shutil.which("cnncalc") or str(Path(sys.executable).with_name("cnncalc"))
REPEAT = 7


# As installed: bytecode cached (pip compiles it at install time; PYTHONDONTWRITEBYTECODE,
# set in some sandboxes, would make every run recompile the package from source).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"NO_COLOR": "1"}


def best_of(cmd: list[str], repeat: int = REPEAT) -> tuple[float, float, int]:
    times = []
    code = 0
    subprocess.run(cmd, capture_output=True, env=ENV)  # warm-up: caches bytecode
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=ENV)
        times.append(time.perf_counter() - start)
        code = proc.returncode
    return min(times), statistics.median(times), code


def yaml_spec(n_layers: int) -> str:
    lines = ["name: bench", "input: 64x64x16", "layers:"]
    for i in range(n_layers):
        lines.append("  - conv(16, 3, p=1)" if i % 2 == 0 else "  - relu")
    return "\n".join(lines) + "\n"


def one_line(n_layers: int) -> str:
    return "64x64x16" + " -> conv(16, 3, p=1) -> bn -> relu" * (n_layers // 3)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    spec200 = tmp / "net200.yaml"
    spec200.write_text(yaml_spec(200))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; best / median of {REPEAT}")

    t, m, code = best_of([sys.executable, "-c", "pass"])
    print(f"python -c pass (interpreter floor)          {t:6.3f} s / {m:6.3f} s")
    for label, cmd in [
        ("summary 200-layer YAML --no-verify", [CNNCALC, "summary", str(spec200), "--no-verify"]),
        ("summary resnet50 --no-verify", [CNNCALC, "summary", "resnet50", "--no-verify"]),
        ("summary resnet50 --no-verify --format json",
         [CNNCALC, "summary", "resnet50", "--no-verify", "--format", "json"]),
    ]:
        t, m, code = best_of(cmd)
        print(f"{label:43s} {t:6.3f} s / {m:6.3f} s  (exit {code})")

    files = []
    zoo = sorted((HERE / "cnncalc" / "zoo").glob("*.yaml"))
    for i in range(100):
        f = tmp / f"net{i:03d}.cnn.yaml"
        f.write_text(zoo[i % len(zoo)].read_text() if i % 2 else yaml_spec(20))
        files.append(str(f))
    t, m, code = best_of([CNNCALC, "check", *files])
    print(f"{'check 100 files':43s} {t:6.3f} s / {m:6.3f} s  (exit {code})")

    probe = ("import sys, runpy; sys.argv = ['cnncalc'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('cnncalc', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('numpy imported:', 'numpy' in sys.modules, file=sys.stderr)")
    for args in (["summary", "resnet50", "--no-verify"], ["check", *files[:3]]):
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        print(f"{args[0]:8s} path: {proc.stderr.strip().splitlines()[-1]}")

    sys.path.insert(0, str(HERE))
    from cnncalc import analyze

    texts = {n: one_line(n) for n in (1_000, 10_000, 30_000)}
    timings = dict.fromkeys(texts, float("inf"))
    for _ in range(5):  # alternating, so a busy spell hits every size alike
        for n, text in texts.items():
            timings[n] = min(timings[n], _timed(analyze, text))
    for n, best in timings.items():
        print(f"analyze {n:6,}-layer one-line spec (in process) {best:6.3f} s "
              f"({best / n * 1e6:5.1f} µs per layer)")
    print(f"10k / 1k time ratio                          {timings[10_000] / timings[1_000]:6.2f}")
    print(f"30k / 10k time ratio                         {timings[30_000] / timings[10_000]:6.2f}")


def _timed(fn: object, arg: str) -> float:
    start = time.perf_counter()
    fn(arg)  # type: ignore[operator]
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
