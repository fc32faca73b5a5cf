"""Functions that make new tensors, and the random number generator they share.

>>> import tinygrad_edu as tg
>>> tg.manual_seed(0)
>>> tg.randn(2, 3).shape
(2, 3)
>>> tg.arange(4).tolist(), tg.arange(0.0, 1.0, 0.25).tolist()
([0, 1, 2, 3], [0.0, 0.25, 0.5, 0.75])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.dtypes import get_default_dtype
from tinygrad_edu.tensor import Tensor, _shape_arg

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator used by `randn`, `rand`, layer initialisation and dropout."""
    global _generator
    _generator = np.random.default_rng(seed)


def default_generator() -> np.random.Generator:
    """The generator used when no `generator=` is passed."""
    return _generator


def _make(array: np.ndarray, requires_grad: bool, name: str | None = None) -> Tensor:
    t = Tensor._wrap(array)
    t.name = name
    return t.requires_grad_() if requires_grad else t


def _float(dtype: Any) -> np.dtype:
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def zeros(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape_arg(shape), dtype=_float(dtype)), requires_grad)


def ones(*shape: int | Sequence[int], dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape_arg(shape), dtype=_float(dtype)), requires_grad)


def full(shape: int | Sequence[int], fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.full(_shape_arg((shape,)), fill_value, dtype=_float(dtype)), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(np.shape(t), dtype=np.asarray(t).dtype if dtype is None else dtype), requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(np.shape(t), dtype=np.asarray(t).dtype if dtype is None else dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Like `torch.arange`: integers give int64, any float argument gives the default float dtype."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, (int, np.integer)) for v in (start, stop, step)) else get_default_dtype()
    return _make(np.arange(start, stop, step, dtype=dtype), requires_grad)


def randn(
    *shape: int | Sequence[int],
    dtype: Any = None,
    requires_grad: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Samples of the standard normal distribution."""
    rng = generator or _generator
    return _make(rng.standard_normal(_shape_arg(shape)).astype(_float(dtype)), requires_grad)


def rand(
    *shape: int | Sequence[int],
    dtype: Any = None,
    requires_grad: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Samples of the uniform distribution on [0, 1)."""
    rng = generator or _generator
    return _make(rng.random(_shape_arg(shape)).astype(_float(dtype)), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor that shares memory with `array`, without copying (`torch.from_numpy`).

    Changes to one show in the other; use `Tensor(array)` for a copy.

    >>> import numpy as np
    >>> a = np.zeros(3, dtype=np.float32)
    >>> t = from_numpy(a)
    >>> a[0] = 5.0
    >>> t.tolist()
    [5.0, 0.0, 0.0]
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}; use Tensor(data) instead")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: unsupported dtype {array.dtype}; use a numeric or bool array")
    return Tensor._wrap(array)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """`data` as a Tensor, copying only when it must (`torch.as_tensor`): a Tensor or an ndarray
    that already has `dtype` is used as it is; anything else is converted like `Tensor(data)`."""
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return from_numpy(data)
    return Tensor(data, dtype=dtype)
