"""`--macs-as`: each tool's MACs computed from cnncalc's rows equal what the tool itself prints
for the exported PyTorch module — torchinfo, fvcore, ptflops (both backends) and thop, run
exactly as their READMEs show, on every zoo network and on specs holding every kind."""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from typing import Any

import ptflops
import pytest
import torch
import torchinfo  # the test extra installs the four tools: nothing skips
from click.testing import CliRunner
from torch import nn

import cnncalc
from cnncalc import zoo
from cnncalc.cli import main
from cnncalc.estimates import conventions
from cnncalc.output.export import to_pytorch

from .test_against_torch import generate
from .test_export import build

with warnings.catch_warnings():  # fvcore scripts a loss at import (torch.jit.script is
    warnings.simplefilter("ignore")  # deprecated); thop 0.1.1 imports distutils' LooseVersion
    import fvcore.nn as fvcore_nn
    import thop


def tools(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Each tool's total on ``model`` for the input batch ``x`` (of one), as its README runs
    it. One module serves them all: each removes its hooks and counters when done (thop last,
    it leaves nothing behind either)."""
    quiet = io.StringIO()
    got: dict[str, int] = {}
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
        warnings.simplefilter("ignore")
        got["torchinfo"] = torchinfo.summary(model, input_data=x, verbose=0).total_mult_adds
        flops = fvcore_nn.FlopCountAnalysis(model, x)
        flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        got["fvcore"] = flops.total()
        for name, backend in (("ptflops", "pytorch"), ("ptflops-aten", "aten")):
            macs, _ = ptflops.get_model_complexity_info(
                model, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False,
                backend=backend)
            got[name] = macs
        got["thop"] = int(thop.profile(model, inputs=(x,), verbose=False)[0])
    return got


def torch_input(shape: tuple[int, ...]) -> torch.Tensor:
    # channels last in cnncalc, second in torch
    return torch.zeros(1, shape[-1], *shape[:-1]) if len(shape) > 1 else torch.zeros(1, *shape)


def check(report: Any) -> None:
    ours = conventions.totals(report)
    assert ours is not None
    got = tools(build(to_pytorch(report)), torch_input(report.input_shape))
    assert {k: ours[k] for k in got} == got
    assert ours["cnncalc"] == report.totals.macs


@pytest.mark.parametrize("name", zoo.names())
def test_every_tool_on_every_zoo_network(name: str) -> None:
    path = zoo.path(name)
    assert path is not None
    check(cnncalc.analyze(path))


@pytest.mark.parametrize("spec", [
    # every kind the zoo lacks: deconv, upsample, the norms on flat vectors, lrn, softmax on
    # a volume, the ReLU family, pools behind an explicit pad, adaptive pools that do not divide
    "17x13x4 -> conv(8, 3x5, s=2, p=same) -> dwconv(3, s=2, p=same, m=2) -> bn -> relu6 "
    "-> deconv(6, 3, s=2, p=1, op=1) -> avgpool(3, s=2, p=same) -> lrn(3) -> leakyrelu(0.2)",
    "9x9x6 -> conv(6, 3, g=3, d=2, p=2) -> maxpool(2, ceil=true) -> pad(1) -> upsample(2) "
    "-> adaptiveavgpool(3x2) -> flatten -> dropout(0.3) -> fc(7, bias=false) -> bn -> gelu",
    "16x16x8 -> residual([conv(8, 3, p=1) -> bn -> prelu -> conv(8, 3, p=1)]) "
    "-> concat([conv(4, 1)], [maxpool(3, s=1, p=1)], []) -> [elu -> silu] * 2 "
    "-> softmax -> hardswish -> sigmoid -> tanh -> globalmaxpool -> gap -> fc(3) -> softmax",
    "14x14x16 -> residual([dwconv(7, p=3) -> ln -> fc(64, flatten=false) -> gelu "
    "-> fc(16, flatten=false) -> layerscale]) -> gn(4) -> mish -> shuffle(4) "
    "-> instancenorm(affine=true) -> conv(8, 1) -> gn(8, affine=false) -> hardsigmoid "
    "-> instancenorm -> gap -> fc(6, flatten=false) -> flatten -> ln -> fc(5, flatten=false) "
    "-> gn(1) -> fc(6) -> layernorm(affine=false) -> bn(affine=false)",
    "20x6 -> conv(4, 3) -> bn -> upsample(2) -> deconv(3, 2, s=2) -> lrn(3) -> maxpool(2) "
    "-> avgpool(3, p=1) -> adaptiveavgpool(4) -> gap -> flatten -> fc(4) -> softmax",
    "6x7x5x3 -> conv(4, 3, p=1) -> bn -> upsample(2) -> avgpool(3, s=2, p=same) "
    "-> deconv(2, 2, s=2) -> instancenorm(affine=true) -> adaptiveavgpool(3) -> gap",
])
def test_every_tool_on_every_kind(spec: str) -> None:
    check(cnncalc.analyze(spec, mode="lenient"))


def test_macs_as_in_the_table_json_and_csv() -> None:
    runner = CliRunner()
    spec = "8x8x3 -> conv(4, 3, p=1) -> bn -> relu -> gap -> fc(2)"
    # torchinfo: conv 4·27 + 4 params × 64 positions, bn γ/β 8, fc 4·2 + 2
    table = runner.invoke(main, ["summary", spec, "--no-verify", "--macs-as", "torchinfo"])
    assert table.exit_code == 0, table.output
    assert "MACs (torchinfo)" in table.stdout and f"{112 * 64 + 8 + 10:,}" in table.stdout
    js = runner.invoke(main, ["summary", spec, "--no-verify", "--format", "json",
                              "--macs-as", "thop"])
    data = json.loads(js.stdout)
    # thop: conv 108·64, bn 4 per element (affine) 4·256, gap (64 + 1)·4, fc 8
    assert data["totals"]["macs"] == 108 * 64 + 4 * 256 + 65 * 4 + 8 and data["macs_as"] == "thop"
    assert data["conventions"] == {
        "cnncalc": 108 * 64 + 8, "torchinfo": 112 * 64 + 18, "fvcore": 108 * 64 + 512 + 256 + 8,
        "ptflops": 112 * 64 + 512 + 2 * 256 + 2 * 256 + 10, "ptflops-aten": 112 * 64 + 10,
        "thop": 108 * 64 + 1024 + 260 + 8}
    assert [r["macs"] for r in data["layers"]] == [108 * 64, 1024, 0, 260, 8]
    csv = runner.invoke(main, ["summary", spec, "--no-verify", "--format", "csv",
                               "--macs-as", "fvcore"])
    assert csv.stdout.splitlines()[0].split(",")[10] == "macs_fvcore"
    plain = runner.invoke(main, ["summary", spec, "--no-verify", "--format", "json"])
    assert "macs_as" not in json.loads(plain.stdout)
    assert json.loads(plain.stdout)["conventions"]["fvcore"] == 108 * 64 + 512 + 256 + 8


def test_an_unknown_tool_is_a_usage_error_with_a_did_you_mean() -> None:
    res = CliRunner().invoke(main, ["summary", "8x8x3 -> relu", "--macs-as", "torchinf"])
    assert res.exit_code == 2 and res.stdout == ""
    assert "did you mean torchinfo?" in res.stderr and "ptflops-aten" in res.stderr


PER_ROW_SPECS = [
    "17x13x4 -> conv(8, 3x5, s=2, p=same) -> dwconv(3, s=2, p=same, m=2) -> bn -> relu6 "
    "-> deconv(6, 3, s=2, p=1, op=1) -> avgpool(3, s=2, p=same) -> lrn(3) -> leakyrelu(0.2)",
    "14x14x16 -> residual([dwconv(7, p=3) -> ln -> fc(64, flatten=false) -> gelu "
    "-> fc(16, flatten=false) -> layerscale]) -> gn(4) -> conv(8, 1) -> instancenorm "
    "-> gap -> flatten -> ln -> fc(6) -> softmax",
]


def top_level(rows: dict[str, float], count: int) -> list[int]:
    """Per-module figures keyed by module name ('3.body.0'), summed per top-level child."""
    out = [0.0] * count
    for name, value in rows.items():
        if name:
            out[int(name.split(".")[0])] += value
    return [int(v) for v in out]


@pytest.mark.parametrize("source", ["resnet18", "mobilenet_v3_large", *PER_ROW_SPECS])
def test_per_row_figures_match_the_tools_per_module_figures(source: str) -> None:
    """Each top-level row's MACs (a block's: the sum of its rows) against fvcore's
    ``by_module()``, thop's per-child figures and torchinfo's per-layer Mult-Adds."""
    report = cnncalc.analyze(zoo.path(source) or source, mode="lenient")
    model = build(to_pytorch(report))
    x = torch_input(report.input_shape)
    roots = list(report.roots)
    assert len(model) == len(roots)  # one module per top-level row
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        flops = fvcore_nn.FlopCountAnalysis(model, x)
        flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        by_module = flops.by_module()
        fv = top_level({k: v for k, v in by_module.items() if k and "." not in k}, len(roots))
        info = torchinfo.summary(model, input_data=x, verbose=0)
        ti = [0] * len(roots)
        top = -1
        for layer in info.summary_list:  # in call order: a depth-1 layer, then what it holds
            if layer.depth == 1:
                top += 1
            if layer.is_leaf_layer and layer.depth >= 1:
                ti[top] += layer.macs
        _, _, per_child = thop.profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
        th = [int(per_child[str(i)][0]) for i in range(len(roots))]
    for tool, got in (("fvcore", fv), ("torchinfo", ti), ("thop", th)):
        ours = conventions.row_macs(report, tool)
        assert [ours[i] for i in roots] == got, tool


@pytest.mark.parametrize("seed", range(1, 500, 10))
def test_every_tool_on_random_architectures(seed: int) -> None:
    """The torch differential's random networks (every rank, named skips, user blocks, their
    exported classes): each tool's total equals the convention's."""
    case = generate(seed)
    report = cnncalc.analyze(case.spec, mode="lenient")
    ours = conventions.totals(report)
    assert ours is not None, case.spec
    got = tools(build(to_pytorch(report)), case.x[:1])
    assert {k: ours[k] for k in got} == got, case.spec
