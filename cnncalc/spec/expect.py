"""The ``expect:`` keys a spec may hold, each with the converter that reads its value. Both
readers and the builder take the keys from here (:mod:`cnncalc.analysis` measures them)."""

from __future__ import annotations

from .. import values as v

EXPECT_CONVERTERS: dict[str, v.Converter] = {
    "output": v.shape, "params": v.total, "non_trainable": v.total, "macs": v.total,
    "flops": v.total, "max_params": v.total, "max_macs": v.total, "max_flops": v.total,
    "max_memory": v.byte_size, "max_activation_bytes": v.byte_size,
}

EXPECT_KEYS = tuple(EXPECT_CONVERTERS)

__all__ = ["EXPECT_CONVERTERS", "EXPECT_KEYS"]
