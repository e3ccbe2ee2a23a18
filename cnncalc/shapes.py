"""Pure shape arithmetic: volumes and the sliding-window rule, with no numpy.

A volume is channels-last ``(*spatial, C)`` with one to three spatial axes — ``(L, C)``,
``(H, W, C)``, ``(D, H, W, C)`` — and a flat vector is ``(N,)``. Everything here is exact
integer arithmetic; nothing is rounded until it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

Shape = tuple[int, ...]
"""``(*spatial, C)`` for a volume (1–3 spatial axes), ``(N,)`` for a flat vector."""

AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
"""The spatial axes' names, by rank."""

LETTERS = {0: "N", 1: "L×C", 2: "H×W×C", 3: "D×H×W×C"}
"""How a volume of each rank is written (0: a flat vector)."""


def is_volume(shape: Shape) -> bool:
    return len(shape) >= 2


def rank(shape: Shape) -> int:
    """The number of spatial axes (0 for a flat vector).

    >>> rank((16000, 1)), rank((32, 32, 3)), rank((16, 112, 112, 3)), rank((4096,))
    (1, 2, 3, 0)
    """
    return len(shape) - 1


def rank_name(r: int) -> str:
    """``1-D (L×C)``; ``a flat vector`` for rank 0.

    >>> rank_name(3), rank_name(0)
    ('3-D (D×H×W×C)', 'a flat vector')
    """
    return f"{r}-D ({LETTERS[r]})" if r else "a flat vector"


def axis_names(r: int) -> tuple[str, ...]:
    names = AXES.get(r)
    return names if names is not None else tuple(f"axis {i + 1}" for i in range(r))


def spatial(shape: Shape) -> Shape:
    """The spatial sizes of a volume (``()`` for a flat vector)."""
    return shape[:-1]


def elements(shape: Shape) -> int:
    """Number of elements in a shape.

    >>> elements((32, 32, 3))
    3072
    """
    return prod(shape)


def format_shape(shape: Shape | None) -> str:
    """``(32, 32, 3)`` → ``32×32×3``; ``None`` (unknown) → ``?``.

    >>> format_shape((56, 56, 64)), format_shape((1000,)), format_shape(None)
    ('56×56×64', '1000', '?')
    """
    if shape is None:
        return "?"
    return "×".join(str(n) for n in shape)


@dataclass(frozen=True, slots=True)
class Window:
    """One axis of a sliding window (conv or pool), as spec §6 defines it.

    ``span = n + pad_begin + pad_end − k_eff``, ``out = ⌊span / s⌋ + 1``,
    ``leftover = span mod s``, ``lost = max(0, leftover − pad_end)`` input
    rows never read, ``gap = max(0, s − k_eff)`` pixels every window skips
    by design.
    """

    size: int
    kernel: int
    stride: int
    pad_begin: int
    pad_end: int
    dilation: int = 1
    ceil: bool = False

    @property
    def k_eff(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    @property
    def span(self) -> int:
        return self.size + self.pad_begin + self.pad_end - self.k_eff

    @property
    def fits(self) -> bool:
        """False when the (dilated) kernel is larger than the padded input."""
        return self.span >= 0

    @property
    def out(self) -> int:
        """Output size; PyTorch's ``ceil_mode`` rule when ``ceil`` is set.

        >>> Window(7, 3, 2, 0, 0).out, Window(11, 2, 2, 0, 0).out
        (3, 5)
        >>> Window(11, 2, 2, 0, 0, ceil=True).out   # last window starts inside
        6
        >>> Window(112, 3, 2, 1, 1).out             # ResNet's stem max-pool
        56
        """
        if not self.ceil:
            return self.span // self.stride + 1
        out = -(-self.span // self.stride) + 1
        # The last window must start inside the input or its left padding.
        if (out - 1) * self.stride >= self.size + self.pad_begin:
            out -= 1
        return out

    @property
    def leftover(self) -> int:
        return 0 if self.ceil else self.span % self.stride

    @property
    def lost(self) -> int:
        """Real input rows/columns at the far edge that no window reads.

        >>> Window(7, 3, 3, 0, 0).lost, Window(224, 7, 2, 3, 3).lost
        (1, 0)
        """
        return max(0, self.leftover - self.pad_end)

    @property
    def gap(self) -> int:
        """What every window skips anyway because the stride outruns the kernel.

        >>> Window(56, 1, 2, 0, 0).gap
        1
        """
        return max(0, self.stride - self.k_eff)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``same``: output ``ceil(size/stride)``, odd extra pixel at the end.

    >>> same_padding(224, 7, 2), same_padding(5, 3, 1), same_padding(8, 1, 2)
    ((2, 3), (1, 1), (0, 0))
    """
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - size)
    return total // 2, total - total // 2


def transposed_size(
    size: int, kernel: int, stride: int, padding: int, output_padding: int, dilation: int
) -> int:
    """Output size of a transposed convolution (PyTorch's ``ConvTranspose2d``).

    >>> transposed_size(7, 3, 2, 1, 1, 1)
    14
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
