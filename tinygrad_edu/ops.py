"""The primitives: every op the engine knows a derivative for, one class each.

`forward(ctx, *arrays)` computes the result with NumPy and saves what backward needs;
`backward(ctx, grad)` gets ∂L/∂out, the gradient of the loss with respect to the op's result, and
returns ∂L/∂input for each input, in that input's shape: the chain rule, one op at a time. The
derivative is in each class's docstring.

The rules are plain NumPy. In an ordinary backward they run on ndarrays and cost exactly the
NumPy they call; under `backward(create_graph=True)` the same lines run on Tensors, so they are
recorded in turn, which is all that higher derivatives need.

Everything else (`sigmoid`, `softmax`, `mean`, losses, layers, ...) is a composition of these,
written as Tensor methods in `derived.py` and in `nn`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.autograd import Context, Op
from tinygrad_edu.errors import matmul_mismatch


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum `grad` back to an input's `shape` after broadcasting stretched that input.

    An input broadcast along an axis was used once per position of that axis, so its gradient
    is the sum of the gradients of all those uses: for `x (3, 4) + b (4,)`, ∂L/∂b = Σ_rows ∂L/∂out.

    >>> unbroadcast(np.ones((3, 4)), (4,)).tolist()
    [3.0, 3.0, 3.0, 3.0]
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)  # axes that broadcasting added in front
    axes = list(range(lead))
    for i, n in enumerate(shape):  # and the axes of size 1 that it stretched
        if n == 1 and grad.shape[lead + i] != 1:
            axes.append(lead + i)
    return grad.sum(axis=tuple(axes), keepdims=True).reshape(shape)


# ---------------------------------------------------------------- elementwise, one input


class Neg(Op):
    """-x.  ∂(-x)/∂x = -1."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        return np.negative(x)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return -grad


class Exp(Op):
    """e^x.  ∂e^x/∂x = e^x: keep the result, not the input."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (out,) = ctx.saved_tensors
        return grad * out


class Log(Op):
    """ln x.  ∂ln x/∂x = 1/x."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (x,) = ctx.saved_tensors
        return grad / x


class ReLU(Op):
    """max(x, 0).  ∂/∂x = 1 where x > 0, else 0 (0 at the kink, as PyTorch): a mask."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        out = np.maximum(x, 0)
        ctx.save_for_backward(out > 0)  # a bool mask: a quarter of the bytes of x
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (mask,) = ctx.saved_tensors
        return grad * mask


class Tanh(Op):
    """tanh x.  ∂tanh x/∂x = 1 - tanh² x: keep the result."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (out,) = ctx.saved_tensors
        return grad * (1 - out * out)


class Abs(Op):
    """|x|.  ∂|x|/∂x = sign(x) (0 at 0, as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(np.sign(x))
        return np.abs(x)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (sign,) = ctx.saved_tensors
        return grad * sign


class Cast(Op):
    """x in another float dtype.  ∂/∂x = 1, in x's dtype. (A cast to an integer or bool dtype
    is never recorded: the graph ends there, as in PyTorch.)"""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, dtype: np.dtype) -> np.ndarray:
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad.astype(ctx.input_dtype)


# ---------------------------------------------------------------- elementwise, two inputs (broadcasting)
# An input that broadcasting stretched gets the sum of its gradients: `unbroadcast`.


class Add(Op):
    """x + y.  ∂/∂x = ∂/∂y = 1: the gradient passes to both inputs unchanged."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.shapes = x.shape, y.shape
        return x + y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        x_shape, y_shape = ctx.shapes
        return unbroadcast(grad, x_shape), unbroadcast(grad, y_shape)


class Sub(Op):
    """x - y.  ∂/∂x = 1, ∂/∂y = -1."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.shapes = x.shape, y.shape
        return x - y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        x_shape, y_shape = ctx.shapes
        need_x, need_y = ctx.needs_input_grad
        return unbroadcast(grad, x_shape) if need_x else None, unbroadcast(-grad, y_shape) if need_y else None


class Mul(Op):
    """x * y.  ∂/∂x = y, ∂/∂y = x: each input's gradient is the other input times grad."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (
            unbroadcast(grad * y, x.shape) if need_x else None,
            unbroadcast(grad * x, y.shape) if need_y else None,
        )


