"""Derived ops: every Tensor method that is a composition of the primitives.

`sigmoid`, `softmax`, `mean`, `var`, `flatten`, ... have no derivative of their own: each is
written with the primitive ops (`ops.py`), so its gradient is whatever theirs make it, and it
can be drawn and checked like any other graph. `Tensor` inherits them from `DerivedOps`.

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = x.softmax()
>>> [t.op for t in tg.autograd.toposort([y]) if t.op]   # what softmax is made of
['sub', 'exp', 'sum', 'div']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from tinygrad_edu.errors import AxisError, normalize_axis

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor

Axis = Union[int, tuple[int, ...], None]


class DerivedOps:
    """The compositions, as methods of `Tensor` (this class holds them; it has no data)."""

    __slots__ = ()

    def sqrt(self) -> Tensor:
        return self**0.5

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x), computed without overflow for any x.

        Both 1/(1 + e^-x) and e^x/(1 + e^x) are exact, but each overflows on one side; so
        e = e^-|x| (never above 1) and pick the form by the sign of x.
        """
        positive = self.data >= 0
        e = self.where(~positive, -self).exp()  # e^-|x|, with the right slope on both sides of 0
        r = 1 / (1 + e)
        return r.where(positive, e * r)

    def softplus(self) -> Tensor:
        """log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), without overflow."""
        # -|x| picks the x side at 0, consistent with relu'(0) = 0, so the slope at 0 is 1/2.
        return self.relu() + (1 + self.where(self.data <= 0, -self).exp()).log()

    def minimum(self, other: Any) -> Tensor:
        return -((-self).maximum(-self._operand(other)))

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return -((-self).max(axis, keepdims))

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _in_float32(self, _mean, axis, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Variance; `correction=1` (the default, as in PyTorch) divides by n - 1."""
        return _in_float32(self, _var, axis, keepdims, correction)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        """Limit values to [lo, hi]; the gradient passes where lo <= x <= hi (as torch.clamp)."""
        inside = np.ones(self.shape, dtype=bool)
        if lo is not None:
            inside &= self.data >= lo
        if hi is not None:
            inside &= self.data <= hi
        return self.where(inside, np.clip(self.data, lo, hi))

    clamp = clip

    def logsumexp(self, axis: int = -1, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))) along `axis`, with the max subtracted first so exp cannot overflow."""
        return _in_float32(self, _logsumexp, axis, keepdims)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log(softmax(x)) = (x - max) - log(sum(exp(x - max))): no overflow, and no log(0)."""
        return _in_float32(self, _log_softmax, axis)

    def softmax(self, axis: int = -1) -> Tensor:
        """e^x / sum(e^x) along `axis`, with the max subtracted first so exp cannot overflow."""
        return _in_float32(self, _softmax, axis)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions `start_dim..end_dim` into one (all of them by default)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = (normalize_axis(axis, self.ndim, "flatten") for axis in (start_dim, end_dim))
        if start > end:
            raise AxisError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (ndim {self.ndim})")
        return self.reshape(*self.shape[:start], -1, *self.shape[end + 1 :])

    def squeeze(self, axis: Axis = None) -> Tensor:
        """Remove dimensions of size 1 (all of them, or those in `axis` that have size 1)."""
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = self._axes(axis, "squeeze")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes or n != 1))

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a dimension of size 1 at `axis` (in range -ndim-1..ndim)."""
        axis = normalize_axis(axis, self.ndim + 1, "unsqueeze")
        return self.reshape(*self.shape[:axis], 1, *self.shape[axis:])

    @property
    def T(self) -> Tensor:
        """The axes reversed (the usual transpose of a matrix)."""
        return self.transpose()

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped: the transpose of each matrix in a batch."""
        if self.ndim < 2:
            raise AxisError(f"mT: needs a tensor of at least 2 dimensions, got shape {self.shape}; use .T for a vector")
        axes = list(range(self.ndim))
        axes[-1], axes[-2] = axes[-2], axes[-1]
        return self.transpose(tuple(axes))


def _in_float32(x: Tensor, composition: Callable[..., Tensor], *args: Any) -> Tensor:
    """Half-precision reductions accumulate in float32 and come back as float16, as PyTorch's do:
    float16's 11-bit mantissa (and its largest value, 65504) cannot hold the running sum."""
    if x.data.dtype == np.float16:
        return composition(x.cast(np.float32), *args).cast(np.float16)
    return composition(x, *args)


def _mean(x: Tensor, axis: Axis, keepdims: bool) -> Tensor:
    total = x.sum(axis, keepdims)
    count = x.size // total.size if total.size else 0
    return total * (1.0 / count if count else np.nan)


def _var(x: Tensor, axis: Axis, keepdims: bool, correction: int) -> Tensor:
    mean = x.mean(axis, keepdims=True)
    centered = x - mean
    dof = x.size // max(mean.size, 1) - correction
    return (centered * centered).sum(axis, keepdims) * (1.0 / dof if dof > 0 else np.nan)


def _minus_max(x: Tensor, axis: int) -> tuple[Tensor, np.ndarray]:
    """x - max(x) along `axis`, and that max: the shift that keeps exp() from overflowing. The
    max is a constant: softmax and friends don't change when it does."""
    # Starting from the lowest finite number, a row of -inf (or an empty row) is shifted by a
    # finite amount and stays -inf, instead of becoming -inf - -inf = NaN.
    top = x.data.max(axis=axis, keepdims=True, initial=_LOWEST[x.data.dtype])
    return x - top, top


_LOWEST = {np.dtype(t): np.finfo(t).min for t in (np.float16, np.float32, np.float64)}


def _softmax_axis(x: Tensor, axis: int, op: str) -> tuple[Tensor, int]:
    """A 0-d tensor is one value along one axis, as in PyTorch."""
    return (x.reshape(1), normalize_axis(axis, 1, op)) if x.ndim == 0 else (x, normalize_axis(axis, x.ndim, op))


def _logsumexp(x: Tensor, axis: int, keepdims: bool) -> Tensor:
    scalar = x.ndim == 0
    x, axis = _softmax_axis(x, axis, "logsumexp")
    shifted, top = _minus_max(x, axis)
    out = shifted.exp().sum(axis, keepdims=True).log() + top
    return out.reshape(()) if scalar else out if keepdims else out.squeeze(axis)


def _log_softmax(x: Tensor, axis: int) -> Tensor:
    shape = x.shape
    x, axis = _softmax_axis(x, axis, "log_softmax")
    shifted, _ = _minus_max(x, axis)
    return (shifted - shifted.exp().sum(axis, keepdims=True).log()).reshape(shape)


def _softmax(x: Tensor, axis: int) -> Tensor:
    shape = x.shape
    x, axis = _softmax_axis(x, axis, "softmax")
    e = _minus_max(x, axis)[0].exp()
    return (e / e.sum(axis, keepdims=True)).reshape(shape)
