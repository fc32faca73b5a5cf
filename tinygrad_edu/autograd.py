"""Reverse-mode differentiation: what an op records (`Context`), how an op is defined (`Op`), the
one graph walk (`toposort`) and the backward pass (`backward_pass`).

The backward pass is the chain rule, applied from the output back to the leaves. Every op knows
its local derivative (`Op.backward`: given ∂L/∂out, return ∂L/∂input for each input). Walk the
graph so that a tensor is visited only after every tensor made from it: by then all the
gradients that flow into it have arrived and been added up, so its gradient is complete and can
be handed to the op that made it. A topological order, reversed, is exactly such a walk.

This module knows nothing of `Tensor` (which is built on top of it): it needs only `._ctx`,
`.requires_grad` and `.data` of the tensors it walks.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.errors import BackwardError, InPlaceError, ShapeError, check_finite
from tinygrad_edu.grad_mode import switches

# ---------------------------------------------------------------- how an op is defined and recorded


class Op:
    """A primitive: `forward(ctx, *arrays, **params)` computes the result with NumPy and saves on
    `ctx` what backward needs; `backward(ctx, grad)` gets ∂L/∂out and returns ∂L/∂input for each
    input, in that input's shape (None for an input that needs none). See `ops.py`.

    Backward rules are written in plain NumPy (`np.where`, `np.log`, `*`, ...). An ordinary
    backward runs them on ndarrays; `backward(create_graph=True)` runs the same lines on Tensors,
    which implement NumPy's protocols, so they are recorded and can be differentiated again.
    """

    name: ClassVar[str] = "op"
    broadcasts: ClassVar[bool] = False  # elementwise with broadcasting: `strict_shapes()` checks it
    view: ClassVar[bool] = False  # its result may share memory with its first input

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()

    @staticmethod
    def forward(ctx: Context, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError("an op must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise NotImplementedError("an op must define backward(ctx, grad)")


class Context:
    """What one recorded op keeps for its backward pass.

    `parents` are its input tensors. `save_for_backward(...)` keeps arrays until backward: an
    array that is one of the op's inputs or its output is remembered as that tensor, with its
    version, so that a backward after an in-place change to it raises instead of computing a
    wrong gradient, and so that `create_graph=True` differentiates through it; any other array
    (a mask, a share of a tie) is a constant. Ops may also set small plain attributes (shapes,
    axes), which are not freed.
    """

    op: type[Op]
    parents: tuple[Any, ...] = ()
    saved: tuple[Any, ...] | None = ()  # None once freed by a backward pass
    saved_from: tuple[int | None, ...] = ()  # per saved array: input index, -1 for the output, None
    versions: tuple[tuple[int, list[int], int], ...] = ()  # (input index or -1, its counter, version then)
    output: Callable[[], Any] | None = None  # a weak reference: the output already holds this Context
    source: tuple[str, int, str] | None = None  # the user's line that made the op (detect_anomaly only)

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward; they are freed after it unless `retain_graph=True`."""
        self.saved = arrays

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input: does it want a gradient? A rule can skip the work for those that don't."""
        return tuple([parent.requires_grad for parent in self.parents])

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """What forward saved: arrays in an ordinary backward; under `create_graph=True` the
        saved inputs and output as the Tensors they are, so the rule is recorded through them."""
        if self.saved is None:
            raise BackwardError(
                f"{self.op.name}: its saved buffers were freed by an earlier backward pass, so a second "
                "backward through this graph cannot run. Pass retain_graph=True to the first backward() "
                "(or grad()) if you need to go through the graph twice."
            )
        if not switches.grad_enabled:
            return self.saved
        return tuple(
            array if i is None else self.output() if i < 0 else self.parents[i]
            for array, i in zip(self.saved, self.saved_from)
        )

    @property
    def saved_nbytes(self) -> int:
        """Bytes of the arrays this op keeps for backward (0 once freed)."""
        return sum(a.nbytes for a in self.saved if isinstance(a, np.ndarray)) if self.saved else 0

    def remember_saved(self, arrays: Sequence[np.ndarray], result: Any, output: Any) -> None:
        """Find which saved arrays are the op's inputs (`arrays`) or its `result`, and note the
        version of each such tensor now."""
        saved_from, versions = [], []
        for array in self.saved:
            i = next((i for i, a in enumerate(arrays) if a is array), -1 if array is result else None)
            if i is not None:
                counter = (output if i < 0 else self.parents[i])._version_counter()
                versions.append((i, counter, counter[0]))
            saved_from.append(i)
        if -1 in saved_from:
            self.output = weakref.ref(output)
        self.saved_from, self.versions = tuple(saved_from), tuple(versions)

    def check_versions(self, output: Any) -> None:
        """Raise if a tensor this op saved was changed in place since (PyTorch's version counters)."""
        for i, counter, version in self.versions:
            if counter[0] != version:
                tensor = output if i < 0 else self.parents[i]
                what = "its output" if i < 0 else f"its input {i}"
                label = f"'{tensor.name}'" if tensor.name else f"of shape {tensor.shape}"
                raise InPlaceError(
                    f"{self.op.name}: the tensor {label} ({what}), saved for the backward pass, was changed "
                    f"in place after the op used it (version {version} then, {counter[0]} now), so its "
                    "gradient would be computed from the new values. Run backward() before changing it "
                    "(e.g. before optimizer.step()), or give the op a copy: x.clone() / x.detach() * 1."
                )


