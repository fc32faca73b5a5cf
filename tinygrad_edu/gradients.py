"""`grad`: gradients returned as values instead of accumulated into `.grad` (`torch.autograd.grad`).

The same backward pass as `Tensor.backward()` (`autograd.backward_pass`), started from several
outputs and stopped at the inputs asked for. With `create_graph=True` the gradients are
themselves recorded, so they can be differentiated again: higher derivatives, and the gradient
checks' second derivatives (`gradgradcheck`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.autograd import backward_pass
from tinygrad_edu.errors import BackwardError
from tinygrad_edu.grad_mode import set_grad_enabled
from tinygrad_edu.tensor import Tensor, start_gradient


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, as a tuple, without touching `.grad`.

    Like `torch.autograd.grad`. With `create_graph=True` the results are differentiable,
    which gives higher derivatives:

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(3.0, requires_grad=True)
    >>> (dx,) = tg.grad(x ** 3, x, create_graph=True)   # 3x^2 = 27
    >>> (dxx,) = tg.grad(dx, x)                           # 6x = 18
    >>> dx.item(), dxx.item()
    (27.0, 18.0)
    """
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise BackwardError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise BackwardError(f"grad: input {i} (shape {t.shape}) does not require grad")
    seeds = [start_gradient(out, g, "grad") for out, g in zip(outputs, grad_outputs)]
    found: dict[Tensor, Any] = {t: None for t in inputs}  # tensors hash by identity

    def collect(t: Tensor, g: Any) -> None:
        if t in found:
            found[t] = g

    with set_grad_enabled(create_graph):
        seeds = seeds if create_graph else [s.data for s in seeds]
        retain = create_graph if retain_graph is None else retain_graph
        backward_pass(outputs, seeds, retain, collect, wanted=set(found))
    result = []
    for i, t in enumerate(inputs):
        g = found[t]
        if g is None and not allow_unused:
            raise BackwardError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(g if g is None or isinstance(g, Tensor) else Tensor._wrap(np.asarray(g)))
    return tuple(result)


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)
