"""`summary --train`: the training estimate against real training steps of the exported
modules in torch (CPU), and the CLI around it.

What is measured: one step — forward, ``sum().backward()``, ``optimizer.step()`` — of the
exported module in training mode. Every tensor autograd saves for the backward pass is seen
by a saved-tensors hook and counted once per storage (a view shares its base's; parameters
and buffers are not activations); parameters, buffers, gradients and the optimizer's state
are summed from the module and the optimizer after the step.

The bound, from the method: parameters, gradients and optimizer state are exact; the
activations are every tensor the kinds say autograd keeps, each counted once, so what the
estimate misses is what a kind keeps beyond its rule (a copy an op makes on its own, a
statistic of another dtype, batch norm's 8-byte step counters as buffers). These are small
next to the feature maps: the documented bound is ±5 % on activations and on the peak
(README, "Training estimate"); the measured ratios are within 1.3 % on the zoo networks.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import cnncalc
from cnncalc import zoo
from cnncalc.cli import main
from cnncalc.estimates import training
from cnncalc.output.export import to_pytorch

from .test_export import build

BOUND = 0.05
"""The documented bound on the activation and peak ratios (estimate / measured − 1)."""


def measured_step(model: nn.Module, x: torch.Tensor, optimizer: str) -> dict[str, int]:
    """Bytes of one real training step of ``model`` on ``x``."""
    model.train()
    params = list(model.parameters())
    make = {"sgd": lambda: torch.optim.SGD(params, lr=0.01),
            "momentum": lambda: torch.optim.SGD(params, lr=0.01, momentum=0.9),
            "adam": lambda: torch.optim.Adam(params), "adamw": lambda: torch.optim.AdamW(params)}
    opt = make[optimizer]()
    owned = {t.untyped_storage().data_ptr() for t in (*params, *model.buffers())}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in owned:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = model(x)
    y.sum().backward()
    opt.step()
    state = sum(v.nbytes for s in opt.state.values() for v in s.values() if torch.is_tensor(v))
    return {"param_bytes": sum(p.nbytes for p in params),
            "buffer_bytes": sum(b.nbytes for b in model.buffers()),
            "grad_bytes": sum(p.grad.nbytes for p in params if p.grad is not None),
            "optimizer_state_bytes": state, "activation_bytes": sum(saved.values())}


def compare(report: cnncalc.Report, batch: int, optimizer: str) -> dict[str, float]:
    torch.manual_seed(0)
    shape = report.input_shape or ()
    x = torch.randn(batch, shape[-1], *shape[:-1]) if len(shape) > 1 else torch.randn(batch,
                                                                                       *shape)
    got = measured_step(build(to_pytorch(report)), x, optimizer)
    step = training.estimate(report, optimizer, batch)
    assert step is not None
    est = step.to_dict()
    for key in ("param_bytes", "grad_bytes", "optimizer_state_bytes"):
        assert est[key] == got[key], key
    ratios = {k: est[k] / got[k] for k in ("activation_bytes", "buffer_bytes") if got[k]}
    ratios["peak_bytes"] = est["peak_bytes"] / sum(got.values())
    assert abs(ratios["activation_bytes"] - 1) <= BOUND, ratios
    assert abs(ratios["peak_bytes"] - 1) <= BOUND, ratios
    return ratios


@pytest.mark.parametrize(("name", "batch"), [
    ("resnet18", 1), ("resnet18", 4), ("mobilenet_v2", 1), ("mobilenet_v2", 4),
    ("squeezenet1_1", 1), ("squeezenet1_1", 4), ("efficientnet_b0", 1)])
def test_estimate_matches_a_real_training_step(name: str, batch: int) -> None:
    path = zoo.path(name)
    assert path is not None
    compare(cnncalc.analyze(path), batch, "adam")


@pytest.mark.parametrize("optimizer", list(training.OPTIMIZERS))
@pytest.mark.parametrize("spec", [
    "14x14x16 -> residual([dwconv(7, p=3) -> ln -> fc(64, flatten=false) -> gelu "
    "-> fc(16, flatten=false) -> layerscale]) -> gn(4) -> mish -> shuffle(4) "
    "-> instancenorm(affine=true) -> conv(8, 1) -> gn(8, affine=false) -> hardsigmoid "
    "-> instancenorm -> gap -> fc(6, flatten=false) -> flatten -> ln -> fc(5, flatten=false) "
    "-> gn(1) -> fc(6) -> layernorm(affine=false) -> bn(affine=false)",
    "17x13x4 -> conv(8, 3x5, s=2, p=same) -> dwconv(3, s=2, p=same, m=2) -> bn -> relu6 "
    "-> deconv(6, 3, s=2, p=1, op=1) -> avgpool(3, s=2, p=same) -> lrn(3) -> leakyrelu(0.2)",
    "16x16x8 -> residual([conv(8, 3, p=1) -> bn -> prelu -> conv(8, 3, p=1)]) "
    "-> concat([conv(4, 1)], [maxpool(3, s=1, p=1)], []) -> [elu -> silu] * 2 -> softmax "
    "-> hardswish -> sigmoid -> tanh -> globalmaxpool -> gap -> fc(3) -> softmax",
    "9x9x6 -> conv(6, 3, g=3, d=2, p=2) -> maxpool(2, ceil=true) -> pad(1) -> upsample(2) "
    "-> adaptiveavgpool(3x2) -> flatten -> dropout(0.3) -> fc(7, bias=false) -> bn -> gelu",
    "16x16x8 -> conv(8, 3, p=1) as a -> relu -> gate([gap -> fc(2) -> relu -> fc(8) "
    "-> sigmoid]) -> add(@a) -> split([conv(4, 1)], [conv(4, 3, p=1)])",
])
def test_every_kind_and_optimizer(spec: str, optimizer: str) -> None:
    compare(cnncalc.analyze(spec, mode="lenient"), 3, optimizer)


def test_the_arithmetic_by_hand() -> None:
    # conv 3·3·3·4 + 4 = 112 params; it keeps its input (8·8·3), relu its output (8·8·4),
    # max pooling its input (the relu's output, counted once) and int64 indices (4·4·4)
    report = cnncalc.analyze("8x8x3 -> conv(4, 3, p=1) -> relu -> maxpool(2)")
    step = training.estimate(report, "momentum", 2)
    assert step is not None
    assert (step.param_bytes, step.grad_bytes, step.state_bytes) == (448, 448, 448)
    assert step.activations_by_kind == {"relu": 2 * 4 * 256, "conv": 2 * 4 * 192,
                                        "maxpool": 2 * 8 * 64}
    assert step.peak_bytes == 3 * 448 + 2048 + 1536 + 1024
    assert step.flops == 6 * 2 * (108 * 64)
    adam = training.estimate(report, "adam", 2)
    assert adam is not None and adam.state_bytes == 2 * 448 + 2 * 4  # + a step per tensor


def test_cli_train() -> None:
    runner = CliRunner()
    spec = "8x8x3 -> conv(4, 3, p=1) -> relu -> maxpool(2)"
    res = runner.invoke(main, ["summary", spec, "--no-verify", "--train", "--batch", "2",
                               "--optimizer", "momentum"])
    assert res.exit_code == 0, res.output
    assert ("Training step (momentum, batch 2, float32): params 448 B + gradients 448 B + "
            "optimizer state 448 B + buffers 0 B + activations kept for backward 4.61 KB = "
            "peak ≤ 5.95 KB") in res.stdout
    assert "Activations kept, by kind: relu 2.05 KB (44 %), conv 1.54 KB (33 %), maxpool " \
           "1.02 KB (22 %)" in res.stdout
    assert "Training FLOPs per step: 82.94K (3 × forward)" in res.stdout
    js = json.loads(runner.invoke(main, ["summary", spec, "--format", "json", "--optimizer",
                                         "SGD", "--batch", "2"]).stdout)
    assert js["training"]["optimizer"] == "sgd" and js["training"]["peak_bytes"] == 896 + 4608
    md = runner.invoke(main, ["summary", spec, "--format", "markdown", "--train"]).stdout
    assert "Training step (adam, batch 1, float32)" in md
    plain = json.loads(runner.invoke(main, ["summary", spec, "--format", "json"]).stdout)
    assert "training" not in plain


def test_cli_train_bad_input() -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["summary", "8x8x3 -> relu", "--train", "--optimizer", "adm"])
    assert res.exit_code == 2 and res.stdout == ""
    assert "did you mean adam?" in res.stderr and "momentum" in res.stderr
    # an architecture error: no estimate, the errors as ever
    bad = runner.invoke(main, ["summary", "8x8x3 -> conv(4, 9)", "--train", "--format", "json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["training"] == {}


def test_train_and_macs_as_never_load_numpy() -> None:
    code = ("import sys\nfrom cnncalc.cli import main\ntry:\n    main(['summary', 'resnet50', "
            "'--no-verify', '--train', '--macs-as', 'thop', '--format', 'json'])\n"
            "except SystemExit:\n    pass\nsys.exit(3 if 'numpy' in sys.modules else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["training"]["optimizer"] == "adam"
