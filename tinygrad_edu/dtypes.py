"""Dtypes: the default float dtype, user data made into arrays, and PyTorch's promotion rules.

A Python float becomes the default dtype (float32, as in PyTorch; NumPy would make float64).
Two tensors of different dtypes meet in the wider one, except that an integer or bool tensor
takes the float tensor's dtype (NumPy would widen int64 + float32 to float64). A Python number
beside a tensor is "weak": it takes the tensor's dtype.

>>> promote_types(np.dtype(np.int64), np.dtype(np.float32))
dtype('float32')
>>> scalar_dtype(np.dtype(np.float16), 0.5), scalar_dtype(np.dtype(np.int32), 2)
(dtype('float16'), dtype('int32'))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.errors import DTypeError

_default_dtype = np.dtype(np.float32)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype of Tensors made from Python scalars and lists (float32 at start)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise DTypeError(f"set_default_dtype: expected a float dtype such as np.float64, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The float dtype of Tensors made from Python scalars and lists."""
    return _default_dtype


def to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """`data` (a number, a nested list, an ndarray) as a new numeric array: arrays keep their
    dtype, Python numbers get the default float dtype, anything else is refused."""
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, dtype=dtype)  # a copy: later changes to `data` don't reach us
    else:
        try:
            array = np.array(data)  # first as it is, so that None (an object) is refused, not made NaN
        except (ValueError, TypeError) as error:
            raise TypeError(
                f"Tensor: cannot make a tensor from {type(data).__name__} ({error}); "
                "pass a number, a (nested) list of numbers, or a NumPy array"
            ) from None
        if array.dtype.kind in "biuf":
            array = array.astype(_default_dtype if dtype is None else dtype)
    if array.dtype.kind not in "biuf":
        raise DTypeError(
            f"Tensor: cannot make a tensor from {type(data).__name__} of dtype {array.dtype}; pass numbers, "
            "nested lists of numbers or a numeric array (None is not a number)"
        )
    return array


def scalar_dtype(dtype: np.dtype, value: Any) -> np.dtype:
    """The dtype a Python or NumPy number takes beside a tensor of `dtype`: the tensor's own,
    unless a float meets an integer or bool tensor (then the default float dtype)."""
    is_float = isinstance(value, (float, np.floating))
    if dtype.kind == "f" or (dtype.kind in "iu" and not is_float):
        return dtype
    return _default_dtype if is_float else np.result_type(dtype, value)


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype two tensors meet in: a float with an integer or bool is the float; otherwise the
    wider of the two."""
    if (a.kind == "f") != (b.kind == "f"):
        return a if a.kind == "f" else b
    return np.result_type(a, b)
