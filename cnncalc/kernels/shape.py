"""Shape plumbing: flatten, nearest upsampling, channel shuffle, residual add and channel
concat."""

from __future__ import annotations

import numpy as np

from .window import F32, _f32


def flatten(x: F32) -> F32:
    """``(N, H, W, C) -> (N, H*W*C)`` in NHWC (row-major) order (a copy)."""
    x = _f32(x)
    return np.array(x, dtype=np.float32, order="C").reshape(x.shape[0], -1)


def upsample_nearest(x: F32, scale: tuple[int, int]) -> F32:
    """Nearest-neighbour upsampling by integer factors: ``y[n, i, j] = x[n, i//s_h, j//s_w]``."""
    x = _f32(x)
    n, h, w, c = x.shape
    sh, sw = scale
    big = np.broadcast_to(x[:, :, None, :, None, :], (n, h, sh, w, sw, c))
    return big.reshape(n, h * sh, w * sw, c)


def add(a: F32, b: F32) -> F32:
    """Element-wise sum (residual connection): ``y = a + b``."""
    return np.add(_f32(a), _f32(b))


def concat(xs: list[F32] | tuple[F32, ...]) -> F32:
    """Concatenate along the channel (last) axis."""
    return np.concatenate([_f32(v) for v in xs], axis=-1)


def channel_shuffle(x: F32, groups: int) -> F32:
    """PyTorch's ``ChannelShuffle`` on the last axis (any rank): the C channels, read as a
    ``groups × C/groups`` matrix, are transposed: ``y[..., j*groups + i] = x[..., i*(C/groups) + j]``
    (a copy)."""
    x = _f32(x)
    c = x.shape[-1]
    split = x.reshape(*x.shape[:-1], groups, c // groups)
    return np.ascontiguousarray(np.swapaxes(split, -1, -2)).reshape(x.shape)
