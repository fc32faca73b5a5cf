"""tinygrad_edu: a small, fast, trustworthy autograd engine on NumPy.

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
>>> loss = (x.relu() * x).sum()
>>> loss.backward()
>>> x.grad.tolist()
[2.0, 0.0, 6.0]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from tinygrad_edu.autograd import Context
from tinygrad_edu.dtypes import get_default_dtype, set_default_dtype
from tinygrad_edu.errors import AnomalyError, BackwardError, DTypeError, InPlaceError, ShapeError
from tinygrad_edu.factories import (
    arange,
    as_tensor,
    default_generator,
    eye,
    from_numpy,
    full,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    zeros,
    zeros_like,
)
from tinygrad_edu.function import Function
from tinygrad_edu.grad_mode import (
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    strict_shapes,
)
from tinygrad_edu.gradients import grad
from tinygrad_edu.tensor import Tensor, cat, stack, where


def _as_function(name: str) -> Callable[..., Tensor]:
    """`tinygrad_edu.exp(x)` for `Tensor.exp`: the method as a function of its first argument."""
    method = getattr(Tensor, name)

    def function(x: Any, *args: Any, **kwargs: Any) -> Tensor:
        return method(Tensor._convert(x), *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = method.__doc__
    return function


_METHODS_AS_FUNCTIONS = (
    "exp log sqrt abs relu sigmoid tanh softplus sum mean max min var logsumexp softmax log_softmax "
    "reshape flatten transpose permute squeeze unsqueeze expand clip clamp maximum minimum matmul"
).split()
globals().update({name: _as_function(name) for name in _METHODS_AS_FUNCTIONS})

# Imported on first use, so `import tinygrad_edu` stays quick and needs only NumPy.
_SUBMODULES = ("nn", "optim", "data", "viz")
_LAZY_NAMES = {
    "gradcheck": "tinygrad_edu.gradient_check",
    "gradgradcheck": "tinygrad_edu.gradient_check",
    "numerical_grad": "tinygrad_edu.gradient_check",
    "check_module_grads": "tinygrad_edu.gradient_check",
    "GradcheckError": "tinygrad_edu.gradient_check",
    "CheckpointError": "tinygrad_edu.serialization",
    "trace_backward": "tinygrad_edu.viz",
    "save": "tinygrad_edu.serialization",
    "load": "tinygrad_edu.serialization",
}


def _draw(self: Tensor, **kwargs: Any) -> Any:
    """Draw the graph that computed this tensor: `tinygrad_edu.viz.draw_graph(self, **kwargs)`.

    Defined here, in the package that sits above both `tensor` and `viz`, because the drawing
    code builds on Tensor: a method in tensor.py importing viz would close an import cycle.
    """
    from tinygrad_edu.viz import draw_graph

    return draw_graph(self, **kwargs)


Tensor.draw = _draw


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"tinygrad_edu.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'tinygrad_edu' has no attribute {name!r}")


__all__ = [
    "AnomalyError",
    "BackwardError",
    "Context",
    "DTypeError",
    "Function",
    "InPlaceError",
    "ShapeError",
    "Tensor",
    "arange",
    "as_tensor",
    "cat",
    "default_generator",
    "detect_anomaly",
    "enable_grad",
    "eye",
    "from_numpy",
    "full",
    "get_default_dtype",
    "grad",
    "is_grad_enabled",
    "manual_seed",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "set_default_dtype",
    "set_grad_enabled",
    "stack",
    "strict_shapes",
    "where",
    "zeros",
    "zeros_like",
    *_METHODS_AS_FUNCTIONS,
    *_LAZY_NAMES,
]
