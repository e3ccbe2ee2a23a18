"""1-D, 2-D and 3-D networks (spec §1, Ranks) by hand and on bad input.

The random differential against torch of every rank (every kind and block, layer by layer)
is tests/test_against_torch.py's; here its corpus also runs through the NumPy forward pass.
Besides: hand arithmetic (C3D/R3D-style 3-D convs, an M5-style audio net), the rank errors
(G010) and their fixes by (line, column, code), the exported PyTorch of 1-D and 3-D specs
run in torch, and the rank named in the outputs.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc.api import analyze_spec
from cnncalc.cli import main
from cnncalc.spec.parse import read_spec
from tests.test_fixes import check_fixes_apply, layer

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[test]')")
from tests.test_against_torch import (  # noqa: E402
    SEEDS,
    _one_thread,  # noqa: F401  (autouse: one torch thread for tiny tensors here too)
    channels_last,
    counted,
    generate,
)

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


# --------------------------------------------------------------------------- hand arithmetic


def test_conv3d_on_a_clip_by_hand() -> None:
    """R3D/C3D's first conv: 3×3×3 on 16×112×112×3 with p=1."""
    r = cnncalc.analyze("16x112x112x3 -> conv3d(64, 3, p=1)")
    (row,) = r.layers
    assert row.output_shape == (16, 112, 112, 64)
    assert (row.weights, row.biases) == (3 * 3 * 3 * 3 * 64, 64)
    assert row.params == 3 * 3 * 3 * 3 * 64 + 64
    assert row.macs == 27 * 3 * 64 * 16 * 112 * 112
    assert (row.receptive_field, row.jump) == ((3, 3, 3), (1, 1, 1))


def test_per_axis_sizes_in_3d_by_hand() -> None:
    """R(2+1)D's factorised conv: 1×7×7 spatial, stride 1×2×2, padding 0×3×3; then 3×1×1."""
    r = cnncalc.analyze("16x112x112x3 -> conv(45, 1x7x7, s=1x2x2, p=0x3x3, bias=false) -> "
                        "conv(64, 3x1x1, p=1x0x0, bias=false) -> maxpool(2) -> gap")
    a, b, pool, gap = r.layers
    assert a.output_shape == (16, 56, 56, 45) and a.params == 7 * 7 * 3 * 45
    assert a.macs == 7 * 7 * 3 * 45 * 16 * 56 * 56
    assert b.output_shape == (16, 56, 56, 64) and b.params == 3 * 45 * 64
    assert pool.output_shape == (8, 28, 28, 64)
    assert gap.output_shape == (1, 1, 1, 64)          # keeps the rank
    # r' = r + (k − 1)·j, j' = j·s, per axis (depth, height, width)
    assert (a.receptive_field, a.jump) == ((1, 7, 7), (1, 2, 2))
    assert (b.receptive_field, b.jump) == ((3, 7, 7), (1, 2, 2))
    assert (pool.receptive_field, pool.jump) == ((4, 9, 9), (2, 4, 4))
    assert r.to_dict()["layers"][0]["receptive_field"] == [1, 7, 7]


def test_m5_audio_network_by_hand() -> None:
    """M5 (Dai et al. 2017) on 8 kHz audio, in 1-D: no size-1 axis to emulate, no fixes."""
    spec = ("8000x1 -> conv1d(128, 80, s=4) -> bn1d -> relu -> maxpool1d(4) -> "
            "conv1d(128, 3) -> bn1d -> relu -> maxpool1d(4) -> conv1d(256, 3) -> bn1d -> relu -> "
            "maxpool1d(4) -> conv1d(512, 3) -> bn1d -> relu -> maxpool1d(4) -> gap -> fc(10)")
    r = cnncalc.analyze(spec, mode="lenient")
    assert r.ok, r.problems
    shapes = [row.output_shape for row in r.layers if row.kind in ("conv", "maxpool", "gap")]
    # (8000 − 80)/4 + 1 = 1981; ⌊1981/4⌋ = 495; 493; ⌊493/4⌋ = 123; 121; 30; 28; 7
    assert shapes == [(1981, 128), (495, 128), (493, 128), (123, 128), (121, 256), (30, 256),
                      (28, 512), (7, 512), (1, 512)]
    convs = 80 * 1 * 128 + 128 + 3 * 128 * 128 + 128 + 3 * 128 * 256 + 256 + 3 * 256 * 512 + 512
    bns = 2 * (128 + 128 + 256 + 512)
    assert r.totals.params == convs + bns + 512 * 10 + 10
    assert r.totals.non_trainable == bns
    assert r.totals.macs == (80 * 128 * 1981 + 3 * 128 * 128 * 493 + 3 * 128 * 256 * 121
                             + 3 * 256 * 512 * 28 + 512 * 10)
    # the lost input is reported per axis and fixed on the length alone
    problems = {p.code for p in cnncalc.analyze(spec).problems}
    assert "G001" in problems


