"""Benchmark cnncalc's NumPy kernels against numpy's matmul peak and against PyTorch.

Run: ``python benchmarks/bench_kernels.py [--runs N] [--layers] [--no-nets] [--no-convs]``

Prints the float32 matmul peak measured in this run, then VGG-16 (conv + fc stack) and
ResNet-50 (torchvision v1.5 layout) forwards at 224x224x3, batch 1, composed directly
from ``cnncalc.kernels`` (random weights generated before timing): best-of-N seconds,
GFLOP/s (2 * MACs / time) and fraction of the matmul peak, then the same networks in
PyTorch (same weights, ``no_grad``, eval, same thread count) and the time ratio.

Then single convolutions, each against torch's conv1d/conv3d in the same interleaved
rounds: every distinct conv of R3D-18 (torchvision's video ResNet-18 on a 16x112x112x3
clip; the count says how often it occurs, the total weighs each by it) and 1-D convs of
M5 (raw audio). A shared machine is noisy, so each round times ours and torch's back to
back and the median of the per-round ratios is quoted, next to the median times.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cnncalc import kernels as K

F32 = Any  # numpy float32 arrays

VGG16_CFG: list[int | str] = [
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
]  # fmt: skip
RESNET50_LAYERS = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]  # width, blocks, stride


def numpy_threads() -> int:
    """Threads OpenBLAS uses: its env variables, else the CPUs this process may run on."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        val = os.environ.get(var)
        if val and val.isdigit() and int(val) > 0:
            return int(val)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# ------------------------------------------------------------------------------ weights


