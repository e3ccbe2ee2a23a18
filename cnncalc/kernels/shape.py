"""Shape plumbing: flatten, nearest upsampling, channel shuffle, residual add and channel
concat."""

from __future__ import annotations

import numpy as np

from .window import F32, _f32


def flatten(x: F32) -> F32:
    """``(N, *spatial, C) -> (N, prod(spatial)*C)`` in channels-last (row-major) order
    (a copy); the forward pass and export reconcile it with PyTorch's channels-first
    flatten."""
    x = _f32(x)
    return np.array(x, dtype=np.float32, order="C").reshape(x.shape[0], -1)


def upsample_nearest(x: F32, scale: tuple[int, ...]) -> F32:
    """Nearest-neighbour upsampling of ``(N, *spatial, C)`` by integer factors per
    spatial axis: ``y[n, *i, c] = x[n, *(i // s), c]``."""
    x = _f32(x)
    n, *sizes, c = x.shape
    spread = [d for size in sizes for d in (size, 1)]
    big = np.broadcast_to(x.reshape(n, *spread, c),
                          (n, *(d for size, s in zip(sizes, scale, strict=True) for d in (size, s)), c))
    return big.reshape(n, *(size * s for size, s in zip(sizes, scale, strict=True)), c)


def add(a: F32, b: F32) -> F32:
    """Element-wise sum (residual connection): ``y = a + b``."""
    return np.add(_f32(a), _f32(b))


def concat(xs: list[F32] | tuple[F32, ...]) -> F32:
    """Concatenate along the channel (last) axis."""
    return np.concatenate([_f32(v) for v in xs], axis=-1)


def gate(x: F32, y: F32) -> F32:
    """``x ⊙ y`` (a gate): ``y`` has x's shape, its spatial sizes × 1 (one factor per
    position), 1×…×1×C, or is a flat ``(batch, C)`` vector (one factor per channel)."""
    if y.ndim == 2 and x.ndim > 2:
        y = y.reshape(y.shape[0], *[1] * (x.ndim - 2), y.shape[1])
    return np.multiply(_f32(x), _f32(y))


def split(x: F32, n: int) -> list[F32]:
    """``x`` cut into ``n`` equal slices along the channel (last) axis (views)."""
    return list(np.split(x, n, axis=-1))


def channel_shuffle(x: F32, groups: int) -> F32:
    """PyTorch's ``ChannelShuffle`` on the last axis (any rank): the C channels, read as a
    ``groups × C/groups`` matrix, are transposed: ``y[..., j*groups + i] = x[..., i*(C/groups) + j]``
    (a copy)."""
    x = _f32(x)
    c = x.shape[-1]
    split = x.reshape(*x.shape[:-1], groups, c // groups)
    return np.ascontiguousarray(np.swapaxes(split, -1, -2)).reshape(x.shape)