def test_batchnorm1d_takes_a_flat_vector_as_pytorch() -> None:
    r = cnncalc.analyze("512 -> fc(256) -> batchnorm1d -> relu -> fc(10)")
    assert r.ok and r.layers[1].params == 512 and r.layers[1].non_trainable == 512


# --------------------------------------------------------------------------- bad input


def located(spec: str) -> list[tuple[int, int, str]]:
    return [(p.location.line, p.location.column, p.code) for p in cnncalc.analyze(spec).problems
            if p.severity.value == "error" and p.location is not None]


@pytest.mark.parametrize("spec,where,words", [
    ("16x112x112x3 -> conv(8, 3x5)", (1, 17, "G010"),
     "kernel 3x5 has 2 sizes but the input 16×112×112×3 is 3-D (D×H×W×C): give one number or 3 "
     "(3x3x3)"),
    ("16000x1 -> relu -> maxpool(2x2)", (1, 20, "G010"), "kernel 2x2 has 2 sizes but the input "
     "16000×1 is 1-D (L×C): give one number (2)"),
    ("32x32x3 -> conv(8, 3, p=1x1x1)", (1, 12, "G010"), "padding 1x1x1 has 3 sizes"),
    ("32x32x3 -> conv3d(8, 3)", (1, 12, "G010"),
     "conv3d needs a 3-D D×H×W×C input, but its input 32×32×3 is 2-D (H×W×C)"),
    ("16x112x112x3 -> maxpool2d(2)", (1, 17, "G010"),
     "maxpool2d needs a 2-D H×W×C input, but its input 16×112×112×3 is 3-D (D×H×W×C)"),
    ("4096 -> conv1d(8, 3)", (1, 9, "G010"), "conv1d needs a 1-D L×C input, but its input 4096 "
     "is a flat vector"),
    ("4x64x64x3 -> conv(8, 5)", (1, 14, "G003"), "the 5-pixel window is larger than the padded "
     "input depth 4 + 0 + 0 = 4"),
])
def test_rank_errors_are_located_with_the_arithmetic(spec: str, where: tuple[int, int, str],
                                                     words: str) -> None:
    assert located(spec)[0] == where
    (p,) = [p for p in cnncalc.analyze(spec).problems if p.code == where[2]]
    assert words in p.message


@pytest.mark.parametrize("spec,fix", [
    ("16x112x112x3 -> conv(8, 3x5)", "conv(8, 3x3x5)"),
    ("32x32x3 -> conv(8, 3, p=1x1x1)", "conv(8, 3, p=1x1)"),
    ("32x32x3 -> conv3d(8, 3)", "conv2d(8, 3)"),
    ("16x112x112x3 -> avgpool2d(2)", "avgpool3d(2)"),
])
def test_rank_fixes_analyse_cleanly(spec: str, fix: str) -> None:
    (p,) = cnncalc.analyze(spec).errors
    assert p.suggestions[0] == fix
    layer = spec.split(" -> ")[1]
    fixed = spec.replace(layer, fix if "(" in fix else fix + layer[layer.index("("):])
    assert cnncalc.analyze(fixed).ok, fixed


