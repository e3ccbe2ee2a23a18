"""``C``, ``H``, ``W`` (``L``; ``D``) inside block bodies (spec §10): the shape of each call's
own input, the same everywhere in the body and in the arguments of calls made from it.

Truth: hand arithmetic, and torch itself for a squeeze-excite inverted residual written here
in plain torch."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

import cnncalc
from cnncalc.output.export import to_pytorch
from tests.test_export import build
from tests.test_user_blocks import where

SE = """\
  se(squeeze, act=relu, scale_act=sigmoid):
    - gate([gap -> conv(squeeze, 1) -> act -> conv(C, 1) -> scale_act])
"""


def test_c_is_each_calls_own_input_channels() -> None:
    text = f"input: 8x8x16\nblocks:\n{SE}layers:\n  - se(4) -> conv(32, 1) -> se(8)\n"
    report = cnncalc.analyze(text)
    assert report.ok, report.problems
    first = (16 * 4 + 4) + (4 * 16 + 16)
    second = (32 * 8 + 8) + (8 * 32 + 32)
    assert report.totals.params == first + (16 * 32 + 32) + second
    assert [r.spec for r in report.layers if r.kind == "conv"][-1] == "conv(32, 1)"
    assert report.totals.output_shape == (8, 8, 32)


def test_a_repeat_sees_the_channels_each_repetition_gets() -> None:
    text = "input: 4x4x3\nblocks:\n  widen: conv(2 * C, 1)\nlayers:\n  - widen * 3\n"
    report = cnncalc.analyze(text)
    assert report.ok, report.problems
    convs = [r.spec for r in report.layers if r.kind == "conv"]
    assert convs == ["conv(6, 1)", "conv(12, 1)", "conv(24, 1)"]
    assert report.totals.params == (3 * 6 + 6) + (6 * 12 + 12) + (12 * 24 + 24)


@pytest.mark.parametrize("shape, body, out", [
    ("7x7x8", "avgpool(H)", (1, 1, 8)),
    ("7x5x8", "avgpool(W, s=1) -> conv(H, 1)", (3, 1, 7)),
    ("7x5x8", "avgpool(H, s=1)", None),  # a 7×7 window on 7×5: an error
    ("16x4", "conv1d(L // 4, 4, s=4)", (4, 4)),
    ("4x6x6x2", "conv3d(D + H + W + C, 1)", (4, 6, 6, 18)),
    ("10", "fc(C * 3)", (30,)),
])
def test_shape_names_follow_the_inputs_rank(shape: str, body: str, out: tuple[int, ...] | None
                                            ) -> None:
    text = f"input: {shape}\nblocks:\n  b: {body}\nlayers:\n  - b\n"
    report = cnncalc.analyze(text)
    if out is None:
        assert not report.ok
    else:
        assert report.ok, report.problems
        assert report.totals.output_shape == out


def test_a_shape_name_the_input_lacks_is_located_at_the_call() -> None:
    text = "input: 10\nblocks:\n  b:\n    - fc(H)\nlayers:\n  - fc(8) -> b\n"
    report = cnncalc.analyze(text)
    assert where(report) == [(6, 14, "A006")]
    message = report.errors[0].message
    assert "H is not defined on this call's input 8: it has C" in message
    assert "(in b, line 4, column 10)" in message


def test_shape_names_outside_a_body_are_errors_saying_where_they_work() -> None:
    top = cnncalc.analyze("8x8x3 -> conv(C, 1)")
    assert where(top) == [(1, 15, "A006")]
    assert "only inside a block's body, not at the top level" in top.errors[0].message
    default = cnncalc.analyze("input: 8x8x3\nblocks:\n  b(w=C): conv(w, 1)\nlayers:\n  - b\n")
    assert [p.code for p in default.errors] == ["A006"]
    assert "not in a block's defaults" in default.errors[0].message


def test_an_inner_call_gets_the_outer_calls_channels_as_an_argument() -> None:
    text = (f"input: 8x8x16\nblocks:\n{SE}  mb(e):\n    - conv(C * e, 1) -> se(C // 4)"
            " -> conv(C, 1)\nlayers:\n  - mb(4)\n")
    report = cnncalc.analyze(text)
    assert report.ok, report.problems
    # se(16 // 4 = 4) on 64 channels: its own C is 64, its squeeze the outer C // 4
    assert "se(4)" in [r.node.label() for r in report.layers if r.node is not None]
    assert [(r.kind, r.spec) for r in report.layers if r.depth <= 2] == [
        ("call", "mb(4)"), ("conv", "conv(64, 1)"), ("call", "se(4)"), ("conv", "conv(16, 1)")]
    assert report.totals.params == (16 * 64 + 64) + (64 * 4 + 4) + (4 * 64 + 64) + (64 * 16 + 16)


MBCONV = f"""\
input: 28x28x24
blocks:
{SE}  mbconv(out, kernel=3, stride=1, expand=6):
    - residual:
        body:
          - "[conv(divisible(C * expand, 8), 1, bias=false) -> bn -> silu] * (expand != 1)"
          - conv(divisible(C * expand, 8), kernel, s=stride, p=(kernel - 1) // 2,
              g=divisible(C * expand, 8), bias=false) -> bn -> silu
          - se(max(1, C // 4), act=silu)
          - conv(out, 1, bias=false) -> bn
        shortcut: if_same
layers:
  - mbconv(24) -> mbconv(40, kernel=5, stride=2) -> mbconv(40, expand=1)
"""


class TorchMBConv(nn.Module):
    """EfficientNet's MBConv with squeeze-excite, in plain torch."""

    def __init__(self, cin: int, out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand  # already a multiple of 8 for these channels
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.SiLU()]
        layers += [nn.Conv2d(hidden, hidden, kernel, stride, (kernel - 1) // 2, groups=hidden,
                             bias=False), nn.BatchNorm2d(hidden), nn.SiLU()]
        self.pre = nn.Sequential(*layers)
        squeeze = max(1, cin // 4)
        self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(hidden, squeeze, 1), nn.SiLU(),
                                nn.Conv2d(squeeze, hidden, 1), nn.Sigmoid())
        self.post = nn.Sequential(nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out))
        self.skip = stride == 1 and cin == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pre(x)
        y = self.post(y * self.se(y))
        return y + x if self.skip else y


def test_mbconv_with_squeeze_excite_matches_torch() -> None:
    report = cnncalc.analyze(MBCONV, verify=True)
    assert report.ok, report.problems
    assert all(r.verified for r in report.layers if not r.is_block)
    ref = nn.Sequential(TorchMBConv(24, 24, 3, 1, 6), TorchMBConv(24, 40, 5, 2, 6),
                        TorchMBConv(40, 40, 3, 1, 1))
    trainable = sum(p.numel() for p in ref.parameters())
    assert report.totals.params == trainable
    assert report.totals.non_trainable == sum(b.numel() for n, b in ref.named_buffers()
                                              if not n.endswith("num_batches_tracked"))
    with torch.no_grad():
        assert list(ref(torch.zeros(1, 24, 28, 28)).shape) == [1, 40, 14, 14]
    assert report.totals.output_shape == (14, 14, 40)
    model = build(to_pytorch(report))
    assert sum(p.numel() for p in model.parameters()) == trainable
    with torch.no_grad():
        assert list(model(torch.zeros(1, 24, 28, 28)).shape) == [1, 40, 14, 14]


def test_calls_reading_the_shape_are_bounded_by_the_row_limit() -> None:
    start = time.perf_counter()
    many = "input: 4x4x3\nblocks:\n  b: conv(C, 1) -> relu\nlayers:\n  - b * 100000\n"
    with pytest.raises(cnncalc.SpecSyntaxError) as err:
        cnncalc.analyze(many)  # refused before a single body is built
    assert err.value.problems[0].code == "S009"
    wide = "input: 4x4x30\nblocks:\n  b: relu * (C * 2000)\nlayers:\n  - b -> b\n"
    report = cnncalc.analyze(wide)  # 60,000 relus each: the second call is over the limit
    assert [(p.code, p.location.column) for p in report.errors if p.location] == [("S009", 10)]
    assert time.perf_counter() - start < 20
