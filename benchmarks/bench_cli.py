"""Whole-process and in-process timings for the CLI paths that must feel instant.

Prints every figure; run with the project's virtualenv:  python benchmarks/bench_cli.py

- `cnncalc summary` of a 200-layer YAML spec (target ≤ 0.25 s whole process)
- `cnncalc summary resnet50 --no-verify` (target ≤ 0.25 s; torchinfo needs ~3.5 s)
- analysing a 10,000-layer spec in process (target ≤ 1 s) and the 10k/1k ratio (≤ 12)
- `cnncalc check` of 100 spec files (target ≤ 1 s whole process)
- `cnncalc solve` with 4 unknowns on ResNet-50 (target ≤ 0.5 s whole process), and 20
  unknowns refused as too large (about a second)
- whether numpy is imported on the summary --no-verify and check paths (it must not be)
- `cnncalc sizes` of a 10,000-row spec (target ≤ 1 s whole process), resnet50, unet, vgg16
  on 1..2³¹ − 1
- analysis time flat in the size of the numbers: the same spec with a stride, kernel,
  channel count, group count, multiplier or output size of 2, 10**6 and 2**31 − 1 (the
  bound), lints included (target: the largest within 2× the smallest)
- analysis time linear in the rows, lints included, for the specs that were quadratic
  ([identity] * N, N convs on a 1×1 map) and a conv-bn-relu chain in 2-D, 3-D
  (16×56×56×16) and 1-D (10k rows ≤ 1 s each), and graphs of library block calls and
  named tensors (spec §9–§10; the expanded 10k-row graph ≤ 1 s)
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


RESNET50 = ("224x224x3 -> conv(64,7,s=2,p=3,bias=false) -> bn -> relu -> maxpool(3,s=2,p=1) -> "
            "bottleneck(64)*3 -> bottleneck(128,stride=2) -> bottleneck(128)*3 -> "
            "bottleneck(256,stride=2) -> bottleneck(256)*5 -> bottleneck(512,stride=2) -> "
            "bottleneck(512)*2 -> gap -> fc(1000)")
RESNET50_4 = RESNET50.replace("s=2,p=3", "s=2,p=?").replace("s=2,p=1", "s=2,p=?").replace(
    "bottleneck(128,stride=2)", "bottleneck(128,stride=?)").replace(
    "bottleneck(256,stride=2)", "bottleneck(256,stride=?)")
RESNET50_STEM = RESNET50.replace("s=2,p=3", "s=?,p=?").replace("s=2,p=1", "s=?,p=?")
TWENTY = "512x512x3 -> " + " -> ".join("conv(8, 3, s=?, p=?)" for _ in range(10))
"""``cnncalc solve`` cases: issue 14's 4 unknowns on ResNet-50 (≤ 0.5 s), the zoo's VGG-16
(params and MACs pinned) with nine unknown paddings, and 20 unknowns refused with a clear
message."""


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    spec200 = tmp / "net200.yaml"
    spec200.write_text(yaml_spec(200))
    vgg9 = tmp / "vgg16-9-paddings.yaml"  # params and MACs pinned by the zoo's expect:
    vgg9.write_text((HERE / "cnncalc" / "zoo" / "vgg16.yaml").read_text().replace(
        "conv(256, 3, p=1)", "conv(256, 3, p=?)").replace("conv(512, 3, p=1)", "conv(512, 3, p=?)"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; best / median of {REPEAT}")

    t, m, code = best_of([sys.executable, "-c", "pass"])
    print(f"python -c pass (interpreter floor)          {t:6.3f} s / {m:6.3f} s")
    for label, cmd in [
        ("summary 200-layer YAML --no-verify", [CNNCALC, "summary", str(spec200), "--no-verify"]),
        ("summary resnet50 --no-verify", [CNNCALC, "summary", "resnet50", "--no-verify"]),
        ("summary resnet50 --no-verify --format json",
         [CNNCALC, "summary", "resnet50", "--no-verify", "--format", "json"]),
        ("draw resnet50 --depth 2 (SVG)", [CNNCALC, "draw", "resnet50", "--depth", "2"]),
        ("draw resnet50 (every layer, SVG)", [CNNCALC, "draw", "resnet50"]),
        ("solve resnet50, 4 ? (stem p, pool p, 2 strides)", [CNNCALC, "solve", RESNET50_4]),
        ("solve resnet50, 4 ? (stem s and p, pool s and p)",
         [CNNCALC, "solve", RESNET50_STEM]),
        ("solve vgg16 (pinned), 9 paddings ?", [CNNCALC, "solve", str(vgg9)]),
        ("solve 20 ? (10 strides and paddings; refused)", [CNNCALC, "solve", TWENTY]),
    ]:
        t, m, code = best_of(cmd)
        print(f"{label:43s} {t:6.3f} s / {m:6.3f} s  (exit {code})")

    # The same 100 files as ever: half 20-layer specs, half the eight classic zoo networks
    # (the zoo has grown since; the whole zoo is timed on its own below).
    files = []
    classic = ("alexnet", "cs231n", "googlenet", "lenet5", "mobilenet_v2", "resnet18",
               "resnet50", "vgg16")
    zoo = [HERE / "cnncalc" / "zoo" / f"{name}.yaml" for name in classic]
    for i in range(100):
        f = tmp / f"net{i:03d}.cnn.yaml"
        f.write_text(zoo[i % len(zoo)].read_text() if i % 2 else yaml_spec(20))
        files.append(str(f))
    t, m, code = best_of([CNNCALC, "check", *files])
    print(f"{'check 100 files':43s} {t:6.3f} s / {m:6.3f} s  (exit {code})")
    everything = sorted(str(p) for p in (HERE / "cnncalc" / "zoo").glob("*.yaml"))
    t, m, code = best_of([CNNCALC, "check", *everything])
    label = f"check the whole zoo ({len(everything)} networks)"
    print(f"{label:43s} {t:6.3f} s / {m:6.3f} s  (exit {code})")

    sizes_figures(tmp)

    probe = ("import sys, runpy; sys.argv = ['cnncalc'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('cnncalc', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('numpy imported:', 'numpy' in sys.modules, file=sys.stderr)")
    for args in (["summary", "resnet50", "--no-verify"], ["check", *files[:3]],
                 ["draw", "resnet50", "--depth", "2"]):
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

    numbers_flat(analyze)
    rows_linear(analyze)


NUMBER_SPECS = [
    ("stride", "64x64x16 -> conv(16, 2, s={n}) -> relu -> gap -> fc(10)"),
    ("pool stride", "64x64x16 -> maxpool(2, s={n}) -> relu"),
    ("kernel", "{n}x4x2 -> conv(8, {n}x3, p=1) -> relu -> conv(8, 1x{n}, p=same)"),
    ("channels", "1x1x{n} -> conv({n}, 3, p=1) -> relu -> conv(24, 3, p=1) -> fc(10)"),
    ("groups", "4x4x{n} -> conv(12, 3, g=5)"),
    ("multiplier", "4x4x3 -> dwconv(3, m={n}, p=1) -> relu -> conv(8, 1)"),
    ("adaptive size", "8x8x3 -> adaptiveavgpool({n}x1) -> relu"),
    ("dilation", "64x64x3 -> conv(8, 5, d={n}, p=same, s=3)"),
]
SIZES = (2, 10**6, 2**31 - 1)


def numbers_flat(analyze: object) -> None:
    """The same spec with small and bound-sized numbers: analysis time must not follow them."""
    print(f"\nanalysis time vs the numbers' size (best of 20, lints included; n = "
          f"{', '.join(f'{n:,}' for n in SIZES)})")
    worst = 0.0
    for label, template in NUMBER_SPECS:
        best = []
        for n in SIZES:
            text = template.replace("{n}", str(n))
            best.append(min(_timed(analyze, text) for _ in range(20)))
        worst = max(worst, max(best) / min(best))
        print(f"  {label:14s} " + "  ".join(f"{t * 1e3:7.3f} ms" for t in best)
              + f"   max/min {max(best) / min(best):5.2f}   bound/10⁶ {best[2] / best[1]:5.2f}")
    print(f"  worst max/min ratio {worst:5.2f} (the loops it replaced ran 10⁶–2·10⁹ steps)")


ROW_SPECS = [
    ("[identity] * N", lambda n: f"8x8x3 -> [identity] * {n}"),
    ("N convs on a 1×1 map", lambda n: "1x1x8 -> " + " -> ".join(["conv(8, 3, p=1)"] * n)),
    ("conv-bn-relu chain", lambda n: "64x64x16" + " -> conv(16, 3, p=1) -> bn -> relu" * (n // 3)),
    ("3-D conv-bn-relu chain", lambda n: "16x56x56x16" + " -> conv3d(16, 3, p=1) -> bn3d -> relu"
     * (n // 3)),
    ("1-D conv-bn-relu chain", lambda n: "16000x16" + " -> conv1d(16, 3, p=1) -> bn1d -> relu"
     * (n // 3)),
    # spec §9–§10: graphs of block calls and named tensors, the rows they expand to
    ("bottleneck calls", lambda n: f"14x14x64 -> bottleneck(16) * {n // 12}"),
    ("mbconv calls (C read)", lambda n: f"14x14x16 -> mbconv(16) * {n // 19}"),
    ("named skips", lambda n: f"8x8x8 -> [conv(8, 3, p=1) as a -> relu -> add(@a)] * {n // 5}"),
]


def rows_linear(analyze: object) -> None:
    """1k, 10k and 30k rows, lints included: µs per row must stay flat."""
    print("\nanalysis time vs rows (best of 3, lints included)")
    for label, make in ROW_SPECS:
        texts = {n: make(n) for n in (1_000, 10_000, 30_000)}
        rows = {n: len(analyze(text).layers) for n, text in texts.items()}  # type: ignore[operator]
        best = dict.fromkeys(texts, float("inf"))
        for _ in range(3):
            for n, text in texts.items():
                best[n] = min(best[n], _timed(analyze, text))
        print(f"  {label:22s} " + "  ".join(
            f"{rows[n] / 1000:4.1f}k {t:6.3f} s ({t / rows[n] * 1e6:4.1f} µs/row)"
            for n, t in best.items()) + f"   30k/1k {best[30_000] / best[1_000]:5.1f}")


REPEATED_10K = "64x64x16 -> [conv(16, 3, p=1) -> bn -> relu] * 3333"
"""10,000 rows as one would write them (the spec above spells out every layer: reading its
300 KB line is a third of the time)."""


def sizes_figures(tmp: Path) -> None:
    """`cnncalc sizes` (whole process): a 10,000-row spec (target ≤ 1 s), the zoo's
    resnet50 and unet, and a range up to 2³¹ − 1."""
    spec10k = tmp / "net10k.yaml"
    spec10k.write_text(f"input: 64x64x16\nlayers:\n  - \"{one_line(10_000)[len('64x64x16 -> '):]}\"\n")
    spec1d = tmp / "net10k-1d.yaml"
    spec1d.write_text("input: 4096x16\nlayers:\n  - \""
                      + " -> ".join(["conv(16, 3, p=1) -> bn -> relu"] * 3333) + "\"\n")
    for label, cmd in [
        ("sizes 10k-row spec (1..1024)", [CNNCALC, "sizes", str(spec10k)]),
        ("sizes 10k-row spec written with a repeat", [CNNCALC, "sizes", REPEATED_10K]),
        ("sizes 10k-row 1-D spec (1..1024)", [CNNCALC, "sizes", str(spec1d)]),
        ("sizes resnet50 --no-expect", [CNNCALC, "sizes", "resnet50", "--no-expect"]),
        ("sizes resnet50 --size 500x375", [CNNCALC, "sizes", "resnet50", "--size", "500x375"]),
        ("sizes unet --no-expect", [CNNCALC, "sizes", "unet", "--no-expect"]),
        ("sizes vgg16 --no-expect --range 1..2**31-1",
         [CNNCALC, "sizes", "vgg16", "--no-expect", "--range", f"1..{2**31 - 1}"]),
    ]:
        t, m, code = best_of(cmd, 3)
        print(f"{label:43s} {t:6.3f} s / {m:6.3f} s  (exit {code})")


def _timed(fn: object, arg: str) -> float:
    start = time.perf_counter()
    fn(arg)  # type: ignore[operator]
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