def test_3d_input_too_small_for_its_kernel_counts_padding() -> None:
    p = cnncalc.analyze("2x16x16x3 -> conv3d(8, 3)").errors[0]
    assert p.code == "G003" and "depth 2 + 0 + 0 = 2" in p.message
    assert cnncalc.analyze("2x16x16x3 -> conv3d(8, 3, p=1x0x0)").ok


def test_fixes_touch_only_the_axes_that_need_them() -> None:
    # only the depth is inexact: the fix pads the depth alone (p=1x0x0), never H or W
    (p,) = [p for p in cnncalc.analyze("8x32x32x3 -> conv(8, 3x2x2, s=2)").problems
            if p.code in ("G001", "G002")]
    assert any(s.startswith("conv(8, 3x2x2, s=2, p=1x0x0)") for s in p.suggestions), p.suggestions
    assert not any("p=1)" in s or "p=1," in s for s in p.suggestions)
    # M5 emulated in 2-D on an 8001×1×1 input: nothing pads the size-1 axis
    (p,) = [p for p in cnncalc.analyze("8001x1x1 -> conv(8, 80x1, s=4x1)").problems
            if p.code in ("G001", "G002")]
    assert p.suggestions and all("x0" in s or "p=" not in s for s in p.suggestions), p.suggestions
    assert "input height 8000 or 8004 instead of 8001" in p.suggestions


@pytest.mark.parametrize("spec", [
    "8x32x32x3 -> conv(8, 3x2x2, s=2)",
    "8001x1 -> conv(8, 80, s=4) -> maxpool(3)",
    "15x15x15x2 -> maxpool(2) -> conv(4, 3, s=2)",
    "30x4 -> conv(4, 4, s=3) -> avgpool(2)",
    "8x8x8x2 -> residual([conv(2, 3, s=2, p=1)])",
])
def test_every_fix_in_1d_and_3d_analyses_cleanly(spec: str) -> None:
    parsed, _ = read_spec(spec)
    report = analyze_spec(parsed, "default")
    shown = 0
    for p in report.problems:
        shown += check_fixes_apply(report, p)
    assert shown, report.problems


# --------------------------------------------------------------------------- export and output


@pytest.mark.parametrize("spec", [
    "16000x1 -> conv1d(16, 80, s=16, p=same) -> bn1d -> relu -> maxpool(4, p=same) -> "
    "dwconv(3, p=1) -> avgpool(2, ceil=true) -> deconv(8, 2, s=2) -> upsample(2) -> pad(1) -> "
    "adaptiveavgpool(5) -> globalmaxpool -> flatten -> fc(10)",
    "8x28x28x3 -> conv3d(8, 3x5x5, s=1x2x2, p=same) -> batchnorm3d -> relu -> "
    "maxpool3d(1x3x3, s=1x2x2, p=0x1x1) -> residual([conv(8, 3, p=1) -> bn]) -> "
    "concat([conv(4, 1)], [dwconv(3, p=1, m=2)]) -> deconv(4, 2, s=2) -> "
    "adaptiveavgpool(2x3x3) -> pad(1x0x1) -> upsample(1x2x2) -> gap -> fc(5)",
])
def test_exported_1d_and_3d_networks_run_in_torch(spec: str) -> None:
    from cnncalc.output.export import to_pytorch
    from tests.test_export import build

    report = cnncalc.analyze(spec, mode="lenient")
    assert report.ok, report.problems
    source = to_pytorch(report)
    assert f"nn.Conv{len(report.input_shape or ()) - 1}d(" in source
    model = build(source)
    shape = report.input_shape
    assert shape is not None
    with torch.no_grad():
        y = model(torch.randn(2, shape[-1], *shape[:-1]))
    assert channels_last(y.shape) == report.totals.output_shape
    counts = counted(model)
    assert (counts["params"], counts["non_trainable"]) == (report.totals.params,
                                                          report.totals.non_trainable)


