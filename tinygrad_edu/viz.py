"""Draw the computational graph behind a tensor with Graphviz, the way a lecture slide would.

`draw_graph(loss)` walks back from `loss` through `.parents` and draws

- every tensor as a record node: its name, shape and dtype (and, on request, a few values or
  min/mean/max, and its gradient after `backward()`);
- every op as a small yellow node with the op's name, between its inputs and its result;
- parameters (leaves that require grad), inputs/constants and the output in different styles,
  explained by a legend;
- the tensors computed inside one `nn.Module` call in a labelled box, e.g.
  `layers.0: Linear(784→256)` (found through `tinygrad_edu.hooks`, so viz never imports nn).

`direction="backward"` draws the gradient flow instead: which op's backward feeds which, each
arrow labelled with the shape of the gradient it carries, ending in the `.grad` of the leaves.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu.viz import draw_graph
>>> w = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="W")
>>> x = tg.Tensor([1.0, -1.0], name="x")
>>> g = draw_graph((w @ x).relu().sum())
>>> [op for op in ("matmul", "relu", "sum") if f'label="{op}"' in g.source]
['matmul', 'relu', 'sum']
>>> "(2, 2) float32" in g.source
True

The result is a `graphviz.Digraph`: `g.source` is the DOT text (needs only the `graphviz` Python
package); `g.render(outfile="graph.svg", cleanup=True)` or `g.pipe(format="png")` need Graphviz's
`dot` program, and a Jupyter notebook shows `g` inline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import graphviz
import numpy as np

from tinygrad_edu import hooks
from tinygrad_edu.tensor import Tensor

__all__ = ["DotNotFoundError", "GraphDrawing", "describe_module", "draw_graph"]

INSTALL_HINT = (
    "Install Graphviz (which provides `dot`) with one of:\n"
    "  sudo apt-get install graphviz            (Debian/Ubuntu)\n"
    "  brew install graphviz                    (macOS)\n"
    "  conda install -c conda-forge graphviz    (conda)\n"
    "The `graphviz` Python package alone is not enough: it only writes the DOT source, which "
    "you can still get without `dot` as `graph.source` (or save with `graph.save('graph.gv')`)."
)

# Tensors with at most this many elements show their values; larger ones show min/mean/max.
SMALL_TENSOR = 8

_FONT = "Helvetica,Arial,sans-serif"
_RANKDIRS = ("LR", "RL", "TB", "BT")

# One style per kind of node. Colours are told apart by lightness as well as hue, so the
# picture still reads in greyscale and for colour-blind readers.
_STYLES: dict[str, dict[str, str]] = {
    "parameter": {"shape": "record", "style": "filled,bold", "fillcolor": "#cfe3f7", "color": "#1f5f99"},
    "input": {"shape": "record", "style": "filled,dashed", "fillcolor": "#eeeeee", "color": "#707070"},
    "intermediate": {"shape": "record", "style": "filled", "fillcolor": "#ffffff", "color": "#606060"},
    "output": {"shape": "record", "style": "filled,bold", "fillcolor": "#ffd9a8", "color": "#c05800", "penwidth": "2"},
    "scalar": {
        "shape": "box",
        "style": "rounded,filled,dashed",
        "fillcolor": "#eeeeee",
        "color": "#909090",
        "fontsize": "9",
        "height": "0.25",
        "width": "0.3",
        "margin": "0.04,0.02",
    },
    "op": {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": "#fff1a8",
        "color": "#9a7d00",
        "fontsize": "10",
        "height": "0.3",
        "margin": "0.08,0.03",
    },
    "backward_op": {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": "#f9d2d0",
        "color": "#a3322c",
        "fontsize": "10",
        "height": "0.3",
        "margin": "0.08,0.03",
    },
    "seed": {"shape": "record", "style": "filled,bold", "fillcolor": "#ffd9a8", "color": "#c05800", "penwidth": "2"},
    "hidden": {
        "shape": "note",
        "style": "filled",
        "fillcolor": "#fde2e1",
        "color": "#c62828",
        "fontcolor": "#8e1c1c",
        "fontsize": "11",
    },
}
_CLUSTER_STYLE = {
    "style": "rounded,dashed",
    "color": "#6a4fb3",
    "fontcolor": "#4b3590",
    "fontsize": "11",
    "labeljust": "l",
    "margin": "10",
}
_GRAD_EDGE = {"color": "#a3322c", "fontcolor": "#a3322c", "fontsize": "9"}


class DotNotFoundError(graphviz.ExecutableNotFound):
    """Rendering needs Graphviz's `dot` program and it is not on PATH.

    A subclass of `graphviz.ExecutableNotFound`, so code that already catches that still works.
    """

    def __init__(self) -> None:
        # graphviz.ExecutableNotFound formats its own message from a command; ours says the fix.
        RuntimeError.__init__(
            self, f"cannot render the graph: Graphviz's `dot` program was not found on PATH.\n{INSTALL_HINT}"
        )


class GraphDrawing(graphviz.Digraph):
    """The `graphviz.Digraph` returned by `draw_graph`.

    Identical to a Digraph, except that rendering without `dot` raises `DotNotFoundError`, which
    says how to install it. Also records what was drawn: `drawn_nodes` (tensors and ops drawn),
    `total_nodes` (in the whole graph) and `hidden_nodes` (left out because of `max_nodes`).
    """

    drawn_nodes: int = 0
    total_nodes: int = 0
    hidden_nodes: int = 0

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        """As `graphviz.Digraph.pipe` (which Jupyter's inline display also goes through)."""
        try:
            return super().pipe(*args, **kwargs)
        except DotNotFoundError:
            raise
        except graphviz.ExecutableNotFound:
            raise DotNotFoundError() from None

    def render(self, *args: Any, **kwargs: Any) -> Any:
        """As `graphviz.Digraph.render`, e.g. `g.render(outfile="graph.svg", cleanup=True)`."""
        try:
            return super().render(*args, **kwargs)
        except DotNotFoundError:
            raise
        except graphviz.ExecutableNotFound:
            raise DotNotFoundError() from None


# ---------------------------------------------------------------- the walk


@dataclass
class _Walk:
    """The part of the graph that will be drawn, found breadth-first from the roots."""

    drawn: list[Tensor]  # tensors to draw, nearest the roots first
    drawn_ids: set[int]
    drawn_nodes: int  # tensors + ops among them
    total_nodes: int  # tensors + ops in the whole graph


def _walk(roots: Sequence[Tensor], max_nodes: int | None) -> _Walk:
    """Breadth-first from the roots with an explicit queue: no recursion, so a chain of a
    million ops is fine. Nodes nearest the output are kept when `max_nodes` cuts the graph;
    a breadth-first prefix is connected, so what is drawn stays one readable piece."""
    budget = float("inf") if max_nodes is None else max_nodes
    seen = {id(t) for t in roots}
    queue = deque(roots)
    drawn: list[Tensor] = []
    drawn_nodes = total = 0
    cutting = False
    while queue:
        t = queue.popleft()
        ctx = t._ctx
        cost = 1 if ctx is None else 2  # a recorded tensor is drawn with the op that made it
        total += cost
        if not cutting and drawn_nodes + cost <= budget:
            drawn.append(t)
            drawn_nodes += cost
        else:
            cutting = True  # keep counting, so the marker can say how many were hidden
        if ctx is not None:
            for parent in ctx.parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append(parent)
    return _Walk(drawn, {id(t) for t in drawn}, drawn_nodes, total)


# ---------------------------------------------------------------- module boxes


@dataclass
class _Region:
    """The ops of one module call: everything between the call's inputs and its output."""

    label: str
    members: set[int]  # ids of the recorded tensors (each stands for its op) inside
    inputs: set[int]
    order: int
    parent: _Region | None = None
    graph: graphviz.Digraph | None = field(default=None, repr=False)


def describe_module(module: Any) -> str:
    """A short description of a module for a box label: `Linear(784→256)`, `MLP(3→4→2)`, `ReLU`.

    >>> class Linear:
    ...     in_features, out_features = 784, 256
    >>> describe_module(Linear())
    'Linear(784→256)'
    """
    cls = type(module).__name__
    n_in, n_out = getattr(module, "in_features", None), getattr(module, "out_features", None)
    if isinstance(n_in, (int, np.integer)) and isinstance(n_out, (int, np.integer)):
        return f"{cls}({n_in}→{n_out})"
    sizes = getattr(module, "sizes", None)
    if isinstance(sizes, (list, tuple)) and sizes and all(isinstance(n, (int, np.integer)) for n in sizes):
        return f"{cls}({'→'.join(str(n) for n in sizes)})"
    p = getattr(module, "p", None)
    if isinstance(p, float):
        return f"{cls}(p={p:g})"
    return cls


def _module_names(params: Any) -> dict[int, str]:
    named_modules = getattr(params, "named_modules", None)
    if named_modules is None:
        return {}
    return {id(m): name for name, m in named_modules()}


def _add_region(
    regions: list[_Region],
    calls_seen: dict[int, list[_Region]],
    call: hooks.ModuleCall,
    output: Tensor,
    walk: _Walk,
    module_names: dict[int, str],
) -> None:
    inputs = {id(x) for x in call.inputs}
    # Everything from the output back to the call's inputs: stop at inputs, at leaves (they
    # are placed later, by who uses them) and at the edge of what is drawn.
    members: set[int] = set()
    stack = [output]
    while stack:
        u = stack.pop()
        key = id(u)
        if key in members or key in inputs or u._ctx is None or key not in walk.drawn_ids:
            continue
        members.add(key)
        stack.extend(u._ctx.parents)
    if not members:
        return
    module = call.module
    name = module_names.get(id(module), "")
    label = f"{name}: {describe_module(module)}" if name else describe_module(module)
    region = _Region(label, members, inputs, len(regions))
    regions.append(region)
    calls_seen.setdefault(id(module), []).append(region)


def _regions(walk: _Walk, module_names: dict[int, str]) -> tuple[dict[int, _Region], list[_Region]]:
    """The module calls among the drawn tensors, nested as the calls were, and the innermost
    region of every drawn tensor (tensors outside every call are not in the dict)."""
    regions: list[_Region] = []
    calls_seen: dict[int, list[_Region]] = {}
    for t in walk.drawn:
        for call in hooks.module_calls(t) if t._ctx is not None else ():
            _add_region(regions, calls_seen, call, t, walk, module_names)
    for calls in calls_seen.values():
        if len(calls) > 1:  # one module called several times (shared weights, an unrolled loop)
            # The walk goes back from the output, so it meets the last call first.
            for number, region in enumerate(reversed(calls), start=1):
                region.label += f" (call {number})"

    # Smallest first: an op belongs to the innermost call, and a call's box sits in the
    # smallest box that contains all of it.
    regions.sort(key=lambda r: (len(r.members), r.order))
    for i, region in enumerate(regions):
        probe = next(iter(region.members))
        for outer in regions[i + 1 :]:
            if probe in outer.members and region.members <= outer.members:
                region.parent = outer
                break
    where: dict[int, _Region] = {}
    for region in regions:
        for key in region.members:
            where.setdefault(key, region)
    # A leaf (a parameter, a constant made inside forward) goes in the innermost box holding
    # every op that uses it, unless it was passed in: the call's inputs stay outside its box.
    consumers: dict[int, list[int]] = {}
    for t in walk.drawn:
        if t._ctx is not None:
            for parent in t._ctx.parents:
                if parent._ctx is None and id(parent) in walk.drawn_ids:
                    consumers.setdefault(id(parent), []).append(id(t))
    for leaf, users in consumers.items():
        region = where.get(users[0])
        while region is not None and (leaf in region.inputs or not all(u in region.members for u in users)):
            region = region.parent
        if region is not None:
            where[leaf] = region
    return where, regions


# ---------------------------------------------------------------- labels and DOT lines
# Node and edge statements are written straight into the Digraph's `body`, with the style of
# each kind of node quoted once: going through `Digraph.node()` re-quotes ten attributes per
# node, which made a 100,000-node graph take 8 s instead of about 1 s.


def _escape(text: str) -> str:
    """Text for a quoted DOT label: backslashes and quotes escaped (they would end or change it)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _escape_record(text: str) -> str:
    """Text for one field of a record label, where { } | < > also have a meaning."""
    text = _escape(text)
    for char in "{}|<>":
        text = text.replace(char, "\\" + char)
    return text


def _record(fields: list[str], rankdir: str) -> str:
    # Fields stack vertically in a record whose top level runs across the rank direction:
    # that is the bare list for LR/RL and a {braced} list for TB/BT.
    body = "|".join(_escape_record(f) for f in fields)
    return body if rankdir in ("LR", "RL") else "{" + body + "}"


def _attributes(attrs: dict[str, str]) -> str:
    return " ".join(f'{key}="{_escape(value)}"' for key, value in attrs.items())


_STYLE_ATTRIBUTES = {kind: _attributes(style) for kind, style in _STYLES.items()}
_GRAD_EDGE_ATTRIBUTES = _attributes(_GRAD_EDGE)
_CLUSTER_ATTRIBUTES = _attributes(_CLUSTER_STYLE)
_CUT_EDGE_ATTRIBUTES = _attributes({"style": "dashed", "color": "#c62828"})


def _node(body: list[str], name: str, label: str, kind: str) -> None:
    """Add a node statement; `label` is already escaped."""
    body.append(f'\t{name} [label="{label}" {_STYLE_ATTRIBUTES[kind]}]\n')


def _edge(body: list[str], tail: str, head: str, attributes: str = "") -> None:
    body.append(f"\t{tail} -> {head} [{attributes}]\n" if attributes else f"\t{tail} -> {head}\n")


def _summary(array: np.ndarray) -> str:
    """A few values of a small array, min/mean/max of a large one."""
    if array.size == 0:
        return "(empty)"
    if array.size <= SMALL_TENSOR:
        # 3 significant digits, and no padding: NumPy pads values to align columns on a
        # terminal, which only adds stray spaces in a one-line label.
        text = np.array2string(
            array,
            separator=", ",
            max_line_width=1_000_000,
            formatter={"float_kind": lambda v: f"{v + 0.0:.3g}", "bool": str},  # + 0.0: no "-0"
        )
        return " ".join(text.split())
    if array.dtype.kind == "b":
        return f"{int(array.sum())} of {array.size} true"
    return f"min {array.min():.3g}  mean {array.mean():.3g}  max {array.max():.3g}"


_dtype_names: dict[np.dtype, str] = {}


def _shape_dtype(t: Tensor) -> str:
    dtype = t.data.dtype
    name = _dtype_names.get(dtype)
    if name is None:  # str(dtype) is slow enough to show up on huge graphs
        name = _dtype_names[dtype] = str(dtype)
    return f"{t.data.shape} {name}"


def _backward_name(op: str) -> str:
    """`matmul` -> `MatmulBackward`, `scatter_add` -> `ScatterAddBackward` (PyTorch's grad_fn style)."""
    return "".join(part.capitalize() for part in op.split("_")) + "Backward"


# ---------------------------------------------------------------- drawing


def _as_roots(root: Any) -> list[Tensor]:
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(
                f"draw_graph: expected a Tensor (or a list of Tensors) to draw the graph of, got "
                f"{type(r).__name__}; pass the result of a computation, e.g. draw_graph(loss)"
            )
    if not roots:
        raise ValueError("draw_graph: expected at least one Tensor to draw, got an empty list")
    return list({id(r): r for r in roots}.values())


def _param_names(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    if isinstance(params, Mapping):
        items = params.items()
    elif hasattr(params, "named_parameters"):
        items = params.named_parameters()
    else:
        raise TypeError(
            f"draw_graph: params must be a dict of name -> Tensor or a Module (with "
            f"named_parameters()), got {type(params).__name__}; e.g. draw_graph(loss, params=model)"
        )
    names: dict[int, str] = {}
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"draw_graph: params[{name!r}] is a {type(t).__name__}, not a Tensor")
        names[id(t)] = str(name)
    return names


def _kind(t: Tensor, roots: set[int], name: str | None) -> str:
    if id(t) in roots:
        return "output"
    if t._ctx is not None:
        return "intermediate"
    if t.requires_grad:
        return "parameter"
    if t.data.ndim == 0 and name is None:
        return "scalar"  # a number in an expression, like the 2 in x * 2: drawn as just the number
    return "input"


def _add_legend(graph: graphviz.Digraph, entries: list[tuple[str, str]], rankdir: str) -> None:
    """A boxed row of sample nodes, one per style, each saying what it stands for."""
    legend = graphviz.Digraph(
        name="cluster_legend",
        graph_attr={
            "label": "legend",
            "style": "rounded",
            "color": "#b0b0b0",
            "fontcolor": "#606060",
            "fontsize": "10",
        },
    )
    previous = None
    for kind, text in entries:
        node = f"legend_{kind}"
        label = _record([text], rankdir) if _STYLES[kind]["shape"] == "record" else _escape(text)
        _node(legend.body, node, label, kind)
        if previous is not None:  # an invisible chain keeps the entries in one tidy row
            _edge(legend.body, previous, node, 'style="invis"')
        previous = node
    graph.subgraph(legend)


def draw_graph(
    root: Tensor | Sequence[Tensor],
    *,
    params: Mapping[str, Tensor] | Any | None = None,
    show_values: bool = False,
    show_grads: bool = True,
    direction: str = "forward",
    rankdir: str = "LR",
    max_nodes: int | None = None,
) -> GraphDrawing:
    """Draw the graph that computed `root` (a Tensor, or a list of them) as a `graphviz.Digraph`.

    - `params`: a dict `name -> Tensor` or a Module; its `named_parameters()` name the
      parameter nodes (`layers.0.weight`) and its `named_modules()` name the module boxes
      (`layers.0: Linear(3→4)`). Without it, tensors show their `Tensor(name=...)`.
    - `show_values`: a few values (up to 8 elements) or min/mean/max (larger tensors).
    - `show_grads`: the same for `.grad`, on tensors that have one (after `backward()`).
    - `direction`: `"forward"` (tensors and ops) or `"backward"` (the gradient flow: each op's
      backward, arrows labelled with the gradient shapes, ending in the leaves' `.grad`).
    - `rankdir`: Graphviz's layout direction, `"LR"` (left to right), `"TB"`, `"RL"`, `"BT"`.
    - `max_nodes`: draw at most this many tensors and ops, those nearest `root`, and a marker
      saying how many more were left out. The walk itself is iterative, so any depth works.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    >>> loss = (x * x).sum()
    >>> loss.name = "loss"
    >>> loss.backward()
    >>> g = draw_graph(loss, show_values=True)
    >>> "grad [2, 4, 6]" in g.source
    True
    >>> draw_graph(loss, direction="backward").source.count("Backward")
    2
    """
    if direction not in ("forward", "backward"):
        raise ValueError(f"draw_graph: direction must be 'forward' or 'backward', got {direction!r}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
    if max_nodes is not None and (
        isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1
    ):
        raise ValueError(f"draw_graph: max_nodes must be a positive integer or None, got {max_nodes!r}")
    roots = _as_roots(root)
    names = _param_names(params)
    walk = _walk(roots, max_nodes)
    where, regions = _regions(walk, _module_names(params))

    graph = GraphDrawing(
        name="tinygrad_edu",
        graph_attr={
            "rankdir": rankdir,
            "fontname": _FONT,
            "nodesep": "0.2",
            "ranksep": "0.3",
            "newrank": "true",  # lets ranks line up across box borders
        },
        node_attr={"fontname": _FONT, "fontsize": "10", "height": "0.3"},
        edge_attr={"fontname": _FONT, "color": "#555555", "arrowsize": "0.6"},
    )
    graph.drawn_nodes, graph.total_nodes = walk.drawn_nodes, walk.total_nodes
    graph.hidden_nodes = walk.total_nodes - walk.drawn_nodes
    for region in regions:
        region.graph = graphviz.Digraph(name=f"cluster_{region.order}")
        # Written like the nodes' labels (always quoted), so the DOT reads the same everywhere.
        region.graph.body.append(f'\tgraph [label="{_escape(region.label)}" {_CLUSTER_ATTRIBUTES}]\n')

    def body_of(t: Tensor) -> list[str]:
        """Where the node of `t` is declared: in its module's box, or in the graph itself."""
        region = where.get(id(t))
        return graph.body if region is None else region.graph.body

    root_ids = {id(r) for r in roots}
    ids = {id(t): i for i, t in enumerate(walk.drawn)}  # stable node names in walk order
    draw = _draw_forward if direction == "forward" else _draw_backward
    edges = draw(graph, walk, ids, names, root_ids, body_of, show_values, show_grads, rankdir)
    # Nest the boxes: smallest first, so a box is complete before it goes into its parent,
    # and the outermost ones go into the graph last, before the edges.
    for region in regions:
        (graph if region.parent is None else region.parent.graph).subgraph(region.graph)
    if graph.hidden_nodes:
        edges += _hidden_marker(graph, walk, ids, direction, max_nodes)
    graph.body.extend(edges)
    return graph


def _tensor_fields(t: Tensor, name: str | None, show_values: bool, show_grads: bool) -> list[str]:
    fields = [name] if name else []
    fields.append(_shape_dtype(t))
    if show_values:
        fields.append(_summary(t.data))
    grad = t._grad  # not .grad: that warns on tensors that are not leaves
    if show_grads and grad is not None:
        fields.append("grad " + _summary(grad.data))
    return fields


def _draw_forward(
    graph: GraphDrawing,
    walk: _Walk,
    ids: dict[int, int],
    names: dict[int, str],
    root_ids: set[int],
    body_of: Any,
    show_values: bool,
    show_grads: bool,
    rankdir: str,
) -> list[str]:
    """Tensor and op nodes (declared in their boxes); returns the edge statements."""
    _add_legend(
        graph,
        [
            ("parameter", "parameter (leaf, requires grad)"),
            ("input", "input / constant (no grad)"),
            ("intermediate", "intermediate result"),
            ("output", "output"),
            ("op", "op"),
        ],
        rankdir,
    )
    edges: list[str] = []
    for t in walk.drawn:
        i = ids[id(t)]
        name = names.get(id(t)) or t.name
        kind = _kind(t, root_ids, name)
        body = body_of(t)
        if kind == "scalar":
            _node(body, f"t{i}", _escape(_summary(t.data)), "scalar")
        else:
            _node(body, f"t{i}", _record(_tensor_fields(t, name, show_values, show_grads), rankdir), kind)
        ctx = t._ctx
        if ctx is not None:
            _node(body, f"op{i}", _escape(ctx.op.name), "op")
            for parent in ctx.parents:  # in argument order, once per use (x * x: two arrows)
                j = ids.get(id(parent))
                if j is not None:
                    _edge(edges, f"t{j}", f"op{i}")
            _edge(edges, f"op{i}", f"t{i}")
    return edges


def _draw_backward(
    graph: GraphDrawing,
    walk: _Walk,
    ids: dict[int, int],
    names: dict[int, str],
    root_ids: set[int],
    body_of: Any,
    show_values: bool,
    show_grads: bool,
    rankdir: str,
) -> list[str]:
    """The gradient flow: seed -> each op's backward -> the leaves' .grad; returns the edges."""
    _add_legend(
        graph,
        [
            ("seed", "seed: the gradient backward() starts from"),
            ("backward_op", "an op's backward (and the bytes it saved for it)"),
            ("parameter", "leaf: gradient accumulated into .grad"),
        ],
        rankdir,
    )
    edges: list[str] = []

    def gradient_edge(tail: str, t: Tensor) -> None:
        """An arrow carrying the gradient with respect to `t`, labelled with its name and shape."""
        j = ids[id(t)]
        head = f"b{j}" if t._ctx is not None else f"g{j}"
        name = names.get(id(t)) or t.name
        label = f"∂L/∂{name} {t.data.shape}" if name else str(t.data.shape)
        _edge(edges, tail, head, f'label="{_escape(label)}" {_GRAD_EDGE_ATTRIBUTES}')

    for r in walk.drawn:
        if id(r) not in root_ids:
            continue
        i = ids[id(r)]
        # The arrows say ∂L/∂(tensor): L stands for the output, whatever its name.
        name = names.get(id(r)) or r.name or "the output"
        seed = "seed ∂L/∂L = 1" if r.size == 1 else "seed: the gradient given to backward()"
        fields = ["L" if name == "L" else f"L = {name}", seed, _shape_dtype(r)]
        _node(graph.body, f"seed{i}", _record(fields, rankdir), "seed")
        gradient_edge(f"seed{i}", r)
    for t in walk.drawn:
        i = ids[id(t)]
        ctx = t._ctx
        if ctx is None:
            if t.requires_grad:  # leaves without requires_grad get no gradient: not drawn
                name = names.get(id(t)) or t.name
                fields = [f"{name}.grad" if name else ".grad", _shape_dtype(t)]
                if show_values:
                    fields.append("value " + _summary(t.data))
                if show_grads and t._grad is not None:
                    fields.append(_summary(t._grad.data))
                _node(body_of(t), f"g{i}", _record(fields, rankdir), "parameter")
            continue
        label = _escape(_backward_name(ctx.op.name))
        if ctx.saved_nbytes:  # 0 once a backward pass without retain_graph has freed it
            label += f"\\nsaved {ctx.saved_nbytes:,} B"
        _node(body_of(t), f"b{i}", label, "backward_op")
        for parent, needs in zip(ctx.parents, ctx.needs_input_grad):
            if needs and id(parent) in ids:
                gradient_edge(f"b{i}", parent)
    return edges


def _hidden_marker(
    graph: GraphDrawing, walk: _Walk, ids: dict[int, int], direction: str, max_nodes: int | None
) -> list[str]:
    """The node saying how much was left out, and dashed arrows wherever the drawing was cut."""
    label = (
        f"… {graph.hidden_nodes:,} more nodes not drawn\\n"
        f"(max_nodes={max_nodes}; the whole graph has {graph.total_nodes:,} tensors and ops)"
    )
    _node(graph.body, "hidden", label, "hidden")
    edges: list[str] = []
    for t in walk.drawn:
        ctx = t._ctx
        if ctx is not None and any(id(p) not in ids for p in ctx.parents):
            i = ids[id(t)]
            if direction == "forward":
                _edge(edges, "hidden", f"op{i}", _CUT_EDGE_ATTRIBUTES)
            else:
                _edge(edges, f"b{i}", "hidden", _CUT_EDGE_ATTRIBUTES)
    return edges
