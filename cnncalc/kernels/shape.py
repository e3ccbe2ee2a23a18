"""Shape plumbing: flatten, nearest upsampling, residual add and channel concat."""

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
