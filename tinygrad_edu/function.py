"""`Function`: an op of your own, with its derivative, recorded and differentiated like the
primitives. The engine trusts only its own rules, so what your backward returns is checked: one
gradient per input, each of its input's shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.autograd import Op
from tinygrad_edu.errors import BackwardError, ShapeError
from tinygrad_edu.tensor import Tensor, apply


class Function(Op):
    """An op of your own: subclass, write `forward(ctx, *arrays)` and `backward(ctx, grad)` as the
    primitives in `ops.py` are written, and call `YourOp.apply(*tensors)`.

    >>> import tinygrad_edu as tg
    >>> class Cube(tg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return grad * 3 * x ** 2
    >>> x = tg.Tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad.tolist()
    [12.0]
    """

    name = "function"
    user_defined = True

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on Tensors (other values are converted) and record it when needed.
        Keyword arguments go to `forward` unchanged."""
        return apply(cls, *[Tensor._convert(x) for x in inputs], **params)

    @classmethod
    def checked(cls, parents: Sequence[Any], grads: tuple[Any, ...], kind: type) -> tuple[Any, ...]:
        """What `backward` returned, made one gradient of its input's shape and dtype per input
        (numbers and lists become arrays), or an error saying what is wrong."""
        if len(grads) != len(parents):
            raise BackwardError(
                f"{cls.name}: backward returned {len(grads)} gradient(s) for {len(parents)} input(s); "
                "return one per input of forward (None for an input that needs none)"
            )
        checked = []
        for i, (parent, g) in enumerate(zip(parents, grads)):
            if g is not None:
                if not isinstance(g, (np.ndarray, kind)):  # a number or a list
                    g = np.asarray(g)
                if g.shape != parent.data.shape:
                    raise ShapeError(
                        f"{cls.name}: backward returned a gradient of shape {g.shape} for input {i} of shape "
                        f"{parent.data.shape}; a gradient has its input's shape (sum a broadcast gradient "
                        "back with tinygrad_edu.ops.unbroadcast(grad, shape))"
                    )
                if g.dtype != parent.data.dtype:
                    g = g.astype(parent.data.dtype)
            checked.append(g)
        return tuple(checked)
