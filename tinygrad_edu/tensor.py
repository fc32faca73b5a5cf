"""`Tensor`: an ndarray that remembers how it was computed.

Every operation on Tensors that require grad creates a new Tensor whose `op` names the
operation and whose `parents` are its inputs; together they form the graph that `backward()`
walks in reverse to compute gradients.

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.op, [p.op for p in y.parents]
('sum', ['mul'])
>>> y.backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]

The primitive ops (one derivative each) are in `ops.py`; the methods below call them, and the
rest (`-`, `/`, `sigmoid`, `softmax`, `mean`, ...) are compositions of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Union

import numpy as np

from tinygrad_edu import engine
from tinygrad_edu.errors import DTypeError, InPlaceError, ShapeError
from tinygrad_edu.grad_mode import switches

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


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, dtype=dtype)  # a copy: later changes to `data` don't reach us
    else:
        try:
            array = np.array(data, dtype=_default_dtype if dtype is None else dtype)
        except (ValueError, TypeError) as error:
            raise TypeError(
                f"Tensor: cannot make a tensor from {type(data).__name__} ({error}); "
                "pass a number, a (nested) list of numbers, or a NumPy array"
            ) from None
    if array.dtype.kind not in "biuf":
        raise DTypeError(f"Tensor: unsupported dtype {array.dtype}; use a numeric or bool dtype")
    return array


class Tensor:
    """An n-dimensional array with automatic differentiation.

    `Tensor(data, requires_grad=False, dtype=None, name=None)`: `data` is a number, a nested
    list or an ndarray. Arrays keep their dtype; numbers and lists get the default dtype
    (float32, see `set_default_dtype`). Only float tensors can require grad.

    >>> Tensor([[1, 2], [3, 4]], requires_grad=True, name="W")
    Tensor([[1., 2.],
            [3., 4.]], shape=(2, 2), dtype=float32, requires_grad=True, name='W')
    """

    __slots__ = ("__weakref__", "_base", "_ctx", "_grad", "_retains_grad", "_versions", "data", "name", "requires_grad")
    # Makes `ndarray + Tensor` call Tensor.__radd__ instead of NumPy looping over the Tensor.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self._grad: Tensor | None = None
        self._ctx = None  # the Context of the op that made this tensor; None for a leaf
        self._retains_grad = False
        self._base, self._versions = None, 0
        self.name = name
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _wrap(cls, array: np.ndarray) -> Tensor:
        """A Tensor around `array` without copying or checking it: the engine's fast path."""
        t = object.__new__(cls)
        t.data, t._grad, t._ctx, t._retains_grad, t.name, t.requires_grad = (
            array,
            None,
            None,
            False,
            None,
            False,
        )
        t._base, t._versions = None, 0
        return t

    @classmethod
    def _convert(cls, value: Any) -> Tensor:
        return value if isinstance(value, Tensor) else cls(value)

    def _operand(self, other: Operand) -> Tensor:
        """`other` as a Tensor; a Python number takes this tensor's dtype, as in NumPy and PyTorch."""
        if isinstance(other, Tensor):
            return other
        if type(other) in (float, int, bool) or isinstance(other, np.generic):
            kind = self.data.dtype.kind
            if kind == "f" or (kind in "iu" and not isinstance(other, (float, np.floating))):
                return Tensor._wrap(np.asarray(other, dtype=self.data.dtype))
            return Tensor._wrap(np.asarray(other, dtype=np.result_type(self.data.dtype, other)))
        if isinstance(other, np.ndarray):
            return Tensor._wrap(other)
        return Tensor(other)

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
        return None if self._ctx is None else self._ctx.function.name

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
        """A new leaf sharing this tensor's data, cut off from the graph: gradients stop here."""
        t = Tensor._wrap(self.data)
        t._base = self if self._base is None else self._base  # shares the version counter
        return t

    # ------------------------------------------------------------ in-place changes

    @property
    def _version(self) -> int:
        """How many times this tensor's data was changed in place through the library."""
        return (self if self._base is None else self._base)._versions

    def _bump_version(self) -> None:
        (self if self._base is None else self._base)._versions += 1

    def _inplace(self, symbol: str, ufunc: np.ufunc, other: Any) -> Tensor:
        if switches.grad_enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            raise InPlaceError(
                f"{symbol}: changing a tensor in place while grad mode is on would break the graph "
                f"(this tensor, shape {self.shape}{'' if self.requires_grad else ', has an operand that'} "
                "requires grad). For an update step write it under `with tg.no_grad():`; to compute a "
                f"new value write `t = t {symbol[0]} x` instead."
            )
        operand = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, operand, out=self.data, casting="same_kind")
        except (ValueError, TypeError) as error:
            raise ShapeError(
                f"{symbol}: cannot change a tensor of shape {self.shape} {self.dtype} in place "
                f"with {np.shape(operand)} {np.result_type(operand)}: {error}"
            ) from None
        self._bump_version()
        return self

    def __iadd__(self, other: Operand) -> Tensor:
        return self._inplace("+=", np.add, other)

    def __isub__(self, other: Operand) -> Tensor:
        return self._inplace("-=", np.subtract, other)

    def __imul__(self, other: Operand) -> Tensor:
        return self._inplace("*=", np.multiply, other)

    def __itruediv__(self, other: Operand) -> Tensor:
        return self._inplace("/=", np.true_divide, other)

    def zero_(self) -> Tensor:
        """Fill with zeros in place (under no_grad for a tensor that requires grad)."""
        return self.copy_(0)

    def fill_(self, value: float) -> Tensor:
        """Fill with `value` in place."""
        return self.copy_(value)

    def copy_(self, src: Operand) -> Tensor:
        """Copy `src`'s values into this tensor in place (broadcasting, cast to this dtype)."""
        return self._inplace("copy_", lambda a, b, out, casting: np.copyto(out, b, casting=casting), src)

    def backward(self, gradient: Operand | None = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        A non-scalar tensor needs `gradient`, the vector that the Jacobian is multiplied by.
        Buffers saved for backward are freed unless `retain_graph=True`; with
        `create_graph=True` the gradients are themselves recorded, for higher derivatives.
        """
        engine.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------ NumPy interop and display

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

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

    def draw(self, **kwargs: Any) -> Any:
        """Draw the graph that computed this tensor: `tinygrad_edu.viz.draw_graph(self, **kwargs)`."""
        from tinygrad_edu.viz import draw_graph

        return draw_graph(self, **kwargs)

    # ------------------------------------------------------------ primitive ops (see ops.py)

    def __add__(self, other: Operand) -> Tensor:
        return ops.Add.apply(self, other if isinstance(other, Tensor) else self._operand(other))

    def __radd__(self, other: Operand) -> Tensor:
        return ops.Add.apply(self._operand(other), self)

    def __mul__(self, other: Operand) -> Tensor:
        return ops.Mul.apply(self, other if isinstance(other, Tensor) else self._operand(other))

    def __rmul__(self, other: Operand) -> Tensor:
        return ops.Mul.apply(self._operand(other), self)

    def __pow__(self, other: Operand) -> Tensor:
        return ops.Pow.apply(self, other if isinstance(other, Tensor) else self._operand(other))

    def __rpow__(self, other: Operand) -> Tensor:
        return ops.Pow.apply(self._operand(other), self)

    def __matmul__(self, other: Operand) -> Tensor:
        return ops.MatMul.apply(self, other if isinstance(other, Tensor) else self._operand(other))

    def __rmatmul__(self, other: Operand) -> Tensor:
        return ops.MatMul.apply(self._operand(other), self)

    def matmul(self, other: Operand) -> Tensor:
        """Matrix product with NumPy's rules: 1-D, 2-D and batched (broadcast) operands."""
        return self @ other

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def cast(self, dtype: Any) -> Tensor:
        """This tensor in another dtype (gradients are cast back)."""
        dtype = np.dtype(dtype)
        return self if dtype == self.data.dtype else ops.Cast.apply(self, dtype=dtype)

    astype = cast  # NumPy's name, so backward rules can use it on arrays and Tensors alike

    def float(self) -> Tensor:
        return self.cast(np.float32)

    def double(self) -> Tensor:
        return self.cast(np.float64)

    def maximum(self, other: Operand) -> Tensor:
        """Elementwise maximum; on a tie each side gets half the gradient (as in PyTorch)."""
        return ops.Maximum.apply(self, self._operand(other))

    def where(self, condition: Operand, other: Operand) -> Tensor:
        """`self` where `condition` is true, else `other` (PyTorch's `Tensor.where`)."""
        return ops.Where.apply(_condition(condition), self, self._operand(other))

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=_normalize_axis(axis), keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The largest value along `axis`; ties share the gradient equally."""
        return ops.Max.apply(self, axis=_normalize_axis(axis), keepdims=keepdims)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """`t.reshape(2, 3)` or `t.reshape((2, 3))`; one dimension may be -1."""
        shape = _shape_arg(shape)
        return self if shape == self.shape else ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: int) -> Tensor:
        """Reverse the axes (no arguments), permute them (one per axis, like NumPy), or swap
        two of them (two arguments on a tensor of 3 or more dimensions, like PyTorch)."""
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        elif len(axes) == 2 and self.ndim != 2:
            a, b = (axis % self.ndim for axis in axes)
            perm = list(range(self.ndim))
            perm[a], perm[b] = perm[b], perm[a]
            axes = tuple(perm)
        return ops.Transpose.apply(self, axes=tuple(axes))

    permute = transpose

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        """Broadcast to `shape` without copying (NumPy's `broadcast_to`)."""
        shape = _shape_arg(shape)
        return self if shape == self.shape else ops.Expand.apply(self, shape=shape)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=_normalize_index(index))

    def cat(self, *others: Tensor, axis: int = 0) -> Tensor:
        """Concatenate this tensor and `others` along an existing axis."""
        return cat([self, *others], axis=axis)

    # ------------------------------------------------------------ compositions

    def __sub__(self, other: Operand) -> Tensor:
        return self + -self._operand(other)

    def __rsub__(self, other: Operand) -> Tensor:
        return self._operand(other) + -self

    def __truediv__(self, other: Operand) -> Tensor:
        return self * self._operand(other) ** -1

    def __rtruediv__(self, other: Operand) -> Tensor:
        return self._operand(other) * self**-1

    def sqrt(self) -> Tensor:
        return self**0.5

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x), computed without overflow for any x.

        Both 1/(1 + e^-x) and e^x/(1 + e^x) are exact, but each overflows on one side; so
        e = e^-|x| (never above 1) and pick the form by the sign of x.
        """
        positive = self.data >= 0
        e = self.where(~positive, -self).exp()  # e^-|x|, with the right slope on both sides of 0
        r = (1 + e) ** -1
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
        total = self.sum(axis, keepdims)
        count = self.size // total.size if total.size else 0
        return total * (1.0 / count if count else np.nan)

    def var(self, axis: Axis = None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Variance; `correction=1` (the default, as in PyTorch) divides by n - 1."""
        mean = self.mean(axis, keepdims=True)
        centered = self - mean
        dof = self.size // mean.size - correction
        return (centered * centered).sum(axis, keepdims) * (1.0 / dof if dof > 0 else np.nan)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        """Limit values to [lo, hi]; the gradient passes where lo <= x <= hi (as torch.clamp)."""
        inside = np.ones(self.shape, dtype=bool)
        if lo is not None:
            inside &= self.data >= lo
        if hi is not None:
            inside &= self.data <= hi
        return self.where(inside, np.clip(self.data, lo, hi))

    clamp = clip

    def _minus_max(self, axis: int) -> tuple[Tensor, np.ndarray]:
        """x - max(x) along `axis`, and that max: the shift that keeps exp() from overflowing.
        The max is taken as a constant: softmax and friends don't change when it does."""
        top = self.data.max(axis=axis, keepdims=True)
        top = np.where(np.isfinite(top), top, 0)  # a row of -inf stays -inf instead of becoming NaN
        return self + -top, top

    def logsumexp(self, axis: int = -1, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))) along `axis`, with the max subtracted first so exp cannot overflow."""
        shifted, top = self._minus_max(axis)
        out = shifted.exp().sum(axis, keepdims=True).log() + top
        return out if keepdims else out.squeeze(axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log(softmax(x)) = (x - max) - log(sum(exp(x - max))): no overflow, and no log(0)."""
        shifted, _ = self._minus_max(axis)
        return shifted - shifted.exp().sum(axis, keepdims=True).log()

    def softmax(self, axis: int = -1) -> Tensor:
        e = self._minus_max(axis)[0].exp()
        return e / e.sum(axis, keepdims=True)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions `start_dim..end_dim` into one (all of them by default)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(*self.shape[:start], -1, *self.shape[end + 1 :])

    def squeeze(self, axis: Axis = None) -> Tensor:
        """Remove dimensions of size 1 (all of them, or those in `axis`)."""
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = {a % self.ndim for a in (axis if isinstance(axis, tuple) else (axis,))}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes or n != 1))

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a dimension of size 1 at `axis`."""
        axis = axis % (self.ndim + 1)
        return self.reshape(*self.shape[:axis], 1, *self.shape[axis:])

    @property
    def T(self) -> Tensor:
        """The axes reversed (the usual transpose of a matrix)."""
        return self.transpose()

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped: the transpose of each matrix in a batch."""
        axes = list(range(self.ndim))
        axes[-1], axes[-2] = axes[-2], axes[-1]
        return self.transpose(tuple(axes))

    # ------------------------------------------------------------ comparisons (no gradient)

    def _compare(self, ufunc: np.ufunc, other: Operand) -> Tensor:
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

    def __invert__(self) -> Tensor:
        if self.dtype.kind != "b":
            raise DTypeError(f"~: logical not needs a bool tensor, got {self.dtype}")
        return Tensor._wrap(~self.data)

    def any(self) -> bool:
        return bool(self.data.any())

    def all(self) -> bool:
        return bool(self.data.all())

    def argmax(self, axis: int | None = None) -> Tensor:
        return Tensor._wrap(np.asarray(self.data.argmax(axis=axis)))


