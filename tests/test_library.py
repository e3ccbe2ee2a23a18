"""The built-in block library (spec §10) against the torchvision modules it mirrors.

Each reference module below is torchvision's, rewritten in plain torch line for line
(torchvision itself is not importable here): ResNet ``BasicBlock`` (and r3d_18's, in 3-D),
``Bottleneck`` v1.5, MobileNetV2 ``InvertedResidual``, EfficientNet ``MBConv``,
``SqueezeExcitation``, SqueezeNet ``Fire``, DenseNet ``_DenseLayer`` (with ``_DenseBlock``'s
concatenation), ConvNeXt ``CNBlock`` and ShuffleNetV2 ``InvertedResidual``. For several
argument sets each, cnncalc's params, non-trainable elements, MACs and output shape equal what
torch measures on the reference (tests/test_export.measure: conv weights × output positions,
linear weights × positions, BN running mean + var, ``num_batches_tracked`` not counted), the
NumPy forward pass verifies every row, and the exported module has the same counts and the
same parameter tensors (shapes) as the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
import torch
from torch import nn

import cnncalc
from cnncalc.output.export import to_pytorch
from cnncalc.spec.library import NAMES, PATH, library
from tests.test_export import REFERENCE, build, measure
from tests.test_expr import torchvision_make_divisible as make_divisible

Factory = Callable[[], nn.Module]

CONV: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
BN: dict[int, type[nn.Module]] = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


# --- torchvision's modules, in plain torch -------------------------------------------------

class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock (rank 3: video.resnet's BasicBlock with
    Conv3DSimple, as in r3d_18)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, rank: int = 2) -> None:
        super().__init__()
        conv, bn = CONV[rank], BN[rank]
        self.conv1 = conv(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = bn(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = bn(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(conv(inplanes, planes, 1, stride, bias=False),
                                            bn(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision.models.resnet.Bottleneck (v1.5: the stride on the 3x3), expansion 4."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, groups: int = 1,
                 base_width: int = 64, rank: int = 2) -> None:
        super().__init__()
        conv, bn = CONV[rank], BN[rank]
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv(inplanes, width, 1, bias=False)
        self.bn1 = bn(width)
        self.conv2 = conv(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = bn(width)
        self.conv3 = conv(width, planes * 4, 1, bias=False)
        self.bn3 = bn(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(conv(inplanes, planes * 4, 1, stride, bias=False),
                                            bn(planes * 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def conv_norm_act(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1,
                  act: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    """torchvision.ops.Conv2dNormActivation with a batch norm: no bias, padding (k-1)//2."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                         bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """torchvision.models.mobilenetv2.InvertedResidual."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: float) -> None:
        super().__init__()
        hidden_dim = round(inp * expand_ratio)  # torchvision: int(round(…)); half to even
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_norm_act(inp, hidden_dim, 1, act=nn.ReLU6))
        layers.extend([conv_norm_act(hidden_dim, hidden_dim, 3, stride, hidden_dim, nn.ReLU6),
                       nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)])
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation."""

    def __init__(self, input_channels: int, squeeze_channels: int,
                 activation: type[nn.Module] = nn.ReLU,
                 scale_activation: type[nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class MBConv(nn.Module):
    """torchvision.models.efficientnet.MBConv (width_mult 1: adjust_channels is
    _make_divisible(channels, 8)); StochasticDepth has no parameters and is left out."""

    def __init__(self, expand_ratio: float, kernel: int, stride: int, input_channels: int,
                 out_channels: int) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and input_channels == out_channels
        layers: list[nn.Module] = []
        expanded_channels = make_divisible(input_channels * expand_ratio, 8)
        if expanded_channels != input_channels:
            layers.append(conv_norm_act(input_channels, expanded_channels, 1, act=nn.SiLU))
        layers.append(conv_norm_act(expanded_channels, expanded_channels, kernel, stride,
                                    expanded_channels, nn.SiLU))
        squeeze_channels = max(1, input_channels // 4)
        layers.append(SqueezeExcitation(expanded_channels, squeeze_channels, nn.SiLU))
        layers.append(conv_norm_act(expanded_channels, out_channels, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.block(x)
        return result + x if self.use_res_connect else result


class Fire(nn.Module):
    """torchvision.models.squeezenet.Fire."""

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int,
                 expand3x3_planes: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))], 1)


class DenseLayer(nn.Module):
    """torchvision.models.densenet._DenseLayer, returning what _DenseBlock keeps:
    torch.cat([input, new_features], 1)."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv1(torch.relu(self.norm1(x)))
        new = self.conv2(torch.relu(self.norm2(new)))
        return torch.cat([x, new], 1)


