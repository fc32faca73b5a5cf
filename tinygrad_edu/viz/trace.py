"""Watching backprop: `trace_backward(loss)` runs `loss.backward()` as usual and records each step,
to read as text (`explain`), to draw at any moment (`draw`), and to play in a browser (`to_html`).

The engine calls back once per op whose backward ran (`backward(..., on_step=...)` in
`tinygrad_edu.tensor`, the function behind `Tensor.backward`); a backward pass without a trace
records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import autograd
from tinygrad_edu.tensor import Tensor, backward
from tinygrad_edu.viz import explain as text
from tinygrad_edu.viz.drawing import Frame, GraphDrawing, draw
from tinygrad_edu.viz.labels import GRAD_COLOR, MUTED_COLOR, Row, number, summary, text_width
from tinygrad_edu.viz.options import DrawOptions

SEED = -1  # the "step" that gives the root its gradient: the seed of backward()


@dataclass(frozen=True, eq=False)
class BackwardStep:
    """One op's backward, as the engine ran it.

    `grad` is the complete gradient of the root with respect to `tensor` (the op's result) when
    its backward ran; `input_grads` has one entry per parent of `tensor`: what the op passed to
    that parent (already summed back to the parent's shape), or None.
    """

    index: int
    op: str
    tensor: Tensor
    grad: np.ndarray
    input_grads: tuple[np.ndarray | None, ...]

    def __repr__(self) -> str:
        passed = ", ".join("None" if g is None else str(g.shape) for g in self.input_grads)
        return f"BackwardStep(index={self.index}, op={self.op!r}, grad shape {self.grad.shape}, input_grads: {passed})"


def trace_backward(
    root: Tensor,
    gradient: Any = None,
    retain_graph: bool = False,
    *,
    params: Mapping[str, Tensor] | Any | None = None,
) -> BackwardTrace:
    """Run `root.backward(gradient, retain_graph=retain_graph)` exactly as usual (leaves' `.grad`
    accumulate the same way) and record every step of it.

    `params` (a dict of name -> Tensor, or a Module) names the parameters in the text and the
    pictures, as in `draw_graph`; other tensors are called by their `name`, or `t1`, `t2`, ...

    >>> import tinygrad_edu as tg
    >>> a = tg.Tensor(1.0, requires_grad=True, name="a")
    >>> b = a + a
    >>> b.name = "b"
    >>> c = b + b
    >>> c.name = "c"
    >>> trace = trace_backward(c)
    >>> [(step.index, step.op, step.grad.item()) for step in trace.steps]
    [(0, 'add', 1.0), (1, 'add', 2.0)]
    >>> trace.grad_of(a).item(), a.grad.item()
    (4.0, 4.0)
    >>> print(trace.explain().split("\\n\\n")[1])
    Step 1: add  (b = a + a)
    Arrived: ∂L/∂b = 1 + 1 = 2  (the gradients from the 2 uses of b were added)
    Chain rule:
        ∂L/∂a = ∂L/∂b
        ∂L/∂a = ∂L/∂b
    Passed on:
        ∂L/∂a = 2
        ∂L/∂a = 2
        a is used twice by this op, so its gradients are added: ∂L/∂a = 2 + 2 = 4
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"trace_backward: expected the Tensor to run backward from, got {type(root).__name__}")
    options = DrawOptions(params=params)  # checks params now, before the pass runs
    order = autograd.toposort([root])  # the graph before backward: what the pictures show
    parents: list[tuple[Tensor, ...]] = []
    steps: list[BackwardStep] = []

    def on_step(tensor: Tensor, grad: Any, input_grads: Sequence[Any]) -> None:
        # Copies: the engine may go on adding into the arrays it handed out.
        copies = tuple(None if g is None else np.array(g, copy=True) for g in input_grads)
        steps.append(BackwardStep(len(steps), tensor.op or "?", tensor, np.array(grad, copy=True), copies))
        parents.append(tuple(tensor.parents))

    backward(root, gradient, retain_graph=retain_graph, on_step=on_step)
    if steps and steps[0].tensor is root:
        seed = steps[0].grad
    else:  # a leaf: nothing to go back through, only the seed
        seed = np.ones_like(root.data) if gradient is None else np.array(np.asarray(gradient), dtype=root.dtype)
    return BackwardTrace(root, steps, seed, order, parents, options)


class BackwardTrace:
    """A recorded backward pass (see `trace_backward`): `steps`, `grad_of(t)`, `explain()`,
    `draw(step)`, `to_html(path)`, and the player inline in Jupyter.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, -2.0], requires_grad=True, name="x")
    >>> trace = trace_backward(x.relu().sum())
    >>> print(trace.step_text(1))
    Step 1: relu  (t1 = relu(x))
    Arrived: ∂L/∂t1 = [1 1]
    Chain rule:
        ∂L/∂x = ∂L/∂t1 ⊙ 1[x > 0]
    Passed on:
        ∂L/∂x = [1 0]
    >>> "▶ step 1: relu" in trace.draw(1).source and "∂L/∂x = [1, 0]" in trace.draw(1).source
    True
    """

    def __init__(
        self,
        root: Tensor,
        steps: list[BackwardStep],
        seed: np.ndarray,
        order: list[Tensor],
        parents: list[tuple[Tensor, ...]],
        options: DrawOptions,
    ) -> None:
        self.root, self.steps, self.seed = root, steps, seed
        self._order, self._parents, self._options = order, parents, options
        # id(tensor) -> the gradients it received: (step, position among the op's inputs, array)
        self._received: dict[int, list[tuple[int, int, np.ndarray]]] = {id(root): [(SEED, 0, seed)]}
        for step, its_parents in zip(steps, parents):
            for position, (parent, g) in enumerate(zip(its_parents, step.input_grads)):
                if g is not None:
                    self._received.setdefault(id(parent), []).append((step.index, position, g))
        self._step_of = {id(step.tensor): step for step in steps}
        self._symbols = self._name_tensors()
        self._grad_texts: dict[int, tuple[list[str], float]] = {}  # a tensor's gradient lines, per arrival

    def __repr__(self) -> str:
        return f"<BackwardTrace of {len(self.steps)} steps from a tensor of shape {self.root.shape}>"

    # ------------------------------------------------------------ the numbers

    def grad_of(self, t: Tensor) -> np.ndarray | None:
        """The gradient of the root with respect to `t` (any tensor of the graph, leaf or
        intermediate) at the end of the pass; None when no gradient reached it."""
        step = self._step_of.get(id(t))
        if step is not None:
            return step.grad  # the engine's own complete gradient, handed to the op's backward
        received = self._received.get(id(t))
        if not received:
            return None
        return _total([g for _, _, g in received])

    def symbol(self, t: Tensor) -> str:
        """The name a tensor has in the text and the pictures of this trace."""
        return self._symbols.get(id(t), "?")

    def _name_tensors(self) -> dict[int, str]:
        """Names from `params`, then `Tensor.name`; `L` for an unnamed root, a number's value for an
        unnamed constant number, and t1, t2, ... (in the order they were computed) for the rest."""
        params = self._options.param_names()
        symbols: dict[int, str] = {}
        count = 0
        for t in self._order:
            name = params.get(id(t)) or t.name
            if name is None and t is self.root:
                name = "L"
            if name is None and t._ctx is None and t.data.ndim == 0:
                name = number(float(t.data)) if t.data.dtype.kind in "fiub" else str(t.data)
            if name is None:
                count += 1
                name = f"t{count}"
            symbols[id(t)] = name
        return symbols

    # ------------------------------------------------------------ the text

    def explain(self) -> str:
        """The pass as text, one paragraph per step in order, separated by blank lines: the
        gradient that arrived, the chain rule the op applied, and what it passed on."""
        return "\n\n".join(self.step_text(step.index) for step in self.steps)

    def step_text(self, index: int) -> str:
        """The paragraph of `explain()` for `steps[index]`."""
        step = self.steps[index]
        its_parents = self._parents[index]
        arrived = [g for _, _, g in self._received.get(id(step.tensor), [])]

        def before(position: int) -> list[tuple[int, np.ndarray]]:
            parent = its_parents[position]
            return [(s, g) for s, p, g in self._received.get(id(parent), []) if (s, p) < (index, position)]

        return text.paragraph(
            index=step.index,
            op=step.op,
            out=self.symbol(step.tensor),
            inputs=[self.symbol(p) for p in its_parents],
            shapes=[p.shape for p in its_parents],
            grad=step.grad,
            arrived=arrived or [step.grad],
            passed=step.input_grads,
            before=before,
            seed=step.tensor is self.root,
        )

    # ------------------------------------------------------------ the pictures

    def draw(self, step: int | None = None, **draw_graph_kwargs: Any) -> GraphDrawing:
        """The forward graph with every tensor's gradient as of after `steps[step]` (None: the
        end; -1: before the first step), the ops already done, the one running and those not
        reached yet drawn distinctly, and each op's step number. Takes `draw_graph`'s keyword
        arguments (`params` defaults to the trace's; `rankdir` to "BT", which puts the loss on
        top, so that the steps read downwards)."""
        return self._draw(step, draw_graph_kwargs)

    def _draw(self, step: int | None, draw_graph_kwargs: dict[str, Any], legend: bool = True) -> GraphDrawing:
        return draw([self.root], self._draw_options(dict(draw_graph_kwargs)), self.frame(step, legend))

    def _draw_options(self, kwargs: dict[str, Any]) -> DrawOptions:
        if kwargs.get("direction", "forward") != "forward":
            raise ValueError(
                "BackwardTrace.draw: the trace is drawn on the forward graph (direction='forward'); "
                "for the gradient flow without numbers use draw_graph(root, direction='backward')"
            )
        kwargs.setdefault("params", self._options.params)
        kwargs.setdefault("rankdir", "BT")
        return DrawOptions(**kwargs)

    def frame(self, step: int | None = None, legend: bool = True) -> Frame:
        """What the drawing shows after `steps[step]` (None: the end; -1: before the first)."""
        last = len(self.steps) - 1
        if step is None:
            step = last
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not -1 <= step <= last:
            raise ValueError(
                f"BackwardTrace.draw: step must be an index into steps, from -1 (before the first) to "
                f"{last}, or None (the end); got {step!r}"
            )
        step = int(step)
        op_states, op_labels = {}, {}
        for s in self.steps:
            key = id(s.tensor)
            state = "done" if s.index < step else "current" if s.index == step else "pending"
            variants = {"pending": f"step {s.index}: {s.op}", "done": f"step {s.index}: {s.op} ✓"}
            variants["current"] = f"▶ step {s.index}: {s.op}"
            width = max(text_width(v, bold=True) for v in variants.values())
            op_states[key] = state
            op_labels[key] = Row(variants[state], bold=state == "current", min_width=width)
        grad_rows = {}
        for t in self._order:
            received = self._received.get(id(t))
            if received:
                grad_rows[id(t)] = self._grad_row(t, received, step)
        flowed = {id(s.tensor) for s in self.steps if s.index <= step}
        return Frame(self._symbols, grad_rows, op_labels, op_states, legend=legend, flowed=flowed)

    def _grad_row(self, t: Tensor, received: list[tuple[int, int, np.ndarray]], step: int) -> Row:
        """The gradient line of a tensor's node after `step`, as wide in every frame."""
        texts, width = self._grad_texts.get(id(t), (None, 0.0))
        if texts is None:  # the same in every frame: worked out once
            name = self._symbols[id(t)]
            parts = [g for _, _, g in received]
            texts = [_grad_text(name, parts[:m], len(parts)) for m in range(len(parts) + 1)]
            width = max(text_width(s, bold=True) for s in texts)
            self._grad_texts[id(t)] = (texts, width)
        arrived = sum(1 for s, _, _ in received if s <= step)
        fresh = any(s == step for s, _, _ in received)  # passed on by the step running now
        color = MUTED_COLOR if arrived == 0 else GRAD_COLOR
        return Row(texts[arrived], bold=fresh, color=color, min_width=width)

    # ------------------------------------------------------------ the player

    def to_html(self, path: str | Path, **options: Any) -> Path:
        """Write the player: one self-contained HTML file (no network needed) that steps through
        the pass, the forward graph first, then a frame per step; see `tinygrad_edu.viz.player`."""
        from tinygrad_edu.viz.player import write_player

        return write_player(self, Path(path), **options)

    def _repr_html_(self) -> str:
        """The same player, inline in a Jupyter notebook."""
        from tinygrad_edu.viz.player import notebook_html

        return notebook_html(self)


def _total(parts: Sequence[np.ndarray]) -> np.ndarray:
    total = parts[0]
    for g in parts[1:]:
        total = total + g
    return total


def _grad_text(name: str, parts: Sequence[np.ndarray], expected: int) -> str:
    """`∂L/∂a = 2 + 2 = 4` once the gradients of all its uses arrived; `so far` before that."""
    if not parts:
        return f"∂L/∂{name}: not reached yet"
    total = _total(parts)
    if len(parts) > 1 and all(np.size(p) == 1 for p in parts) and len(parts) <= 4:
        value = " + ".join(summary(np.asarray(p).reshape(())) for p in parts) + " = " + summary(total)
    elif len(parts) > 1:
        value = f"{summary(total)} (sum of {len(parts)})"
    else:
        value = summary(total)
    if len(parts) < expected:
        return f"∂L/∂{name} = {value}  ({len(parts)} of {expected} arrived)"
    return f"∂L/∂{name} = {value}"
