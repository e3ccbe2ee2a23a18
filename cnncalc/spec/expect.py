"""The ``expect:`` keys a spec may hold, each with the converter that reads its value. Both
readers and the builder take the keys from here (:mod:`cnncalc.analysis` measures them)."""

from __future__ import annotations

from .. import values as v


def shapes(text: str) -> tuple[tuple[int, ...], ...]:
    """``expect: outputs`` (spec §9): every output's shape in the order they are produced,
    the main output last.

    >>> shapes("13x13x255, 26x26x255"), shapes("10")
    (((13, 13, 255), (26, 26, 255)), ((10,),))
    """
    parts = [p.strip() for p in text.strip().strip("[]").split(",")]
    if not parts or not all(parts):
        raise ValueError(f"'{text}' is not a list of shapes: write e.g. [13x13x255, 26x26x255]")
    return tuple(v.shape(p) for p in parts)


EXPECT_CONVERTERS: dict[str, v.Converter] = {
    "output": v.shape, "outputs": shapes, "params": v.total, "non_trainable": v.total, "macs": v.total,
    "flops": v.total, "max_params": v.total, "max_macs": v.total, "max_flops": v.total,
    "max_memory": v.byte_size, "max_activation_bytes": v.byte_size,
}

EXPECT_KEYS = tuple(EXPECT_CONVERTERS)

__all__ = ["EXPECT_CONVERTERS", "EXPECT_KEYS"]
