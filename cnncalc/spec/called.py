"""A call of a block as a layer-tree node (spec §10): one row, labelled by the call, holding
the body's layers — built already, or (a body reading ``C``/``H``/``W``) built when the walk
reaches it and knows its input — and exported as an instance of one class per block."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import ClassVar

from ..layers import Block, Group, Repeat, describe_group
from ..shapes import Shape
from .syntax import clip

AXES = {2: ("L",), 3: ("H", "W"), 4: ("D", "H", "W")}
"""The spatial axes' names by the length of a volume's shape (a flat vector has none)."""


def shape_values(inp: Shape) -> dict[str, Fraction]:
    """What ``C``, ``H``, ``W`` (``L``; ``D``) stand for in a body called on ``inp``.

    >>> shape_values((56, 56, 64)) == {"C": 64, "H": 56, "W": 56}
    True
    >>> list(shape_values((4096,)))   # a flat vector: only C (= N)
    ['C']
    """
    axes = AXES.get(len(inp), ())
    return {"C": Fraction(inp[-1]), **{a: Fraction(n) for a, n in zip(axes, inp, strict=False)}}


@dataclass(frozen=True, eq=False, repr=False)
class Called(Repeat):
    """A call of a user block: its body once, in a row labelled by the call."""

    name: ClassVar[str] = "call"
    formula: ClassVar[str] = "a call of a block defined under blocks: its body, with the " \
        "arguments' values the row shows"
    call: str = ""
    input_name: str | None = None
    """The hidden name of the call's input when its body reads ``@input``."""
    pending: Callable[[Shape], Group] | None = field(default=None, compare=False)
    """Builds the body on the call's input: set while a body reading ``C``/``H``/``W`` waits
    for the walk to know it."""
    estimate: int = 0
    """Rows the pending body is counted as before it is built (its raw items): enough for
    the row limit to refuse ``* 1000000`` of such a call before anything is built."""
    arguments: str = ""
    """Every parameter's value, defaults included (``width=128, stride=2``)."""
    shape_text: str = ""
    """What ``C``, ``H``, ``W`` … stood for when the body read them (``C=64, H=56, W=56``)."""
    library: bool = False
    """A call of a built-in library block (its body's lines are the library file's)."""
    block: str = ""
    """The definition's name, as written there."""
    signature: str = ""
    values: tuple[tuple[str, int | float | str], ...] = ()
    """Every parameter's value for ``cnncalc export``: a number, or a value's text."""

    def class_name(self) -> str:
        """The exported module class of the block: ``double_conv`` → ``DoubleConvBlock``
        (``Block_…`` where capitalising could make two names one).

        >>> Called(1, (), block="double_conv").class_name(), Called(1, (), block="a_1").class_name()
        ('DoubleConvBlock', 'Block_a_1')
        """
        parts = self.block.lower().split("_")
        if all(p and p[0].isalpha() for p in parts):
            return "".join(p.capitalize() for p in parts) + "Block"
        return f"Block_{self.block.lower()}"

    def pytorch(self, inp: Shape, parts: Sequence[str],
                sequence: Callable[[Sequence[str]], str]) -> str:
        values = ", ".join(f"{k!a}: {v!a}" for k, v in self.values)  # data, never code
        return f"{self.class_name()}({sequence(parts)}, {{{values}}})"

    def torch_class(self) -> tuple[str, str] | None:
        return self.class_name(), CLASS.format(name=self.class_name(),
                                               signature=ascii(self.signature))

    def label(self) -> str:
        return self.call

    def called(self) -> str | None:
        return f"library block {self.call}" if self.library else self.call

    def fix_hint(self) -> str | None:
        if self.library:
            return ("change the call's arguments, or copy the block from `cnncalc blocks` into "
                    "the file's blocks: and change it there")
        return (f"change the call's arguments, or {self.block}'s body at the line named (it "
                "is written once for every call)")

    def describe(self) -> str:
        return self.call  # the call, as written with its values; its rows hold the layers

    def built(self) -> bool:
        return self.pending is None

    def resolve(self, inp: Shape) -> Block:
        if self.pending is None:
            return self
        shape = ", ".join(f"{k}={n}" for k, n in shape_values(inp).items())
        return replace(self, layers=self.pending(inp), pending=None, shape_text=shape)

    def explain_chain(self) -> list[str]:
        lines = [f"{self.call}: {self.arguments}" if self.arguments else self.call]
        if self.shape_text:
            lines.append(f"the call's input: {self.shape_text}")
        return [*lines, f"→ {clip(describe_group(self.layers), 400)}"]

    def input_tensor(self) -> str | None:
        return self.input_name

    def expanded_size(self, size_of: Callable[[Group], int]) -> int:
        return self.estimate if self.pending is not None else super().expanded_size(size_of)


CLASS = '''class {name}(nn.Module):
    """A call of the spec's block SIGNATURE: its layers as cnncalc evaluated them for the
    call (``body``), the call's values in ``arguments``."""

    SIGNATURE = {signature}

    def __init__(self, body: nn.Module, arguments: dict[str, object]) -> None:
        super().__init__()
        self.body = body
        self.arguments = arguments

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def extra_repr(self) -> str:
        return ", ".join(f"{{k}}={{v!r}}" for k, v in self.arguments.items())'''
"""The exported module class of a user block (one per block the network calls)."""


__all__ = ["CLASS", "Called", "shape_values"]
