"""Weight initialisation, in place, with PyTorch's names and formulas (`torch.nn.init`).

Each function overwrites `tensor.data` and returns the tensor. Randomness comes from
`tinygrad_edu.manual_seed` (the default generator) or from a `generator=` you pass.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> from tinygrad_edu.nn import init
>>> w = tg.zeros(256, 784, requires_grad=True)
>>> _ = init.kaiming_uniform_(w, nonlinearity="relu")   # U(-b, b), b = sqrt(2) * sqrt(3 / 784)
>>> bool(np.abs(w.data).max() <= np.sqrt(6 / 784))
True
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_edu.errors import ShapeError
from tinygrad_edu.factories import default_generator
from tinygrad_edu.tensor import Tensor

_LINEAR_GAINS = ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through `nonlinearity` (PyTorch's table)."""
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r}; "
        f"expected one of {', '.join((*_LINEAR_GAINS, 'tanh', 'relu', 'leaky_relu', 'selu'))}"
    )


def _fans(tensor: Tensor, caller: str) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel), as PyTorch computes them."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ShapeError(
            f"{caller}: fan in and fan out need a weight with at least 2 dimensions, got shape {shape}; "
            "a bias is initialised with uniform_ instead"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    tensor.data[...] = values  # in place, and cast to the tensor's dtype
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of U(a, b)."""
    rng = generator or default_generator()
    return _fill(tensor, rng.uniform(a, b, tensor.shape))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None
) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    rng = generator or default_generator()
    return _fill(tensor, rng.normal(mean, std, tensor.shape))


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(tensor, 1)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Tensor:
    """He initialisation: U(-b, b) with b = gain · sqrt(3 / fan), gain from `nonlinearity`
    (with negative slope `a` for leaky_relu). `nn.Linear` uses `a=sqrt(5)`, which gives
    b = 1 / sqrt(fan_in)."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, "kaiming_uniform_")
    fan = fan_in if mode == "fan_in" else fan_out
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: np.random.Generator | None = None) -> Tensor:
    """Glorot initialisation: U(-b, b) with b = gain · sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)
