"""The v2 kernels (layer, group and instance norm, layer scale, hardsigmoid, mish, channel
shuffle, the per-position linear map of ``fc(flatten=false)``) on volumes of every rank —
``(N, L, C)``, ``(N, H, W, C)``, ``(N, D, H, W, C)`` — and on flat vectors, each against a
naive loop reference (tests/test_kernels.py) and against PyTorch with the same inputs and
weights (channels moved to axis 1 for torch).

Tolerances (see tests/test_kernels.py): the norms are sums of K float32 terms followed by a
division by a standard deviation: RTOL = ATOL = 1e-4 of outputs of size ~1 (K ≤ a few
hundred here); the per-position linear map is a C-term dot product (``dot_close``);
hardsigmoid and mish are float32 libm compositions (RTOL_FN, ATOL_FN); the shuffle is a
copy (exact).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from cnncalc import kernels as K
from cnncalc import layers as L
from tests.test_kernels import (
    ATOL_FN,
    RTOL_FN,
    Arr,
    _mish,
    close,
    dot_close,
    elementwise,
    randn,
    ref_group_norm,
    ref_layer_norm,
    ref_shuffle,
    rng_for,
)

torch = pytest.importorskip("torch")
tf = pytest.importorskip("torch.nn.functional")

pytestmark = pytest.mark.filterwarnings("error")
SEEDS = range(12)
RANKS = (1, 2, 3)


def shape_for(rng: np.random.Generator, rank: int, c: int) -> tuple[int, ...]:
    """``(batch, *spatial, C)`` with ``rank`` spatial axes of 1–5 (0 axes: a flat vector)."""
    return (int(rng.integers(1, 4)), *(int(rng.integers(1, 6)) for _ in range(rank)), c)


def to_t(x: Arr) -> Any:
    """channels-last numpy → channels-first torch, any rank."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))


def from_t(t: Any) -> Arr:
    return np.ascontiguousarray(np.moveaxis(t.detach().numpy(), 1, -1))


def affine(rng: np.random.Generator, c: int, on: bool) -> tuple[Arr | None, Arr | None]:
    return (randn(rng, c), randn(rng, c)) if on else (None, None)


def t_or_none(a: Arr | None) -> Any:
    return None if a is None else torch.from_numpy(a)


@pytest.mark.parametrize("rank", (0, *RANKS))
@pytest.mark.parametrize("seed", SEEDS)
def test_layer_norm(rank: int, seed: int) -> None:
    rng = rng_for(f"layernorm{rank}", seed)
    c = int(rng.integers(1, 9))
    x = randn(rng, *shape_for(rng, rank, c), scale=3.0) + np.float32(rng.normal() * 5)
    gamma, beta = affine(rng, c, seed % 3 != 0)
    eps = [1e-5, 1e-3, 0.1][seed % 3]
    x0 = x.copy()
    got = K.layer_norm(x, gamma, beta, eps)
    close(got, ref_layer_norm(x, gamma, beta, eps))
    want = tf.layer_norm(torch.from_numpy(x), (c,), t_or_none(gamma), t_or_none(beta), eps)
    close(got, want.numpy())
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("rank", (0, *RANKS))
@pytest.mark.parametrize("seed", SEEDS)
def test_group_norm(rank: int, seed: int) -> None:
    rng = rng_for(f"groupnorm{rank}", seed)
    groups = int(rng.integers(1, 5))
    c = groups * int(rng.integers(1, 4))
    x = randn(rng, *shape_for(rng, rank, c), scale=2.0)
    gamma, beta = affine(rng, c, seed % 2 == 0)
    eps = [1e-5, 1e-3][seed % 2]
    got = K.group_norm(x, groups, gamma, beta, eps)
    close(got, ref_group_norm(x, groups, gamma, beta, eps))
    if len(x) * c // groups * math.prod(x.shape[1:-1]) == 1:
        return  # torch refuses one value per group (cnncalc: G013); the loop reference judged
    t = to_t(x) if rank else torch.from_numpy(x)
    want = tf.group_norm(t, groups, t_or_none(gamma), t_or_none(beta), eps)
    close(got, from_t(want) if rank else want.numpy())


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", SEEDS)
def test_instance_norm(rank: int, seed: int) -> None:
    rng = rng_for(f"instancenorm{rank}", seed)
    c = int(rng.integers(1, 7))
    shape = shape_for(rng, rank, c)
    shape = (shape[0], shape[1] + 1, *shape[2:])  # more than one position: torch's rule
    x = randn(rng, *shape, scale=2.0)
    gamma, beta = affine(rng, c, seed % 2 == 0)
    got = K.instance_norm(x, gamma, beta, 1e-5)
    close(got, ref_group_norm(x, c, gamma, beta, 1e-5))
    want = tf.instance_norm(to_t(x), weight=t_or_none(gamma), bias=t_or_none(beta), eps=1e-5)
    close(got, from_t(want))


