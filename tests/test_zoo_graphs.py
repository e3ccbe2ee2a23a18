"""The zoo's graphs with named tensors, against the same networks built in plain torch:
U-Net (skips concatenated by name) and a YOLOv3-style detector (routes, three heads).
Also the README's one-line ResNet-50 against the zoo's resnet50."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional

import cnncalc
from cnncalc import zoo
from cnncalc.output.export import to_pytorch

from .test_against_torch import _one_thread  # noqa: F401  (autouse: one torch thread)
from .test_export import build

ROOT = Path(__file__).parent.parent
Shape = list[int]


def run(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int, int, list[Shape]]:
    """(params, BN running-stat elements, conv/deconv MACs, every output's shape HWC) of a
    torch module, measured on the meta device: torch's own shape rules, no arithmetic."""
    macs = 0

    def hook(mod: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(mod, nn.Conv2d):  # weights × output positions
            macs += mod.weight.numel() * out[0, 0].numel()
        elif isinstance(mod, nn.ConvTranspose2d):  # fvcore's rule: × input positions
            macs += mod.weight.numel() * inp[0][0, 0].numel()
        else:
            assert not isinstance(mod, nn.Linear | nn.Conv1d | nn.Conv3d)

    model = model.to("meta")
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        y = model(torch.zeros(1, shape[-1], *shape[:-1], device="meta"))
    for h in handles:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for n, b in model.named_buffers()
                if n.endswith(("running_mean", "running_var")))
    ys = y if isinstance(y, tuple) else (y,)
    return params, stats, macs, [[*t.shape[2:], t.shape[1]] for t in ys]


def counted(report: cnncalc.Report) -> tuple[int, int, int, list[Shape]]:
    t = report.totals
    return t.params, t.non_trainable, t.macs, [list(o or ()) for o in t.outputs]


def zoo_report(name: str, verify: bool = False) -> cnncalc.Report:
    path = zoo.path(name)
    assert path is not None
    return cnncalc.analyze(path, verify=verify)


# ------------------------------------------------------------------------------- U-Net


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, width: int) -> None:
        super().__init__(nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(width, width, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    """Ronneberger et al. 2015 with padded 3×3 convs, the up-conv's output before the skip."""

    def __init__(self, channels: int = 1, classes: int = 2) -> None:
        super().__init__()
        widths = [64, 128, 256, 512]
        self.down = nn.ModuleList(DoubleConv(cin, w) for cin, w in
                                  zip([channels, *widths], widths, strict=False))
        self.bottom = DoubleConv(512, 1024)
        self.up = nn.ModuleList(nn.ConvTranspose2d(2 * w, w, 2, stride=2)
                                for w in reversed(widths))
        self.dec = nn.ModuleList(DoubleConv(2 * w, w) for w in reversed(widths))
        self.head = nn.Conv2d(64, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = functional.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips), strict=True):
            x = dec(torch.cat([up(x), skip], 1))
        return self.head(x)


def test_unet_matches_torch() -> None:
    report = zoo_report("unet")
    assert report.ok, report.errors
    assert report.input_shape == (256, 256, 1)
    truth = run(UNet(), (256, 256, 1))
    assert counted(report) == truth
    # the 2015 net's well-known size, and its MACs by hand: 3×3 convs of the four levels
    # and the bottom (twice: encoder + decoder, less the bottom's second visit), the up-convs
    # on their input positions, the 1×1 head
    assert truth[0] == 31_030_658 and truth[3] == [[256, 256, 2]]
    size = {64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    enc = sum(9 * (cin * w + w * w) * size[w] ** 2 for cin, w in
              [(1, 64), (64, 128), (128, 256), (256, 512), (512, 1024)])
    dec = sum(9 * (2 * w * w + w * w) * size[w] ** 2 for w in (512, 256, 128, 64))
    ups = sum(2 * w * w * 4 * size[2 * w] ** 2 for w in (512, 256, 128, 64))
    assert report.totals.macs == truth[2] == enc + dec + ups + 64 * 2 * 256 ** 2


def test_unet_names_its_skips() -> None:
    report = zoo_report("unet")
    named = {row.tensor: row.output_shape for row in report.layers if row.tensor}
    assert named == {"enc1": (256, 256, 64), "enc2": (128, 128, 128),
                     "enc3": (64, 64, 256), "enc4": (32, 32, 512)}
    cats = [row.output_shape for row in report.layers if row.kind == "concat"]
    assert cats == [(32, 32, 1024), (64, 64, 512), (128, 128, 256), (256, 256, 128)]


# --------------------------------------------------------------------- the YOLO detector


def cbl(cin: int, out: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    """Darknet's conv -> batch norm -> leaky relu."""
    return nn.Sequential(nn.Conv2d(cin, out, kernel, stride, (kernel - 1) // 2, bias=False),
                         nn.BatchNorm2d(out), nn.LeakyReLU(0.1))


class DarknetResidual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(cbl(c, c // 2), cbl(c // 2, c, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def stage(cin: int, out: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(cbl(cin, out, 3, 2), *(DarknetResidual(out) for _ in range(blocks)))


def head(width: int) -> nn.Sequential:
    return nn.Sequential(cbl(width, 2 * width, 3), nn.Conv2d(2 * width, 255, 1))


class Yolo(nn.Module):
    """The zoo's yolo_tiny3 as a YOLOv3 implementation writes it: routes are variables."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(cbl(3, 16, 3), stage(16, 32, 1), stage(32, 64, 2),
                                  stage(64, 128, 2))
        self.s4, self.s5 = stage(128, 256, 2), stage(256, 512, 2)
        self.p5, self.head1 = cbl(512, 256), head(256)
        self.lat4, self.p4, self.head2 = cbl(256, 128), cbl(128 + 256, 128), head(128)
        self.lat3, self.p3, self.head3 = cbl(128, 64), cbl(64 + 128, 64), head(64)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c3 = self.stem(x)
        c4 = self.s4(c3)
        p5 = self.p5(self.s5(c4))
        p4 = self.p4(torch.cat([self.up(self.lat4(p5)), c4], 1))
        p3 = self.p3(torch.cat([self.up(self.lat3(p4)), c3], 1))
        return self.head1(p5), self.head2(p4), self.head3(p3)


def test_yolo_matches_torch_on_all_three_heads() -> None:
    report = zoo_report("yolo_tiny3")
    assert report.ok, report.errors
    truth = run(Yolo(), (416, 416, 3))
    assert counted(report) == truth
    assert truth[3] == [[13, 13, 255], [26, 26, 255], [52, 52, 255]]
    assert report.totals.output_shape == (52, 52, 255)  # the main output is the last


def test_yolo_routes_are_named() -> None:
    report = zoo_report("yolo_tiny3")
    named = {row.tensor: row.output_shape for row in report.layers if row.tensor}
    assert named == {"c3": (52, 52, 128), "c4": (26, 26, 256), "p5": (13, 13, 256),
                     "p4": (26, 26, 128)}


# --------------------------------------------- both: verified, exported, checked cleanly


@pytest.mark.parametrize("name", ["unet", "yolo_tiny3"])
def test_graphs_export_to_torch(name: str) -> None:
    report = zoo_report(name)
    assert counted(report)[:2] != (0, 0)
    assert run(build(to_pytorch(report)), report.input_shape or ()) == counted(report)


@pytest.mark.parametrize("name", ["unet", "yolo_tiny3"])
def test_graphs_verify_in_the_forward_pass(name: str) -> None:
    report = zoo_report(name, verify=True)
    assert report.ok, report.errors
    assert all(row.verified for row in report.layers)
    assert not [p for p in report.problems if p.severity.value != "note"]


# ------------------------------------------------------------- the README's one-liner


def readme_resnet50() -> str:
    """The one-line ResNet-50 that opens the README's language section (its first example)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## The one-line form\n", 1)[1]
    first = section.split("```", 2)[1]  # the section's first code block
    match = re.search(r'cnncalc summary "(224x224x3 -> [^"]*bottleneck[^"]*)"', first)
    assert match, "the README's language section opens with ResNet-50 on one line"
    return match.group(1)


def test_readme_one_line_resnet50_is_the_zoos() -> None:
    line = readme_resnet50()
    one, yaml = cnncalc.analyze(line), zoo_report("resnet50")
    assert one.ok and yaml.ok
    assert (one.totals.params, one.totals.non_trainable, one.totals.macs) == (
        yaml.totals.params, yaml.totals.non_trainable, yaml.totals.macs) == (
        25_557_032, 53_120, 4_089_184_256)
    assert one.totals.output_shape == yaml.totals.output_shape == (1000,)
    assert [r.output_shape for r in one.layers if r.depth == 1][-3:] == [
        (7, 7, 2048), (1, 1, 2048), (1000,)]
