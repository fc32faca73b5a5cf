"""The graph walk: every tensor a result was computed from, in topological order.

The backward pass, the graph drawings and gradient checking all walk the graph with this one
function.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


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
