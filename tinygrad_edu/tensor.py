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
the rest (`sigmoid`, `softmax`, `mean`, ...: `derived.py`) are compositions of them. `backward`
hands the recorded graph to the backward pass (`autograd.py`).
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

from tinygrad_edu import interop, ops
from tinygrad_edu.autograd import Context, Op, backward_pass
from tinygrad_edu.derived import DerivedOps
from tinygrad_edu.dtypes import get_default_dtype, promote_types, scalar_dtype, to_array
from tinygrad_edu.errors import (
    AxisError,
    BackwardError,
    DTypeError,
    ShapeError,
    check_finite,
    check_strict_broadcast,
    describe,
    explain_forward_error,
    normalize_axis,
    user_source_line,
)
from tinygrad_edu.grad_mode import set_grad_enabled, switches
from tinygrad_edu.inplace import InPlaceOps
from tinygrad_edu.interop import NumPyInterop
from tinygrad_edu.versions import changes

Axis = Union[int, tuple[int, ...], None]
Operand = Union["Tensor", float, int, bool, np.ndarray, list]

# ---------------------------------------------------------------- recording an op


def apply(op: type[Op], *inputs: Tensor, **params: Any) -> Tensor:
    """Run `op` on the inputs' arrays and, when a gradient will be needed, record it: the result
    keeps a Context with the op, its inputs and what the op saved. That is one node of the graph.

    Nothing is recorded under `no_grad()`, when no input requires grad, or for an integer or bool
    result (the graph ends there, as in PyTorch).
    """
    # The inputs' arrays, written out for the usual one or two inputs (this runs for every op, and
    # a list comprehension is a function call of its own).
    n = len(inputs)
    arrays = (inputs[0].data,) if n == 1 else (inputs[0].data, inputs[1].data) if n == 2 else [t.data for t in inputs]
    debugging = switches.debugging  # strict_shapes() or detect_anomaly(): off in ordinary runs
    if debugging and switches.strict_shapes and op.broadcasts:
        check_strict_broadcast(op.name, [a.shape for a in arrays])
    ctx = Context(op, inputs)
    try:
        result = op.forward(ctx, *arrays, **params)
    except (ValueError, IndexError, TypeError) as error:
        raise explain_forward_error(op, arrays, error) from None
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
                out._ctx, out.requires_grad = ctx, True
                if ctx.saved:
                    ctx.recorded_at = changes[0]
                    for array in ctx.saved:
                        if array is data:  # the op keeps its output: reach it without a reference cycle
                            ctx.output = weakref.ref(out)
                            break
                if debugging and switches.detect_anomaly:
                    ctx.source = user_source_line()
            break
    if debugging and switches.detect_anomaly:
        check_finite(data, f"the forward of '{op.name}' (inputs {describe(arrays)})", out, ctx.source)
    return out


# ---------------------------------------------------------------- Tensor


class Tensor(DerivedOps, InPlaceOps, NumPyInterop):
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
        self.data: np.ndarray = to_array(data.data if isinstance(data, Tensor) else data, dtype)
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
            return Tensor._wrap(np.asarray(other, dtype=scalar_dtype(self.data.dtype, other)))
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

    def backward(self, gradient: Operand | None = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        A non-scalar tensor needs `gradient`, the vector that the Jacobian is multiplied by.
        Buffers saved for backward are freed unless `retain_graph=True`; with
        `create_graph=True` the gradients are themselves recorded, for higher derivatives.
        """
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

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
            dtype = get_default_dtype()
            return apply(ops.Div, self.cast(dtype), other.cast(dtype))
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

    __hash__ = object.__hash__  # by identity, never by value: tensors are keys of the engine's dicts

    def cat(self, *others: Tensor, axis: int = 0) -> Tensor:
        """Concatenate this tensor and `others` along an existing axis."""
        return cat([self, *others], axis=axis)


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
    return interop.where(Tensor, condition, x, y)


def _promote(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    dtype = promote_types(x.data.dtype, y.data.dtype)
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
    seed = start_gradient(root, gradient, "backward")
    # Arrays that a new `.grad` must not take over, by id: the caller's gradient (and the array it
    # is a view of), and every array already given to a `.grad` (Add passes one array to both of
    # its inputs, Cat hands out slices of one).
    taken = {id(seed.data), id(seed.data.base)}

    def into_grad(t: Tensor, g: Any) -> None:
        if create_graph:
            t._grad = g if t._grad is None else t._grad + g
        elif t._grad is not None:
            t._grad = Tensor._wrap(np.asarray(t._grad.data + g))
        else:  # a .grad owns its memory, copied only when another holds it or it is read-only
            g = np.asarray(g)  # a NumPy scalar, from an op on 0-d arrays, becomes a 0-d array
            base = g.base
            if id(g) in taken or (base is not None and (id(base) in taken or not g.flags.writeable)):
                g = g.copy()
            taken.update((id(g), id(g.base)))
            t._grad = Tensor._wrap(g)

    with set_grad_enabled(create_graph):
        backward_pass([root], [seed if create_graph else seed.data], retain_graph, into_grad, on_step=on_step)


def start_gradient(output: Tensor, gradient: Any, caller: str) -> Tensor:
    """The gradient that starts the backward pass at `output` (for `backward` and `grad`), checked."""
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
