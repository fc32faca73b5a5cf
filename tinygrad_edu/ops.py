"""The op definitions: how an op is defined and recorded (`Function`), then every primitive.

An op is a subclass of `Function` with two static methods:

- `forward(ctx, *arrays, **params)` computes the result with NumPy, and saves on `ctx` only
  what its backward will need;
- `backward(ctx, grad)` receives the gradient of the loss with respect to the op's result and
  returns one gradient per input (None for an input that needs none).

A backward rule is written once, with the operators and methods that NumPy arrays and Tensors
share (`* / + - ** @`, indexing, `.reshape`, `.transpose`, `.sum`, `.mT`, `.astype`, ...) and the
few helpers below for what they spell differently. An ordinary `backward()` runs the rule on
ndarrays, so it costs exactly the NumPy it calls; `backward(create_graph=True)` runs the same
lines on Tensors, which records them, and that is all higher-order gradients need.

Two jobs are done once, in the engine, instead of in every op:
- a gradient for a broadcast input comes back in the broadcast shape and the engine sums it
  back to the input's shape (so `Add.backward` is just `grad, grad`);
- a gradient whose dtype differs from its input's is cast back.

Everything else (`sub`, `div`, `sigmoid`, `softmax`, `mean`, ...) is a composition of these
primitives, defined as a Tensor method in `tensor.py`. Users add ops the same way:

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

from __future__ import annotations

from typing import Any, ClassVar, Union

import numpy as np

from tinygrad_edu.errors import (
    BackwardError,
    ShapeError,
    broadcast_mismatch,
    check_finite,
    describe,
    grows_both,
)
from tinygrad_edu.grad_mode import switches
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tensor import where as tensor_where

# What a backward rule computes with: ndarrays normally, Tensors under create_graph=True.
Value = Union[np.ndarray, Tensor]

_FREED = object()  # marks saved buffers released by a backward pass without retain_graph


class Context:
    """What one recorded op keeps for its backward pass.

    `parents` are its input Tensors, `needs_input_grad` says which of them want a gradient, and
    `save_for_backward` keeps arrays until backward. Ops may also set plain attributes on it
    (shapes, axes): small values that are not freed.
    """

    # Class-level defaults, so that making a Context (one per op) costs almost nothing.
    parents: tuple[Tensor, ...] = ()
    function: type[Function]
    output: Tensor | None = None  # the op's result; set by the engine while create_graph runs a rule
    _saved: Any = ()

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input: does it want a gradient? A rule can skip the work for those that don't."""
        return tuple([parent.requires_grad for parent in self.parents])

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        """Keep arrays for backward; they are freed after it unless `retain_graph=True`.

        With `create_graph=True`, an array that is one of the op's inputs or its output comes
        back in `saved_tensors` as that Tensor, so higher-order gradients flow through it; any
        other array (a mask, an index) stays a constant.
        """
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple[Value, ...]:
        """The arrays given to `save_for_backward` (as Tensors under create_graph=True)."""
        if self._saved is _FREED:
            raise BackwardError(
                f"{self.function.name}: its saved buffers were freed by an earlier backward pass, "
                "so a second backward through this graph cannot run. Pass retain_graph=True to "
                "the first backward() (or grad()) if you need to go through the graph twice."
            )
        if not switches.grad_enabled:
            return self._saved  # an ordinary backward pass: the arrays themselves
        return tuple(self._as_tensor(array) for array in self._saved)

    def _as_tensor(self, array: np.ndarray) -> Tensor | np.ndarray:
        for parent in self.parents:
            if parent.data is array:
                return parent
        if self.output is not None and self.output.data is array:
            return self.output
        return array

    def free(self) -> None:
        self._saved = _FREED

    @property
    def saved_nbytes(self) -> int:
        """Bytes of the arrays this op keeps for backward (0 once freed)."""
        if self._saved is _FREED:
            return 0
        return sum(a.nbytes for a in self._saved if isinstance(a, np.ndarray))