def test_group_norm_chunks_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Statistics accumulated over several chunks of positions equal one pass."""
    rng = rng_for("groupnorm-chunks", 0)
    x = randn(rng, 2, 7, 5, 3, 6, scale=2.0) + np.float32(40.0)  # large mean: two passes
    want = K.group_norm(x, 3, None, None, 1e-5)
    monkeypatch.setattr("cnncalc.kernels.norm._TAP_CHUNK_ELEMS", 13)
    close(K.group_norm(x, 3, None, None, 1e-5), want, 1e-6, 1e-6)
    close(K.layer_norm(x, None, None, 1e-5), ref_layer_norm(x, None, None, 1e-5))


@pytest.mark.parametrize("rank", (0, *RANKS))
@pytest.mark.parametrize("seed", range(6))
def test_layer_scale(rank: int, seed: int) -> None:
    rng = rng_for(f"layerscale{rank}", seed)
    c = int(rng.integers(1, 7))
    x = randn(rng, *shape_for(rng, rank, c))
    gamma = randn(rng, c)
    got = K.layer_scale(x, gamma)
    want = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        want[idx] = x[idx] * gamma[idx[-1]]
    close(got, want, 0, 0)  # one correctly rounded product
    if rank:
        t = to_t(x) * torch.from_numpy(gamma).view(-1, *([1] * rank))
        close(got, from_t(t), 0, 0)


@pytest.mark.parametrize("rank", (0, *RANKS))
@pytest.mark.parametrize("seed", range(6))
def test_hardsigmoid_and_mish_any_rank(rank: int, seed: int) -> None:
    rng = rng_for(f"act{rank}", seed)
    x = randn(rng, *shape_for(rng, rank, int(rng.integers(1, 5))), scale=4.0)
    for kern, scalar, torch_fn in ((K.hardsigmoid, lambda v: min(max(v + 3, 0.0), 6.0) / 6,
                                    tf.hardsigmoid), (K.mish, _mish, tf.mish)):
        got = kern(x)
        close(got, elementwise(scalar, x), rtol=RTOL_FN, atol=ATOL_FN)
        close(got, torch_fn(torch.from_numpy(x)).numpy(), rtol=RTOL_FN, atol=ATOL_FN)


def test_mish_extremes() -> None:
    x = np.array([-1e4, -100.0, -20.0, -1.1924, 0.0, 1e-30, 20.0, 100.0, 1e4], dtype=np.float32)
    got = K.mish(x)
    assert np.all(np.isfinite(got))
    close(got, elementwise(_mish, x), rtol=RTOL_FN, atol=ATOL_FN)
    assert got.min() >= L.Mish.output_range.low  # type: ignore[union-attr]


@pytest.mark.parametrize("rank", (0, *RANKS))
@pytest.mark.parametrize("seed", range(8))
def test_channel_shuffle(rank: int, seed: int) -> None:
    rng = rng_for(f"shuffle{rank}", seed)
    groups = int(rng.integers(1, 5))
    c = groups * int(rng.integers(1, 5))
    x = randn(rng, *shape_for(rng, rank, c))
    got = K.channel_shuffle(x, groups)
    close(got, ref_shuffle(x, groups), 0, 0)
    if rank:
        close(got, from_t(tf.channel_shuffle(to_t(x), groups)), 0, 0)


def ref_linear_channels(x: Arr, w: Arr, b: Arr | None) -> Arr:
    out = np.zeros((*x.shape[:-1], w.shape[1]), dtype=np.float64)
    for idx in np.ndindex(*x.shape[:-1]):
        for u in range(w.shape[1]):
            acc = sum(float(x[(*idx, ch)]) * float(w[ch, u]) for ch in range(x.shape[-1]))
            out[(*idx, u)] = acc + (float(b[u]) if b is not None else 0.0)
    return out.astype(np.float32)


@pytest.mark.parametrize("rank", RANKS)
@pytest.mark.parametrize("seed", range(8))
def test_linear_channels(rank: int, seed: int) -> None:
    rng = rng_for(f"linear{rank}", seed)
    c, units = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    x = randn(rng, *shape_for(rng, rank, c))
    w = randn(rng, c, units)
    b = randn(rng, units) if seed % 2 else None
    got = K.linear_channels(x, w, b)
    absdot = ref_linear_channels(np.abs(x), np.abs(w), None if b is None else np.abs(b))
    dot_close(got, ref_linear_channels(x, w, b), absdot, c + 1)
    want = tf.linear(torch.from_numpy(x), torch.from_numpy(w.T.copy()), t_or_none(b)).numpy()
    dot_close(got, want, absdot, c + 1)


def test_fc_flatten_false_forward_is_per_position() -> None:
    """The layer picks the per-position kernel on a volume and plain fc on a flat vector."""
    rng = rng_for("fc-per-position", 0)
    fc = L.FC(4, flatten=False)
    x = randn(rng, 2, 3, 5, 6)
    w = {"w": randn(rng, 6, 4), "b": randn(rng, 4)}
    assert fc.weight_shapes((3, 5, 6)) == {"w": (6, 4), "b": (4,)}
    close(fc.forward(x, w), K.linear_channels(x, w["w"], w["b"]), 0, 0)
    flat = randn(rng, 2, 6)
    close(fc.forward(flat, w), K.linear(flat, w["w"], w["b"]), 0, 0)
