"""Activations, losses, convolution, pooling and normalisation as functions
(`torch.nn.functional`), composed from Tensor ops.

Nothing here has a backward rule of its own (except `erf`, which no composition can make; see
`primitives.py`): each function is a composition of the engine's ops, so its gradient is
whatever those ops' derivatives make it, and it can be drawn and checked like any other graph.
`conv2d` and the pools live in `convolution.py`, `batch_norm` and `layer_norm` in
`normalization.py`. Numerical stability comes from the compositions chosen:
`cross_entropy` goes through `log_softmax` (the max is subtracted before `exp`), and
`binary_cross_entropy_with_logits` through `softplus`.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> import tinygrad_edu.nn.functional as F
>>> logits = tg.Tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
>>> loss = F.cross_entropy(logits, np.array([0, 2]))
>>> round(loss.item(), 4)
0.6691
>>> loss.backward()
>>> logits.grad.shape
(2, 3)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_edu.errors import DTypeError, ShapeError
from tinygrad_edu.factories import default_generator
from tinygrad_edu.nn.convolution import avg_pool2d, conv2d, max_pool2d
from tinygrad_edu.nn.normalization import batch_norm, layer_norm
from tinygrad_edu.nn.primitives import Erf
from tinygrad_edu.tensor import Tensor

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "embedding",
    "erf",
    "gelu",
    "layer_norm",
    "leaky_relu",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- helpers


def _tensor(x: Any, caller: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)  # no copy: NumPy input is only read
    try:
        return Tensor(x)
    except TypeError as error:
        raise TypeError(f"{caller}: expected a Tensor, got {type(x).__name__} ({error})") from None


def _like(value: Any, reference: Tensor) -> Tensor:
    """`value` as a Tensor; a non-Tensor target takes the dtype of the input it is compared with."""
    if isinstance(value, Tensor):
        return value
    return Tensor._wrap(np.asarray(value, dtype=reference.dtype))


def _axis(axis: int, dim: int | None) -> int:
    return axis if dim is None else dim  # `dim=` for PyTorch habits


def _check_reduction(reduction: str, caller: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{caller}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_shape(input: Tensor, target: Tensor, caller: str) -> None:
    if input.shape != target.shape:
        raise ShapeError(
            f"{caller}: input has shape {input.shape} but target has shape {target.shape}. Broadcasting them "
            "would compare every prediction with every target (e.g. (N, 1) against (N,) gives (N, N)) and "
            f"silently give a wrong loss; make the shapes equal, e.g. target.reshape({input.shape})"
        )


def _index_array(target: Any, caller: str) -> np.ndarray | None:
    """The class indices in `target` as an integer ndarray, or None when it holds floats."""
    array = target.data if isinstance(target, Tensor) else np.asarray(target)
    if array.dtype.kind in "iu":
        return array
    if array.dtype.kind == "f":
        return None
    raise DTypeError(
        f"{caller}: target has dtype {array.dtype}; class indices need an integer dtype (np.int64), "
        "class probabilities a float dtype"
    )


# ---------------------------------------------------------------- activations


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return _tensor(x, "relu").relu()


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), without overflow."""
    return _tensor(x, "sigmoid").sigmoid()


