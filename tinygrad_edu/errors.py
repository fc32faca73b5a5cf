"""Exceptions users see, and the helpers that word them.

Every message names the op, the shapes and dtypes involved and, where it helps, the likely fix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class ShapeError(ValueError):
    """Operands whose shapes do not fit together (broadcasting, matmul, reshape, indexing)."""


class DTypeError(TypeError):
    """An operation that is not defined for a dtype, such as `requires_grad` on integers."""


class BackwardError(RuntimeError):
    """A backward pass that cannot run: freed graph, non-scalar output, missing grad."""


class InPlaceError(RuntimeError):
    """An in-place change that would make a gradient wrong: on a tensor that requires grad while
    grad mode is on, or to a tensor saved for a backward pass that has not run yet."""


class AxisError(ShapeError, IndexError):
    """An axis out of range for a tensor's number of dimensions (an IndexError, as in PyTorch)."""


class AnomalyError(FloatingPointError):
    """Raised inside `detect_anomaly()` by the first op that produced NaN or Inf.

    `.tensor` is the tensor whose op produced it (its result in the forward pass, or the tensor
    whose gradient the op was passing back), for `draw_graph(loss, highlight=error.tensor)`.
    """

    def __init__(self, message: str, tensor: object = None) -> None:
        super().__init__(message)
        self.tensor = tensor


def describe(arrays: Sequence[object]) -> str:
    """`(5, 3) float32 and (4, 3) float32`: the shapes and dtypes of an op's inputs."""
    parts = [f"{tuple(a.shape)} {a.dtype}" if hasattr(a, "shape") else repr(a) for a in arrays]
    return " and ".join(parts) if len(parts) <= 2 else ", ".join(parts)


def broadcast_mismatch(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> str | None:
    """Explain why two shapes do not broadcast, or return None when they do."""
    for axis in range(1, min(len(shape_a), len(shape_b)) + 1):
        a, b = shape_a[-axis], shape_b[-axis]
        if a != b and a != 1 and b != 1:
            return (
                f"dimension {-axis} is {a} on the left and {b} on the right; "
                "aligned from the right, each pair of sizes must be equal or one of them 1"
            )
    return None


def grows_both(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> bool:
    """True when broadcasting makes a result larger than *both* operands, e.g. (4,) + (4, 1)."""
    ndim = max(len(shape_a), len(shape_b))
    a = (1,) * (ndim - len(shape_a)) + tuple(shape_a)
    b = (1,) * (ndim - len(shape_b)) + tuple(shape_b)
    out = tuple(max(x, y) for x, y in zip(a, b))
    return out != a and out != b


def check_finite(array: np.ndarray, where: str, tensor: object, source: tuple[str, int, str] | None) -> None:
    """Raise AnomalyError naming `where` (and the user's line `source`) when `array` holds a NaN or an Inf."""
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        kind = "NaN" if np.isnan(array).any() else "Inf"
        made_at = "" if source is None else f"; the op was made at {source[0]}:{source[1]}: {source[2]}"
        raise AnomalyError(f"detect_anomaly: {where} produced {kind}, shape {array.shape}{made_at}", tensor)


def normalize_axis(axis: int | Sequence[int] | None, ndim: int, op: str) -> int | tuple[int, ...] | None:
    """`axis` as non-negative int(s) for a tensor of `ndim` dimensions; None stays None.

    Every op that takes an axis goes through here, so an axis out of range is always an error
    that names the op (NumPy would wrap some of them around silently).

    >>> normalize_axis(-1, 3, "sum"), normalize_axis((0, -1), 2, "sum")
    (2, (0, 1))
    """
    if axis is None:
        return None
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(a, ndim, op) for a in axis)
        if len(set(axes)) != len(axes):
            raise AxisError(f"{op}: axis {tuple(axis)} repeats an axis")
        return axes
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: an axis must be an int (or a tuple of ints), got {axis!r}")
    if not -ndim <= axis < ndim:
        valid = f"-{ndim}..{ndim - 1}" if ndim else "none (the tensor is 0-d)"
        raise AxisError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dimensions (valid axes: {valid})")
    return int(axis) % ndim