# ---------------------------------------------------------------- functions on several tensors


def cat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Concatenate tensors along an existing axis (`torch.cat`)."""
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    return ops.Cat.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Stack tensors of one shape along a new axis (`torch.stack`)."""
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {Tensor._convert(t).shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    return cat([Tensor._convert(t).unsqueeze(axis) for t in tensors], axis=axis)


def where(condition: Operand, x: Operand, y: Operand) -> Tensor:
    """`x` where `condition` is true, else `y`, elementwise with broadcasting."""
    if not isinstance(x, Tensor):
        x = y._operand(x) if isinstance(y, Tensor) else Tensor(x)
    return x.where(condition, y)


def _condition(condition: Operand) -> Tensor:
    c = condition if isinstance(condition, Tensor) else Tensor._wrap(np.asarray(condition))
    if c.dtype.kind != "b":
        raise DTypeError(f"where: the condition must be a bool tensor, got {c.dtype}; compare first, e.g. x > 0")
    return c


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _normalize_axis(axis: Axis) -> Axis:
    return tuple(axis) if isinstance(axis, list) else axis


def _normalize_index(index: Any) -> Any:
    """Tensors and lists inside an index become arrays, so NumPy reads them as indices."""
    if isinstance(index, tuple):
        return tuple(_normalize_index(part) for part in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


from tinygrad_edu import ops  # noqa: E402  (ops build on Tensor, and Tensor's methods call ops)