class CNBlock(nn.Module):
    """torchvision.models.convnext.CNBlock (LayerNorm eps 1e-6 in channels-last; StochasticDepth
    has no parameters and is left out)."""

    def __init__(self, dim: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True)
        self.norm = partial(nn.LayerNorm, eps=1e-6)(dim)
        self.fc1 = nn.Linear(in_features=dim, out_features=4 * dim, bias=True)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(in_features=4 * dim, out_features=dim, bias=True)
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)

    def in_order(self) -> list[nn.Parameter]:
        """The parameters in the order the block applies them (the layer scale last; torch
        lists a module's own parameters before its children's)."""
        return [p for n, p in self.named_parameters() if n != "layer_scale"] + [self.layer_scale]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.fc2(self.act(self.fc1(self.norm(y)))).permute(0, 3, 1, 2)
        return self.layer_scale * y + x


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision.models.shufflenetv2.channel_shuffle."""
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    return torch.transpose(x, 1, 2).contiguous().view(b, -1, h, w)


class ShuffleUnit(nn.Module):
    """torchvision.models.shufflenetv2.InvertedResidual."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        branch_features = oup // 2
        if stride == 1:
            assert inp == branch_features << 1  # torchvision raises ValueError otherwise

        def dw(i: int, s: int) -> nn.Module:
            return nn.Conv2d(i, i, 3, s, 1, bias=False, groups=i)

        self.branch1 = nn.Sequential()
        if stride > 1:
            self.branch1 = nn.Sequential(
                dw(inp, stride), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, 1, 1, 0, bias=False),
                nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch_features, branch_features, 1, 1, 0,
                      bias=False),
            nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True),
            dw(branch_features, stride), nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, 1, 1, 0, bias=False),
            nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


def chain(*mods: nn.Module) -> nn.Module:
    return nn.Sequential(*mods)


# --- the cases: (input, call, the torchvision module it mirrors) ---------------------------

