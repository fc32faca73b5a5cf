"""A Tensor among NumPy: conversions, display, comparisons, and NumPy's own protocols.

With `__array_ufunc__` and `__array_function__`, NumPy hands its functions to a Tensor: `np.exp(t)`
is `t.exp()`, `np.where(c, t, 0)` is `t.where(c, 0)` (both recorded), `array + t` is a Tensor, and
`p.data -= lr * p.grad` writes into the array. A NumPy function with no derivative here is refused
on a tensor that requires grad instead of silently cutting the graph. This is also what lets the
backward rules in `ops.py` be plain NumPy that runs on Tensors under `create_graph=True`.
`Tensor` inherits all of it from `NumPyInterop`.

>>> import numpy as np
>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
>>> np.exp(x).op, (np.ones(2) + x).op
('exp', 'add')
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu.errors import DTypeError, ShapeError, normalize_axis
from tinygrad_edu.grad_mode import switches

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor


class NumPyInterop:
    """Conversions, display, comparisons and NumPy's protocols, as methods of `Tensor`."""

    __slots__ = ()

    # The attributes an ndarray has.

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        """The number of elements (as NumPy's `.size`; PyTorch calls it `numel()`)."""
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's ufuncs on Tensors: `np.exp(t)` is `t.exp()` and `array + t` is a Tensor, both
        recorded; `array -= t` writes into the ndarray (no graph, like writing `.data`)."""
        name = _UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
        if name is not None:  # as a Tensor op: every operand a Tensor (numbers take self's dtype)
            first, *rest = (self._operand(x) for x in inputs)
            return getattr(first, name)(*rest)
        arrays = [x.data if isinstance(x, NumPyInterop) else x for x in inputs]
        if any(isinstance(o, NumPyInterop) for o in kwargs.get("out", ())):
            raise TypeError(f"np.{ufunc.__name__}(..., out=tensor): change a tensor with +=, -=, *=, /= or copy_()")
        if "out" not in kwargs:
            _refuse_if_differentiated(f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"), inputs)
        result = getattr(ufunc, method)(*arrays, **kwargs)
        is_array = isinstance(result, (np.ndarray, np.generic)) and "out" not in kwargs
        return self._wrap(np.asarray(result)) if is_array else result

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        """NumPy functions on Tensors: those in `_FUNCTIONS` are Tensor ops, recorded; any other
        sees each Tensor as its array and returns plain NumPy values, which is refused when the
        value is a float computed from a tensor that requires grad (the graph would be cut)."""
        implementation = _FUNCTIONS.get(func)
        if implementation is not None:
            return implementation(self, *args, **kwargs)
        result = func(*[_unwrap_tensors(a) for a in args], **{k: _unwrap_tensors(v) for k, v in kwargs.items()})
        if isinstance(result, (np.ndarray, np.generic, float)) and np.asarray(result).dtype.kind in "fc":
            flat = [x for a in (*args, *kwargs.values()) for x in (a if isinstance(a, (list, tuple)) else (a,))]
            _refuse_if_differentiated(f"np.{func.__name__}", flat)
        return result

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ShapeError(
                f"item: only a tensor with one element converts to a Python number, this one has shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=100)
        fields = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self._ctx is not None:
            fields.append(f"op='{self.op}'")
        if self.requires_grad:
            fields.append("requires_grad=True")
        if self.name is not None:
            fields.append(f"name={self.name!r}")
        return f"Tensor({body}, {', '.join(fields)})"

    # ------------------------------------------------------------ comparisons and logic (no gradient)

    def _compare(self, ufunc: np.ufunc, other: Any) -> Tensor:
        other_data = other.data if isinstance(other, NumPyInterop) else other
        try:
            return self._wrap(np.asarray(ufunc(self.data, other_data)))
        except ValueError as error:
            raise ShapeError(f"{ufunc.__name__}: {error} (shapes {self.shape} and {np.shape(other_data)})") from None

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(np.less, other)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(np.greater, other)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(np.greater_equal, other)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare(np.equal, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare(np.not_equal, other)

    def _logical(self, ufunc: np.ufunc, other: Any) -> Tensor:
        other_data = other.data if isinstance(other, NumPyInterop) else other
        if self.dtype.kind != "b" or np.result_type(other_data).kind != "b":
            raise DTypeError(f"{ufunc.__name__}: needs bool tensors (compare first, e.g. x > 0), got {self.dtype}")
        return self._compare(ufunc, other)

    def __and__(self, other: Any) -> Tensor:
        return self._logical(np.logical_and, other)

    def __or__(self, other: Any) -> Tensor:
        return self._logical(np.logical_or, other)

    def __invert__(self) -> Tensor:
        if self.dtype.kind != "b":
            raise DTypeError(f"~: logical not needs a bool tensor, got {self.dtype}")
        return self._wrap(~self.data)

    def any(self) -> bool:
        return bool(self.data.any())

    def all(self) -> bool:
        return bool(self.data.all())

    def argmax(self, axis: int | None = None) -> Tensor:
        return self._wrap(np.asarray(self.data.argmax(axis=normalize_axis(axis, self.ndim, "argmax"))))


_UFUNCS = {
    np.add: "__add__",
    np.subtract: "__sub__",
    np.multiply: "__mul__",
    np.true_divide: "__truediv__",
    np.power: "__pow__",
    np.matmul: "__matmul__",
    np.negative: "__neg__",
    np.positive: "__pos__",
    np.exp: "exp",
    np.log: "log",
    np.sqrt: "sqrt",
    np.tanh: "tanh",
    np.absolute: "abs",
    np.maximum: "maximum",
    np.minimum: "minimum",
    np.less: "__lt__",
    np.less_equal: "__le__",
    np.greater: "__gt__",
    np.greater_equal: "__ge__",
    np.equal: "__eq__",
    np.not_equal: "__ne__",
    np.logical_and: "__and__",
    np.logical_or: "__or__",
    np.logical_not: "__invert__",
}


# NumPy functions that are Tensor ops. Each gets the Tensor that NumPy dispatched to first, to
# make Tensors of the other arguments.


def _dot(t: Tensor, a: Any, b: Any) -> Tensor:
    a, b = t._convert(a), t._convert(b)
    if a.ndim > 2 or b.ndim > 2:
        raise TypeError("np.dot on tensors of more than 2 dimensions: use @ (np.matmul) instead")
    return a * b if a.ndim == 0 or b.ndim == 0 else a @ b


def where(make: Any, condition: Any, x: Any, y: Any) -> Tensor:
    """`x` where `condition`, else `y`; a number or array for `x` takes `y`'s dtype when `y` is a
    Tensor, and is made a Tensor by `make._convert` (a Tensor, or the Tensor class) otherwise."""
    x = x if isinstance(x, NumPyInterop) else y._operand(x) if isinstance(y, NumPyInterop) else make._convert(x)
    return x.where(condition, y)


def _method(name: str) -> Callable[..., Any]:
    """np.NAME(a, *args) as a.NAME(*args)."""
    return lambda t, a, *args, **kwargs: getattr(t._convert(a), name)(*args, **kwargs)


_FUNCTIONS: dict[Callable, Callable[..., Any]] = {
    np.where: where,
    np.dot: _dot,
    np.broadcast_to: _method("expand"),
    np.sum: _method("sum"),
    np.mean: _method("mean"),
    np.max: _method("max"),
    np.min: _method("min"),
    np.reshape: _method("reshape"),
    np.transpose: lambda t, a, axes=None: t._convert(a).transpose(*(() if axes is None else (tuple(axes),))),
    np.squeeze: _method("squeeze"),
    np.expand_dims: _method("unsqueeze"),
    np.clip: _method("clip"),
    np.concatenate: lambda t, arrays, axis=0: t._convert(arrays[0]).cat(*arrays[1:], axis=axis),
    np.zeros_like: lambda t, a, dtype=None: t._wrap(np.zeros_like(a.data, dtype=dtype)),
    np.ones_like: lambda t, a, dtype=None: t._wrap(np.ones_like(a.data, dtype=dtype)),
}


def _refuse_if_differentiated(name: str, values: Sequence[Any]) -> None:
    if switches.grad_enabled and any(isinstance(v, NumPyInterop) and v.requires_grad for v in values):
        raise TypeError(
            f"{name} on a tensor that requires grad: tinygrad_edu has no derivative for it, so the "
            "result would silently drop out of the graph. Use Tensor ops (t.exp(), t.sum(), "
            "np.exp(t), ...) or write a tinygrad_edu.Function; for plain values call it on "
            "t.detach() or t.numpy()."
        )


def _unwrap_tensors(value: Any) -> Any:
    if isinstance(value, NumPyInterop):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap_tensors(v) for v in value)
    return value
