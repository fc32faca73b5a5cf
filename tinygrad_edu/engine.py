"""The backward pass: reverse-mode differentiation over the recorded graph.

1. Count, for every recorded tensor, how many recorded ops used it (`count_consumers`: a walk
   with an explicit stack instead of recursion, so a graph of a million ops needs no deep
   Python stack and takes time linear in its size).
2. Seed the output with its gradient (1 for a scalar loss). A tensor is ready once every op
   that used it has run its backward: its gradient is then complete, so hand it to the op that
   made the tensor (`Function.backward`), which returns one gradient per input. Visiting the
   ready tensors this way goes through the graph in reverse topological order.
3. Fit each of those gradients to its input (sum over broadcast axes, cast the dtype: the one
   place where this happens) and add it to that input's gradient, or to `.grad` for a leaf.

Gradients travel as ndarrays, so the backward rules run as plain NumPy; with
`create_graph=True` they travel as Tensors, and the rules' operations are recorded in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_edu.errors import BackwardError, ShapeError, check_finite
from tinygrad_edu.grad_mode import set_grad_enabled, switches

if TYPE_CHECKING:
    from tinygrad_edu.ops import Context
    from tinygrad_edu.tensor import Tensor


def count_consumers(roots: Sequence[Tensor]) -> dict[int, int]:
    """For every recorded tensor reachable from `roots` (roots included): how many recorded
    ops in that graph use it. A plain walk with an explicit stack, so no recursion."""
    consumers = {id(root): 0 for root in roots if root._ctx is not None}
    stack = list({id(root): root for root in roots if root._ctx is not None}.values())  # each root once
    while stack:
        for parent in stack.pop()._ctx.parents:
            if parent._ctx is not None:
                key = id(parent)
                if key in consumers:
                    consumers[key] += 1
                else:  # first time seen: walk on from it
                    consumers[key] = 1
                    stack.append(parent)
    return consumers


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """`root.backward(...)`: accumulate gradients into `.grad` of the leaves (see Tensor.backward)."""
    _run([root], [_seed(root, gradient, "backward")], retain_graph, create_graph, wanted=None)


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
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise BackwardError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise BackwardError(f"grad: input {i} (shape {t.shape}) does not require grad")
    seeds = [_seed(out, g, "grad") for out, g in zip(outputs, grad_outputs)]
    wanted: dict[int, Tensor | None] = {id(t): None for t in inputs}
    _run(outputs, seeds, create_graph if retain_graph is None else retain_graph, create_graph, wanted)
    result = tuple(wanted[id(t)] for t in inputs)
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None and not allow_unused:
            raise BackwardError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return result


def _run(
    roots: Sequence[Tensor],
    seeds: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    wanted: dict[int, Any] | None,
) -> None:
    """The backward pass itself. `wanted` maps id(tensor) to its gradient for `grad()`;
    when it is None, gradients go to `.grad` as in `backward()`.

    Gradients travel as ndarrays, so the backward rules run as plain NumPy; with
    `create_graph=True` they travel as Tensors and the rules' operations are recorded.
    """
    Tensor = type(roots[0])
    kind = Tensor if create_graph else np.ndarray  # what gradients travel as
    check_anomaly = switches.detect_anomaly
    grads: dict[int, Any] = {}  # id(tensor) -> the gradient it has received so far
    handed_out = {id(seed.data) for seed in seeds}  # arrays that a new .grad must not share

    def accumulate(t: Tensor, g: Any) -> None:
        """Add `g` to the gradient kept for `t`: its `.grad`, or its entry in `wanted`."""
        if wanted is not None:
            if id(t) in wanted:
                wanted[id(t)] = g if wanted[id(t)] is None else wanted[id(t)] + g
            return
        if create_graph:
            t._grad = g if t._grad is None else t._grad + g
        elif t._grad is None:
            # `.grad` gets an array of its own: not a read-only broadcast view, and not one that
            # another `.grad` or the caller also holds (Add hands the same array to both inputs).
            if not g.flags.writeable or id(g) in handed_out:
                g = g.copy()
            handed_out.add(id(g))
            t._grad = Tensor._wrap(g)
        else:
            t._grad = Tensor._wrap(t._grad.data + g)

    with set_grad_enabled(create_graph):
        for root, seed in zip(roots, seeds):
            g = seed if create_graph else seed.data
            if root._ctx is None:
                accumulate(root, g)
            else:
                grads[id(root)] = grads[id(root)] + g if id(root) in grads else g
        # An op's backward runs once every op that used its result has run: then the gradient of
        # that result is complete. This visits the graph in reverse topological order.
        waiting = count_consumers(roots)
        ready = list({id(r): r for r in roots if r._ctx is not None and waiting[id(r)] == 0}.values())
        while ready:
            node = ready.pop()
            ctx = node._ctx
            g = grads.pop(id(node), None)  # None when nothing flowed here
            if g is not None:
                if node._retains_grad or wanted is not None:
                    accumulate(node, g)
                parent_grads = _call_backward(node, g, create_graph)
                if not retain_graph:
                    ctx.free()
            for i, parent in enumerate(ctx.parents):
                pg = parent_grads[i] if g is not None else None
                if pg is not None and parent.requires_grad:
                    if type(pg) is not kind or pg.shape != parent.data.shape or pg.dtype is not parent.data.dtype:
                        pg = _fit(pg, parent, ctx, i, kind)
                    if check_anomaly:
                        check_finite(np.asarray(pg), f"the backward of '{ctx.function.name}' (gradient for input {i})")
                    if parent._ctx is None:
                        accumulate(parent, pg)
                        continue
                    key = id(parent)
                    grads[key] = grads[key] + pg if key in grads else pg
                if parent._ctx is not None:  # one user fewer to wait for
                    key = id(parent)
                    waiting[key] -= 1
                    if waiting[key] == 0:
                        ready.append(parent)
    if wanted is not None and not create_graph:
        for key, g in wanted.items():
            wanted[key] = None if g is None else Tensor._wrap(g)


def _call_backward(node: Tensor, g: Any, create_graph: bool) -> tuple[Any, ...]:
    """Run the backward rule of the op that made `node`: one gradient per input."""
    ctx = node._ctx
    if create_graph:
        ctx.output = node  # lets saved_tensors hand back the result itself as a Tensor
    try:
        result = ctx.function.backward(ctx, g)
    except (ValueError, IndexError, TypeError) as error:
        if isinstance(error, (BackwardError, ShapeError)):
            raise
        raise BackwardError(f"{ctx.function.name}: its backward failed: {error}") from error
    finally:
        if create_graph:
            ctx.output = None  # no reference cycle from the result to itself
    if type(result) is not tuple:
        result = (result,)
    if len(result) != len(ctx.parents):
        raise BackwardError(
            f"{ctx.function.name}: backward returned {len(result)} gradient(s) for {len(ctx.parents)} input(s); "
            "return one per input of forward (None for an input that needs none)"
        )
    return result


def _fit(g: Any, parent: Tensor, ctx: Context, index: int, kind: type) -> Any:
    """Make an op's gradient for input `index` fit that input: the ONE place where broadcast
    gradients are summed back to the input's shape and dtypes are cast back.

    `kind` is what gradients travel as (ndarray, or Tensor under create_graph)."""
    if type(g) is not kind:  # a rule may return an array where a Tensor is expected, or vice versa
        array = g.data if isinstance(g, type(parent)) else np.asarray(g)
        g = array if kind is np.ndarray else type(parent)._wrap(array)
    if g.shape != parent.shape:
        g = _sum_to_shape(g, parent.shape, f"{ctx.function.name}: backward returned", index)
    if g.dtype != parent.dtype:
        g = g.astype(parent.dtype)
    return g


def _sum_to_shape(g: Any, shape: tuple[int, ...], who: str, index: int) -> Any:
    """Sum a gradient over the axes along which its input was broadcast: (3, 4) -> (1, 4) or (4,)."""
    lead = g.ndim - len(shape)
    if lead < 0 or any(n != s and s != 1 for n, s in zip(g.shape[lead:], shape)):
        raise ShapeError(
            f"{who} a gradient of shape {g.shape} for input {index} of shape {shape}; a gradient "
            "must have its input's shape (or a shape that broadcasting made from it)"
        )
    broadcast = tuple(lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=tuple(range(lead)) + broadcast, keepdims=True).reshape(shape)


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
        return type(output)._wrap(np.ones_like(output.data))
    seed = gradient if isinstance(gradient, type(output)) else type(output)(gradient, dtype=output.dtype)
    if seed.shape != output.shape:
        raise ShapeError(f"{caller}: gradient has shape {seed.shape} but the output has shape {output.shape}")
    return seed if seed.dtype == output.dtype else seed.cast(output.dtype)


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)