CASES: list[tuple[str, str, Factory]] = [
    ("56x56x64", "basicblock(64)", lambda: BasicBlock(64, 64)),
    ("56x56x64", "basicblock(128, stride=2)", lambda: BasicBlock(64, 128, 2)),
    ("15x15x32", "basicblock(32, 2)", lambda: BasicBlock(32, 32, 2)),
    ("9x11x16", "basicblock(24)", lambda: BasicBlock(16, 24)),
    ("4x14x14x32", "basicblock(32)", lambda: BasicBlock(32, 32, rank=3)),  # r3d_18's
    ("5x15x15x16", "basicblock(32, stride=2)", lambda: BasicBlock(16, 32, 2, rank=3)),
    ("101x16", "basicblock(32, stride=2)", lambda: BasicBlock(16, 32, 2, rank=1)),
    ("56x56x64", "bottleneck(64)", lambda: Bottleneck(64, 64)),
    ("28x28x256", "bottleneck(64)", lambda: Bottleneck(256, 64)),
    ("28x28x256", "bottleneck(128, stride=2)", lambda: Bottleneck(256, 128, 2)),
    ("28x28x64", "bottleneck(64, groups=32, base_width=4)",  # resnext50_32x4d
     lambda: Bottleneck(64, 64, groups=32, base_width=4)),
    ("13x13x512", "bottleneck(128, 2, 32, 4)", lambda: Bottleneck(512, 128, 2, 32, 4)),
    ("28x28x256", "bottleneck(64, base_width=128)",  # wide_resnet50_2
     lambda: Bottleneck(256, 64, base_width=128)),
    ("15x15x64", "bottleneck(24, stride=2, base_width=40)",  # width 15: not a multiple of 64
     lambda: Bottleneck(64, 24, 2, base_width=40)),
    ("51x32", "bottleneck(16, stride=2)", lambda: Bottleneck(32, 16, 2, rank=1)),
    ("112x112x32", "inverted_residual(16, expand=1)", lambda: InvertedResidual(32, 16, 1, 1)),
    ("56x56x16", "inverted_residual(24, stride=2)", lambda: InvertedResidual(16, 24, 2, 6)),
    ("14x14x32", "inverted_residual(32)", lambda: InvertedResidual(32, 32, 1, 6)),
    ("15x15x24", "inverted_residual(40, 2, 4)", lambda: InvertedResidual(24, 40, 2, 4)),
    ("7x7x20", "inverted_residual(20, expand=1.5)", lambda: InvertedResidual(20, 20, 1, 1.5)),
    ("7x7x5", "inverted_residual(8, expand=0.5)",  # round(2.5) is 2 in Python: half to even
     lambda: InvertedResidual(5, 8, 1, 0.5)),
    ("7x7x7", "inverted_residual(8, expand=0.5)",  # round(3.5) is 4
     lambda: InvertedResidual(7, 8, 1, 0.5)),
    ("112x112x32", "mbconv(16, expand=1)", lambda: MBConv(1, 3, 1, 32, 16)),
    ("56x56x16", "mbconv(24, stride=2)", lambda: MBConv(6, 3, 2, 16, 24)),
    ("28x28x24", "mbconv(24)", lambda: MBConv(6, 3, 1, 24, 24)),
    ("28x28x24", "mbconv(40, kernel=5, stride=2)", lambda: MBConv(6, 5, 2, 24, 40)),
    ("15x15x40", "mbconv(40, 5)", lambda: MBConv(6, 5, 1, 40, 40)),
    ("9x9x12", "mbconv(12, expand=1)",  # divisible(12, 8) = 16 ≠ 12: torchvision expands
     lambda: MBConv(1, 3, 1, 12, 12)),
    ("56x56x64", "se(16)", lambda: SqueezeExcitation(64, 16)),
    ("7x7x96", "se(24, act=silu)", lambda: SqueezeExcitation(96, 24, nn.SiLU)),
    ("13x9x40", "se(10, act=relu, scale_act=hardsigmoid)",  # MobileNetV3's
     lambda: SqueezeExcitation(40, 10, nn.ReLU, nn.Hardsigmoid)),
    ("55x55x96", "fire(16, 64, 64)", lambda: Fire(96, 16, 64, 64)),
    ("27x27x128", "fire(32, 128, 128)", lambda: Fire(128, 32, 128, 128)),
    ("13x11x64", "fire(8, 16, 32)", lambda: Fire(64, 8, 16, 32)),
    ("56x56x64", "dense_layer(32)", lambda: DenseLayer(64, 32, 4)),
    ("14x14x128", "dense_layer(32) * 3",
     lambda: chain(DenseLayer(128, 32, 4), DenseLayer(160, 32, 4), DenseLayer(192, 32, 4))),
    ("7x9x100", "dense_layer(12, bn_size=2)", lambda: DenseLayer(100, 12, 2)),
    ("56x56x96", "convnext_block", lambda: CNBlock(96, 1e-6)),
    ("14x14x384", "convnext_block(layer_scale=0.5)", lambda: CNBlock(384, 0.5)),
    ("9x7x32", "convnext_block()", lambda: CNBlock(32, 1e-6)),
    ("56x56x24", "shufflenet_unit(48, stride=2)", lambda: ShuffleUnit(24, 48, 2)),
    ("28x28x48", "shufflenet_unit(48)", lambda: ShuffleUnit(48, 48, 1)),
    ("28x28x116", "shufflenet_unit(232, 2)", lambda: ShuffleUnit(116, 232, 2)),
    ("15x15x58", "shufflenet_unit(116, stride=2) -> shufflenet_unit(116)",
     lambda: chain(ShuffleUnit(58, 116, 2), ShuffleUnit(116, 116, 1))),
]


