"""`cnncalc export`: the generated PyTorch code, run by torch, has the counts cnncalc reports,
and for the zoo, the counts torchvision publishes."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import cnncalc
from cnncalc import zoo
from cnncalc.cli import main
from cnncalc.output.export import to_pytorch

REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision.json").read_text())["models"]
NAMES = {"cs231n": "cs231n_conv_example"}


def build(source: str) -> nn.Module:
    module = ModuleType("exported")
    exec(compile(source, "<exported>", "exec"), module.__dict__)
    model: nn.Module = module.build()
    return model.eval()


def measure(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int, int, list[int]]:
    """(params, BN running-stat elements, conv/linear MACs, output shape HWC) by torch."""
    macs = 0

    def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(mod, nn.Conv1d | nn.Conv2d | nn.Conv3d):  # weights × output positions
            macs += mod.weight.numel() * out[0, 0].numel()
        elif isinstance(mod, nn.ConvTranspose1d | nn.ConvTranspose2d | nn.ConvTranspose3d):
            macs += mod.weight.numel() * inp[0][0, 0].numel()  # fvcore: × input positions
        elif isinstance(mod, nn.Linear):  # at every position of a channels-last linear
            macs += mod.weight.numel() * (out[0].numel() // mod.out_features)

    for m in model.modules():
        m.register_forward_hook(hook)
    # channels last in cnncalc, second in torch
    x = torch.zeros(1, shape[-1], *shape[:-1]) if len(shape) > 1 else torch.zeros(1, *shape)
    with torch.no_grad():
        y = model(x)
    params = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean",
                                                                          "running_var")))
    main = y[-1] if isinstance(y, tuple) else y  # several outputs: the main one is last
    out = [*main.shape[2:], main.shape[1]] if main.dim() > 2 else [main.shape[1]]
    return params, stats, macs, out


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_exports_match_torchvision(name: str) -> None:
    path = zoo.path(name)
    assert path is not None
    report = cnncalc.analyze(path)
    # a network torchvision lacks (the 1-D M5) is checked against its own `expect:` block,
    # which tests/test_audio.py checks against the network built in plain torch
    own = {e.key: e.value for e in report.spec.expect} if report.spec else {}
    ref = REFERENCE.get(NAMES.get(name, name)) or {
        "params": own["params"], "non_trainable": own["non_trainable"], "macs": own["macs"],
        "output": list(own["output"] if "output" in own else own["outputs"][-1])}
    params, stats, macs, out = measure(build(to_pytorch(report)), report.input_shape or ())
    assert (params, stats, macs, out) == (ref["params"], ref["non_trainable"], ref["macs"],
                                          ref["output"])


@pytest.mark.parametrize("spec", [
    "17x13x4 -> conv(8, 3x5, s=2, p=same) -> dwconv(3, s=2, p=same, m=2) -> bn -> relu6 "
    "-> deconv(6, 3, s=2, p=1, op=1) -> avgpool(3, s=2, p=same) -> lrn(3) -> leakyrelu(0.2)",
    "9x9x6 -> conv(6, 3, g=3, d=2, p=2) -> maxpool(2, ceil=true) -> pad(1) -> upsample(2) "
    "-> adaptiveavgpool(3x2) -> flatten -> dropout(0.3) -> fc(7, bias=false) -> bn -> gelu",
    "16x16x8 -> residual([conv(8, 3, p=1) -> bn -> prelu -> conv(8, 3, p=1)]) "
    "-> residual([conv(16, 3, s=2, p=1)], shortcut=[conv(16, 1, s=2) -> bn(affine=false)]) "
    "-> concat([conv(4, 1)], [maxpool(3, s=1, p=1)], []) -> [elu -> silu] * 2 "
    "-> hardswish -> sigmoid -> tanh -> identity -> globalmaxpool -> gap -> fc(3) -> softmax",
    # v2 kinds: ConvNeXt's block, group/instance norm, shuffle, SE-style hardsigmoid, mish
    "14x14x16 -> residual([dwconv(7, p=3) -> ln -> fc(64, flatten=false) -> gelu "
    "-> fc(16, flatten=false) -> layerscale]) -> gn(4) -> mish -> shuffle(4) "
    "-> instancenorm(affine=true) -> conv(8, 1) -> gn(8, affine=false) -> hardsigmoid "
    "-> instancenorm -> gap -> fc(6, flatten=false) -> flatten -> ln -> fc(5, flatten=false) "
    "-> gn(1) -> fc(6) -> shuffle(3) -> layernorm(affine=false)",
])
def test_exports_have_cnncalcs_counts(spec: str) -> None:
    report = cnncalc.analyze(spec, mode="lenient")
    t = report.totals
    assert measure(build(to_pytorch(report)), report.input_shape or ()) == (
        t.params, t.non_trainable, t.macs, list(t.output_shape or ()))


def test_cli_export() -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["export", "32x32x3 -> conv(10, 5, p=2) -> relu"])
    assert res.exit_code == 0 and "nn.Conv2d(3, 10, (5, 5)" in res.stdout
    assert sum(p.numel() for p in build(res.stdout).parameters()) == 760
    res = runner.invoke(main, ["export", "7x7x3 -> conv(1, 3, s=3)"])
    assert res.exit_code == 1 and "G001" in res.stderr