class Function:
    """Base class of every op, built-in or user-defined; see the module docstring."""

    name: ClassVar[str] = "function"
    # Elementwise ops broadcast their inputs, so `strict_shapes()` checks them.
    broadcasts: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()

    @staticmethod
    def forward(ctx: Context, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on Tensors (other values are converted) and record it when needed.

        Keyword arguments are passed to `forward` unchanged (axes, shapes, indices).
        """
        arrays = [t.data for t in inputs if isinstance(t, Tensor)]
        if len(arrays) != len(inputs):  # numbers, lists or arrays given to a custom op
            inputs = tuple(map(Tensor._convert, inputs))
            arrays = [t.data for t in inputs]
        if switches.strict_shapes and cls.broadcasts:
            _check_strict(cls.name, arrays)
        ctx = Context()
        try:
            result = cls.forward(ctx, *arrays, **params)
        except (ValueError, IndexError, TypeError) as error:
            if isinstance(error, (ShapeError, BackwardError)):
                raise
            raise _explain(cls, arrays, error) from None
        if type(result) is not np.ndarray:  # NumPy gives scalars for 0-d results
            array = np.asarray(result)
            ctx._saved = tuple(array if saved is result else saved for saved in ctx._saved)  # still "the output"
            result = array
        out = Tensor._wrap(result)
        if switches.grad_enabled:
            for t in inputs:
                if t.requires_grad:  # record the op: the result remembers how it was made
                    out.requires_grad = True
                    ctx.parents, ctx.function = inputs, cls
                    out._ctx = ctx
                    break
        if switches.detect_anomaly:
            check_finite(out.data, f"the forward of '{cls.name}' (inputs {describe(arrays)})")
        return out


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


def _explain(cls: type[Function], arrays: list[np.ndarray], error: Exception) -> Exception:
    """Turn a NumPy error raised inside `cls.forward` into one that names the op and inputs."""
    explain = getattr(cls, "explain_error", None)
    message = explain(arrays) if explain is not None else None
    if message is None and cls.broadcasts and len(arrays) >= 2:
        reason = broadcast_mismatch(arrays[0].shape, arrays[1].shape)
        if reason is not None:
            message = f"shapes {arrays[0].shape} and {arrays[1].shape} cannot be broadcast: {reason}"
    if message is None:
        message = f"{error} (inputs: {describe(arrays)})"
    kind = ShapeError if isinstance(error, ValueError) else type(error)
    return kind(f"{cls.name}: {message}")


# ---------------------------------------------------------------- helpers for backward rules
# A rule gets ndarrays in an ordinary backward and Tensors under create_graph=True; these do
# what the two types spell differently.


def log(x: Value) -> Value:
    return x.log() if isinstance(x, Tensor) else np.log(x)


def where(condition: np.ndarray, x: Value | float, y: Value | float) -> Value:
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        return tensor_where(condition, x, y)
    return np.where(condition, x, y)


def matmul(x: Value, y: Value) -> Value:
    if isinstance(x, Tensor) or isinstance(y, Tensor):
        return x @ y
    # np.dot takes BLAS's fast path for transposed 2-D operands; np.matmul can be several times
    # slower there (the (256, 1) x (1, 784) outer product of a batch of one).
    return np.dot(x, y) if x.ndim <= 2 and y.ndim <= 2 else np.matmul(x, y)


def expand(x: Value, shape: tuple[int, ...]) -> Value:
    return x.expand(shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def scatter_add(x: Value, index: object, shape: tuple[int, ...]) -> Value:
    if isinstance(x, Tensor):
        return ScatterAdd.apply(x, index=index, shape=shape)
    return _scatter_add(x, index, shape)


def _scatter_add(x: np.ndarray, index: object, shape: tuple[int, ...]) -> np.ndarray:
    """Zeros of `shape` with `x` added at `index`."""
    out = np.zeros(shape, dtype=x.dtype)
    if _is_advanced(index):
        np.add.at(out, index, x)  # an integer array may repeat an index: each copy must add up
    else:
        out[index] = x
    return out


def _is_advanced(index: object) -> bool:
    """True when `index` holds an integer array, which may pick the same element twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


# ---------------------------------------------------------------- elementwise, one input


class Neg(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        return np.negative(x)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        return -grad


class Exp(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        out = np.exp(x)
        ctx.save_for_backward(out)  # d/dx e^x = e^x: keep the result, not the input
        return out

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        (x,) = ctx.saved_tensors
        return grad / x


class ReLU(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        mask = x > 0  # the derivative is 1 where x > 0 and 0 elsewhere (0 at the kink, like PyTorch)
        ctx.save_for_backward(mask)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        (mask,) = ctx.saved_tensors
        return grad * mask


class Tanh(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)


class Abs(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(np.sign(x))  # the derivative; 0 at 0, like PyTorch
        return np.abs(x)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        (sign,) = ctx.saved_tensors
        return grad * sign


class Cast(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, dtype: np.dtype) -> np.ndarray:
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        return grad.astype(ctx.input_dtype)


# ---------------------------------------------------------------- elementwise, two inputs


class Add(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x + y

    @staticmethod
    def backward(ctx: Context, grad: Value) -> tuple[Value, Value]:
        return grad, grad


class Mul(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx: Context, grad: Value) -> tuple[Value | None, Value | None]:
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (grad * y if need_x else None), (grad * x if need_y else None)


class Pow(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.power(x, y)
        ctx.save_for_backward(x, y, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Value) -> tuple[Value | None, Value | None]:
        x, y, out = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        dx = grad * y * x ** (y - 1) if need_x else None  # d/dx x^y = y x^(y-1)
        dy = grad * out * log(x) if need_y else None  # d/dy x^y = x^y ln x
        return dx, dy


class Maximum(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.maximum(x, y)
        # x's share of the gradient: 1 where x wins, 0 where y wins, half each on a tie (as PyTorch).
        ctx.save_for_backward(((x > y) + 0.5 * (x == y)).astype(out.dtype))
        return out

    @staticmethod
    def backward(ctx: Context, grad: Value) -> tuple[Value, Value]:
        (x_share,) = ctx.saved_tensors
        return grad * x_share, grad * (1 - x_share)


class Where(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx: Context, condition: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(condition)
        return np.where(condition, x, y)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> tuple[None, Value, Value]:
        (condition,) = ctx.saved_tensors
        # where(), not a product with the mask, so that an Inf in grad cannot leak into the
        # branch that was not chosen as inf * 0 = NaN.
        return None, where(condition, grad, 0), where(condition, 0, grad)


# ---------------------------------------------------------------- reductions


def _kept_shape(shape: tuple[int, ...], axis: int | tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape of a reduction over `axis` with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis=None, keepdims: bool = False) -> np.ndarray:
        ctx.input_shape, ctx.kept_shape = x.shape, _kept_shape(x.shape, axis)
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        # Every input element contributed once: copy the gradient back along the summed axes.
        return expand(grad.reshape(ctx.kept_shape), ctx.input_shape)


class Max(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis=None, keepdims: bool = False) -> np.ndarray:
        out = np.max(x, axis=axis, keepdims=True)
        winners = x == out
        # The gradient goes to the maximal elements, shared equally between ties (as torch.amax).
        ctx.save_for_backward((winners / winners.sum(axis=axis, keepdims=True)).astype(x.dtype))
        ctx.kept_shape = out.shape
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        (share,) = ctx.saved_tensors
        return grad.reshape(ctx.kept_shape) * share


# ---------------------------------------------------------------- movement


class Reshape(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        ctx.input_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        return grad.reshape(ctx.input_shape)


class Transpose(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        return grad.transpose(tuple(np.argsort(ctx.axes)))  # the inverse permutation


class Expand(Function):
    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        return grad  # the engine sums a broadcast gradient back to the input's shape


class GetItem(Function):
    name = "getitem"

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, index: object) -> np.ndarray:
        ctx.input_shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        return scatter_add(grad, ctx.index, ctx.input_shape)


class ScatterAdd(Function):
    """Zeros of `shape` with `x` added at `index`: the backward of indexing, and vice versa."""

    name = "scatter_add"

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, index: object, shape: tuple[int, ...]) -> np.ndarray:
        ctx.index = index
        return _scatter_add(x, index, shape)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> Value:
        return grad[ctx.index]


class Cat(Function):
    @staticmethod
    def forward(ctx: Context, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        out = np.concatenate(xs, axis=axis)
        ctx.axis, ctx.ends = axis % out.ndim, np.cumsum([x.shape[axis] for x in xs]).tolist()
        return out

    @staticmethod
    def backward(ctx: Context, grad: Value) -> tuple[Value, ...]:
        before = (slice(None),) * ctx.axis
        starts = [0, *ctx.ends[:-1]]
        return tuple(grad[(*before, slice(s, e))] for s, e in zip(starts, ctx.ends))


# ---------------------------------------------------------------- matrix product


class MatMul(Function):
    name = "matmul"

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError("both operands need at least one dimension; use * to multiply by a scalar")
        ctx.save_for_backward(x, y)
        return matmul(x, y)

    @staticmethod
    def backward(ctx: Context, grad: Value) -> tuple[Value | None, Value | None]:
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        # A vector acts as a matrix: x of shape (k,) as a row (1, k), y of shape (k,) as a column (k, 1).
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        g = grad.reshape(*np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2]), x2.shape[-2], y2.shape[-1])
        dx = dy = None
        if need_x:  # z = x y  =>  dL/dx = dL/dz y^T  (the engine sums the batch axes x was broadcast over)
            dx = matmul(g, y2.mT)
            dx = dx.reshape(*dx.shape[:-2], dx.shape[-1]) if x.ndim == 1 else dx
        if need_y:  # dL/dy = x^T dL/dz
            if g.ndim == 2 and y2.ndim == 2 and _is_transposed(y2):
                # y is a transposed view (x @ W.T in a Linear layer): compute the gradient in
                # y's own layout, so that W's gradient comes out contiguous, as PyTorch does.
                dy = matmul(g.mT, x2).mT
            else:
                dy = matmul(x2.mT, g)
            dy = dy.reshape(dy.shape[:-1]) if y.ndim == 1 else dy
        return dx, dy

    @staticmethod
    def explain_error(arrays: list[np.ndarray]) -> str | None:
        a, b = arrays
        if a.ndim == 0 or b.ndim == 0:
            return f"shapes {a.shape} and {b.shape}: both operands need at least one dimension; use * instead"
        left, right = a.shape[-1], b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if left != right:
            hint = "; did you mean b.T?" if b.ndim == 2 and b.shape[-1] == left else ""
            return (
                f"shapes {a.shape} and {b.shape} are not aligned: {left} (dim {a.ndim - 1} of the left) "
                f"!= {right} (dim {max(b.ndim - 2, 0)} of the right){hint}"
            )
        return None


def _is_transposed(a: Value) -> bool:
    flags = a.data.flags if isinstance(a, Tensor) else a.flags
    return flags.f_contiguous and not flags.c_contiguous