@pytest.mark.parametrize("spec,value", [
    ("1x1x1x2 -> avgpool(3, s=1, p=1)", 1 / 27),
    ("1x1x1x2 -> avgpool3d(3, s=2, p=1, ceil=true)", 1 / 27),
    ("4x1x7x2 -> averagepooling3d(1x3x3, s=1, p=same)", 2 / 9),
    ("2x1x2x1 -> avgpool(2x3x2, s=1, p=0x1x0)", 4 / 12),
])
def test_exported_3d_avgpool_on_an_axis_shorter_than_its_kernel(spec: str, value: float) -> None:
    """torch's AvgPool3d rejects an axis shorter than the kernel even when the padding makes
    up for it (AvgPool1d/2d do not): the export pads in front. On ones, a window's average is
    the inputs it covers over its size (padding counts, spec §4): 1/27 for one voxel of a
    3×3×3 window; 1·2 of 9 at the corner of a 1×3×3 window on 1×7 (H = 1); 4 of 12."""
    from cnncalc.output.export import to_pytorch
    from tests.test_export import build

    report = cnncalc.analyze(spec)
    assert report.ok, report.problems
    shape = report.input_shape
    assert shape is not None
    with torch.no_grad():
        y = build(to_pytorch(report))(torch.ones(1, shape[-1], *shape[:-1]))
    assert channels_last(y.shape) == report.totals.output_shape
    corner = y[0, 0].flatten()[0].item()
    assert corner == pytest.approx(value, rel=1e-6)


def test_the_summary_names_the_rank() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["summary", "16000x1 -> conv(8, 80, s=16)", "--no-verify"])
    assert out.exit_code == 0 and "Input: 16000×1 (1-D)" in out.output
    out = runner.invoke(main, ["summary", "16x112x112x3 -> conv(8, 3, p=1)", "--no-verify",
                               "--format", "markdown"])
    assert out.exit_code == 0 and "Input: 16×112×112×3 (3-D)" in out.output
    out = runner.invoke(main, ["summary", "16x112x112x3 -> conv(8, 3, p=1)", "--no-verify",
                               "--format", "json"])
    row = json.loads(out.output)["layers"][0]
    assert row["input_shape"] == [16, 112, 112, 3] and row["receptive_field"] == [3, 3, 3]
    out = runner.invoke(main, ["summary", "16x112x112x3 -> conv(8, 1x3x3)", "--no-verify",
                               "--format", "csv"])
    assert "16x112x112x3,16x110x110x8" in out.output and ",1x3x3," in out.output


def test_yaml_mapping_inputs_of_every_rank() -> None:
    for text, shape in (("{length: 16000, channels: 1}", (16000, 1)),
                        ("{depth: 16, height: 112, width: 112, channels: 3}", (16, 112, 112, 3)),
                        ("[16, 112, 112, 3]", (16, 112, 112, 3)), ("512x300", (512, 300))):
        r = cnncalc.analyze(f"input: {text}\nlayers:\n  - conv(8, 3)\n")
        assert r.input_shape == shape and r.ok


@pytest.mark.parametrize("spec,code", [
    ("1x16000 -> conv(8, 1)", "L002"),
    ("3x16x112x112 -> conv(8, 3)", "L002"),
    ("1x8x8x16 -> conv(8, 3, p=1)", "L003"),
    ("65x8 -> conv(8, 2, s=3)", "L006"),
    ("17x17x17x8 -> maxpool(2, s=3)", "L010"),
    ("8x16x16x32 -> conv(32, 3, p=1) -> conv(32, 5, p=2)", "L013"),
])
def test_lints_are_rank_aware(spec: str, code: str) -> None:
    found = {p.code for p in cnncalc.analyze(spec).problems}
    assert code in found, found


@st.composite
def ranked_specs(draw: st.DrawFn) -> str:
    r = draw(st.sampled_from([1, 3]))
    sides = [draw(st.integers(1, 12 if r == 3 else 40)) for _ in range(r)]
    c = draw(st.sampled_from([1, 3, 4, 8]))
    layers = draw(st.lists(layer(), min_size=1, max_size=5))
    tail = draw(st.sampled_from(["", " -> gap -> fc(10)", " -> flatten -> fc(10)"]))
    return "x".join(map(str, (*sides, c))) + " -> " + " -> ".join(layers) + tail


