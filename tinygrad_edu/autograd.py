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

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.errors import BackwardError, ShapeError, check_finite
from tinygrad_edu.grad_mode import switches
from tinygrad_edu.versions import changes, check_unchanged

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
    user_defined: ClassVar[bool] = False  # a Function (function.py): checks what its backward returns

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


_requires_grad = operator.attrgetter("requires_grad")


class Context:
    """What one recorded op keeps for its backward pass.

    `parents` are its input tensors. `save_for_backward(...)` keeps arrays until backward: an
    array that is one of the op's inputs or its output stands for that tensor, so a backward
    after an in-place change to it raises instead of computing a wrong gradient, and
    `create_graph=True` differentiates through it; any other array (a mask, the shares of a tie)
    is a constant. Ops may also set small plain attributes (shapes, axes), which are not freed.
    """

    # Slots for what every op has, and a __dict__ for an op's own small attributes (shapes, axes).
    __slots__ = ("__dict__", "op", "output", "parents", "recorded_at", "saved", "source")

    def __init__(self, op: type[Op], parents: tuple[Any, ...]) -> None:
        self.op, self.parents = op, parents
        self.saved: tuple[Any, ...] | None = ()  # None once freed by a backward pass
        self.recorded_at = 0  # the number of in-place changes made when the op was recorded
        self.output: Callable[[], Any] | None = None  # the output, weakly: it holds this Context already
        self.source: tuple[str, int, str] | None = None  # the user's line that made the op (detect_anomaly)

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward; they are freed after it unless `retain_graph=True`."""
        self.saved = arrays

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input: does it want a gradient? A rule can skip the work for those that don't."""
        return tuple(map(_requires_grad, self.parents))

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
        owners = [self.owner(array) for array in self.saved]
        return tuple(array if owner is None else owner for array, owner in zip(self.saved, owners))

    def owner(self, array: Any) -> Any:
        """The tensor that a saved array is (one of the inputs, or the output), or None."""
        for parent in self.parents:
            if parent.data is array:
                return parent
        output = None if self.output is None else self.output()
        return output if output is not None and output.data is array else None

    @property
    def saved_nbytes(self) -> int:
        """Bytes of the arrays this op keeps for backward (0 once freed)."""
        return sum(a.nbytes for a in self.saved if isinstance(a, np.ndarray)) if self.saved else 0


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
    visited: set[Any] = set()  # tensors hash by identity, never by value
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        # Depth first with an explicit stack: `path` holds the tensors being visited, `next_input`
        # the position of the next input each of them has to look at. (Plain ints: a deep stack of
        # tuples or iterators keeps Python's garbage collector so busy that the walk stops being
        # linear in the size of the graph.)
        path, next_input = [root], [0]
        while path:
            t = path[-1]
            inputs = t._ctx.parents if t._ctx is not None else ()
            i = next_input[-1]
            while i < len(inputs):
                p = inputs[i]
                i += 1
                if p not in visited:
                    visited.add(p)
                    if p._ctx is None:  # a leaf has no inputs: it is done at once
                        order.append(p)
                    else:  # visit p's inputs first, then come back to t's next input
                        next_input[-1] = i
                        path.append(p)
                        next_input.append(0)
                        break
            else:  # all of t's inputs are in `order`: t may follow them
                path.pop()
                next_input.pop()
                order.append(t)
    return order


# ---------------------------------------------------------------- the backward pass


def backward_pass(
    roots: Sequence[Any],
    seeds: Sequence[Any],
    retain_graph: bool,
    receive: Callable[[Any, Any], None],
    wanted: set[Any] | frozenset[Any] = frozenset(),
    on_step: Callable[[Any, Any, tuple[Any, ...]], None] | None = None,
) -> None:
    """Push the gradients `seeds` (∂L/∂root for each root) back through the graph.

    `receive(tensor, grad)` gets the complete gradient of every leaf, of every tensor that called
    `retain_grad()` and of those in `wanted`; `on_step(tensor, grad, input_grads)`
    sees every op's backward as it runs. Gradients are ndarrays, or Tensors when grad mode is on
    (`create_graph=True`).
    """
    grads: dict[Any, Any] = {}  # tensor -> the sum of the gradients that reached it so far
    for root, seed in zip(roots, seeds):
        grads[root] = grads[root] + seed if root in grads else seed
    check_anomaly = switches.detect_anomaly
    for t in reversed(toposort(roots)):  # every tensor after all the tensors made from it
        grad = grads.pop(t, None)  # complete now: every use of t has passed its share back
        if grad is None:  # nothing flowed here
            continue
        ctx = t._ctx
        if ctx is None or t._retains_grad or t in wanted:
            receive(t, grad)
        if ctx is None:
            continue
        input_grads = run_backward(ctx, t, grad, check_anomaly)
        if on_step is not None:
            on_step(t, grad, input_grads)
        if not retain_graph:
            ctx.saved = None  # free the saved buffers
        for parent, g in zip(ctx.parents, input_grads):
            if g is not None and parent.requires_grad:  # a tensor used twice gets both gradients, added
                earlier = grads.get(parent)
                grads[parent] = g if earlier is None else earlier + g


def run_backward(ctx: Context, output: Any, grad: Any, check_anomaly: bool = False) -> tuple[Any, ...]:
    """Run the rule of the op that made `output`: one gradient per input (None where none).

    The built-in rules are trusted (the op table tests them against finite differences); a
    `Function` of the user's checks what its rule returned (`Function.checked`).
    """
    if ctx.saved and ctx.recorded_at != changes[0]:  # something was changed in place since the op ran
        check_unchanged(ctx)
    op = ctx.op
    try:
        grads = op.backward(ctx, grad)
    except (ValueError, IndexError, TypeError) as error:
        if isinstance(error, (BackwardError, ShapeError)):
            raise
        raise BackwardError(f"{op.name}: its backward failed: {error}") from error
    if type(grads) is not tuple:
        grads = (grads,)
    if op.user_defined:  # a Function of the user's checks what its backward returned
        grads = op.checked(ctx.parents, grads, type(grad))
    if check_anomaly:
        for i, g in enumerate(grads):
            if g is not None:
                where = f"the backward of '{op.name}' (gradient for input {i})"
                check_finite(np.asarray(g), where, output, ctx.source)
    return grads
