"""Normalisation: `batch_norm`, `layer_norm` and the layers `BatchNorm1d`, `BatchNorm2d`, `LayerNorm`.

Both subtract a mean and divide by a standard deviation, then scale and shift by learned
per-feature `weight` (γ) and `bias` (β):

    y = (x - mean) / sqrt(var + eps) · γ + β        (var: the biased variance, divided by n)

They differ in what the statistics are taken over. Batch norm: each channel over the batch (and
the positions of an image), so one sample's output depends on the others in its batch; in
evaluation it uses running averages of those statistics instead, collected during training.
Layer norm: each sample over its own last dimensions, the same in training and evaluation.

Everything is a composition of Tensor ops, so the gradient through the batch statistics (the
part that makes batch norm's backward famous) comes out of the mean and variance's own ops.

>>> import tinygrad_edu as tg
>>> tg.manual_seed(0)
>>> bn = BatchNorm1d(3)
>>> y = bn(tg.randn(16, 3) * 5 + 2)
>>> [round(v, 4) + 0.0 for v in y.mean(axis=0).tolist()], [round(v, 3) for v in y.var(axis=0, correction=0).tolist()]
([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
>>> list(bn.state_dict())
['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.errors import DTypeError, ShapeError
from tinygrad_edu.factories import as_tensor, from_numpy
from tinygrad_edu.grad_mode import no_grad
from tinygrad_edu.nn.module import Module, Parameter, parameter_dtype
from tinygrad_edu.tensor import Tensor


def _float_input(x: Any, caller: str) -> Tensor:
    if not isinstance(x, (Tensor, np.ndarray)):
        raise TypeError(f"{caller}: expected a Tensor, got {type(x).__name__}")
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise DTypeError(f"{caller}: the input has dtype {x.dtype}; convert it to floating point, e.g. x.float()")
    return x


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation of `input` (N, C, ...) per channel C, as `torch.nn.functional.batch_norm`.

    With `training=True` the statistics are the batch's: the mean and biased variance of each
    channel over N and the other axes; `running_mean` and `running_var` (if given) are then
    updated in place, `running = (1 - momentum) · running + momentum · batch`, with the unbiased
    variance (divided by n - 1), as PyTorch does. With `training=False` the running statistics
    normalise, and the result is an affine function of the input.
    """
    x = _float_input(input, "batch_norm")
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: the input needs a batch and a channel axis (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    for name, value in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if value is not None and tuple(value.shape) != (channels,):
            raise ShapeError(
                f"batch_norm: {name} must have one value per channel, shape ({channels},), got {tuple(value.shape)} "
                f"(input shape {x.shape}, channels on axis 1)"
            )
    shape = (1, channels) + (1,) * (x.ndim - 2)  # per-channel values broadcast along N, H, W
    if not training and running_mean is not None and running_var is not None:
        # y = (x - μ) / σ · γ + β = x · scale + shift, with scale = γ / σ and shift = β - μ · scale:
        # per-channel numbers first, then two operations on the whole input.
        inv_std = from_numpy((as_tensor(running_var).data + eps) ** -0.5)
        scale = inv_std if weight is None else as_tensor(weight) * inv_std
        shift = -as_tensor(running_mean) * scale
        if bias is not None:
            shift = shift + as_tensor(bias)
        return x * scale.reshape(shape) + shift.reshape(shape)
    # The batch's statistics (also in evaluation when no running statistics are given).
    axes = (0, *range(2, x.ndim))
    count = x.size // channels if channels else 0
    if training and count <= 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of shape {x.shape}; "
            "use a batch of at least 2 samples, or call model.eval() to use the running statistics"
        )
    mean = x.mean(axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axes, keepdims=True)  # biased: the variance of this batch
    if training and running_mean is not None and running_var is not None:
        with no_grad():  # an in-place update of state, not part of the graph (its version goes up)
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean.data.reshape(channels)
            running_var *= 1.0 - momentum
            running_var += (momentum * count / (count - 1)) * var.data.reshape(channels)
    # γ / σ per channel first, so that the whole input is multiplied once, not twice.
    scale = (var + eps) ** -0.5
    if weight is not None:
        scale = scale * as_tensor(weight).reshape(shape)
    out = centered * scale
    return out if bias is None else out + as_tensor(bias).reshape(shape)


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalisation over the last dimensions, `normalized_shape`, of each sample, as
    `torch.nn.functional.layer_norm`; `weight` and `bias` have shape `normalized_shape`.

    >>> import tinygrad_edu as tg
    >>> y = layer_norm(tg.Tensor([[1.0, 2.0, 3.0], [10.0, 10.0, 40.0]]), 3)
    >>> [round(v, 3) for v in y[0].tolist()]
    [-1.225, 0.0, 1.225]
    """
    x = _float_input(input, "layer_norm")
    shape = _shape_tuple(normalized_shape, "layer_norm")
    if x.shape[x.ndim - len(shape) :] != shape or len(shape) > x.ndim:
        raise ShapeError(
            f"layer_norm: normalized_shape {shape} must be the last dimensions of the input, whose shape is {x.shape}"
        )
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != shape:
            raise ShapeError(
                f"layer_norm: {name} must have the shape normalized_shape={shape}, got {tuple(value.shape)}"
            )
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axes, keepdims=True)
    out = centered * (var + eps) ** -0.5
    if weight is not None:
        out = out * as_tensor(weight)
    if bias is not None:
        out = out + as_tensor(bias)
    return out


def _shape_tuple(value: int | Sequence[int], caller: str) -> tuple[int, ...]:
    shape = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not shape or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in shape):
        raise ValueError(f"{caller}: normalized_shape must be a positive int or a tuple of them, got {value!r}")
    return tuple(int(n) for n in shape)


# ---------------------------------------------------------------- layers


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d, which differ only in the input shapes they accept."""

    _input_shapes: str = ""
    _dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive integer, got {num_features!r}")
        if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
            raise ValueError(f"{name}: eps must be a small positive number, got {eps!r}")
        if momentum is not None and not (isinstance(momentum, (int, float)) and 0.0 <= momentum <= 1.0):
            raise ValueError(f"{name}: momentum must be in [0, 1] (or None for a cumulative average), got {momentum!r}")
        dtype = parameter_dtype(dtype, name)
        self.num_features = int(num_features)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        # γ = 1, β = 0: the layer starts as a pure normalisation (PyTorch's init).
        self.weight = Parameter(np.ones(self.num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype=dtype)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1.0)
                self.num_batches_tracked.zero_()

    def forward(self, x: Tensor) -> Tensor:
        if getattr(x, "ndim", None) not in self._dims or x.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}): expected input of shape {self._input_shapes} with "
                f"C = {self.num_features}, got {getattr(x, 'shape', type(x).__name__)}"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked += 1
            if self.momentum is None:  # a cumulative average of every batch so far
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # Batch statistics in training; running ones in evaluation, unless none are kept.
        use_batch_stats = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input per feature C (`torch.nn.BatchNorm1d`).

    In `train()` mode it normalises with the batch's statistics and updates the buffers
    `running_mean` and `running_var` (momentum 0.1, unbiased variance, as PyTorch); in `eval()`
    mode it normalises with those running statistics. `state_dict()` holds `weight`, `bias`,
    `running_mean`, `running_var` and `num_batches_tracked`, with PyTorch's names.
    """

    _input_shapes, _dims = "(N, C) or (N, C, L)", (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images per channel C (`torch.nn.BatchNorm2d`).

    As `BatchNorm1d`, with the statistics of each channel taken over the batch and every pixel.

    >>> import tinygrad_edu as tg
    >>> bn = BatchNorm2d(16)
    >>> bn
    BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> bn(tg.randn(4, 16, 8, 8)).shape, bn.running_mean.shape
    ((4, 16, 8, 8), (16,))
    """

    _input_shapes, _dims = "(N, C, H, W)", (4,)


class LayerNorm(Module):
    """Layer normalisation over the last dimensions `normalized_shape` of each sample
    (`torch.nn.LayerNorm`), with learned `weight` (ones) and `bias` (zeros) of that shape.

    >>> import tinygrad_edu as tg
    >>> LayerNorm(8)(tg.randn(2, 5, 8)).shape
    (2, 5, 8)
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape, "LayerNorm")
        if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
            raise ValueError(f"LayerNorm: eps must be a small positive number, got {eps!r}")
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dtype = parameter_dtype(dtype, "LayerNorm")
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )
