"""Element-wise activations: same shape, no parameters (``prelu`` learns one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import values as v
from ..cost import Cost, TorchOp, copy_cost
from ..shapes import Shape, elements
from .base import Array, Counts, Layer, OutputRange, arg, kernels, py_float


class ReLU(Layer):
    """max(0, x): same shape, no parameters.

    >>> ReLU().output_shape((4, 4, 3)), ReLU.output_range
    ((4, 4, 3), OutputRange(text='[0, ∞)', low=0.0, high=None))
    """

    name: ClassVar[str] = "relu"
    torch_op: ClassVar[TorchOp] = TorchOp.RELU
    saves_output: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    output_range: ClassVar[OutputRange | None] = OutputRange("[0, ∞)", 0.0, None)
    idempotent: ClassVar[bool] = True
    identity_on_non_negative: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.ReLU()"

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.relu(x)


class ReLU6(Layer):
    """min(max(0, x), 6).

    >>> ReLU6.output_range, ReLU6.idempotent
    (OutputRange(text='[0, 6]', low=0.0, high=6.0), True)
    """

    name: ClassVar[str] = "relu6"
    torch_op: ClassVar[TorchOp] = TorchOp.RELU6
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    output_range: ClassVar[OutputRange | None] = OutputRange("[0, 6]", 0.0, 6.0)
    idempotent: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.ReLU6()"

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.relu6(x)


@dataclass(frozen=True, eq=False, repr=False)
class LeakyReLU(Layer):
    """x if x > 0 else slope·x.

    >>> LeakyReLU(0.2).describe(), LeakyReLU.identity_on_non_negative
    ('leakyrelu(slope=0.2)', True)
    """

    name: ClassVar[str] = "leakyrelu"
    torch_op: ClassVar[TorchOp] = TorchOp.LEAKYRELU
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    identity_on_non_negative: ClassVar[bool] = True
    slope: float = arg(v.real, 0.01, positional=True)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.leaky_relu(x, self.slope)

    def torch(self, inp: Shape) -> str:
        return f"nn.LeakyReLU({py_float(self.slope)})"


class PReLU(Layer):
    """x if x > 0 else a·x with one learned a.

    >>> PReLU().counts((8, 8, 3), (8, 8, 3)).params
    1
    """

    name: ClassVar[str] = "prelu"
    torch_op: ClassVar[TorchOp] = TorchOp.PRELU
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    identity_on_non_negative: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.PReLU()"
    formula: ClassVar[str] = "same shape; 1 param"

    def counts(self, inp: Shape, out: Shape) -> Counts:
        return Counts(weights=1)

    def weight_shapes(self, inp: Shape) -> dict[str, tuple[int, ...]]:
        return {"a": (1,)}

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.prelu(x, w["a"])


@dataclass(frozen=True, eq=False, repr=False)
class ELU(Layer):
    """x if x > 0 else α·(eˣ − 1).

    >>> ELU(0.5).describe(), ELU().output_shape((8, 8, 3))
    ('elu(alpha=0.5)', (8, 8, 3))
    """

    name: ClassVar[str] = "elu"
    torch_op: ClassVar[TorchOp] = TorchOp.ELU
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    identity_on_non_negative: ClassVar[bool] = True
    alpha: float = arg(v.real, 1.0, positional=True)

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.elu(x, self.alpha)

    def torch(self, inp: Shape) -> str:
        return f"nn.ELU({py_float(self.alpha)})"


class GELU(Layer):
    """x·Φ(x).

    >>> GELU().output_shape((8, 8, 3)), GELU.activation
    ((8, 8, 3), True)
    """

    name: ClassVar[str] = "gelu"
    torch_op: ClassVar[TorchOp] = TorchOp.GELU
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.GELU()"

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.gelu(x)


class SiLU(Layer):
    """x·σ(x) (swish).

    >>> SiLU().describe(), SiLU.aliases
    ('silu', ('swish',))
    """

    name: ClassVar[str] = "silu"
    torch_op: ClassVar[TorchOp] = TorchOp.SILU
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.SiLU()"
    aliases: ClassVar[tuple[str, ...]] = ("swish",)
    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.silu(x)


class Sigmoid(Layer):
    """1/(1 + e⁻ˣ).

    >>> Sigmoid.output_range
    OutputRange(text='(0, 1)', low=0.0, high=1.0)
    """

    name: ClassVar[str] = "sigmoid"
    saves_output: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    output_range: ClassVar[OutputRange | None] = OutputRange("(0, 1)", 0.0, 1.0)
    torch_module: ClassVar[str] = "nn.Sigmoid()"

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.sigmoid(x)


class Tanh(Layer):
    """tanh(x).

    >>> Tanh.output_range
    OutputRange(text='(−1, 1)', low=-1.0, high=1.0)
    """

    name: ClassVar[str] = "tanh"
    saves_output: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    output_range: ClassVar[OutputRange | None] = OutputRange("(−1, 1)", -1.0, 1.0)
    torch_module: ClassVar[str] = "nn.Tanh()"

    def cost(self, inp: Shape, out: Shape, batch: int) -> Cost:
        return copy_cost(batch * elements(inp), batch * elements(out))

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.tanh(x)


class HardSwish(Layer):
    """x·relu6(x + 3)/6.

    >>> HardSwish().counts((8, 8, 3), (8, 8, 3)).params, HardSwish.activation
    (0, True)
    """

    name: ClassVar[str] = "hardswish"
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.Hardswish()"

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.hardswish(x)


class HardSigmoid(Layer):
    """relu6(x + 3)/6, a piecewise-linear sigmoid (MobileNet V3's squeeze-excitation).

    >>> HardSigmoid.output_range, HardSigmoid().counts((8, 8, 3), (8, 8, 3)).params
    (OutputRange(text='[0, 1]', low=0.0, high=1.0), 0)
    """

    name: ClassVar[str] = "hardsigmoid"
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    output_range: ClassVar[OutputRange | None] = OutputRange("[0, 1]", 0.0, 1.0)
    torch_module: ClassVar[str] = "nn.Hardsigmoid()"

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.hardsigmoid(x)


class Mish(Layer):
    """x·tanh(softplus(x)) (YOLOv4); its minimum is −0.3088… at x ≈ −1.19.

    >>> Mish().output_shape((8, 8, 3)), Mish.output_range.low
    ((8, 8, 3), -0.3089)
    """

    name: ClassVar[str] = "mish"
    saves_input: ClassVar[bool] = True
    activation: ClassVar[bool] = True
    output_range: ClassVar[OutputRange | None] = OutputRange("[−0.309, ∞)", -0.3089, None)
    torch_module: ClassVar[str] = "nn.Mish()"

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.mish(x)


class Softmax(Layer):
    """eˣ/Σeˣ over the channels.

    >>> Softmax().output_shape((10,)), Softmax.activation
    ((10,), False)
    """

    name: ClassVar[str] = "softmax"
    torch_op: ClassVar[TorchOp] = TorchOp.SOFTMAX
    saves_output: ClassVar[bool] = True
    torch_module: ClassVar[str] = "nn.Softmax(dim=1)"

    def forward(self, x: Array, w: dict[str, Array]) -> Array:
        return kernels.softmax(x)