class Div(Op):
    """x / y.  ∂/∂x = 1/y, ∂/∂y = -x/y²."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return x / y

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        grad_x = grad / y
        return (
            unbroadcast(grad_x, x.shape) if need_x else None,
            unbroadcast(-grad_x * x / y, y.shape) if need_y else None,
        )


class Pow(Op):
    """x ** y.  ∂/∂x = y·x^(y-1), ∂/∂y = x^y·ln x, with PyTorch's values where x = 0: the first
    is 0 when y = 0 and the second is 0 when y ≥ 0 (instead of 0·∞ = NaN)."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.power(x, y)
        ctx.save_for_backward(x, y, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        x, y, out = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        grad_x = grad_y = None
        if need_x:  # y = 0 gives 0·x¹ = 0: no 0^(-1) is ever computed
            grad_x = unbroadcast(grad * y * x ** np.where(y == 0, 1, y - 1), x.shape)
        if need_y:  # ln 1 = 0 stands in for ln 0 where PyTorch's derivative is 0
            grad_y = unbroadcast(grad * out * np.log(np.where((x == 0) & (y >= 0), 1, x)), y.shape)
        return grad_x, grad_y


class Maximum(Op):
    """max(x, y) elementwise.  The gradient goes to the larger input; on a tie each gets half
    (as PyTorch)."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.maximum(x, y)
        x_share = np.array(x > y, dtype=out.dtype)  # in the result's dtype, no float64 temporaries
        x_share[x == y] = 0.5
        ctx.save_for_backward(x_share)
        ctx.shapes = x.shape, y.shape
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        (x_share,) = ctx.saved_tensors
        x_shape, y_shape = ctx.shapes
        return unbroadcast(grad * x_share, x_shape), unbroadcast(grad * (1 - x_share), y_shape)


class Where(Op):
    """condition ? x : y.  The gradient goes to x where the condition holds, to y elsewhere."""

    broadcasts = True

    @staticmethod
    def forward(ctx: Context, condition: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(condition)
        ctx.shapes = x.shape, y.shape
        return np.where(condition, x, y)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[None, Any, Any]:
        (condition,) = ctx.saved_tensors
        x_shape, y_shape = ctx.shapes
        # where(), not a product with the mask, so an Inf in grad cannot leak into the branch that
        # was not chosen as inf * 0 = NaN.
        return (
            None,
            unbroadcast(np.where(condition, grad, 0), x_shape),
            unbroadcast(np.where(condition, 0, grad), y_shape),
        )


# ---------------------------------------------------------------- reductions


class Sum(Op):
    """Σ x over `axis`.  ∂/∂x_i = 1: every element gets the gradient of the sum it was part of."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis: tuple[int, ...] | None, keepdims: bool = False) -> np.ndarray:
        ctx.input_shape, ctx.kept_shape = x.shape, _kept_shape(x.shape, axis)
        if x.dtype == np.float16:  # summed in float32, as PyTorch does: float16 loses the small terms
            return x.sum(axis=axis, keepdims=keepdims, dtype=np.float32).astype(np.float16)
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad.reshape(ctx.kept_shape) * np.ones(ctx.input_shape, grad.dtype)


class Max(Op):
    """max x over `axis`.  The gradient goes to the largest element(s), shared equally between
    ties (as `torch.amax`)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axis: tuple[int, ...] | None, keepdims: bool = False) -> np.ndarray:
        out = np.max(x, axis=axis, keepdims=True)
        winners = x == out
        ctx.save_for_backward((winners / winners.sum(axis=axis, keepdims=True)).astype(x.dtype))
        ctx.kept_shape = out.shape
        return out if keepdims else np.squeeze(out, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        (share,) = ctx.saved_tensors
        return grad.reshape(ctx.kept_shape) * share


def _kept_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape of a reduction over `axis` with keepdims=True: (2, 3, 4) over (1,) -> (2, 1, 4)."""
    return tuple(1 if axis is None or i in axis else n for i, n in enumerate(shape))


# ---------------------------------------------------------------- movement: gradients move back


class Reshape(Op):
    """x with a new shape.  The gradient is reshaped back."""

    view = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        ctx.input_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad.reshape(ctx.input_shape)


class Transpose(Op):
    """x with its axes permuted.  The gradient is permuted back (the inverse permutation)."""

    view = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, axes: tuple[int, ...]) -> np.ndarray:
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        inverse = sorted(range(len(ctx.axes)), key=ctx.axes.__getitem__)  # where each axis went
        return grad.transpose(tuple(inverse))