@settings(max_examples=120, deadline=None, derandomize=True)
@given(ranked_specs(), st.sampled_from(["default", "strict", "lenient"]))
def test_every_shown_fix_in_1d_and_3d_analyses_cleanly(text: str, mode: str) -> None:
    """The random fix test of tests/test_fixes.py on 1-D and 3-D inputs (its 2-x-sized pool
    kernels are G010 there, whose fixes must apply too)."""
    spec, _ = read_spec(text)
    report = analyze_spec(spec, mode)  # type: ignore[arg-type]
    for p in report.problems:
        assert len(p.suggestions) >= len({f.template or f.text for f in p.fixes})
        check_fixes_apply(report, p)


@pytest.mark.parametrize("seed", SEEDS[::3])
def test_every_shown_fix_on_the_random_corpus_analyses_cleanly(seed: int) -> None:
    """tests/test_against_torch.py's networks of every rank (blocks included): every fix
    cnncalc shows for their warnings and notes removes the problem and adds no error."""
    spec, _ = read_spec(generate(seed).spec)
    for mode in ("default", "strict"):
        report = analyze_spec(spec, mode)
        for p in report.problems:
            check_fixes_apply(report, p)


# --------------------------------------------------------------------------- forward pass


@pytest.mark.parametrize("seed", SEEDS[::12])
def test_forward_pass_verifies_every_rank(seed: int) -> None:
    """The NumPy pass runs the random 1-D/2-D/3-D networks (blocks included) and proves
    every shape."""
    case = generate(seed)
    report = cnncalc.analyze(case.spec, mode="lenient", verify=True)
    assert report.ok, report.problems
    assert all(row.verified for row in report.layers), [
        (row.path, row.spec, row.verified) for row in report.layers]


def _torch_weight(kind: str, w: object) -> torch.Tensor:
    t = torch.from_numpy(w)  # type: ignore[call-overload]
    r = t.dim() - 2
    # conv: (*kernel, C/g, F) → (F, C/g, *kernel); deconv: (*kernel, C, F/g) → (C, F/g, *kernel)
    order = (r + 1, r, *range(r)) if kind == "conv" else (r, r + 1, *range(r))
    return t.permute(*order).contiguous()


