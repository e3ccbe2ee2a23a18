"""NumPy compute kernels for cnncalc's forward pass, one module per family:
`window` (sliding windows, padding, chunking: the helper every kernel shares),
`conv`, `pool`, `norm`, `elementwise` (activations) and `shape`.

Conventions (the caller validates arguments; nothing here re-checks them):

* Volumes are NHWC ``(batch, height, width, channels)``; flat vectors are ``(N, F)``.
* Everything is float32 in and float32 out; no kernel mutates its inputs.
* Conv weights are HWIO ``(kh, kw, C // groups, F)``; transposed-conv weights are
  ``(kh, kw, C_in, F // groups)`` (PyTorch's ``(C_in, F // groups, kh, kw)`` moved
  to HW-first); linear weights are ``(in, out)``.
* 2-D paddings of convs and pools are ``(top, bottom, left, right)``.
* Sliding windows of the im2col convolutions come from the one helper `windows`, a
  zero-copy ``(N, H', W', kh, kw, C)`` view of an already padded input; pools are
  separable (rows, then columns).
* Every kernel derives its output size from its input and its own arguments (kernel,
  stride, padding, dilation, ceil mode), never from cnncalc's shape rules: the
  forward pass checks those rules, so it must not reuse them.
* Memory: besides its output, a kernel allocates at most what its ``scratch_*``
  function reports (element-wise kernels: `scratch_elementwise`), so the forward pass
  can check its budget before running it. Large layers run in chunks instead.
"""

from __future__ import annotations

from .conv import (
    ConvPlan,
    conv2d,
    conv2d_plan,
    conv_transpose2d,
    deconv_rows,
    linear,
    linear_channels,
    scratch_conv2d,
    scratch_conv_transpose2d,
)
from .elementwise import (
    elu,
    erf,
    gelu,
    hardsigmoid,
    hardswish,
    leaky_relu,
    mish,
    prelu,
    relu,
    relu6,
    scratch_elementwise,
    sigmoid,
    silu,
    softmax,
    tanh,
)
from .norm import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    layer_scale,
    lrn,
    scratch_lrn,
    scratch_norm,
)
from .pool import (
    adaptive_avg_pool2d,
    avg_pool2d,
    global_avg_pool,
    global_max_pool,
    max_pool2d,
    pool_out_size,
    scratch_adaptive_avg_pool2d,
    scratch_pool2d,
)
from .shape import add, channel_shuffle, concat, flatten, upsample_nearest
from .window import pad2d, windows

__all__ = [
    "ConvPlan",
    "adaptive_avg_pool2d",
    "add",
    "avg_pool2d",
    "batch_norm",
    "channel_shuffle",
    "concat",
    "conv2d",
    "conv2d_plan",
    "conv_transpose2d",
    "deconv_rows",
    "elu",
    "erf",
    "flatten",
    "gelu",
    "global_avg_pool",
    "global_max_pool",
    "group_norm",
    "hardsigmoid",
    "hardswish",
    "instance_norm",
    "layer_norm",
    "layer_scale",
    "leaky_relu",
    "linear",
    "linear_channels",
    "lrn",
    "max_pool2d",
    "mish",
    "pad2d",
    "pool_out_size",
    "prelu",
    "relu",
    "relu6",
    "scratch_adaptive_avg_pool2d",
    "scratch_conv2d",
    "scratch_conv_transpose2d",
    "scratch_elementwise",
    "scratch_lrn",
    "scratch_norm",
    "scratch_pool2d",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
    "upsample_nearest",
    "windows",
]