class Expand(Op):
    """x broadcast to a bigger shape.  Each element was used many times: their gradients add up."""

    view = True

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
        ctx.input_shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return unbroadcast(grad, ctx.input_shape)


class GetItem(Op):
    """x[index].  The gradient goes back to the positions that were picked (added up where an
    integer array picked one position twice), zeros elsewhere."""

    name = "getitem"
    view = True  # basic slicing gives a view

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, index: Any) -> np.ndarray:
        ctx.input_shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return scatter_add(grad, ctx.index, ctx.input_shape)


class ScatterAdd(Op):
    """Zeros of `shape` with x added at `index`: the backward of indexing, and the reverse.
    The gradient is picked back out at `index`."""

    name = "scatter_add"

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        ctx.index = index
        out = np.zeros(shape, dtype=x.dtype)
        if _picks_with_arrays(index):
            np.add.at(out, index, x)  # an integer array may pick a position twice: each must add up
        else:
            out[index] = x
        return out

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        return grad[ctx.index]


def scatter_add(values: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """ScatterAdd's result: computed for an ndarray, recorded as the op for a Tensor (under
    create_graph), since NumPy has no function of its own for it that a Tensor could take over."""
    if isinstance(values, (np.ndarray, np.generic)):
        return ScatterAdd.forward(Context(ScatterAdd, ()), values, index=index, shape=shape)
    return values._scatter_add(index, shape)


def _picks_with_arrays(index: Any) -> bool:
    for part in index if isinstance(index, tuple) else (index,):
        if isinstance(part, np.ndarray) and part.dtype.kind in "iu":
            return True
    return False


class Cat(Op):
    """Inputs joined along `axis`.  Each input gets its own slice of the gradient back."""

    @staticmethod
    def forward(ctx: Context, *xs: np.ndarray, axis: int) -> np.ndarray:
        ctx.axis, ctx.ends = axis, np.cumsum([x.shape[axis] for x in xs]).tolist()
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, ...]:
        before = (slice(None),) * ctx.axis
        starts = [0, *ctx.ends[:-1]]
        return tuple(grad[(*before, slice(start, end))] for start, end in zip(starts, ctx.ends))


# ---------------------------------------------------------------- matrix product


class MatMul(Op):
    """x @ y.  ∂L/∂x = ∂L/∂out · yᵀ and ∂L/∂y = xᵀ · ∂L/∂out (a vector acts as a row on the
    left and as a column on the right; batch axes that broadcasting added are summed)."""

    name = "matmul"

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError("both operands need at least one dimension; use * to multiply by a scalar")
        ctx.save_for_backward(x, y)
        return _matmul(x, y)

    @staticmethod
    def backward(ctx: Context, grad: Any) -> tuple[Any, Any]:
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        x2 = x.reshape(1, -1) if x.ndim == 1 else x  # (k,) as a row (1, k)
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y  # (k,) as a column (k, 1)
        g = grad
        if x.ndim != 2 or y.ndim != 2:  # the gradient of a vector or batched product, as matrices
            g = grad.reshape(*np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2]), x2.shape[-2], y2.shape[-1])
        grad_x = grad_y = None
        if need_x:
            grad_x = unbroadcast(_matmul(g, y2.mT), x2.shape).reshape(x.shape)
        if need_y:
            if g.ndim == 2 and y2.ndim == 2 and _is_transposed(y2):
                # y is a transposed view (x @ W.T in a Linear layer): compute its gradient in y's
                # layout, so W's gradient comes out contiguous, as PyTorch's does.
                grad_y = _matmul(g.mT, x2).mT
            else:
                grad_y = unbroadcast(_matmul(x2.mT, g), y2.shape)
            grad_y = grad_y.reshape(y.shape)
        return grad_x, grad_y

    explain_error = staticmethod(matmul_mismatch)  # the message when forward fails


def _is_transposed(a: Any) -> bool:
    return isinstance(a, np.ndarray) and a.flags.f_contiguous and not a.flags.c_contiguous


def _matmul(x: Any, y: Any) -> Any:
    # np.dot takes BLAS's fast path for transposed 2-D operands, where np.matmul can be several
    # times slower (the (256, 1) x (1, 784) outer product of a batch of one).
    return np.dot(x, y) if x.ndim <= 2 and y.ndim <= 2 else np.matmul(x, y)
