"""Contracts every layer kind in the registry must keep.

Each test here is driven by :data:`cnncalc.layers.KINDS`: add a kind and forget one of the
things a kind needs, and a test below names the kind and what is missing.
"""

from __future__ import annotations

import cnncalc.layers as layers
from cnncalc.layers import KINDS, LAYERS

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

def test_every_old_name_still_resolves_to_the_same_kind() -> None:
    for name, kind in OLD_NAMES.items():
        assert LAYERS[name] is getattr(layers, kind), name


def test_registry_is_built_from_each_kinds_own_names() -> None:
    assert len(set(KINDS)) == len(KINDS)
    for kind in KINDS:
        for name in (kind.name, *kind.aliases):
            assert name == name.lower() and LAYERS[name] is kind, name
    assert set(LAYERS.values()) == set(KINDS)