def tanh(x: Tensor) -> Tensor:
    return _tensor(x, "tanh").tanh()


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """e^x / sum(e^x) along `axis` (`dim=` is accepted too), with the max subtracted first."""
    return _tensor(x, "softmax").softmax(_axis(axis, dim))


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """(x - max) - log(sum(e^(x - max))) along `axis`: finite and float32-exact even for logits of
    ±1e4, where log(softmax(x)) gives -inf."""
    return _tensor(x, "log_softmax").log_softmax(_axis(axis, dim))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope · x elsewhere (the slope at 0 is negative_slope, as in PyTorch).

    >>> import tinygrad_edu as tg
    >>> leaky_relu(tg.Tensor([-2.0, 0.0, 3.0]), 0.1).tolist()
    [-0.20000000298023224, 0.0, 3.0]
    """
    x = _tensor(x, "leaky_relu")
    return x.where(x.data > 0, x * negative_slope)


_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO_OVER_PI = math.sqrt(2.0 / math.pi)


def erf(x: Tensor) -> Tensor:
    """The error function, elementwise, accurate to float64 rounding (an op of its own: see
    `tinygrad_edu.nn.primitives.Erf`)."""
    return Erf.apply(_tensor(x, "erf"))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit, x · Φ(x), with Φ the standard normal CDF, as `torch.nn.functional.gelu`.

    `approximate="none"` is the exact form, 0.5 · x · (1 + erf(x / √2)); `"tanh"` is
    0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))), which some pretrained models were trained with.

    >>> import tinygrad_edu as tg
    >>> [round(v, 6) for v in gelu(tg.Tensor([-1.0, 0.0, 1.0], dtype="float64")).tolist()]
    [-0.158655, 0.0, 0.841345]
    """
    x = _tensor(x, "gelu")
    if approximate == "none":
        return x * (Erf.apply(x * _SQRT_HALF) + 1.0) * 0.5
    if approximate == "tanh":
        return x * ((((x * x * x) * 0.044715 + x) * _SQRT_TWO_OVER_PI).tanh() + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def one_hot(target: Any, num_classes: int = -1) -> Tensor:
    """Class indices of shape `s` to an int64 tensor of shape `s + (num_classes,)`, as in PyTorch.

    `num_classes=-1` uses the largest index + 1. For probability targets make it float:
    `one_hot(y, 10).float()`.

    >>> one_hot([0, 2], 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    indices = _index_array(target, "one_hot")
    if indices is None:
        raise DTypeError(
            "one_hot: the class indices must be integers, got a float tensor; "
            "convert them, e.g. Tensor(y, dtype=np.int64)"
        )
    if num_classes < 0:
        if indices.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty target; pass num_classes")
        num_classes = int(indices.max()) + 1
    _check_classes(indices, num_classes, "one_hot")
    return Tensor._wrap((indices[..., None] == np.arange(num_classes)).astype(np.int64))


def dropout(x: Tensor, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability `p` and scale the rest by 1/(1-p),
    so the expected value is unchanged and evaluation needs no rescaling. Identity when not
    `training` (or `p == 0`)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p is a probability, between 0 and 1, got {p}")
    x = _tensor(x, "dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros(x.shape, dtype=x.dtype)
    rng = generator or default_generator()
    keep = rng.random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask


def embedding(input: Any, weight: Tensor) -> Tensor:
    """Rows of `weight` (num_embeddings, embedding_dim) picked by the integer indices in `input`:
    the result has shape `input.shape + (embedding_dim,)`, as `torch.nn.functional.embedding`.

    It is indexing, `weight[input]`, so the gradient of a row is the sum of the gradients of every
    place that picked it. Unlike NumPy, a negative index is an error, not a row counted from the end.

    >>> import numpy as np
    >>> import tinygrad_edu as tg
    >>> table = tg.Tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]], requires_grad=True)
    >>> out = embedding(np.array([[2, 0], [2, 2]]), table)
    >>> out.shape
    (2, 2, 2)
    >>> out.sum().backward()
    >>> table.grad.tolist()   # row 2 was picked three times
    [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]]
    """
    indices = _index_array(input, "embedding")
    if indices is None:
        raise DTypeError(
            "embedding: the input must hold integer indices (token or category ids), got a float tensor; "
            "convert it, e.g. Tensor(ids, dtype=np.int64)"
        )
    weight = _tensor(weight, "embedding")
    if weight.ndim != 2:
        raise ShapeError(
            f"embedding: weight must be a (num_embeddings, embedding_dim) matrix, got shape {weight.shape}"
        )
    _check_classes(indices, weight.shape[0], "embedding", what="index", of=f"an embedding of {weight.shape[0]} rows")
    return weight[indices]


# ---------------------------------------------------------------- losses


def _check_classes(
    indices: np.ndarray, num_classes: int, caller: str, what: str = "class index", of: str | None = None
) -> None:
    # NumPy would read a negative index as counting from the end: a silent wrong loss. Seen as
    # unsigned, a negative index is huge, so one max() checks both ends.
    if indices.size and indices.astype(np.uint64).max() >= num_classes:
        bad = indices[(indices < 0) | (indices >= num_classes)]
        raise IndexError(
            f"{caller}: {what} {int(bad[0])} is out of range for {of or f'{num_classes} classes'} "
            f"(valid: 0 to {num_classes - 1}); {bad.size} {'target(s)' if of is None else 'index(es)'} are out of range"
        )


def nll_loss(log_probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -log_probs[i, target[i]], averaged (or summed) over the batch.

    `log_probs` is (N, C) (or (C,), or (N, C, d1, ...)) and `target` holds integer class
    indices of shape (N,) (or (), or (N, d1, ...)). Usually fed by `log_softmax`.
    """
    _check_reduction(reduction, "nll_loss")
    return _nll(_tensor(log_probs, "nll_loss"), target, reduction, "nll_loss")


