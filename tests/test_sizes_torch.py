"""``cnncalc sizes`` against PyTorch: the exported module of resnet50, vgg16 and unet runs a
sample of the sizes cnncalc accepts without a shape error and gives cnncalc's output
shape; the sizes it rejects are ones default mode flags with an error, and where even
lenient mode rejects, torch raises too."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import cnncalc
from cnncalc import zoo
from cnncalc.analysis import walk
from cnncalc.api import analyze_spec
from cnncalc.output.export import to_pytorch
from cnncalc.spec.build import Spec
from cnncalc.spec.parse import read_spec

from .test_export import build


def zoo_spec(name: str) -> Spec:
    path = zoo.path(name)
    assert path is not None
    return replace(read_spec(path)[0], expect=())


def run_torch(spec: Spec, shape: tuple[int, ...], module_shape: tuple[int, ...],
              mode: str = "default") -> tuple[int, ...]:
    """The output shape (channels last) of the module exported for ``module_shape``, run
    on a batch of one input of ``shape``."""
    report = analyze_spec(replace(spec, input=module_shape), mode)  # type: ignore[arg-type]
    assert report.ok
    model = build(to_pytorch(report))
    x = torch.randn(1, shape[-1], *shape[:-1])
    with torch.no_grad():
        y = model(x)
    return (*y.shape[2:], y.shape[1]) if y.dim() > 2 else (y.shape[1],)


def accepted(result: cnncalc.InputSizes, axis: int) -> set[int]:
    return {n for p in result.axes[axis].accepted for n in range(p.first, p.last + 1, p.step)}


@pytest.mark.parametrize(("name", "sizes", "rejected"), [
    ("resnet50", [(1, 1), (33, 17), (500, 375)], []),
    ("vgg16", [(32, 32), (64, 96)], [(16, 16), (31, 32), (48, 32)]),
    ("unet", [(16, 16), (48, 32)], [(17, 16), (40, 40)]),
])
def test_sample_of_sizes_runs_in_torch(name: str, sizes: list[tuple[int, int]],
                                       rejected: list[tuple[int, int]]) -> None:
    torch.manual_seed(0)
    spec = zoo_spec(name)
    assert spec.input is not None
    channels = spec.input[-1]
    result = cnncalc.input_sizes(spec, range=(1, 512))
    lenient = cnncalc.input_sizes(spec, "lenient", range=(1, 512))
    for h, w in sizes:
        shape = (h, w, channels)
        if h <= 512 and w == spec.input[1]:
            assert h in accepted(result, 0)
        report = walk(replace(spec, input=shape))
        assert report.ok, (shape, report.errors)
        assert run_torch(spec, shape, shape) == report.totals.output_shape
    for h, w in rejected:
        shape = (h, w, channels)
        report = walk(replace(spec, input=shape))
        assert not report.ok  # default mode flags it with an error
        if w == spec.input[1]:
            assert h not in accepted(result, 0)
        if not walk(replace(spec, input=shape), "lenient").ok:
            if w == spec.input[1]:
                assert h not in accepted(lenient, 0)
            with pytest.raises(RuntimeError):  # torch refuses it too
                run_torch(spec, shape, spec.input)
        else:  # only default mode's rule (a row never read): torch runs it, flooring
            assert {p.code for p in report.errors} == {"G001"}
            assert run_torch(spec, shape, shape, "lenient") == walk(
                replace(spec, input=shape), "lenient").totals.output_shape


def test_resnet50_smallest_runs_in_torch() -> None:
    spec = zoo_spec("resnet50")
    result = cnncalc.input_sizes(spec)
    assert result.smallest == (1, 1, 3)
    assert run_torch(spec, result.smallest, result.smallest) == (1000,)
