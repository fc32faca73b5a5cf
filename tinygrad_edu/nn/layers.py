"""Layers: `Linear`, the activations `ReLU`, `Sigmoid`, `Tanh`, `LeakyReLU`, `GELU`, `Dropout`,
`Flatten`, `Unflatten`, `Embedding`, and `MLP`. (Convolution and pooling layers are in
`convolution.py`, normalisation layers in `normalization.py`.)

>>> import tinygrad_edu as tg
>>> from tinygrad_edu import nn
>>> tg.manual_seed(0)
>>> model = nn.MLP([784, 256, 10])
>>> model
MLP(
  (layers): Sequential(
    (0): Linear(in_features=784, out_features=256, bias=True)
    (1): ReLU()
    (2): Linear(in_features=256, out_features=10, bias=True)
  )
)
>>> model(tg.zeros(32, 784)).shape
(32, 10)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.errors import DTypeError, ShapeError
from tinygrad_edu.factories import default_generator
from tinygrad_edu.nn import functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter, Sequential, parameter_dtype
from tinygrad_edu.tensor import Tensor


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def input_dtype_error(label: str, input_dtype: np.dtype, weight_dtype: np.dtype) -> DTypeError:
    """The error for an input whose dtype is not the weights', with a fix that works.

    A float input of another precision can be converted, or the model can (`model.to(...)`); an
    integer or bool input can only be converted: weights stay floating point."""
    input_dtype, weight_dtype = np.dtype(input_dtype), np.dtype(weight_dtype)
    convert = f"x.cast(np.{weight_dtype}) or Tensor(x, dtype=np.{weight_dtype})"
    if input_dtype.kind == "f":
        return DTypeError(
            f"{label}: the input has dtype {input_dtype} but the weights have {weight_dtype}; NumPy would "
            f"silently compute in {np.result_type(input_dtype, weight_dtype)}. Convert the input, e.g. "
            f"{convert}, or the model, e.g. model.to(np.{input_dtype})"
        )
    return DTypeError(
        f"{label}: the input has dtype {input_dtype} but the weights have {weight_dtype}; a layer computes in "
        f"floating point, so convert the input, e.g. {convert} (integer class labels go to the loss, "
        "not to the model)"
    )


class Linear(Module):
    """y = x Wᵀ + b, with `weight` W of shape (out_features, in_features) and `bias` b of
    shape (out_features,), as `torch.nn.Linear`.

    Initialised as PyTorch does: W and b uniform in ±1/sqrt(in_features) (Kaiming-uniform with
    a = sqrt(5) for W), drawn from `generator` or from the generator that
    `tinygrad_edu.manual_seed` seeds. The input's last dimension must be `in_features`, and its
    dtype the weight's (NumPy would otherwise silently promote everything to float64).

    >>> import tinygrad_edu as tg
    >>> layer = Linear(3, 2)
    >>> layer.weight.shape, layer.bias.shape, layer(tg.ones(5, 3)).shape
    ((2, 3), (2,), (5, 2))
    """

    weight: Tensor
    bias: Tensor | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: Any = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "Linear: in_features")
        self.out_features = _positive_int(out_features, "Linear: out_features")
        dtype = parameter_dtype(dtype, "Linear")
        rng = generator if generator is not None else default_generator()
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)  # = U(±1/sqrt(in_features))
        if bias:
            bound = 1.0 / math.sqrt(self.in_features)
            self.bias = init.uniform_(Parameter(np.empty(self.out_features, dtype=dtype)), -bound, bound, rng)
        else:
            self.bias = None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("weight", "bias") and isinstance(value, Tensor):
            self._check_shape(name, value)
        super().__setattr__(name, value)

    def _check_shape(self, name: str, value: Tensor) -> None:
        expected = (self.out_features, self.in_features) if name == "weight" else (self.out_features,)
        if value.shape == expected:
            return
        if name == "weight":
            raise ShapeError(
                f"{self._label()}: weight must have shape (out_features, in_features) = {expected}, got {value.shape}"
            )
        out = self.out_features
        raise ShapeError(
            f"{self._label()}: bias must have shape ({out},), got {value.shape}. It is added to every row of "
            f"the (batch, {out}) output, and a bias of another shape would be broadcast instead: a ({out}, 1) "
            f"bias turns a single output of shape ({out},) into ({out}, {out}) without any error, a classic "
            f"shape bug. Use bias.reshape({out})."
        )

    def _label(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def forward(self, x: Tensor) -> Tensor:
        # Cheap checks that turn a confusing matmul or broadcast into a clear error.
        if getattr(x, "shape", ())[-1:] != (self.in_features,) or x.dtype != self.weight.dtype:
            raise self._input_error(x)
        if self.bias is None:
            return x @ self.weight.T
        # The matmul's backward computes W's gradient in W's own layout through the transpose.
        return x @ self.weight.T + self.bias

    def _input_error(self, x: Any) -> Exception:
        if not isinstance(x, (Tensor, np.ndarray)):
            return TypeError(f"{self._label()}: expected a Tensor, got {type(x).__name__}; wrap it: Tensor(x)")
        if x.shape[-1:] != (self.in_features,):
            hint = ""
            if x.ndim >= 3 and math.prod(x.shape[1:]) == self.in_features:
                hint = f"; flatten each sample first: x.reshape({x.shape[0]}, {self.in_features})"
            elif x.ndim == 2 and x.shape[0] == self.in_features:
                hint = "; the batch looks transposed: pass x.T (samples along the first axis)"
            return ShapeError(
                f"{self._label()}: the input has shape {x.shape}, but its last dimension must be "
                f"in_features={self.in_features}{hint}"
            )
        return input_dtype_error(self._label(), x.dtype, self.weight.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """1 / (1 + e^-x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class LeakyReLU(Module):
    """x where x > 0, negative_slope · x elsewhere (`torch.nn.LeakyReLU`)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """x · Φ(x), Φ the standard normal CDF: the exact 0.5 · x · (1 + erf(x/√2)) by default, or the
    tanh approximation with `approximate="tanh"` (`torch.nn.GELU`).

    >>> import tinygrad_edu as tg
    >>> GELU()(tg.Tensor([0.0, 10.0])).tolist()
    [0.0, 10.0]
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Flatten(Module):
    """Merge dimensions `start_dim..end_dim` into one (`torch.nn.Flatten`): by default every
    dimension but the batch's, (N, C, H, W) -> (N, C·H·W), between convolutions and Linear layers.

    >>> import tinygrad_edu as tg
    >>> Flatten()(tg.zeros(8, 16, 4, 4)).shape
    (8, 256)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension `dim` into `unflattened_size` (`torch.nn.Unflatten`): e.g. a batch of
    flattened MNIST images, (N, 784), into (N, 1, 28, 28) for a convolution.

    >>> import tinygrad_edu as tg
    >>> Unflatten(1, (1, 28, 28))(tg.zeros(8, 784)).shape
    (8, 1, 28, 28)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(int(n) for n in unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim % x.ndim if x.ndim else 0
        if x.ndim == 0 or math.prod(self.unflattened_size) != x.shape[dim]:
            raise ShapeError(
                f"Unflatten: cannot split dimension {self.dim} of an input of shape {x.shape} into "
                f"{self.unflattened_size} ({math.prod(self.unflattened_size)} values)"
            )
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Embedding(Module):
    """A lookup table of `num_embeddings` vectors of size `embedding_dim` (`torch.nn.Embedding`):
    integer ids of shape s give vectors of shape s + (embedding_dim,). Initialised N(0, 1), as PyTorch.

    >>> import numpy as np
    >>> emb = Embedding(10, 3)
    >>> emb(np.array([[1, 2, 4], [4, 3, 9]])).shape
    (2, 3, 3)
    """

    weight: Tensor

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        dtype: Any = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "Embedding: num_embeddings")
        self.embedding_dim = _positive_int(embedding_dim, "Embedding: embedding_dim")
        dtype = parameter_dtype(dtype, "Embedding")
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        init.normal_(self.weight, generator=generator)

    def forward(self, ids: Any) -> Tensor:
        return F.embedding(ids, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """In training mode, zero each element with probability `p` and scale the others by
    1/(1-p) (inverted dropout); in evaluation mode (`model.eval()`), return the input unchanged.

    >>> import tinygrad_edu as tg
    >>> drop = Dropout(0.5).eval()
    >>> drop(tg.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, *, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p is the probability of zeroing an element, between 0 and 1; got {p!r}")
        self.p = float(p)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


_ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


class MLP(Module):
    """A multilayer perceptron: Linear layers of the given `sizes` with `activation` between
    them and none after the last, so it returns logits. `MLP([784, 256, 10])` is
    Linear(784, 256) → ReLU → Linear(256, 10), in `self.layers` (a Sequential).

    `activation` is "relu", "tanh", "sigmoid", or a Module class (or other callable) that
    makes a new activation module.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Callable[[], Module] = "relu",
        *,
        bias: bool = True,
        dtype: Any = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = [_positive_int(n, f"MLP: sizes[{i}]") for i, n in enumerate(sizes)]
        if len(sizes) < 2:
            raise ValueError(
                f"MLP: sizes lists the input size and at least one layer size, e.g. [784, 10]; got {sizes}"
            )
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise ValueError(f"MLP: unknown activation {activation!r}; choose one of {', '.join(_ACTIVATIONS)}")
            make_activation: Callable[[], Module] = _ACTIVATIONS[activation]
        elif callable(activation):
            make_activation = activation
        else:
            raise TypeError(f"MLP: activation must be a name or a Module class, got {type(activation).__name__}")
        self.sizes = tuple(sizes)
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(n_in, n_out, bias, dtype=dtype, generator=generator))
            if i < len(sizes) - 2:
                layers.append(make_activation())
        self.layers = Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