# ---------------------------------------------------------------- the graph walk


def toposort(roots: Iterable[Any]) -> list[Any]:
    """Every tensor that `roots` were computed from (roots and leaves included), each once, in
    topological order: a tensor comes after all the tensors it was computed from.

    An explicit stack instead of recursion, so a graph of a million ops needs no deep Python
    stack, and time linear in the size of the graph.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> y = (x * x).sum()
    >>> [t.op or t.name for t in toposort([y])]
    ['x', 'mul', 'sum']
    """
    order: list[Any] = []
    visited: set[int] = set()
    stack = [(root, False) for root in roots]
    while stack:
        t, parents_done = stack.pop()
        if parents_done:  # all of t's inputs are in `order`: t may follow them
            order.append(t)
        elif id(t) not in visited:
            visited.add(id(t))
            stack.append((t, True))
            if t._ctx is not None:
                stack.extend((p, False) for p in reversed(t._ctx.parents) if id(p) not in visited)
    return order


# ---------------------------------------------------------------- the backward pass


def backward_pass(
    roots: Sequence[Any],
    seeds: Sequence[Any],
    retain_graph: bool,
    receive: Callable[[Any, Any], None],
    wanted: set[int] | frozenset[int] = frozenset(),
    on_step: Callable[[Any, Any, tuple[Any, ...]], None] | None = None,
) -> None:
    """Push the gradients `seeds` (∂L/∂root for each root) back through the graph.

    `receive(tensor, grad)` gets the complete gradient of every leaf, of every tensor that called
    `retain_grad()` and of those whose id is in `wanted`; `on_step(tensor, grad, input_grads)`
    sees every op's backward as it runs. Gradients are ndarrays, or Tensors when grad mode is on
    (`create_graph=True`).
    """
    grads: dict[int, Any] = {}
    for root, seed in zip(roots, seeds):
        grads[id(root)] = grads[id(root)] + seed if id(root) in grads else seed
    for t in reversed(toposort(roots)):  # every tensor after all the tensors made from it
        grad = grads.pop(id(t), None)
        if grad is None:  # nothing flowed here
            continue
        ctx = t._ctx
        if ctx is None or t._retains_grad or id(t) in wanted:
            receive(t, grad)
        if ctx is None:
            continue
        input_grads = run_backward(ctx, t, grad)
        if on_step is not None:
            on_step(t, grad, input_grads)
        if not retain_graph:
            ctx.saved = None  # free the saved buffers
        for parent, g in zip(ctx.parents, input_grads):
            if g is not None:  # gradients from several uses of one tensor add up
                grads[id(parent)] = grads[id(parent)] + g if id(parent) in grads else g


def run_backward(ctx: Context, output: Any, grad: Any) -> tuple[Any, ...]:
    """Run the rule of the op that made `output`: one gradient per input, checked against that
    input (shape, dtype, NaN under detect_anomaly), None for inputs that want none."""
    ctx.check_versions(output)
    op = ctx.op
    try:
        result = op.backward(ctx, grad)
    except (ValueError, IndexError, TypeError) as error:
        if isinstance(error, (BackwardError, ShapeError)):
            raise
        raise BackwardError(f"{op.name}: its backward failed: {error}") from error
    result = result if type(result) is tuple else (result,)
    if len(result) != len(ctx.parents):
        raise BackwardError(
            f"{op.name}: backward returned {len(result)} gradient(s) for {len(ctx.parents)} input(s); "
            "return one per input of forward (None for an input that needs none)"
        )
    checked, check_anomaly = [], switches.detect_anomaly
    for i, (parent, g) in enumerate(zip(ctx.parents, result)):
        if g is None or not parent.requires_grad:
            checked.append(None)
            continue
        if not isinstance(g, (np.ndarray, type(grad))):  # a custom rule may return a number or a list
            g = np.asarray(g)
        if g.shape != parent.data.shape:
            raise ShapeError(
                f"{op.name}: backward returned a gradient of shape {g.shape} for input {i} of shape "
                f"{parent.data.shape}; a gradient has its input's shape (sum a broadcast gradient back "
                "with tinygrad_edu.ops.unbroadcast(grad, shape))"
            )
        if g.dtype != parent.data.dtype:
            g = g.astype(parent.data.dtype)
        if check_anomaly:
            where = f"the backward of '{op.name}' (gradient for input {i})"
            check_finite(np.asarray(g), where, output, ctx.source)
        checked.append(g)
    return tuple(checked)