def shape_of(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in text.split("x"))


def tensors(model: nn.Module) -> list[int]:
    """The model's parameter tensors by size (a layout-free fingerprint of its layers)."""
    return sorted(p.numel() for p in model.parameters())


@pytest.mark.parametrize("inp, call, factory", CASES, ids=[c[1] for c in CASES])
def test_a_library_block_counts_what_torchvision_has(inp: str, call: str,
                                                     factory: Factory) -> None:
    report = cnncalc.analyze(f"{inp} -> {call}", verify=True)
    assert report.ok, report.errors
    assert all(r.verified for r in report.layers if not r.is_block)
    t = report.totals
    ours = (t.params, t.non_trainable, t.macs, list(t.output_shape or ()))
    ref = factory().eval()
    assert measure(ref, shape_of(inp)) == ours
    exported = build(to_pytorch(report))
    assert measure(exported, shape_of(inp)) == ours
    assert tensors(exported) == tensors(ref)
    # the YAML form calls it the same way, with the same result
    yaml_report = cnncalc.analyze(f"input: {inp}\nlayers:\n  - {call}\n")
    assert yaml_report.ok, yaml_report.errors
    y = yaml_report.totals
    assert (y.params, y.non_trainable, y.macs, list(y.output_shape or ())) == ours


def randomized(model: nn.Module, seed: int) -> nn.Module:
    """``model`` with random norms, biases, layer scales and running statistics (a batch norm in
    eval mode is then no identity, a layer scale of 1e-6 no near-zero); conv and linear weights
    keep torch's fan-in-scaled initialisation, so activations stay near 1."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 or name.endswith("layer_scale"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5
                        + (1.0 if name.endswith("weight") else 0.0))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return model.eval()


@pytest.mark.parametrize("inp, call, factory", CASES, ids=[c[1] for c in CASES])
def test_the_exported_block_computes_what_torchvisions_does(inp: str, call: str,
                                                            factory: Factory) -> None:
    """The same weights in the same order give the same function: the order of a concat, the
    half a split passes through, the channel shuffle, the gate's product, the skip."""
    torch.manual_seed(len(call))  # torch's own initialisation of the conv and linear weights
    ref = randomized(factory(), len(call))
    model = build(to_pytorch(cnncalc.analyze(f"{inp} -> {call}")))
    stats = [b for n, b in ref.named_buffers() if n.endswith(("running_mean", "running_var"))]
    mine = [b for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var"))]
    with torch.no_grad():
        for a, b in [*zip(model.parameters(), getattr(ref, "in_order", ref.parameters)(),
                          strict=True),
                     *zip(mine, stats, strict=True)]:
            assert a.numel() == b.numel()
            a.copy_(b.reshape(a.shape))
        shape = shape_of(inp)
        x = torch.randn(2, shape[-1], *shape[:-1], generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(model(x), ref(x))  # float32's documented default tolerances


def test_mapping_form_calls_match_the_one_line_form() -> None:
    text = ("input: 56x56x64\nlayers:\n  - bottleneck: {planes: 64, groups: 32, base_width: 4}\n"
            "  - bottleneck: {planes: 128, stride: 2, groups: 32, base_width: 4}\n"
            "  - se: 128\n  - convnext_block\n")
    report = cnncalc.analyze(text)
    assert report.ok, report.errors
    ref = chain(Bottleneck(64, 64, groups=32, base_width=4),
                Bottleneck(256, 128, 2, groups=32, base_width=4),
                SqueezeExcitation(512, 128), CNBlock(512, 1e-6))
    t = report.totals
    assert measure(ref.eval(), (56, 56, 64)) == (t.params, t.non_trainable, t.macs,
                                                  list(t.output_shape or ()))


# --- the library itself -------------------------------------------------------------------

TABLE = """\
basicblock(planes, stride=1)
bottleneck(planes, stride=1, groups=1, base_width=64)
inverted_residual(out, stride=1, expand=6)
mbconv(out, kernel=3, stride=1, expand=6)
se(squeeze, act=relu, scale_act=sigmoid)
fire(squeeze, expand1, expand3)
dense_layer(growth, bn_size=4)
convnext_block(layer_scale=1e-6)
shufflenet_unit(out, stride=1)
"""
"""Spec §10's table, its first column as written there."""


def test_the_library_is_spec_tables_blocks_with_those_signatures() -> None:
    lib = library()
    written = [line.strip().rstrip(":") for line in PATH.read_text().splitlines()
               if line.startswith("  ") and not line.startswith("   ")
               and line.strip().endswith(":") and not line.strip().startswith("#")]
    assert [w.split("(")[0] for w in written] == list(NAMES) == list(lib.blocks)
    assert "\n".join(lib.signature(n) for n in NAMES) + "\n" == TABLE
    assert "\n".join(written) + "\n" == TABLE
    assert list(lib.examples) == list(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_example_analyses_and_runs(name: str) -> None:
    example = library().examples[name]
    assert f"{name}" in example
    report = cnncalc.analyze(example, verify=True)
    assert report.ok and not report.errors, report.errors
    assert all(r.verified for r in report.layers if not r.is_block)
    assert all(p.severity.value != "error" for p in report.problems)


# --- bad input around the library -----------------------------------------------------------

def where(report: cnncalc.Report) -> list[tuple[int, int, str]]:
    return [(p.location.line, p.location.column, p.code) for p in report.problems
            if p.location is not None and not p.code.startswith(("L", "G002"))]


OWN_SE = """\
input: 56x56x32
blocks:
  se(squeeze):
    - conv(squeeze, 1)
layers:
  - se(16) -> mbconv(32)
"""


def test_a_files_own_block_shadows_the_library_with_a_warning_unless_overridden() -> None:
    report = cnncalc.analyze(OWN_SE)
    assert report.ok and where(report) == [(3, 3, "G020")]
    warning = report.problems[0]
    assert warning.severity.value == "warning" and "library's se" in warning.message
    assert "override: true" in warning.suggestions[0]
    silenced = cnncalc.analyze("override: true\n" + OWN_SE)
    assert silenced.ok and where(silenced) == []
    # the file's se is a single conv; the library's mbconv still calls the library's se
    own = 32 * 16 + 16
    mbconv = MBConv(6, 3, 1, 16, 32).eval()
    assert silenced.totals.params == report.totals.params == own + measure(mbconv, (56, 56, 16))[0]
    bad = cnncalc.analyze(OWN_SE.replace("input:", "override: maybe\ninput:"))
    assert where(bad) == [(1, 11, "A006"), (4, 3, "G020")]
    assert "'maybe' is not true or false" in bad.errors[0].message


@pytest.mark.parametrize("spec, expected, hint", [
    ("56x56x64 -> botleneck(64)", [(1, 13, "A001")], "did you mean 'bottleneck'?"),
    ("input: 56x56x64\nlayers:\n  - conv(64, 1) -> botleneck(64)\n", [(3, 20, "A001")],
     "did you mean 'bottleneck'?"),
    ("56x56x64 -> bottleneck()", [(1, 13, "A004")],
     "bottleneck(planes, stride, groups, base_width)"),
    ("56x56x64 -> relu -> bottleneck(64, 1, 1, 64, 3)", [(1, 46, "A005")],
     "bottleneck(planes, stride, groups, base_width)"),
    ("56x56x64 -> bottleneck(64, strde=2)", [(1, 28, "A002")], "did you mean 'stride'?"),
    ("56x56x64 -> se(16, act=relu, scaleact=sigmoid)", [(1, 30, "A002")],
     "did you mean 'scale_act'?"),
    ("input: 56x56x64\nlayers:\n  - fire: {squeeze: 16, expand: 64, expand3: 64}\n",
     [(3, 25, "A002"), (3, 5, "A004")], "did you mean 'expand1'?"),
    ("56x56x64 -> bottleneck(64, stride=2, stride=1)", [(1, 38, "A003")], ""),
    ("56x56x64 -> fire(16, 64)", [(1, 13, "A004")], "fire(squeeze, expand1, expand3)"),
    ("56x56x64 -> conv(8, 1) as a -> basicblock(@a)", [(1, 43, "A006")], "@a -> basicblock"),
    ("input: 56x56x64\nlayers:\n  - basicblock(@input)\n", [(3, 16, "A006")],
     "@input -> basicblock"),
    ("56x56x64 -> bottleneck(64, 1.5)", [(1, 13, "A006")], "stride"),
])
def test_bad_calls_of_library_blocks_are_located_at_the_call(spec: str, expected: list[
        tuple[int, int, str]], hint: str) -> None:
    try:
        report = cnncalc.analyze(spec)
        problems = where(report)
        found = [p for p in report.problems if p.severity.value == "error"]
    except cnncalc.SpecSyntaxError as exc:
        problems = [(p.location.line, p.location.column, p.code) for p in exc.problems
                    if p.location is not None]
        found = list(exc.problems)
    assert problems == expected
    text = " ".join([p.message for p in found] + [s for p in found for s in p.suggestions])
    assert hint in text
    assert "Traceback" not in text


# --- torchvision's networks, one line each, from library blocks ------------------------------

def stages(block: str, spec: list[tuple[int, int]], extra: str = "") -> str:
    """A ResNet's four stages: the first call of each but the first with stride 2."""
    out = []
    for i, (w, n) in enumerate(spec):
        out.append(f"{block}({w}{', stride=2' if i else ''}{extra})")
        if n > 1:
            out.append(f"{block}({w}{extra}) * {n - 1}")
    return " -> ".join(out)


STEM = "224x224x3 -> conv(64, 7, s=2, p=3, bias=false) -> bn -> relu -> maxpool(3, s=2, p=1) -> "
R50, R18 = [(64, 3), (128, 4), (256, 6), (512, 3)], [(64, 2), (128, 2), (256, 2), (512, 2)]
NETS = {  # spec §10's one-line form: ResNet-50, its relatives, and the rest
    "resnet50": STEM + stages("bottleneck", R50) + " -> gap -> fc(1000)",
    "resnext50_32x4d": STEM + stages("bottleneck", R50, ", groups=32, base_width=4")
    + " -> gap -> fc(1000)",
    "wide_resnet50_2": STEM + stages("bottleneck", R50, ", base_width=128") + " -> gap -> fc(1000)",
    "resnet18": STEM + stages("basicblock", R18) + " -> gap -> fc(1000)",
    "r3d_18": "16x112x112x3 -> conv(64, 3x7x7, s=1x2x2, p=1x3x3, bias=false) -> bn -> relu -> "
    + stages("basicblock", R18) + " -> gap -> fc(400)",
    "mobilenet_v2": "224x224x3 -> conv(32, 3, s=2, p=1, bias=false) -> bn -> relu6 -> "
    "inverted_residual(16, expand=1) -> inverted_residual(24, 2) -> inverted_residual(24) -> "
    "inverted_residual(32, 2) -> inverted_residual(32) * 2 -> inverted_residual(64, 2) -> "
    "inverted_residual(64) * 3 -> inverted_residual(96) * 3 -> inverted_residual(160, 2) -> "
    "inverted_residual(160) * 2 -> inverted_residual(320) -> conv(1280, 1, bias=false) -> bn -> "
    "relu6 -> gap -> dropout(0.2) -> fc(1000)",
    "efficientnet_b0": "224x224x3 -> conv(32, 3, s=2, p=1, bias=false) -> bn -> silu -> "
    "mbconv(16, expand=1) -> mbconv(24, stride=2) -> mbconv(24) -> mbconv(40, 5, 2) -> "
    "mbconv(40, 5) -> mbconv(80, 3, 2) -> mbconv(80) * 2 -> mbconv(112, 5) * 3 -> "
    "mbconv(192, 5, 2) -> mbconv(192, 5) * 3 -> mbconv(320) -> conv(1280, 1, bias=false) -> bn -> "
    "silu -> gap -> dropout(0.2) -> fc(1000)",
    "densenet121": STEM + "dense_layer(32) * 6 -> bn -> relu -> conv(128, 1, bias=false) -> "
    "avgpool(2) -> dense_layer(32) * 12 -> bn -> relu -> conv(256, 1, bias=false) -> avgpool(2) -> "
    "dense_layer(32) * 24 -> bn -> relu -> conv(512, 1, bias=false) -> avgpool(2) -> "
    "dense_layer(32) * 16 -> bn -> relu -> gap -> fc(1000)",
    "squeezenet1_1": "227x227x3 -> conv(64, 3, s=2) -> relu -> maxpool(3, s=2, ceil=true) -> "
    "fire(16, 64, 64) * 2 -> maxpool(3, s=2, ceil=true) -> fire(32, 128, 128) * 2 -> "
    "maxpool(3, s=2, ceil=true) -> fire(48, 192, 192) * 2 -> fire(64, 256, 256) * 2 -> "
    "dropout(0.5) -> conv(1000, 1) -> relu -> gap -> flatten",
    "shufflenet_v2_x0_5": "224x224x3 -> conv(24, 3, s=2, p=1, bias=false) -> bn -> relu -> "
    "maxpool(3, s=2, p=1) -> shufflenet_unit(48, 2) -> shufflenet_unit(48) * 3 -> "
    "shufflenet_unit(96, 2) -> shufflenet_unit(96) * 7 -> shufflenet_unit(192, 2) -> "
    "shufflenet_unit(192) * 3 -> conv(1024, 1, bias=false) -> bn -> relu -> gap -> fc(1000)",
    "convnext_small": "224x224x3 -> conv(96, 4, s=4) -> ln(eps=1e-6) -> convnext_block * 3 -> "
    "ln(eps=1e-6) -> conv(192, 2, s=2) -> convnext_block * 3 -> ln(eps=1e-6) -> "
    "conv(384, 2, s=2) -> convnext_block * 27 -> ln(eps=1e-6) -> conv(768, 2, s=2) -> "
    "convnext_block * 3 -> gap -> ln(eps=1e-6) -> flatten -> fc(1000)",
}


@pytest.mark.parametrize("name", NETS)
def test_torchvisions_networks_on_one_line_have_its_counts(name: str) -> None:
    report = cnncalc.analyze(NETS[name])
    assert report.ok, report.errors
    t, ref = report.totals, REFERENCE[name]
    assert "x".join(map(str, report.input_shape or ())) == ref["input"]
    assert (t.params, t.non_trainable, t.macs, list(t.output_shape or ())) == (
        ref["params"], ref["non_trainable"], ref["macs"], ref["output"])


def test_a_problem_inside_a_library_block_offers_no_edit_of_the_library() -> None:
    # the library's shuffle(2) after 23 + 32 channels: the user cannot change that line
    report = cnncalc.analyze("56x56x64 -> shufflenet_unit(47)")
    assert where(report) == [(1, 13, "G004")]
    error = report.errors[0]
    assert "(in library block shufflenet_unit(47), line " in error.message
    assert not error.fixes and not any("shuffle(" in s for s in error.suggestions)
    assert "change the call's arguments" in error.suggestions[0]
    lints = cnncalc.analyze("3x3x64 -> basicblock(64, stride=4) -> fc(2)")
    inside = [p for p in lints.problems if "in library block" in p.message]
    assert {p.code for p in inside} >= {"G002", "L003", "L006"}
    assert all(not p.fixes and len(p.suggestions) <= 1 for p in inside)
    assert [len(p.suggestions) for p in inside if p.code == "G002"] == [1, 0]  # had one, none
    # a block of the file's own: its body is written once for every call, so a fix verified
    # for one call is not shown as an edit of the body either
    own = cnncalc.analyze("input: 3x3x64\nblocks:\n  b(s): conv(64, 3, s=s, p=1)\n"
                          "layers:\n  - b(4) -> fc(2)\n")
    l006 = [p for p in own.problems if p.code == "L006"]
    assert l006 and all(not p.fixes for p in l006)
    assert l006[0].suggestions == ("change the call's arguments, or b's body at the line named "
                                   "(it is written once for every call)",)