def he(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> F32:
    w = rng.standard_normal(shape, dtype=np.float32)
    w *= np.float32(np.sqrt(2.0 / fan_in))
    return w


def vgg16_weights(rng: np.random.Generator) -> dict[str, Any]:
    convs = []
    c = 3
    for v in VGG16_CFG:
        if v == "M":
            continue
        assert isinstance(v, int)
        convs.append((he(rng, (3, 3, c, v), 9 * c), rng.standard_normal(v, dtype=np.float32) * 0.01))
        c = v
    fcs = []
    for fin, fout in [(25088, 4096), (4096, 4096), (4096, 1000)]:
        fcs.append((he(rng, (fin, fout), fin), rng.standard_normal(fout, dtype=np.float32) * 0.01))
    return {"convs": convs, "fcs": fcs}


def bn_params(rng: np.random.Generator, c: int) -> tuple[F32, F32, F32, F32]:
    gamma = (1.0 + 0.1 * rng.standard_normal(c)).astype(np.float32)
    beta = (0.1 * rng.standard_normal(c)).astype(np.float32)
    mean = (0.1 * rng.standard_normal(c)).astype(np.float32)
    var = (1.0 + 0.1 * rng.random(c)).astype(np.float32)
    return gamma, beta, mean, var


def resnet50_weights(rng: np.random.Generator) -> dict[str, Any]:
    net: dict[str, Any] = {
        "stem": (he(rng, (7, 7, 3, 64), 147), bn_params(rng, 64)),
        "blocks": [],
    }
    cin = 64
    for width, blocks, stride in RESNET50_LAYERS:
        for i in range(blocks):
            s = stride if i == 0 else 1
            cout = width * 4
            blk: dict[str, Any] = {
                "stride": s,
                "c1": (he(rng, (1, 1, cin, width), cin), bn_params(rng, width)),
                "c2": (he(rng, (3, 3, width, width), 9 * width), bn_params(rng, width)),
                "c3": (he(rng, (1, 1, width, cout), width), bn_params(rng, cout)),
                "down": None,
            }
            # scale the last BN down so the residual stream stays bounded
            blk["c3"][1][0][:] *= 0.2
            if i == 0:
                blk["down"] = (he(rng, (1, 1, cin, cout), cin), bn_params(rng, cout))
            net["blocks"].append(blk)
            cin = cout
    net["fc"] = (he(rng, (2048, 1000), 2048), rng.standard_normal(1000, dtype=np.float32) * 0.01)
    return net


# ------------------------------------------------------------------------ numpy forward


class Timer:
    """Accumulates per-kind seconds when enabled (``--layers``)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.totals: dict[str, float] = {}

    def __call__(self, kind: str, fn: Callable[..., F32], *args: Any) -> F32:
        if not self.enabled:
            return fn(*args)
        t0 = time.perf_counter()
        out = fn(*args)
        self.totals[kind] = self.totals.get(kind, 0.0) + time.perf_counter() - t0
        return out


def vgg16_numpy(x: F32, wts: dict[str, Any], tm: Timer) -> F32:
    i = 0
    for v in VGG16_CFG:
        if v == "M":
            x = tm("maxpool", K.max_pool, x, (2, 2), (2, 2), ((0, 0), (0, 0)), False)
        else:
            w_, b_ = wts["convs"][i]
            i += 1
            x = tm(
                f"conv{x.shape[1]}x{x.shape[3]}",
                K.conv,
                x,
                w_,
                b_,
                (1, 1),
                ((1, 1), (1, 1)),
                (1, 1),
                1,
            )
            x = tm("relu", K.relu, x)
    x = K.flatten(x)
    for j, (w_, b_) in enumerate(wts["fcs"]):
        x = tm("fc", K.linear, x, w_, b_)
        if j < 2:
            x = tm("relu", K.relu, x)
    return x


def conv_bn(x: F32, p: Any, stride: int, pad: int, tm: Timer, act: bool) -> F32:
    w, (g, b, m, v) = p
    k = w.shape[0]
    x = tm(f"conv{k}x{k}", K.conv, x, w, None, (stride, stride), ((pad, pad), (pad, pad)), (1, 1), 1)
    x = tm("bn", K.batch_norm, x, g, b, m, v, 1e-5)
    if act:
        x = tm("relu", K.relu, x)
    return x


def resnet50_numpy(x: F32, net: dict[str, Any], tm: Timer) -> F32:
    x = conv_bn(x, net["stem"], 2, 3, tm, True)
    x = tm("maxpool", K.max_pool, x, (3, 3), (2, 2), ((1, 1), (1, 1)), False)
    for blk in net["blocks"]:
        s = blk["stride"]
        out = conv_bn(x, blk["c1"], 1, 0, tm, True)
        out = conv_bn(out, blk["c2"], s, 1, tm, True)
        out = conv_bn(out, blk["c3"], 1, 0, tm, False)
        short = x if blk["down"] is None else conv_bn(x, blk["down"], s, 0, tm, False)
        x = tm("relu", K.relu, tm("add", K.add, out, short))
    x = tm("gap", K.global_avg_pool, x)
    w, b = net["fc"]
    return tm("fc", K.linear, K.flatten(x), w, b)


# ------------------------------------------------------------------------ torch forward


def torch_models(vgg: dict[str, Any], res: dict[str, Any]) -> tuple[Any, Any]:
    import torch
    from torch import nn

    def conv_w(w: F32) -> Any:
        return torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))

    layers: list[nn.Module] = []
    c = 3
    i = 0
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        assert isinstance(v, int)
        conv = nn.Conv2d(c, v, 3, padding=1)
        conv.weight.data = conv_w(vgg["convs"][i][0])
        conv.bias.data = torch.from_numpy(vgg["convs"][i][1])
        layers += [conv, nn.ReLU(inplace=True)]
        c, i = v, i + 1
    layers.append(nn.Flatten())
    for j, (w, b) in enumerate(vgg["fcs"]):
        fc = nn.Linear(*w.shape)
        if j == 0:  # our flatten is HWC-ordered, torch's is CHW-ordered: permute the rows
            w = w.reshape(7, 7, 512, -1).transpose(2, 0, 1, 3).reshape(25088, -1)
        fc.weight.data = torch.from_numpy(np.ascontiguousarray(w.T))
        fc.bias.data = torch.from_numpy(b)
        layers.append(fc)
        if j < 2:
            layers.append(nn.ReLU(inplace=True))
    tvgg = nn.Sequential(*layers).eval()

    def cbn(p: Any, stride: int, pad: int) -> list[nn.Module]:
        w, (g, b, m, v) = p
        conv = nn.Conv2d(w.shape[2], w.shape[3], w.shape[0], stride, pad, bias=False)
        conv.weight.data = conv_w(w)
        bn = nn.BatchNorm2d(w.shape[3])
        bn.weight.data, bn.bias.data = torch.from_numpy(g), torch.from_numpy(b)
        bn.running_mean.data, bn.running_var.data = torch.from_numpy(m), torch.from_numpy(v)
        return [conv, bn]

    class Bottleneck(nn.Module):
        def __init__(self, blk: dict[str, Any]) -> None:
            super().__init__()
            s = blk["stride"]
            self.body = nn.Sequential(
                *cbn(blk["c1"], 1, 0), nn.ReLU(inplace=True),
                *cbn(blk["c2"], s, 1), nn.ReLU(inplace=True),
                *cbn(blk["c3"], 1, 0),
            )  # fmt: skip
            self.down = None if blk["down"] is None else nn.Sequential(*cbn(blk["down"], s, 0))

        def forward(self, x: Any) -> Any:
            short = x if self.down is None else self.down(x)
            return torch.relu(self.body(x) + short)

    fc = nn.Linear(2048, 1000)
    fc.weight.data = torch.from_numpy(np.ascontiguousarray(res["fc"][0].T))
    fc.bias.data = torch.from_numpy(res["fc"][1])
    tres = nn.Sequential(
        *cbn(res["stem"], 2, 3), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1),
        *[Bottleneck(b) for b in res["blocks"]],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), fc,
    ).eval()  # fmt: skip
    return tvgg, tres


# ------------------------------------------------------------------------ single convs

# (name, count in the network, input (*spatial, C), kernel, filters, stride, padding)
ConvCase = tuple[str, int, tuple[int, ...], tuple[int, ...], int, tuple[int, ...], tuple[int, ...]]
R3D18_CONVS: list[ConvCase] = [
    ("stem 16x112x112x3 3x7x7/1x2x2 ->64", 1, (16, 112, 112, 3), (3, 7, 7), 64, (1, 2, 2), (1, 3, 3)),
    ("layer1 16x56x56x64 3^3 ->64", 4, (16, 56, 56, 64), (3, 3, 3), 64, (1, 1, 1), (1, 1, 1)),
    ("layer2.0 16x56x56x64 3^3/2 ->128", 1, (16, 56, 56, 64), (3, 3, 3), 128, (2, 2, 2), (1, 1, 1)),
    ("layer2 8x28x28x128 3^3 ->128", 3, (8, 28, 28, 128), (3, 3, 3), 128, (1, 1, 1), (1, 1, 1)),
    ("layer2 proj 16x56x56x64 1^3/2", 1, (16, 56, 56, 64), (1, 1, 1), 128, (2, 2, 2), (0, 0, 0)),
    ("layer3.0 8x28x28x128 3^3/2 ->256", 1, (8, 28, 28, 128), (3, 3, 3), 256, (2, 2, 2), (1, 1, 1)),
    ("layer3 4x14x14x256 3^3 ->256", 3, (4, 14, 14, 256), (3, 3, 3), 256, (1, 1, 1), (1, 1, 1)),
    ("layer3 proj 8x28x28x128 1^3/2", 1, (8, 28, 28, 128), (1, 1, 1), 256, (2, 2, 2), (0, 0, 0)),
    ("layer4.0 4x14x14x256 3^3/2 ->512", 1, (4, 14, 14, 256), (3, 3, 3), 512, (2, 2, 2), (1, 1, 1)),
    ("layer4 2x7x7x512 3^3 ->512", 3, (2, 7, 7, 512), (3, 3, 3), 512, (1, 1, 1), (1, 1, 1)),
    ("layer4 proj 4x14x14x256 1^3/2", 1, (4, 14, 14, 256), (1, 1, 1), 512, (2, 2, 2), (0, 0, 0)),
]  # fmt: skip
M5_CONVS: list[ConvCase] = [
    ("M5 conv1 16384x1 k80/16 p32 ->32", 1, (16384, 1), (80,), 32, (16,), (32,)),
    ("M5 256x32 k3 p1 ->32", 1, (256, 32), (3,), 32, (1,), (1,)),
    ("1-D 16000x1 k80/4 ->32", 1, (16000, 1), (80,), 32, (4,), (0,)),
]  # fmt: skip


def bench_convs(cases: list[ConvCase], runs: int, title: str) -> None:
    """Time each conv (batch 1, no bias) against torch in interleaved rounds; print
    median times, the median per-round time ratio and the max relative difference."""
    import torch

    rng = np.random.default_rng(1)
    fns = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
           3: torch.nn.functional.conv3d}  # fmt: skip
    print(f"{title}: median of {runs} paired rounds (ours, then torch)")
    tot_ours = tot_torch = 0.0
    for name, count, shape, kernel, f, stride, pad in cases:
        x = rng.standard_normal((1, *shape), dtype=np.float32)
        w = he(rng, (*kernel, shape[-1], f), int(np.prod(kernel)) * shape[-1])
        pads = tuple((p, p) for p in pad)
        dil = (1,) * len(kernel)
        xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
        wt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(w, (-2, -1), (1, 0))))
        tconv = fns[len(kernel)]

        def ours(x: F32 = x, w: F32 = w, stride: Any = stride, pads: Any = pads,
                 dil: Any = dil) -> F32:
            return K.conv(x, w, None, stride, pads, dil, 1)

        def theirs(xt: Any = xt, wt: Any = wt, stride: Any = stride, pad: Any = pad,
                   tconv: Any = tconv) -> Any:
            with torch.no_grad():
                return tconv(xt, wt, None, stride, pad)

        y, ref = ours(), np.moveaxis(theirs().numpy(), 1, -1)
        err = float(np.abs(y - ref).max() / (np.abs(ref).max() + 1e-30))
        t0 = time.perf_counter()
        ours()
        reps = max(1, int(0.02 / max(time.perf_counter() - t0, 1e-7)))  # >= ~20 ms a sample
        t_o, t_t = [], []
        for _ in range(runs):
            for fn, acc in ((ours, t_o), (theirs, t_t)):
                t0 = time.perf_counter()
                for _ in range(reps):
                    fn()
                acc.append((time.perf_counter() - t0) / reps)
        mo, mt = float(np.median(t_o)), float(np.median(t_t))
        ratio = float(np.median(np.array(t_o) / np.array(t_t)))
        plan = K.conv_plan(x.shape, w.shape, stride, pads, dil, 1)
        tot_ours += count * mo
        tot_torch += count * mt
        print(f"  {name:<36} x{count}  ours {mo * 1e3:8.2f} ms ({plan.path:<6})  torch "
              f"{mt * 1e3:8.2f} ms  ratio {ratio:.2f}x  (diff {err:.0e})")
    print(f"  {'total (weighted by count)':<36}     ours {tot_ours * 1e3:8.2f} ms           torch "
          f"{tot_torch * 1e3:8.2f} ms  ratio {tot_ours / tot_torch:.2f}x")


# ------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5,
                    help="timed rounds (networks: the best time is kept; single convs: the median)")
    ap.add_argument("--layers", action="store_true", help="also print seconds per kernel kind")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparisons")
    ap.add_argument("--no-nets", action="store_true", help="skip VGG-16 and ResNet-50")
    ap.add_argument("--no-convs", action="store_true", help="skip the single-conv rows")
    args = ap.parse_args()

    threads = numpy_threads()
    load0 = os.getloadavg()[0]
    print(f"numpy {np.__version__}, {threads} BLAS thread(s), float32, NHWC, batch 1")

    rng = np.random.default_rng(0)
    n = 4096
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    x = rng.standard_normal((1, 224, 224, 3), dtype=np.float32)
    vgg = vgg16_weights(rng)
    res = resnet50_weights(rng)
    nets: list[tuple[str, float, Callable[[Timer], F32]]] = [] if args.no_nets else [
        ("VGG-16", 15.470e9, lambda tm: vgg16_numpy(x, vgg, tm)),
        ("ResNet-50", 4.089e9, lambda tm: resnet50_numpy(x, res, tm)),
    ]
    # Everything is timed in interleaved rounds, so that a busy spell on a shared machine
    # hits the matmul peak, our kernels and torch alike; the best round of each is kept.
    jobs: dict[str, Callable[[], Any]] = {"peak": lambda: np.matmul(a, b, out=c)}
    for name, _, fwd in nets:
        jobs[name] = lambda fwd=fwd: fwd(Timer(False))
    if not args.no_torch:
        import torch

        torch.set_num_threads(threads)
        tvgg, tres = torch_models(vgg, res)
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))

        def run_torch(model: Any) -> Any:
            with torch.no_grad():
                return model(xt).numpy()

        jobs["torch VGG-16"] = lambda: run_torch(tvgg)
        jobs["torch ResNet-50"] = lambda: run_torch(tres)
    outputs = {key: fn() for key, fn in jobs.items()}  # warm-up (and outputs to compare)
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(args.runs):
        for key, fn in jobs.items():
            t0 = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t0)

    peak = 2.0 * n**3 / best["peak"] / 1e9
    print(f"numpy float32 matmul peak ({n}x{n}x{n}, best of {args.runs}): {peak:.1f} GFLOP/s")
    for name, macs, fwd in nets:
        t = best[name]
        gf = 2 * macs / t / 1e9
        print(
            f"{name:<9} cnncalc.kernels: {t:.3f} s  {gf:6.1f} GFLOP/s  "
            f"{100 * gf / peak:5.1f} % of matmul peak  ({macs / 1e9:.2f} GMACs)"
        )
        if args.layers:
            tm = Timer(True)
            fwd(tm)
            for kind, sec in sorted(tm.totals.items(), key=lambda kv: -kv[1]):
                print(f"    {kind:<12} {sec * 1e3:8.1f} ms")
    if not args.no_torch:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), no_grad, eval")
        for name, macs, _ in nets:
            t = best["torch " + name]
            ref, y = outputs["torch " + name], outputs[name]
            err = float(np.abs(y - ref).max() / (np.abs(ref).max() + 1e-30))
            print(
                f"{name:<9} torch:           {t:.3f} s  {2 * macs / t / 1e9:6.1f} GFLOP/s  "
                f"-> cnncalc/torch time ratio {best[name] / t:.2f}x  (max rel. output diff {err:.1e})"
            )
    if not (args.no_torch or args.no_convs):
        torch.set_num_threads(threads)
        bench_convs(R3D18_CONVS, args.runs, "R3D-18 convs (3-D, batch 1)")
        bench_convs(M5_CONVS, args.runs, "1-D convs (batch 1)")
    print(f"1-min load average before/after: {load0:.2f} / {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
