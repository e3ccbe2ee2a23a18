"""Contracts every layer kind in the registry must keep.

Each test here is driven by :data:`cnncalc.layers.KINDS`: add a kind and forget one of the
things a kind needs, and a test below names the kind and what is missing.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from types import FunctionType
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import cnncalc
import cnncalc.layers as layers
from cnncalc.cli import main
from cnncalc.diagnostics import RULES
from cnncalc.layers import KINDS, LAYERS, Block, Layer, Node
from tests.test_kernels import LAYER_EXAMPLES, MERGES

NAMES = sorted(kind.name for kind in KINDS)
KIND = {kind.name: kind for kind in KINDS}

# Every name a spec could use before the registry was built from the kinds themselves.
OLD_NAMES = {
    "conv": "Conv", "conv2d": "Conv", "dwconv": "DepthwiseConv", "depthwise": "DepthwiseConv",
    "depthwiseconv": "DepthwiseConv", "deconv": "Deconv", "convtranspose": "Deconv",
    "convtranspose2d": "Deconv", "conv2dtranspose": "Deconv", "maxpool": "MaxPool",
    "maxpool2d": "MaxPool", "maxpooling2d": "MaxPool", "avgpool": "AvgPool", "avgpool2d": "AvgPool",
    "averagepooling2d": "AvgPool", "gap": "GlobalAvgPool", "globalavgpool": "GlobalAvgPool",
    "globalaveragepooling2d": "GlobalAvgPool", "globalmaxpool": "GlobalMaxPool",
    "globalmaxpooling2d": "GlobalMaxPool", "adaptiveavgpool": "AdaptiveAvgPool",
    "adaptiveavgpool2d": "AdaptiveAvgPool", "bn": "BatchNorm", "batchnorm": "BatchNorm",
    "batchnorm2d": "BatchNorm", "batchnormalization": "BatchNorm", "relu": "ReLU", "relu6": "ReLU6",
    "leakyrelu": "LeakyReLU", "prelu": "PReLU", "elu": "ELU", "gelu": "GELU", "silu": "SiLU",
    "swish": "SiLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "hardswish": "HardSwish",
    "softmax": "Softmax", "lrn": "LRN", "localresponsenorm": "LRN", "identity": "Identity",
    "dropout": "Dropout", "flatten": "Flatten", "fc": "FC", "linear": "FC", "dense": "FC",
    "pad": "Pad", "zeropad": "Pad", "zeropadding2d": "Pad", "upsample": "Upsample",
    "upsampling2d": "Upsample", "repeat": "Repeat", "residual": "Residual", "concat": "Concat",
}

# The kinds of language v2 (spec §4's table of v2 additions), each after the kind it follows
# in its family's module.
V2_NAMES = {
    "layernorm": "LayerNorm", "ln": "LayerNorm", "groupnorm": "GroupNorm", "gn": "GroupNorm",
    "instancenorm": "InstanceNorm", "layerscale": "LayerScale", "hardsigmoid": "HardSigmoid",
    "mish": "Mish", "shuffle": "Shuffle", "channelshuffle": "Shuffle", "gate": "Gate",
    "split": "Split",
}
V2_AFTER = {"LayerNorm": "LRN", "GroupNorm": "LayerNorm", "InstanceNorm": "GroupNorm",
            "LayerScale": "InstanceNorm", "HardSigmoid": "HardSwish", "Mish": "HardSigmoid",
            "Shuffle": "FC", "Gate": "Concat", "Split": "Gate"}


def test_every_old_name_still_resolves_to_the_same_kind() -> None:
    for name, kind in {**OLD_NAMES, **V2_NAMES}.items():
        assert LAYERS[name] is getattr(layers, kind), name


def test_catalog_order_is_kept() -> None:
    """`cnncalc layers` lists kinds as before the split (lrn now follows bn, its family),
    the v2 kinds each in its family."""
    old = list(dict.fromkeys(OLD_NAMES.values()))
    old.insert(old.index("BatchNorm") + 1, old.pop(old.index("LRN")))
    for kind, after in V2_AFTER.items():
        old.insert(old.index(after) + 1, kind)
    assert [kind.__name__ for kind in KINDS] == old


def test_registry_is_built_from_each_kinds_own_names() -> None:
    assert len(set(KINDS)) == len(KINDS)
    for kind in KINDS:
        for name in (kind.name, *kind.aliases):
            assert name == name.lower() and LAYERS[name] is kind, name
    assert set(LAYERS.values()) == set(KINDS)


# --------------------------------------------------------------------------- examples

def example(name: str) -> tuple[Node, tuple[int, ...]]:
    """The kind's example (tests/test_kernels.py) and its input H×W×C."""
    kind = KIND[name]
    if issubclass(kind, Layer):
        if name not in LAYER_EXAMPLES:
            pytest.fail(f"{name}: no naive NumPy reference — add the kind to LAYER_EXAMPLES "
                        "in tests/test_kernels.py")
        layer, inp, _ = LAYER_EXAMPLES[name]
        return layer, inp
    if kind.chained:
        return kind(2, (layers.ReLU(),)), (4, 3, 2)  # type: ignore[call-arg]
    if name not in MERGES:
        pytest.fail(f"{name}: no naive NumPy reference for its merge — add the block to "
                    "MERGES in tests/test_kernels.py")
    return MERGES[name][0], (4, 3, 2)


def spec_of(name: str) -> str:
    node, inp = example(name)
    return "x".join(map(str, inp)) + " -> " + node.describe()


