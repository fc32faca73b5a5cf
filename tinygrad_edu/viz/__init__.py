"""Draw the computational graph behind a tensor with Graphviz, and watch backpropagation run.

`draw_graph(loss)` walks back from `loss` and draws

- every tensor as a node: its name, shape and dtype (and, on request, a few values or
  min/mean/max, and its gradient after `backward()`);
- every op as a small yellow node with the op's name, between its inputs and its result;
- parameters (leaves that require grad), inputs/constants and the output in different styles,
  explained by a legend;
- the tensors computed inside one `nn.Module` call in a labelled box, e.g.
  `layers.0: Linear(784→256)` (found through `tinygrad_edu.hooks`, so viz never imports nn),
  or, with `collapse_modules=True`, each outermost call as one node.

`direction="backward"` draws the gradient flow instead: which op's backward feeds which, each
arrow labelled with the shape of the gradient it carries, ending in the `.grad` of the leaves.
`to_dict(loss)` gives the same graph as JSON-ready data, and `trace_backward(loss)` runs
`loss.backward()` while recording every step, to explain, draw and play it back.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu.viz import draw_graph
>>> w = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="W")
>>> x = tg.Tensor([1.0, -1.0], name="x")
>>> g = draw_graph((w @ x).relu().sum())
>>> [op for op in ("matmul", "relu", "sum") if f">{op}<" in g.source]
['matmul', 'relu', 'sum']
>>> "(2, 2) float32" in g.source
True

The result is a `graphviz.Digraph`: `g.source` is the DOT text (needs only the `graphviz` Python
package); `g.render(outfile="graph.svg", cleanup=True)` or `g.pipe(format="png")` need Graphviz's
`dot` program, and a Jupyter notebook shows `g` inline.
"""

from __future__ import annotations

from tinygrad_edu.viz.drawing import INSTALL_HINT, DotNotFoundError, GraphDrawing, draw_graph
from tinygrad_edu.viz.export import to_dict
from tinygrad_edu.viz.graph import describe_module
from tinygrad_edu.viz.labels import SMALL_TENSOR
from tinygrad_edu.viz.trace import BackwardStep, BackwardTrace, trace_backward

__all__ = [
    "INSTALL_HINT",
    "SMALL_TENSOR",
    "BackwardStep",
    "BackwardTrace",
    "DotNotFoundError",
    "GraphDrawing",
    "describe_module",
    "draw_graph",
    "to_dict",
    "trace_backward",
]
