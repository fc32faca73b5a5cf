"""`Tensor`: an ndarray that remembers how it was computed.

Every operation on Tensors that require grad makes a new Tensor whose `op` names the operation
and whose `parents` are its inputs; together they form the graph that `backward()` walks in
reverse to compute gradients.

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.op, [p.op for p in y.parents]
('sum', ['mul'])
>>> y.backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]

`apply` runs a primitive (`ops.py`) and records it; the methods below call the primitives, and
the rest (`sigmoid`, `softmax`, `mean`, ...) are compositions of them. `backward` and `grad` hand
the recorded graph to the backward pass (`autograd.py`).
"""

from __future__ import annotations

import linecache
import os
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Union

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.autograd import Context, Op, backward_pass, changes, note_inplace_change
from tinygrad_edu.errors import (
    AxisError,
    BackwardError,
    DTypeError,
    InPlaceError,
    ShapeError,
    broadcast_mismatch,
    check_finite,
    describe,
    grows_both,
    normalize_axis,
)
from tinygrad_edu.grad_mode import set_grad_enabled, switches

Axis = Union[int, tuple[int, ...], None]
Operand = Union["Tensor", float, int, bool, np.ndarray, list]

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


# ---------------------------------------------------------------- recording an op


def apply(op: type[Op], *inputs: Tensor, **params: Any) -> Tensor:
    """Run `op` on the inputs' arrays and, when a gradient will be needed, record it: the result
    keeps a Context with the op, its inputs and what the op saved. That is one node of the graph.

    Nothing is recorded under `no_grad()`, when no input requires grad, or for an integer or bool
    result (the graph ends there, as in PyTorch).
    """
    arrays = [t.data for t in inputs]
    debugging = switches.debugging  # strict_shapes() or detect_anomaly(): off in ordinary runs
    if debugging and switches.strict_shapes and op.broadcasts:
        _check_strict(op.name, arrays)
    ctx = Context()
    try:
        result = op.forward(ctx, *arrays, **params)
    except (ValueError, IndexError, TypeError) as error:
        raise _explain(op, arrays, error) from None
    data = result
    if type(result) is not np.ndarray:  # NumPy gives a scalar for a 0-d result: keep arrays
        data = np.asarray(result)
        ctx.saved = tuple(data if saved is result else saved for saved in ctx.saved)
    out = object.__new__(Tensor)  # Tensor._wrap(data), written out: this runs once per op
    out.data, out._grad, out._ctx, out.requires_grad = data, None, None, False
    if op.view and data.base is not None and (data.base is arrays[0] or data.base is arrays[0].base):
        out._counter = inputs[0]._version_counter()  # a view shares its base's version
    for t in inputs:
        if t.requires_grad:
            if switches.grad_enabled and data.dtype.kind == "f":
                ctx.op, ctx.parents = op, inputs
                out._ctx, out.requires_grad = ctx, True
                if ctx.saved:
                    ctx.recorded_at = changes[0]
                    for array in ctx.saved:
                        if array is data:  # the op keeps its output: reach it without a reference cycle
                            ctx.output = weakref.ref(out)
                            break
                if debugging and switches.detect_anomaly:
                    ctx.source = _user_line()
            break
    if debugging and switches.detect_anomaly:
        check_finite(data, f"the forward of '{op.name}' (inputs {describe(arrays)})", out, ctx.source)
    return out


class Function(Op):
    """An op of your own: subclass, write `forward(ctx, *arrays)` and `backward(ctx, grad)` as the
    primitives in `ops.py` are written, and call `YourOp.apply(*tensors)`.

    >>> import tinygrad_edu as tg
    >>> class Cube(tg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return grad * 3 * x ** 2
    >>> x = tg.Tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad.tolist()
    [12.0]
    """

    name = "function"
    user_defined = True

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on Tensors (other values are converted) and record it when needed.
        Keyword arguments go to `forward` unchanged."""
        return apply(cls, *[Tensor._convert(x) for x in inputs], **params)


def _check_strict(name: str, arrays: list[np.ndarray]) -> None:
    shapes = [a.shape for a in arrays]
    for i, a in enumerate(shapes):
        for b in shapes[i + 1 :]:
            if grows_both(a, b):
                raise ShapeError(
                    f"{name}: broadcasting {a} with {b} grows both operands (strict_shapes is on). "
                    "This is usually a shape bug, e.g. a bias of shape (n, 1) added to an output "
                    "of shape (n,); reshape one operand so their shapes agree."
                )


def _explain(op: type[Op], arrays: list[np.ndarray], error: Exception) -> Exception:
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


def _user_line() -> tuple[str, int, str] | None:
    """The first frame outside tinygrad_edu: the line of the user's code that made an op."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    return filename, lineno, linecache.getline(filename, lineno).strip()