def _nll(log_probs: Tensor, target: Any, reduction: str, caller: str) -> Tensor:
    indices = _index_array(target, caller)
    axis = 1 if log_probs.ndim >= 2 else 0
    if log_probs.ndim == 0:
        raise ShapeError(f"{caller}: the input needs a class dimension, got a scalar")
    if indices is None:
        raise DTypeError(f"{caller}: target must hold integer class indices, got a float tensor")
    expected = log_probs.shape[:axis] + log_probs.shape[axis + 1 :]
    if indices.shape != expected:
        raise ShapeError(
            f"{caller}: input of shape {log_probs.shape} needs one class index per sample, a target of shape "
            f"{expected}; got shape {indices.shape}"
        )
    _check_classes(indices, log_probs.shape[axis], caller)
    if log_probs.ndim == 2:  # the usual (N, C) batch: pick log_probs[i, target[i]]
        picked = log_probs[np.arange(len(indices)), indices]
    else:
        sample = np.indices(indices.shape, sparse=True)
        picked = log_probs[(*sample[:1], indices, *sample[1:])]
    if reduction == "none":
        return -picked
    if reduction == "mean" and picked.size:
        return picked.sum() * (-1.0 / picked.size)  # -mean in two ops, not three: this is every training step
    return -_reduce(picked, reduction)


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from raw scores (logits), as `torch.nn.functional.cross_entropy`.

    `logits` is (N, C) (or (C,), or (N, C, d1, ...)); the classes are on axis 1. `target` is
    either integer class indices of shape (N,), or float class probabilities of the logits'
    shape (e.g. `one_hot(y, C).float()`, or smoothed labels). The loss is
    -sum(target * log_softmax(logits)) per sample; `reduction` averages or sums it over the
    samples ("mean", "sum") or returns it per sample ("none"). Going through log_softmax, it stays
    finite and its gradient (softmax(logits) - target) exact for logits of any size.

    >>> import tinygrad_edu as tg
    >>> round(cross_entropy(tg.zeros(2, 10), [3, 7]).item(), 6)   # uniform over 10 classes: ln 10
    2.302585
    """
    _check_reduction(reduction, "cross_entropy")
    logits = _tensor(logits, "cross_entropy")
    if logits.ndim == 0:
        raise ShapeError("cross_entropy: logits need a class dimension, got a scalar")
    axis = 1 if logits.ndim >= 2 else 0
    log_probs = logits.log_softmax(axis)
    indices = _index_array(target, "cross_entropy")
    if indices is not None:
        return _nll(log_probs, indices, reduction, "cross_entropy")
    probs = _like(target, logits)
    if probs.shape != logits.shape:
        raise ShapeError(
            f"cross_entropy: a float target is read as class probabilities, one row per sample, so it needs "
            f"the logits' shape {logits.shape}; got {probs.shape}. For class indices pass integers, "
            "e.g. Tensor(y, dtype=np.int64)"
        )
    return _reduce(-(log_probs * probs).sum(axis), reduction)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error, (input - target)², averaged (or summed) over all elements.

    The shapes must be equal: a (N, 1) prediction against a (N,) target would broadcast to (N, N).
    """
    _check_reduction(reduction, "mse_loss")
    input = _tensor(input, "mse_loss")
    target = _like(target, input)
    _same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], without computing sigmoid.

    Per element: max(x, 0) - x·y + log(1 + e^-|x|), which is -y·log σ(x) - (1-y)·log(1-σ(x))
    written so that nothing overflows: it is `softplus(x) - x·y`. Finite for logits of ±1e4,
    with the exact gradient σ(x) - y.

    >>> import tinygrad_edu as tg
    >>> binary_cross_entropy_with_logits(tg.Tensor([1e4, -1e4]), [1.0, 0.0]).item()
    0.0
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    logits = _tensor(logits, "binary_cross_entropy_with_logits")
    target = _like(target, logits)
    _same_shape(logits, target, "binary_cross_entropy_with_logits")
    # softplus is max(x,0) + log(1 + e^-|x|), with the slope 1/2 at x = 0 (|x| alone would give 0 there).
    return _reduce(logits.softplus() - logits * target, reduction)
