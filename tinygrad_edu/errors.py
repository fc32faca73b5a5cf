"""Exceptions users see, and the helpers that word them.

Every message names the op, the shapes and dtypes involved and, where it helps, the likely fix.
"""

from __future__ import annotations

import linecache
import os
import sys
from collections.abc import Sequence
from typing import Any

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


def check_strict_broadcast(name: str, shapes: Sequence[tuple[int, ...]]) -> None:
    """Under `strict_shapes()`: refuse a broadcast that grows both operands."""
    for i, a in enumerate(shapes):
        for b in shapes[i + 1 :]:
            if grows_both(a, b):
                raise ShapeError(
                    f"{name}: broadcasting {a} with {b} grows both operands (strict_shapes is on). "
                    "This is usually a shape bug, e.g. a bias of shape (n, 1) added to an output "
                    "of shape (n,); reshape one operand so their shapes agree."
                )


def explain_forward_error(op: Any, arrays: Sequence[np.ndarray], error: Exception) -> Exception:
    """Turn a NumPy error raised inside `op.forward` into one that names the op and its inputs."""
    if isinstance(error, (ShapeError, BackwardError, DTypeError)):
        return error
    explain = getattr(op, "explain_error", None)
    message = explain(*arrays) if explain is not None else None
    if message is None and op.broadcasts and len(arrays) >= 2:
        reason = broadcast_mismatch(arrays[-2].shape, arrays[-1].shape)
        if reason is not None:
            message = f"shapes {arrays[-2].shape} and {arrays[-1].shape} cannot be broadcast: {reason}"
    if message is None:
        message = f"{error} (inputs: {describe(arrays)})"
    kind = ShapeError if isinstance(error, ValueError) else type(error)
    return kind(f"{op.name}: {message}")


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_source_line() -> tuple[str, int, str] | None:
    """The first frame outside tinygrad_edu: the line of the user's code that made an op."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    return filename, lineno, linecache.getline(filename, lineno).strip()


def matmul_mismatch(x: np.ndarray, y: np.ndarray) -> str | None:
    """Why two arrays cannot be multiplied with @, or None (the message of a failed matmul)."""
    if x.ndim == 0 or y.ndim == 0:
        return f"shapes {x.shape} and {y.shape}: both operands need at least one dimension; use * instead"
    left, right = x.shape[-1], y.shape[-2] if y.ndim >= 2 else y.shape[0]
    if left != right:
        hint = "; did you mean b.T?" if y.ndim == 2 and y.shape[-1] == left else ""
        return (
            f"shapes {x.shape} and {y.shape} are not aligned: {left} (dim {x.ndim - 1} of the left) "
            f"!= {right} (dim {max(y.ndim - 2, 0)} of the right){hint}"
        )
    return None
