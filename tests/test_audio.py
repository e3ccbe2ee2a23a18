"""The 1-D audio network of the zoo (M5) against the same network built in plain PyTorch."""

from __future__ import annotations

import pytest

import cnncalc
from cnncalc import zoo

torch = pytest.importorskip("torch")
nn = torch.nn


def m5_in_torch() -> object:
    """M5 as PyTorch's speech-commands tutorial writes it, with the zoo's paddings."""
    return nn.Sequential(
        nn.Conv1d(1, 32, 80, stride=16, padding=32), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(32, 32, 3, padding=1), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(32, 64, 3, padding=1), nn.BatchNorm1d(64), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(64, 64, 3, padding=1), nn.BatchNorm1d(64), nn.ReLU(), nn.MaxPool1d(4),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 35))


def measure(model: object, length: int) -> tuple[int, int, int, tuple[int, ...]]:
    """(params, non-trainable, MACs, output shape) measured by running the module."""
    macs = 0

    def count(module: object, _inp: object, out: object) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv1d):
            macs += module.weight.numel() * out.shape[-1]
        elif isinstance(module, nn.Linear):
            macs += module.weight.numel()

    for m in model.modules():
        m.register_forward_hook(count)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, length))
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    return params, buffers, macs, tuple(out.shape[1:])


def test_m5_matches_pytorch() -> None:
    path = zoo.path("m5")
    assert path is not None
    report = cnncalc.analyze(path)
    assert report.ok, report.errors
    assert report.input_shape == (16384, 1)
    expected = measure(m5_in_torch(), 16384)
    assert (report.totals.params, report.totals.non_trainable, report.totals.macs,
            tuple(report.totals.output_shape or ())) == expected


def test_m5_lengths_per_layer() -> None:
    """Every conv and pool of M5 in 1-D: the lengths torch produces, layer by layer."""
    report = cnncalc.analyze(zoo.path("m5"))  # type: ignore[arg-type]
    leaves = [r for r in report.layers if not r.is_block]
    x = torch.randn(1, 1, 16384)
    shapes = []
    with torch.no_grad():
        for module in m5_in_torch().eval():
            x = module(x)
            shapes.append((*x.shape[2:], x.shape[1]) if x.dim() == 3 else tuple(x.shape[1:]))
    ours = [tuple(r.output_shape or ()) for r in leaves]
    # torch's AdaptiveAvgPool1d + Flatten are cnncalc's gap (1×C) and fc's own flatten
    assert ours[:16] == shapes[:16]
    assert ours[-1] == shapes[-1]
