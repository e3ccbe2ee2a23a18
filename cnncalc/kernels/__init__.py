"""NumPy compute kernels for cnncalc's forward pass, one module per family:
`window` (sliding windows, padding, chunking: the helper every kernel shares),
`conv`, `deconv`, `pool`, `norm`, `elementwise` (activations) and `shape`.

Conventions (the caller validates arguments; nothing here re-checks them):

* Volumes are channels-last ``(batch, *spatial, channels)`` with ``r`` = 1, 2 or 3
  spatial axes (``(N, L, C)``, NHWC ``(N, H, W, C)``, ``(N, D, H, W, C)``); flat
  vectors are ``(N, F)``. Every per-axis argument (kernel, stride, dilation, output
  size, scale) is a tuple of length ``r``; paddings are one ``(begin, end)`` pair per
  axis. Blocks and chunks run along the first spatial axis ("rows").
* Everything is float32 in and float32 out; no kernel mutates its inputs.
* Conv weights are ``(*kernel, C // groups, F)`` (HWIO in 2-D); transposed-conv weights
  are ``(*kernel, C_in, F // groups)`` (PyTorch's ``(C_in, F // groups, *kernel)``
  moved kernel-first); linear weights are ``(in, out)``.
* Sliding windows of the im2col convolutions come from the one helper `windows`, a
  zero-copy ``(N, *out, *kernel, C)`` view of an already padded input; pools are
  separable (one spatial axis after another).
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
    conv,
    conv_plan,
    linear,
    linear_channels,
    scratch_conv,
)
from .deconv import (
    conv_transpose,
    deconv_rows,
    scratch_conv_transpose,
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
    adaptive_avg_pool,
    avg_pool,
    global_avg_pool,
    global_max_pool,
    max_pool,
    pool_out_size,
    scratch_adaptive_avg_pool,
    scratch_pool,
)
from .shape import add, channel_shuffle, concat, flatten, gate, split, upsample_nearest
from .window import Pads, pad, windows

__all__ = [
    "ConvPlan",
    "Pads",
    "adaptive_avg_pool",
    "add",
    "avg_pool",
    "batch_norm",
    "channel_shuffle",
    "concat",
    "conv",
    "conv_plan",
    "conv_transpose",
    "deconv_rows",
    "elu",
    "erf",
    "flatten",
    "gate",
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
    "max_pool",
    "mish",
    "pad",
    "pool_out_size",
    "prelu",
    "relu",
    "relu6",
    "scratch_adaptive_avg_pool",
    "scratch_conv",
    "scratch_conv_transpose",
    "scratch_elementwise",
    "scratch_lrn",
    "scratch_norm",
    "scratch_pool",
    "sigmoid",
    "silu",
    "softmax",
    "split",
    "tanh",
    "upsample_nearest",
    "windows",
]
