"""Blocks with parameters (spec §10): a YAML ``blocks:`` section, calls from ``layers:`` and
from other blocks, expressions wherever a number goes, and every bad definition or call
located by (line, column, code).

Truth is hand arithmetic and torch itself (the reference modules are written here in plain
torch)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from torch import nn

import cnncalc
from cnncalc.output.export import to_pytorch
from tests.helpers import run
from tests.test_export import build

RESNET_STAGES = """\
input: 56x56x64
blocks:
  resblock(width, stride=1, groups=1):
    - residual:
        body:
          - conv(width, 1, bias=false) -> bn -> relu
          - conv(width, 3, s=stride, p=1, g=groups, bias=false) -> bn -> relu
          - conv(4*width, 1, bias=false) -> bn
        shortcut: auto
    - relu
  stage(width, n, stride=2):
    - resblock(width, stride) -> resblock(width) * (n - 1)
layers:
  - stage(64, 3, stride=1) -> stage(128, 4)
"""


class Bottleneck(nn.Module):
    """torchvision's ResNet Bottleneck (v1.5), in plain torch."""

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 4 * width, 1, bias=False), nn.BatchNorm2d(4 * width))
        self.short = nn.Sequential() if stride == 1 and cin == 4 * width else nn.Sequential(
            nn.Conv2d(cin, 4 * width, 1, stride, bias=False), nn.BatchNorm2d(4 * width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.short(x))


def torch_stages() -> nn.Module:
    layers: list[nn.Module] = []
    cin = 64
    for width, n, stride in ((64, 3, 1), (128, 4, 2)):
        for i in range(n):
            layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
            cin = 4 * width
    return nn.Sequential(*layers)


def torch_macs(model: nn.Module, x: torch.Tensor) -> int:
    macs = 0

    def hook(mod: nn.Module, inp: tuple[torch.Tensor], out: torch.Tensor) -> None:
        nonlocal macs
        assert isinstance(mod, nn.Conv2d)
        macs += mod.weight.numel() * out[0, 0].numel()

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            mod.register_forward_hook(hook)
    model(x)
    return macs


def analyze(text: str) -> cnncalc.Report:
    return cnncalc.analyze(text)


def where(report: cnncalc.Report) -> list[tuple[int, int, str]]:
    return [(p.location.line, p.location.column, p.code) for p in report.problems
            if p.location is not None and p.severity.value in ("error", "warning")]


def test_resnet_stages_match_torch(tmp_path: Path) -> None:
    path = tmp_path / "stages.yaml"
    path.write_text(RESNET_STAGES)
    report = cnncalc.analyze(path)
    assert report.ok, report.problems
    ref = torch_stages()
    assert report.totals.params == sum(p.numel() for p in ref.parameters()) == 1_435_392
    buffers = sum(b.numel() for name, b in ref.named_buffers() if "running" in name)
    assert report.totals.non_trainable == buffers
    with torch.no_grad():
        y = ref(torch.zeros(1, 64, 56, 56))
        assert report.totals.macs == torch_macs(ref, torch.zeros(1, 64, 56, 56))
    assert list(y.shape) == [1, 512, 28, 28] and report.totals.output_shape == (28, 28, 512)
    top = [r for r in report.layers if r.depth == report.layers[0].depth]
    assert len(top) == 2
    # a call is one row labelled by the call, holding its layers; the rows add up
    code, out, err = run("summary", str(path), "--no-verify", "--depth", "2")
    assert code == 0, err
    assert "stage(64, 3, stride=1)" in out and "resblock(128, 2)" in out
    assert "conv(" not in out  # folded at depth 2
    assert sum(r.params or 0 for r in top) == report.totals.params


def test_expressions_at_the_top_level_are_exact() -> None:
    report = cnncalc.analyze("8x8x3 -> conv(2*4, (5 - 1) // 2 + 1, p=max(0, 1)) -> "
                             "dropout(1/4) -> leakyrelu(slope=1/8) -> [relu] * (3 > 2)")
    assert report.ok, report.problems
    assert report.totals.params == 8 * 3 * 3 * 3 + 8
    assert report.totals.output_shape == (8, 8, 8)


def test_an_expression_that_is_not_whole_shows_its_arithmetic() -> None:
    report = cnncalc.analyze("8x8x3 -> conv(7/2, 3)")
    assert where(report) == [(1, 15, "A006")]
    assert "7 / 2 = 3.5 is not a whole number" in report.errors[0].message


BAD = """\
input: 8x8x16
blocks:
  a(n, unused=2):
    - conv(n, 3, p=1) -> b(n)
  b(n):
    - a(n)
  conv(k): relu
  c(w, C): conv(w, 1)
  d(width, k=3):
    - conv(width, k, p=(k - 1) // 2) -> conv(width / 3, 1)
layers:
  - a(12)
  - d(8, wdth=2)
  - d()
  - d(8, 3, 5)
  - d(8, k=3, k=5)
  - conv(C, 1)
  - d(6) -> d(8)
"""


def test_every_bad_definition_and_call_is_located() -> None:
    report = analyze(BAD)
    assert where(report) == [
        (3, 8, "G019"),       # unused is never used (a warning)
        (7, 3, "G018"),       # conv shadows the built-in layer kind
        (8, 8, "A006"),       # a parameter called C
        (12, 5, "G017"),      # a → b → a, reported at the call
        (13, 10, "A002"),     # wdth: did you mean width?
        (14, 5, "A004"),      # d needs width
        (15, 13, "A005"),     # one too many
        (16, 15, "A003"),     # k given twice
        (17, 10, "A006"),     # C at the top level
        (18, 13, "A006"),     # 8 / 3 inside d(8), reported at the call
    ]
    messages = {p.code: p.message for p in report.problems}
    assert "a → b → a" in messages["G017"]
    assert "did you mean 'width'?" in next(p for p in report.problems
                                            if p.code == "A002").suggestions
    last = report.errors[-1]
    assert "width / 3 = 8 / 3 = 8/3 is not a whole number" in last.message
    assert "in d(8), line 10, column 46" in last.message


def test_geometry_inside_a_call_points_at_the_call_and_names_the_body_line(tmp_path: Path
                                                                          ) -> None:
    text = ("input: 8x8x16\nblocks:\n  down(w, k=3):\n    - conv(w, k, s=2) -> relu\n"
            "layers:\n  - down(8) -> down(16, k=5) -> gap -> fc(10)\n")
    report = analyze(text)
    assert where(report) == [(6, 5, "G001"), (6, 16, "G003")]
    assert "(in down(8), line 4, column 7)" in report.errors[0].message
    assert "(in down(16, k=5), line 4, column 7)" in report.errors[1].message
    (tmp_path / "down.yaml").write_text(text)
    code, out, err = run("check", str(tmp_path / "down.yaml"))
    assert code == 1 and "6:5: G001" in out + err


def test_defaults_use_earlier_parameters_and_names_are_case_sensitive() -> None:
    text = ("input: 8x8x4\nblocks:\n  Widen(w, out=2*w):\n    - conv(out, 1)\n"
            "layers:\n  - widen(3) -> WIDEN(w=2, out=5)\n")
    report = analyze(text)
    assert report.ok, report.problems
    assert report.totals.params == (4 * 6 + 6) + (6 * 5 + 5)
    bad = analyze(text.replace("widen(3)", "widen(W=3)"))
    assert [p.code for p in bad.errors] == ["A002", "A004"]  # W is not w; w is missing


def test_block_scopes_its_named_tensors() -> None:
    text = ("input: 8x8x4\nblocks:\n  skip(w):\n    - conv(w, 3, p=1) as a -> relu -> "
            "add(@a)\nlayers:\n  - skip(4) -> skip(4) -> conv(4, 1) as a -> relu -> add(@a)\n")
    report = analyze(text)
    assert report.ok, report.problems
    outside = analyze(text.replace("conv(4, 1) as a -> relu -> add(@a)", "add(@a)"))
    assert [p.code for p in outside.errors] == ["G014"]


def test_deep_and_huge_block_expansions_are_refused_quickly(tmp_path: Path) -> None:
    deep = "input: 8x8x4\nblocks:\n" + "".join(
        f"  b{i}: b{i + 1}\n" for i in range(60)) + "  b60: relu\nlayers:\n  - b0\n"
    start = time.perf_counter()
    report = analyze(deep)
    assert [p.code for p in report.errors] == ["S009"]
    wide = "input: 8x8x4\nblocks:\n" + "".join(
        f"  w{i}: w{i + 1} -> w{i + 1} -> w{i + 1}\n" for i in range(30)) + \
        "  w30: relu\nlayers:\n  - w0\n"
    (tmp_path / "wide.yaml").write_text(wide)
    code, out, err = run("check", str(tmp_path / "wide.yaml"))
    assert code == 2 and "S009" in out + err
    many = "input: 8x8x4\nblocks:\n  r(n): relu * n\nlayers:\n  - " + " -> ".join(
        f"r({i % 3})" for i in range(3000)) + "\n"
    assert analyze(many).ok
    huge = "input: 8x8x4\nblocks:\n  r(n): relu * n\nlayers:\n  - r(10*10*10*10*10*10)\n"
    assert [p.code for p in analyze(huge).errors] == ["A006"]  # * 1,000,000: over the limit
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize("count, rows", [("0", 0), ("(n - 1)", 2), ("((n > 2) * 2)", 2), ("n", 3)])
def test_repeat_counts_take_expressions(count: str, rows: int) -> None:
    text = f"input: 8x8x4\nblocks:\n  rep(n):\n    - relu * {count}\nlayers:\n  - rep(3)\n"
    report = analyze(text)
    assert report.ok, report.problems
    assert sum(1 for r in report.layers if r.kind == "relu") == rows


SKIPS = """\
input: 8x8x4
blocks:
  skip(w, k=3):
    - conv(w, k, p=(k - 1) // 2) as a -> relu -> add(@a)
layers:
  - skip(4) -> skip(4, k=5) -> conv(2, 1)
"""


def test_calls_run_forward_and_export_to_torch() -> None:
    report = cnncalc.analyze(SKIPS, verify=True)
    assert report.ok and all(r.verified for r in report.layers if not r.is_block)
    assert report.totals.params == (4 * 9 * 4 + 4) + (4 * 25 * 4 + 4) + (4 * 2 + 2)
    model = build(to_pytorch(report))
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
    with torch.no_grad():
        assert list(model(torch.zeros(1, 4, 8, 8)).shape) == [1, 2, 8, 8]


def test_a_repeat_count_expression_needs_parentheses() -> None:
    with pytest.raises(cnncalc.SpecSyntaxError) as err:
        cnncalc.analyze("input: 8x8x4\nblocks:\n  r(n): relu * n - 1\nlayers:\n  - r(2)\n")
    assert (err.value.problems[0].code, err.value.problems[0].location.line) == ("S002", 3)


INPUT_ROUTES = """\
input: 8x8x4
blocks:
  skip(w):
    - conv(w, 3, p=1) -> relu -> add(@input)
  cat(w):
    - conv(w, 1) -> concat([], @input)
layers:
  - conv(6, 1) -> skip(6) -> skip(6) -> cat(2) -> @input -> conv(3, 1)
"""


class TorchInputRoutes(nn.Module):
    """INPUT_ROUTES in plain torch: @input in a body is the call's input."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(4, 6, 1)
        self.skips = nn.ModuleList([nn.Conv2d(6, 6, 3, padding=1) for _ in range(2)])
        self.cat = nn.Conv2d(6, 2, 1)
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.stem(x)
        for conv in self.skips:
            y = torch.relu(conv(y)) + y
        return torch.cat([self.cat(y), y], 1), self.head(x)


def test_input_inside_a_body_is_the_calls_input() -> None:
    report = cnncalc.analyze(INPUT_ROUTES, verify=True)
    assert report.ok and all(r.verified for r in report.layers if not r.is_block)
    ref = TorchInputRoutes()
    assert report.totals.params == sum(p.numel() for p in ref.parameters())
    cat, head = ref(torch.zeros(1, 4, 8, 8))
    assert report.totals.outputs == ((8, 8, 8), (8, 8, 3))
    assert list(cat.shape) == [1, 8, 8, 8] and list(head.shape) == [1, 3, 8, 8]
    model = build(to_pytorch(report))
    assert sum(p.numel() for p in model.parameters()) == report.totals.params


def test_a_layer_valued_parameter_is_a_new_layer_at_each_use() -> None:
    text = ("input: 8x8x4\nblocks:\n  pair(w, act=relu):\n    - conv(w, 1) -> act -> "
            "conv(w, 1) -> act\nlayers:\n"
            "  - pair(4) -> pair(4, act=prelu) -> pair(4, act=[bn -> relu])\n")
    report = analyze(text)
    assert report.ok, report.problems
    convs = 6 * (4 * 4 + 4)
    assert report.totals.params == convs + 2 * 1 + 2 * 2 * 4  # two prelus, two bns
    assert [r.kind for r in report.layers if r.kind in ("relu", "prelu", "bn")] == \
        ["relu", "relu", "prelu", "prelu", "bn", "relu", "bn", "relu"]


def test_calls_in_mapping_form_named_and_without_parentheses() -> None:
    text = ("input: 8x8x4\nblocks:\n  skip(w, k=3):\n    - conv(w, k, p=(k - 1) // 2) -> relu\n"
            "  stem():\n    - conv(4, 1)\nlayers:\n  - skip(4) as s\n  - skip: {w: 4, k: 5}\n"
            "  - skip: 4\n  - stem -> stem()\n  - add(@s)\n")
    report = analyze(text)
    assert report.ok, report.problems
    top = [r for r in report.layers if r.depth == report.layers[0].depth]
    assert top[0].tensor == "s"
    assert [r.params for r in top] == [148, 404, 148, 20, 20, 0]
    assert report.totals.macs == 8 * 8 * (36 * 4 + 100 * 4 + 36 * 4 + 2 * 16)


def test_a_tensor_as_a_block_argument_is_refused_at_the_argument() -> None:
    report = analyze("8x8x4 -> conv(4, 1) as x -> relu -> bottleneck(@x)")
    assert where(report) == [(1, 48, "A006")]  # only that: no "needs planes" besides
    assert "@x cannot be an argument of a block call" in report.errors[0].message
    assert report.errors[0].suggestions == ("route first: @x -> bottleneck(…)",)


def test_an_overlong_expression_is_refused_where_it_starts() -> None:
    terms = "+".join(["1"] * 6000)
    with pytest.raises(cnncalc.SpecSyntaxError) as err:
        analyze(f"8x8x4 -> conv({terms}, 1)")
    problem = err.value.problems[0]
    assert (problem.code, problem.location.column) == ("S009", 15)
    assert "11,999 characters, more than cnncalc's limit of 10,000" in problem.message
    assert analyze(f"8x8x4 -> conv({'+'.join(['1'] * 4000)}, 1)").totals.output_shape == (8, 8, 4000)


def test_export_writes_one_module_class_per_block_called_with_its_arguments() -> None:
    text = ("input: 8x8x4\nblocks:\n  double_conv(lambda, k=3):\n"
            "    - conv(lambda, k, p=(k - 1) // 2) -> relu -> conv(lambda, 1)\n"
            "  a_1(w=2): conv(w, 1)\n"
            "layers:\n  - double_conv(6) -> double_conv(8, k=5) -> se(2) -> a_1\n")
    report = cnncalc.analyze(text)
    assert report.ok, report.problems
    source = to_pytorch(report)
    assert [line for line in source.splitlines() if line.startswith("class ") and "Block" in line] \
        == ["class Block_a_1(nn.Module):", "class DoubleConvBlock(nn.Module):",
            "class SeBlock(nn.Module):"]
    model = build(source)
    calls = [m for m in model.modules() if type(m).__name__.endswith(("Block", "a_1"))]
    assert [(type(m).__name__, m.arguments) for m in calls] == [
        ("DoubleConvBlock", {"lambda": 6, "k": 3}), ("DoubleConvBlock", {"lambda": 8, "k": 5}),
        ("SeBlock", {"squeeze": 2, "act": "relu", "scale_act": "sigmoid"}),
        ("Block_a_1", {"w": 2})]
    assert type(calls[0]).SIGNATURE == "double_conv(lambda, k=3)"
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
    with torch.no_grad():
        assert list(model(torch.zeros(1, 4, 8, 8)).shape) == [1, 2, 8, 8]