# --------------------------------------------------------------------------- contracts

@pytest.mark.parametrize("name", NAMES)
def test_kind_has_a_naive_reference(name: str) -> None:
    node, _ = example(name)
    assert type(node) is KIND[name]


@pytest.mark.parametrize("name", NAMES)
def test_kind_is_drawn_by_the_torch_differential(name: str) -> None:
    against_torch = pytest.importorskip("tests.test_against_torch")
    seen = against_torch.generated_tags().get(name, 0)
    assert seen >= 3, (f"{name}: the generator in tests/test_against_torch.py drew it {seen} "
                       "times in its corpus: give it a factory (draw_leaf, ACTIVATIONS or a block)")


@pytest.mark.parametrize("name", NAMES)
def test_kind_exports_and_torch_builds_it(name: str) -> None:
    from cnncalc.output.export import to_pytorch

    report = cnncalc.analyze(spec_of(name), mode="lenient")
    assert report.ok, report.problems
    source = to_pytorch(report)
    ast.parse(source)
    torch = pytest.importorskip("torch")
    from tests.test_export import build

    inp = report.input_shape
    assert inp is not None
    with torch.no_grad():
        out = build(source)(torch.zeros(2, inp[2], inp[0], inp[1]))
    shape = tuple(out.shape[1:])
    want = report.totals.output_shape
    assert (shape[1:] + shape[:1] if len(shape) == 3 else shape) == want


@pytest.mark.parametrize("name", NAMES)
def test_kind_is_in_the_catalog_with_formula_and_doctest(name: str) -> None:
    kind = KIND[name]
    doc = inspect.getdoc(kind) or ""
    assert doc and ">>>" in doc, f"{name}: its docstring needs a doctest"
    assert kind.formula
    out = CliRunner().invoke(main, ["layers"]).output
    line = next((ln for ln in out.splitlines() if ln.startswith(name + " ")), None)
    assert line is not None, f"{name} missing from `cnncalc layers`"
    assert kind.formula[:20] in out


def _sources(kind: type[Node]) -> Iterator[str]:
    """The source of the kind, its bases up to Node, and the module functions they call."""
    seen: set[str] = set()
    for cls in kind.__mro__:
        if not (isinstance(cls, type) and issubclass(cls, Node)):
            continue
        text = inspect.getsource(cls)
        yield text
        module = inspect.getmodule(cls)
        for called in re.findall(r"\b(\w+)\(", text):
            fn = getattr(module, called, None)
            if isinstance(fn, FunctionType) and fn.__module__.startswith("cnncalc.layers") \
                    and called not in seen:
                seen.add(called)
                yield inspect.getsource(fn)


@pytest.mark.parametrize("name", NAMES)
def test_kind_declares_the_codes_it_raises(name: str) -> None:
    kind = KIND[name]
    raised = {c for text in _sources(kind) for c in re.findall(r'Finding\(\s*"([A-Z]\d{3})"', text)}
    assert raised == set(kind.codes), f"{name}: raises {sorted(raised)}, declares {sorted(kind.codes)}"
    assert set(kind.codes) <= set(RULES), f"{name}: codes not in diagnostics.RULES"


def _run(layer: Layer, x: Any, w: dict[str, Any]) -> Any:
    return layer.forward(x.copy(), w)


@pytest.mark.parametrize("name", [n for n in NAMES if issubclass(KIND[n], Layer)])
def test_kind_declares_its_lint_traits(name: str) -> None:
    """Traits lints rely on, checked against what the kind's forward pass does."""
    layer, inp = example(name)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, *inp)).astype(np.float32) * 3
    w = {k: rng.standard_normal(s).astype(np.float32) for k, s in layer.weight_shapes(inp).items()}
    if "var" in w:
        w["var"] = np.abs(w["var"]) + np.float32(0.5)
    y = _run(layer, x, w)
    same_shape = y.shape == x.shape
    perm = rng.permutation(x.size)
    elementwise = same_shape and np.allclose(
        _run(layer, x.ravel()[perm].reshape(x.shape), w).ravel(), y.ravel()[perm], atol=1e-6)
    x2 = rng.standard_normal(x.shape).astype(np.float32) * 3
    linear = same_shape and np.allclose(_run(layer, x + x2, w), y + _run(layer, x2, w),
                                        rtol=1e-4, atol=1e-4)
    assert layer.activation == (elementwise and not linear), (
        f"{name}: an element-wise nonlinearity must say activation = True (and only one)")
    assert layer.weighted == ("w" in w), f"{name}: weighted ⇔ a weight matrix or kernel 'w'"
    rng_ = layer.output_range
    if rng_ is not None:
        assert layer.activation
        assert rng_.low is None or y.min() >= rng_.low
        assert rng_.high is None or y.max() <= rng_.high
    if layer.idempotent:
        assert np.allclose(_run(layer, y, w), y)
    if layer.identity_on_non_negative:
        assert np.allclose(_run(layer, np.abs(x), w), np.abs(x))
    if layer.inference_identity:
        assert np.array_equal(y, x)
    if layer.reshapes_only:
        assert np.array_equal(np.sort(y.ravel()), np.sort(x.ravel()))


@pytest.mark.parametrize("name", [n for n in NAMES if issubclass(KIND[n], Block)])
def test_block_kind_writes_its_own_module(name: str) -> None:
    assert "pytorch" in vars(KIND[name]), f"{name}: a block writes its PyTorch module (pytorch())"