# ---------------------------------------------------------------- Tensor


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
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


class Tensor:
    """An n-dimensional array with automatic differentiation.

    `Tensor(data, requires_grad=False, dtype=None, name=None)`: `data` is a number, a nested
    list or an ndarray (copied; `from_numpy` shares it instead). Arrays keep their dtype; Python
    floats get the default dtype (float32, see `set_default_dtype`). Only float tensors can
    require grad.

    >>> Tensor([[1, 2], [3, 4]], requires_grad=True, name="W")
    Tensor([[1., 2.],
            [3., 4.]], shape=(2, 2), dtype=float32, requires_grad=True, name='W')
    """

    # The attributes every tensor sets are slots; the rarely set ones are class-level defaults
    # (overridden per tensor in its __dict__), so making a tensor, which the engine does once per
    # op, writes four attributes.
    __slots__ = ("__dict__", "__weakref__", "_ctx", "_grad", "data", "requires_grad")
    name: str | None = None
    _retains_grad = False
    _counter: list[int] | None = None  # version counter, shared with views; made when first needed

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self._grad: Tensor | None = None
        self._ctx: Context | None = None  # the Context of the op that made this tensor; None for a leaf
        self.requires_grad = False
        if name is not None:
            self.name = name
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """A Tensor around `array` without copying or checking it: the engine's fast path."""
        t = object.__new__(cls)
        t.data, t._grad, t._ctx, t.requires_grad = array, None, None, False
        return t

    @classmethod
    def _convert(cls, value: Any) -> Tensor:
        return value if isinstance(value, Tensor) else cls(value)

    def _operand(self, other: Any) -> Tensor:
        """`other` as a Tensor for a binary op with this one. A Python number is "weak", as in
        NumPy and PyTorch: it takes this tensor's dtype (a float with an integer tensor takes the
        default float dtype)."""
        if isinstance(other, Tensor):
            return other
        if type(other) in (float, int, bool) or isinstance(other, np.generic):
            kind = self.data.dtype.kind
            if kind == "f" or (kind in "iu" and not isinstance(other, (float, np.floating))):
                return Tensor._wrap(np.asarray(other, dtype=self.data.dtype))
            if isinstance(other, (float, np.floating)):
                return Tensor._wrap(np.asarray(other, dtype=_default_dtype))
            return Tensor._wrap(np.asarray(other, dtype=np.result_type(self.data.dtype, other)))
        if isinstance(other, np.ndarray):
            return Tensor._wrap(other)  # only read, never written: no copy
        return Tensor(other)

    def _binary(self, op: type[Op], other: Any, reverse: bool = False) -> Tensor:
        """Apply a two-input op, promoting dtypes as PyTorch does: an integer or bool operand
        takes the float operand's dtype (NumPy would widen int64 + float32 to float64)."""
        x, y = self, other if isinstance(other, Tensor) else self._operand(other)
        if reverse:
            x, y = y, x
        if x.data.dtype is not y.data.dtype and x.data.dtype != y.data.dtype:
            x, y = _promote(x, y)
        return apply(op, x, y)

    # ------------------------------------------------------------ attributes

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

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (or under no_grad), False for results of recorded ops."""
        return self._ctx is None

    @property
    def op(self) -> str | None:
        """Name of the op that made this tensor, or None for a leaf."""
        return None if self._ctx is None else self._ctx.op.name

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The tensors this one was computed from, in argument order (empty for a leaf)."""
        return () if self._ctx is None else self._ctx.parents

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by `backward()`: on leaves that require grad, and on other
        tensors after `retain_grad()`."""
        if self._grad is None and self._ctx is not None and not self._retains_grad:
            warnings.warn(
                f"reading .grad of a non-leaf tensor (made by '{self.op}'): it is not kept during "
                "backward(). Call .retain_grad() on it before backward() if you need it.",
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None and tuple(value.shape) != self.shape:
            raise ShapeError(f"grad: assigned a gradient of shape {value.shape} to a tensor of shape {self.shape}")
        self._grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place (on leaves only) and return self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError(
                f"requires_grad: only floating-point tensors can require gradients, got dtype "
                f"{self.data.dtype}; make it a float first, e.g. Tensor(data, dtype=np.float32, "
                "requires_grad=True)"
            )
        if self._ctx is not None and not requires_grad:
            raise DTypeError(
                f"requires_grad: this tensor was made by '{self.op}' and is part of a graph; "
                "use .detach() to get a tensor that does not require grad"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep `.grad` on this non-leaf tensor during backward (leaves keep it anyway)."""
        if not self.requires_grad:
            raise DTypeError("retain_grad: this tensor does not require grad, so it never gets one")
        self._retains_grad = True
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data (and version counter), cut off from the graph."""
        t = Tensor._wrap(self.data)
        t._counter = self._version_counter()
        return t

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (the gradient passes through unchanged)."""
        return self + 0 if self.requires_grad else Tensor._wrap(self.data.copy())

    def new_tensor(self, data: Any) -> Tensor:
        """A new leaf with this tensor's dtype, from `data` (copied), as PyTorch's `new_tensor`."""
        return Tensor(data, dtype=self.data.dtype)

    def backward(self, gradient: Operand | None = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        A non-scalar tensor needs `gradient`, the vector that the Jacobian is multiplied by.
        Buffers saved for backward are freed unless `retain_graph=True`; with
        `create_graph=True` the gradients are themselves recorded, for higher derivatives.
        """
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------ in-place changes

    @property
    def _version(self) -> int:
        """How many times this tensor's data was changed in place through the library."""
        return 0 if self._counter is None else self._counter[0]

    def _version_counter(self) -> list[int]:
        """[version, number of the in-place change that made it], shared with views; made when needed."""
        if self._counter is None:
            self._counter = [0, 0]
        return self._counter

    def _inplace(self, symbol: str, change: Callable[[np.ndarray, Any], Any], other: Any) -> Tensor:
        """Change `self.data` in place and bump the version, as PyTorch's in-place ops do."""
        if switches.grad_enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            who = "this tensor requires grad" if self.requires_grad else "its operand requires grad"
            raise InPlaceError(
                f"{symbol}: {who} and grad mode is on, so an in-place change would break the graph "
                f"(shape {self.shape}). For an update step write it under `with tg.no_grad():`; to "
                f"compute a new value write `t = t {symbol[0]} x` instead."
            )
        operand = other.data if isinstance(other, Tensor) else other
        try:
            change(self.data, operand)
        except (ValueError, TypeError) as error:
            raise ShapeError(
                f"{symbol}: cannot change a tensor of shape {self.shape} ({self.dtype}) in place with "
                f"{describe([np.asarray(operand)])}: {error}"
            ) from None
        note_inplace_change(self._version_counter())
        return self

    def __iadd__(self, other: Operand) -> Tensor:
        return self._inplace("+=", lambda a, b: np.add(a, b, out=a, casting="same_kind"), other)

    def __isub__(self, other: Operand) -> Tensor:
        return self._inplace("-=", lambda a, b: np.subtract(a, b, out=a, casting="same_kind"), other)

    def __imul__(self, other: Operand) -> Tensor:
        return self._inplace("*=", lambda a, b: np.multiply(a, b, out=a, casting="same_kind"), other)

    def __itruediv__(self, other: Operand) -> Tensor:
        return self._inplace("/=", lambda a, b: np.true_divide(a, b, out=a, casting="same_kind"), other)

    def copy_(self, src: Operand) -> Tensor:
        """Copy `src`'s values into this tensor in place (broadcast, cast to this dtype)."""
        return self._inplace("copy_", lambda a, b: np.copyto(a, b, casting="same_kind"), src)

    def zero_(self) -> Tensor:
        """Fill with zeros in place."""
        return self.copy_(0)

    def fill_(self, value: float) -> Tensor:
        """Fill with `value` in place."""
        return self.copy_(value)

    # ------------------------------------------------------------ NumPy interop and display

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
        if name is not None:
            tensor = next(x for x in inputs if isinstance(x, Tensor))
            return getattr(Tensor, name)(*[tensor._operand(x) for x in inputs])
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        if any(isinstance(o, Tensor) for o in kwargs.get("out", ())):
            raise TypeError(f"np.{ufunc.__name__}(..., out=tensor): change a tensor with +=, -=, *=, /= or copy_()")
        if "out" not in kwargs:
            _refuse_if_differentiated(f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"), inputs)
        result = getattr(ufunc, method)(*arrays, **kwargs)
        is_array = isinstance(result, (np.ndarray, np.generic)) and "out" not in kwargs
        return Tensor._wrap(np.asarray(result)) if is_array else result

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        """NumPy functions on Tensors: those in `_FUNCTIONS` are Tensor ops, recorded; any other
        sees each Tensor as its array and returns plain NumPy values, which is refused when the
        value is a float computed from a tensor that requires grad (the graph would be cut)."""
        implementation = _FUNCTIONS.get(func)
        if implementation is not None:
            return implementation(*args, **kwargs)
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

    __hash__ = object.__hash__  # tensors are hashed by identity, so they can be dict keys

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

    # ------------------------------------------------------------ primitive ops (see ops.py)

    def __add__(self, other: Operand) -> Tensor:
        return self._binary(ops.Add, other)

    def __radd__(self, other: Operand) -> Tensor:
        return self._binary(ops.Add, other, reverse=True)

    def __sub__(self, other: Operand) -> Tensor:
        return self._binary(ops.Sub, other)

    def __rsub__(self, other: Operand) -> Tensor:
        return self._binary(ops.Sub, other, reverse=True)

    def __mul__(self, other: Operand) -> Tensor:
        return self._binary(ops.Mul, other)

    def __rmul__(self, other: Operand) -> Tensor:
        return self._binary(ops.Mul, other, reverse=True)

    def __truediv__(self, other: Operand) -> Tensor:
        """True division; integer tensors are divided in the default float dtype, as in PyTorch."""
        return self._true_divide(self._operand(other))

    def __rtruediv__(self, other: Operand) -> Tensor:
        return self._operand(other)._true_divide(self)

    def _true_divide(self, other: Tensor) -> Tensor:
        if self.data.dtype.kind != "f" and other.data.dtype.kind != "f":
            return apply(ops.Div, self.cast(_default_dtype), other.cast(_default_dtype))
        return self._binary(ops.Div, other)

    def __pow__(self, other: Operand) -> Tensor:
        return self._binary(ops.Pow, other)

    def __rpow__(self, other: Operand) -> Tensor:
        return self._binary(ops.Pow, other, reverse=True)

    def __matmul__(self, other: Operand) -> Tensor:
        return self._binary(ops.MatMul, other)

    def __rmatmul__(self, other: Operand) -> Tensor:
        return self._binary(ops.MatMul, other, reverse=True)

    def matmul(self, other: Operand) -> Tensor:
        """Matrix product with NumPy's rules: 1-D, 2-D and batched (broadcast) operands."""
        return self @ other

    def __neg__(self) -> Tensor:
        return apply(ops.Neg, self)

    def __pos__(self) -> Tensor:
        return self

    def exp(self) -> Tensor:
        return apply(ops.Exp, self)

    def log(self) -> Tensor:
        return apply(ops.Log, self)

    def relu(self) -> Tensor:
        return apply(ops.ReLU, self)

    def tanh(self) -> Tensor:
        return apply(ops.Tanh, self)

    def abs(self) -> Tensor:
        return apply(ops.Abs, self)

    def cast(self, dtype: Any) -> Tensor:
        """This tensor in another dtype. Gradients are cast back; a cast to an integer or bool
        dtype ends the graph (the result does not require grad)."""
        dtype = np.dtype(dtype)
        return self if dtype == self.data.dtype else apply(ops.Cast, self, dtype=dtype)

    astype = cast  # NumPy's name

    def float(self) -> Tensor:
        return self.cast(np.float32)

    def double(self) -> Tensor:
        return self.cast(np.float64)

    def maximum(self, other: Operand) -> Tensor:
        """Elementwise maximum; on a tie each side gets half the gradient (as in PyTorch)."""
        return self._binary(ops.Maximum, other)

    def where(self, condition: Operand, other: Operand) -> Tensor:
        """`self` where `condition` is true, else `other` (PyTorch's `Tensor.where`)."""
        x, y = self, self._operand(other)
        if x.data.dtype != y.data.dtype:
            x, y = _promote(x, y)
        return apply(ops.Where, _condition(condition), x, y)

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return apply(ops.Sum, self, axis=self._axes(axis, "sum"), keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The largest value along `axis`; ties share the gradient equally."""
        return apply(ops.Max, self, axis=self._axes(axis, "max"), keepdims=keepdims)

    def _axes(self, axis: Axis, op: str) -> tuple[int, ...] | None:
        axes = normalize_axis(axis, self.data.ndim, op)
        return (axes,) if isinstance(axes, int) else axes

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """`t.reshape(2, 3)` or `t.reshape((2, 3))`; one dimension may be -1."""
        shape = _shape_arg(shape)
        return self if shape == self.shape else apply(ops.Reshape, self, shape=shape)

    def transpose(self, *axes: int) -> Tensor:
        """Reverse the axes (no arguments), permute them (one per axis, like NumPy), or swap
        two of them (two arguments on a tensor of 3 or more dimensions, like PyTorch)."""
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        ndim = self.data.ndim
        if not axes:
            axes = tuple(range(ndim))[::-1]
        elif len(axes) == 2 and ndim != 2:
            a, b = normalize_axis(axes, ndim, "transpose")
            perm = list(range(ndim))
            perm[a], perm[b] = perm[b], perm[a]
            axes = tuple(perm)
        else:
            axes = normalize_axis(axes, ndim, "transpose")
            if len(axes) != ndim:
                raise AxisError(f"transpose: {len(axes)} axes given for a tensor with {ndim} dimensions")
        return apply(ops.Transpose, self, axes=tuple(axes))

    permute = transpose

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        """Broadcast to `shape` without copying (NumPy's `broadcast_to`)."""
        shape = _shape_arg(shape)
        return self if shape == self.shape else apply(ops.Expand, self, shape=shape)

    def __getitem__(self, index: Any) -> Tensor:
        return apply(ops.GetItem, self, index=_normalize_index(index))

    def _scatter_add(self, index: Any, shape: tuple[int, ...]) -> Tensor:
        """Zeros of `shape` with this tensor added at `index` (the backward of indexing)."""
        return apply(ops.ScatterAdd, self, index=index, shape=shape)

    def cat(self, *others: Tensor, axis: int = 0) -> Tensor:
        """Concatenate this tensor and `others` along an existing axis."""
        return cat([self, *others], axis=axis)

    # ------------------------------------------------------------ compositions

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

    def minimum(self, other: Operand) -> Tensor:
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

    # ------------------------------------------------------------ comparisons and logic (no gradient)

    def _compare(self, ufunc: np.ufunc, other: Any) -> Tensor:
        other_data = other.data if isinstance(other, Tensor) else other
        try:
            return Tensor._wrap(np.asarray(ufunc(self.data, other_data)))
        except ValueError as error:
            raise ShapeError(f"{ufunc.__name__}: {error} (shapes {self.shape} and {np.shape(other_data)})") from None

    def __lt__(self, other: Operand) -> Tensor:
        return self._compare(np.less, other)

    def __le__(self, other: Operand) -> Tensor:
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Operand) -> Tensor:
        return self._compare(np.greater, other)

    def __ge__(self, other: Operand) -> Tensor:
        return self._compare(np.greater_equal, other)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare(np.equal, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare(np.not_equal, other)

    def _logical(self, ufunc: np.ufunc, other: Any) -> Tensor:
        if self.dtype.kind != "b" or np.result_type(other.data if isinstance(other, Tensor) else other).kind != "b":
            raise DTypeError(f"{ufunc.__name__}: needs bool tensors (compare first, e.g. x > 0), got {self.dtype}")
        return self._compare(ufunc, other)

    def __and__(self, other: Operand) -> Tensor:
        return self._logical(np.logical_and, other)

    def __or__(self, other: Operand) -> Tensor:
        return self._logical(np.logical_or, other)

    def __invert__(self) -> Tensor:
        if self.dtype.kind != "b":
            raise DTypeError(f"~: logical not needs a bool tensor, got {self.dtype}")
        return Tensor._wrap(~self.data)

    def any(self) -> bool:
        return bool(self.data.any())

    def all(self) -> bool:
        return bool(self.data.all())

    def argmax(self, axis: int | None = None) -> Tensor:
        return Tensor._wrap(np.asarray(self.data.argmax(axis=normalize_axis(axis, self.ndim, "argmax"))))


# ---------------------------------------------------------------- compositions written as functions


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
    centered = x - x.mean(axis, keepdims=True)
    dof = x.size // max(centered.sum(axis, keepdims).size, 1) - correction
    return (centered * centered).sum(axis, keepdims) * (1.0 / dof if dof > 0 else np.nan)


def _minus_max(x: Tensor, axis: int) -> tuple[Tensor, np.ndarray]:
    """x - max(x) along `axis`, and that max: the shift that keeps exp() from overflowing. The
    max is a constant: softmax and friends don't change when it does."""
    top = x.data.max(axis=axis, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, 0)  # a row of -inf stays -inf instead of becoming NaN
    return x - top, top


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


# ---------------------------------------------------------------- functions on several tensors


def cat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Concatenate tensors along an existing axis (`torch.cat`)."""
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    tensors = [Tensor._convert(t) for t in tensors]
    return apply(ops.Cat, *tensors, axis=normalize_axis(axis, max(tensors[0].ndim, 1), "cat"))


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Stack tensors of one shape along a new axis (`torch.stack`)."""
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    tensors = [Tensor._convert(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    axis = normalize_axis(axis, tensors[0].ndim + 1, "stack")
    return cat([t.unsqueeze(axis) for t in tensors], axis=axis)


def where(condition: Operand, x: Operand, y: Operand) -> Tensor:
    """`x` where `condition` is true, else `y`, elementwise with broadcasting."""
    if not isinstance(x, Tensor):
        x = y._operand(x) if isinstance(y, Tensor) else Tensor(x)
    return x.where(condition, y)


def _promote(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    if (x.data.dtype.kind == "f") != (y.data.dtype.kind == "f"):  # a float with an int or bool
        dtype = x.data.dtype if x.data.dtype.kind == "f" else y.data.dtype
    else:
        dtype = np.result_type(x.data.dtype, y.data.dtype)
    return x.cast(dtype), y.cast(dtype)


def _condition(condition: Operand) -> Tensor:
    c = condition if isinstance(condition, Tensor) else Tensor._wrap(np.asarray(condition))
    if c.dtype.kind != "b":
        raise DTypeError(f"where: the condition must be a bool tensor, got {c.dtype}; compare first, e.g. x > 0")
    return c


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _normalize_index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays, so NumPy reads them as indices."""
    if isinstance(index, tuple):
        return tuple(_normalize_index(part) for part in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


# ---------------------------------------------------------------- NumPy's protocols

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


def _dot(a: Any, b: Any) -> Tensor:
    a, b = Tensor._convert(a), Tensor._convert(b)
    if a.ndim > 2 or b.ndim > 2:
        raise TypeError("np.dot on tensors of more than 2 dimensions: use @ (np.matmul) instead")
    return a * b if a.ndim == 0 or b.ndim == 0 else a @ b


def _reduction(name: str) -> Callable[..., Tensor]:
    return lambda a, axis=None, keepdims=False: getattr(Tensor._convert(a), name)(axis, keepdims)


_FUNCTIONS: dict[Callable, Callable[..., Any]] = {
    np.where: where,
    np.broadcast_to: lambda array, shape: Tensor._convert(array).expand(shape),
    np.dot: _dot,
    np.sum: _reduction("sum"),
    np.mean: _reduction("mean"),
    np.max: _reduction("max"),
    np.min: _reduction("min"),
    np.reshape: lambda a, shape: Tensor._convert(a).reshape(shape),
    np.transpose: lambda a, axes=None: Tensor._convert(a).transpose(*(() if axes is None else (tuple(axes),))),
    np.squeeze: lambda a, axis=None: Tensor._convert(a).squeeze(axis),
    np.expand_dims: lambda a, axis: Tensor._convert(a).unsqueeze(axis),
    np.concatenate: lambda arrays, axis=0: cat(arrays, axis),
    np.stack: lambda arrays, axis=0: stack(arrays, axis),
    np.clip: lambda a, a_min=None, a_max=None: Tensor._convert(a).clip(a_min, a_max),
    np.zeros_like: lambda a, dtype=None: Tensor._wrap(np.zeros_like(a.data, dtype=dtype)),
    np.ones_like: lambda a, dtype=None: Tensor._wrap(np.ones_like(a.data, dtype=dtype)),
}


def _refuse_if_differentiated(name: str, values: Sequence[Any]) -> None:
    if switches.grad_enabled and any(isinstance(v, Tensor) and v.requires_grad for v in values):
        raise TypeError(
            f"{name} on a tensor that requires grad: tinygrad_edu has no derivative for it, so the "
            "result would silently drop out of the graph. Use Tensor ops (t.exp(), t.sum(), "
            "np.exp(t), ...) or write a tinygrad_edu.Function; for plain values call it on "
            "t.detach() or t.numpy()."
        )


def _unwrap_tensors(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap_tensors(v) for v in value)
    return value


# ---------------------------------------------------------------- backward and grad


def backward(
    root: Tensor,
    gradient: Any = None,
    retain_graph: bool = False,
    create_graph: bool = False,
    on_step: Callable[[Tensor, Any, tuple[Any, ...]], None] | None = None,
) -> None:
    """`root.backward(...)`: accumulate ∂root/∂leaf into `.grad` of every leaf that requires
    grad (and of tensors that called `retain_grad()`).

    `on_step(tensor, grad, input_grads)` sees each op's backward as it runs (for
    `tinygrad_edu.viz.trace_backward`); without it nothing extra is recorded.
    """
    seed = _seed(root, gradient, "backward")
    # Arrays that a new `.grad` must not take over: the caller's, and those given to a `.grad`
    # already (Add passes one array to both of its inputs).
    taken = {id(seed.data)}

    def into_grad(t: Tensor, g: Any) -> None:
        if create_graph:
            t._grad = g if t._grad is None else t._grad + g
        elif t._grad is not None:
            t._grad = Tensor._wrap(np.asarray(t._grad.data + g))
        else:  # a .grad owns its memory: copy only an array that is a view or held elsewhere
            if type(g) is not np.ndarray:  # a NumPy scalar, from an op on 0-d arrays
                g = np.asarray(g)
            elif g.base is not None or id(g) in taken:
                g = g.copy()
            taken.add(id(g))
            t._grad = Tensor._wrap(g)

    with set_grad_enabled(create_graph):
        backward_pass([root], [seed if create_graph else seed.data], retain_graph, into_grad, on_step=on_step)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` with respect to `inputs`, as a tuple, without touching `.grad`.

    Like `torch.autograd.grad`. With `create_graph=True` the results are differentiable,
    which gives higher derivatives:

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor(3.0, requires_grad=True)
    >>> (dx,) = tg.grad(x ** 3, x, create_graph=True)   # 3x^2 = 27
    >>> (dxx,) = tg.grad(dx, x)                           # 6x = 18
    >>> dx.item(), dxx.item()
    (27.0, 18.0)
    """
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise BackwardError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise BackwardError(f"grad: input {i} (shape {t.shape}) does not require grad")
    seeds = [_seed(out, g, "grad") for out, g in zip(outputs, grad_outputs)]
    found: dict[Tensor, Any] = {t: None for t in inputs}  # tensors hash by identity

    def collect(t: Tensor, g: Any) -> None:
        if t in found:
            found[t] = g

    with set_grad_enabled(create_graph):
        seeds = seeds if create_graph else [s.data for s in seeds]
        retain = create_graph if retain_graph is None else retain_graph
        backward_pass(outputs, seeds, retain, collect, wanted=set(found))
    result = []
    for i, t in enumerate(inputs):
        g = found[t]
        if g is None and not allow_unused:
            raise BackwardError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(g if g is None or isinstance(g, Tensor) else Tensor._wrap(np.asarray(g)))
    return tuple(result)


def _seed(output: Tensor, gradient: Any, caller: str) -> Tensor:
    """The gradient that starts the backward pass at `output`."""
    if not output.requires_grad:
        raise BackwardError(
            f"{caller}: this tensor (shape {output.shape}) does not require grad, so there is no graph "
            "to go back through: none of its inputs had requires_grad=True, or it was computed "
            "under no_grad()"
        )
    if gradient is None:
        if output.size != 1:
            raise BackwardError(
                f"{caller}: the output has shape {output.shape}, not a single value, so the gradient "
                "to start from is ambiguous; reduce it first (e.g. .sum() or .mean()) or pass "
                "gradient= (backward) / grad_outputs= (grad) with the same shape"
            )
        return Tensor._wrap(np.ones_like(output.data))
    seed = gradient if isinstance(gradient, Tensor) else Tensor(gradient, dtype=output.dtype)
    if seed.shape != output.shape:
        raise ShapeError(f"{caller}: gradient has shape {seed.shape} but the output has shape {output.shape}")
    return seed if seed.dtype == output.dtype else seed.cast(output.dtype)


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)
