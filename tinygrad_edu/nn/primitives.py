"""The one primitive op that `nn` needs beyond the engine's: `Erf`, for the exact GELU.

Every layer of `nn` is a composition of Tensor ops, so its gradient comes from the primitives'.
`erf` cannot be one: it is not a finite combination of exp, log, powers and the other
primitives, so the exact GELU, 0.5·x·(1 + erf(x/√2)), needs it as an op of its own, with the
derivative d/dx erf(x) = (2/√π)·e^(-x²).

Convolution and pooling did not need one. Measured on the small CNN's layers at batch 64
(forward + backward of im2col alone): slices and one `cat` took 4-13 ms, a hand-written
"unfold" primitive (a strided window view, and a loop of kh·kw strided `+=` for its backward)
6-24 ms, and im2col by integer-array indexing 19-57 ms, its backward going through `np.add.at`.

>>> import math
>>> import tinygrad_edu as tg
>>> x = tg.Tensor([0.5], requires_grad=True, dtype="float64")
>>> y = Erf.apply(x)
>>> y.backward(tg.Tensor([1.0], dtype="float64"))
>>> round(y.item(), 12), round(x.grad.item(), 12), round(2 / math.sqrt(math.pi) * math.exp(-0.25), 12)
(0.520499877813, 0.878782578935, 0.878782578935)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_edu.autograd import Context
from tinygrad_edu.function import Function
from tinygrad_edu.nn.special import erf

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Function):
    """erf(x), elementwise (see `tinygrad_edu.nn.special.erf`), accurate to float64 rounding.

    A primitive because erf is not a composition of the other primitives; its derivative is
    (2/√π)·e^(-x²), written in NumPy, which Tensors also speak, so that `create_graph=True`
    records it and differentiates it again.
    """

    name = "erf"

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return erf(x)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (x,) = ctx.saved_tensors  # an array; under create_graph the input Tensor itself
        return grad * (np.exp(-(x * x)) * _TWO_OVER_SQRT_PI)  # d/dx erf(x) = (2/√π) e^(-x²)