@pytest.mark.parametrize("spec", [
    "20x6 -> conv1d(4, 3, s=2, p=same, d=2, g=2)",
    "5x7x6x4 -> conv3d(6, 3x2x3, s=1x2x1, p=1x0x1, g=2)",
    "5x7x6x4 -> dwconv(3, s=2, p=same, m=2)",
    "9x4 -> deconv1d(3, 3, s=2, p=1, op=1)",
    "3x4x5x4 -> deconv(6, 2x3x2, s=2x1x2, p=0x1x0, g=2)",
    "11x3 -> maxpool(3, s=2, p=1, ceil=true)",
    "5x7x6x2 -> avgpool3d(2x3x2, s=2, p=1x1x0, ceil=true)",
    "5x7x6x2 -> adaptiveavgpool(2x3x4)",
    "13x2 -> upsample(3) -> pad(2)",
])
def test_layer_forward_matches_torch_functional(spec: str) -> None:
    """Each spatial kind's own forward() (its arguments passed on per axis to the N-D
    kernels) against torch.nn.functional on the same input and weights."""
    import numpy as np
    import torch.nn.functional as tf

    report = cnncalc.analyze(spec, mode="lenient")
    assert report.ok, report.problems
    rng = np.random.default_rng(0)
    for row in report.layers:
        layer, inp = row.node, row.input_shape
        assert inp is not None and row.output_shape is not None
        r = len(inp) - 1
        x = rng.standard_normal((2, *inp)).astype(np.float32)
        w = {k: rng.standard_normal(s).astype(np.float32)
             for k, s in layer.weight_shapes(inp).items()}  # type: ignore[union-attr]
        got = layer.forward(x, w)  # type: ignore[union-attr]
        xt = torch.from_numpy(x).movedim(-1, 1)
        kind = row.kind
        if kind in ("conv", "dwconv"):
            _, stride, dilation = layer.axes(inp)  # type: ignore[union-attr]
            pads = [n for pair in reversed(layer.pads(inp)) for n in pair]  # type: ignore[union-attr]
            conv_fn = (tf.conv1d, tf.conv2d, tf.conv3d)[r - 1]
            groups = inp[-1] if kind == "dwconv" else layer.groups  # type: ignore[union-attr]
            want = conv_fn(tf.pad(xt, pads), _torch_weight("conv", w["w"]),
                           torch.from_numpy(w["b"]) if "b" in w else None, stride=stride,
                           dilation=dilation, groups=groups)
        elif kind == "deconv":
            _, stride, padding, op, dilation = layer.axes(inp)  # type: ignore[union-attr]
            fn = (tf.conv_transpose1d, tf.conv_transpose2d, tf.conv_transpose3d)[r - 1]
            want = fn(xt, _torch_weight("deconv", w["w"]), torch.from_numpy(w["b"]),
                      stride=stride, padding=padding, output_padding=op,
                      groups=layer.groups, dilation=dilation)  # type: ignore[union-attr]
        elif kind in ("maxpool", "avgpool"):
            kernel, stride, _ = layer.axes(inp)  # type: ignore[union-attr]
            padding = tuple(b for b, _ in layer.pads(inp))  # type: ignore[union-attr]
            fn = ((tf.max_pool1d, tf.max_pool2d, tf.max_pool3d) if kind == "maxpool" else
                  (tf.avg_pool1d, tf.avg_pool2d, tf.avg_pool3d))[r - 1]
            want = fn(xt, kernel, stride, padding, ceil_mode=True)
        elif kind == "adaptiveavgpool":
            fn = (tf.adaptive_avg_pool1d, tf.adaptive_avg_pool2d, tf.adaptive_avg_pool3d)[r - 1]
            want = fn(xt, row.output_shape[:-1])
        elif kind == "upsample":
            want = tf.interpolate(xt, scale_factor=float(layer.scale[0]), mode="nearest")  # type: ignore[union-attr]
        else:
            want = tf.pad(xt, [layer.p[0]] * (2 * r))  # type: ignore[union-attr]
        want = want.movedim(1, -1).numpy()
        assert got.shape == want.shape == (2, *row.output_shape), row.spec
        # float32 sums of at most a few dozen products: ~1e-6 relative each
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=row.spec)


def test_input_size_fixes_name_the_axes_they_change() -> None:
    (p,) = cnncalc.analyze("16x112x112x3 -> conv(8, 1x7x7, s=1x2x2)").errors
    assert "input height and width 111 or 113 instead of 112" in p.suggestions
    (p,) = [p for p in cnncalc.analyze("16x16x16x3 -> conv(8, 3x2x2, s=2)").problems
            if p.code == "G001"]
    assert "input depth 15 or 17 instead of 16" in p.suggestions   # (15 − 3)/2 + 1 = 7 ✓
    (p,) = cnncalc.analyze("8001x1 -> conv(8, 80, s=4)").errors
    assert "input length 8000 or 8004 instead of 8001" in p.suggestions
    # axes with different arithmetic: one fix changes them all, each to its nearest size
    (p,) = cnncalc.analyze("16x112x112x3 -> conv(8, 3, s=2)").errors
    assert "input 15×111×111×3 instead of 16×112×112×3" in p.suggestions


def test_the_division_message_names_the_axes_in_1d_and_3d() -> None:
    (p,) = cnncalc.analyze("16x112x112x3 -> conv(8, 3, s=2)").errors
    assert p.message.startswith("depth (16 − 3 + 2·0)/2 + 1 = 7.5 and height and width "
                                "(112 − 3 + 2·0)/2 + 1 = 55.5 are not integers: the last slice, "
                                "row and column of the input are never read")
    (p,) = cnncalc.analyze("8001x1 -> conv(8, 80, s=4)").errors
    assert p.message == ("length (8001 − 80 + 2·0)/4 + 1 = 1981.25 is not an integer: the last "
                         "position of the input is never read")
    lines = cnncalc.analyze("16x112x112x3 -> conv(8, 1x3x3, s=1x2x2, p=0x1x1)").layers[0]
    assert lines.output_shape == (16, 56, 56, 8)
