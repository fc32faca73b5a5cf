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


class AnomalyError(FloatingPointError):
    """Raised inside `detect_anomaly()` by the first op that produced NaN or Inf."""


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


def check_finite(array: np.ndarray, where: str) -> None:
    """Raise AnomalyError naming `where` when `array` holds a NaN or an Inf."""
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        kind = "NaN" if np.isnan(array).any() else "Inf"
        raise AnomalyError(f"detect_anomaly: {where} produced {kind}, shape {array.shape}")
