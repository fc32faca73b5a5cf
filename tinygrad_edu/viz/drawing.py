"""`draw_graph`: the computational graph behind a tensor as a `graphviz.Digraph`, the way a
lecture slide would draw it. The picture is built with the `graphviz` package's own API
(`node`, `edge`, `subgraph`); see `tinygrad_edu.viz` for what it shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import graphviz

from tinygrad_edu.tensor import Tensor
from tinygrad_edu.viz import labels
from tinygrad_edu.viz.graph import GraphModel, Region, build
from tinygrad_edu.viz.labels import GRAD_COLOR, Row, shape_dtype, summary, table
from tinygrad_edu.viz.options import DrawOptions, as_roots

INSTALL_HINT = (
    "Install Graphviz (which provides `dot`) with one of:\n"
    "  sudo apt-get install graphviz            (Debian/Ubuntu)\n"
    "  brew install graphviz                    (macOS)\n"
    "  conda install -c conda-forge graphviz    (conda)\n"
    "The `graphviz` Python package alone is not enough: it only writes the DOT source, which "
    "you can still get without `dot` as `graph.source` (or save with `graph.save('graph.gv')`)."
)


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
    focus: str | None = None  # in a trace's picture: the node of the op running in it

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


@dataclass
class Frame:
    """What a moment of a backward pass adds to the forward drawing (built by `BackwardTrace`)."""

    symbols: dict[int, str]  # id(tensor) -> the name used for an unnamed tensor (t3)
    grad_rows: dict[int, Row]  # id(tensor) -> its gradient row at this moment
    op_labels: dict[int, Row]  # id(tensor) -> the label of the op that made it ("step 3: relu")
    op_states: dict[int, str]  # id(tensor) -> "pending", "done" or "current", for the op that made it
    legend: bool = True
    flowed: set[int] = field(default_factory=set)  # ids of tensors whose op has passed gradients on


def draw_graph(
    root: Tensor | Sequence[Tensor],
    *,
    params: Mapping[str, Tensor] | Any | None = None,
    show_values: bool = False,
    show_grads: bool = True,
    direction: str = "forward",
    rankdir: str = "LR",
    max_nodes: int | None = None,
    collapse_modules: bool = False,
    highlight: Tensor | Sequence[Tensor] | None = None,
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
    - `collapse_modules`: draw each outermost module call as one node (its name, class, input
      and output shapes) instead of the ops inside it: for networks too big to draw op by op. A
      call that wraps all the others alone (a model around its layers, a Sequential) is opened,
      so that its layers are the nodes.
    - `highlight`: a tensor or a list of tensors to draw in a warning colour, e.g. the
      `.tensor` of an `AnomalyError` (with the line of code that made it, when anomaly mode
      recorded it).

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
    options = DrawOptions(
        params=params,
        show_values=show_values,
        show_grads=show_grads,
        direction=direction,
        rankdir=rankdir,
        max_nodes=max_nodes,
        collapse_modules=collapse_modules,
        highlight=highlight,
    )
    return draw(as_roots(root), options)


def draw(roots: list[Tensor], options: DrawOptions, frame: Frame | None = None) -> GraphDrawing:
    """The drawing of `roots` with `options`, and, for a trace, the state of one `frame`."""
    model = build(roots, options)
    graph = GraphDrawing(
        name="tinygrad_edu",
        graph_attr={
            "rankdir": options.rankdir,
            "fontname": labels.FONT,
            "nodesep": "0.2",
            "ranksep": "0.3",
            "newrank": "true",  # lets ranks line up across box borders
        },
        node_attr={"shape": "plain", "fontname": labels.FONT, "fontsize": str(labels.FONT_SIZE)},
        edge_attr={"fontname": labels.FONT, "color": "#555555", "arrowsize": "0.6"},
    )
    graph.drawn_nodes, graph.total_nodes = model.drawn_nodes, model.total_nodes
    graph.hidden_nodes = model.hidden_nodes
    builder = _Builder(graph, model, options, frame)
    if options.direction == "forward":
        builder.forward()
    else:
        builder.backward()
    builder.finish()
    return graph


class _Builder:
    """Puts the nodes of one drawing into the graph or into their module's box, then the edges."""

    def __init__(self, graph: GraphDrawing, model: GraphModel, options: DrawOptions, frame: Frame | None) -> None:
        self.graph, self.model, self.options, self.frame = graph, model, options, frame
        self.highlighted = options.highlighted()
        self.root_ids = {id(r) for r in model.roots}
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.collapsed = options.collapse_modules and options.direction == "forward"
        # Module calls are boxes; collapsed, the outermost calls are nodes and no box is left.
        self.boxes = (
            {}
            if self.collapsed
            else {
                region: graphviz.Digraph(
                    name=f"cluster_{region.number}", graph_attr={"label": region.label, **labels.CLUSTER_STYLE}
                )
                for region in model.regions
            }
        )

    # ------------------------------------------------------------ helpers

    def body(self, t: Tensor) -> graphviz.Digraph:
        """Where the node of `t` is declared: in the box of its module call, or in the graph."""
        region = self.model.region_of.get(id(t))
        return self.graph if region is None else self.boxes.get(region, self.graph)

    def node(self, where: graphviz.Digraph, name: str, label: str) -> None:
        where.node(name, label)  # the style is in the label: one attribute keeps huge graphs quick

    def edge(self, tail: str, head: str, **attrs: str) -> None:
        self.edges.append((tail, head, attrs))

    def name(self, t: Tensor) -> str | None:
        name = self.model.name(t)
        if name is None and self.frame is not None:
            name = self.frame.symbols.get(id(t))
        return name

    def kind(self, t: Tensor) -> str:
        if id(t) in self.highlighted:
            return "highlight"
        if id(t) in self.root_ids:
            return "output"
        if t._ctx is not None:
            return "intermediate"
        if t.requires_grad:
            return "parameter"
        if t.data.ndim == 0 and self.model.name(t) is None:
            return "scalar"  # a number in an expression, like the 2 in x * 2: drawn as just the number
        return "input"

    def legend(self, entries: list[tuple[str, str]]) -> None:
        """A boxed row of sample nodes, one per style, each saying what it stands for."""
        if self.frame is not None and not self.frame.legend:
            return
        legend = graphviz.Digraph(
            name="cluster_legend",
            graph_attr={"label": "legend", "style": "rounded", "color": "#b0b0b0", "fontcolor": "#606060"},
        )
        previous = None
        for kind, description in entries:
            node = f"legend_{kind}"
            self.node(legend, node, table([description], kind))
            if previous is not None:  # an invisible chain keeps the entries in one tidy row
                legend.edge(previous, node, style="invis")
            previous = node
        self.graph.subgraph(legend)

    def source_row(self, t: Tensor) -> Row | None:
        """Where a highlighted tensor was made, when anomaly mode recorded the line."""
        source = getattr(t._ctx, "source", None) if id(t) in self.highlighted else None
        if not source:
            return None
        filename, lineno, line = source
        short = str(filename).replace("\\", "/").rsplit("/", 1)[-1]
        return Row(f"made at {short}:{lineno}: {line.strip()}", color="#7f0000")

    # ------------------------------------------------------------ the forward view

    def forward(self) -> None:
        if self.frame is None:
            entries = [("parameter", "parameter (leaf, requires grad)"), ("input", "input / constant (no grad)")]
            entries += [("intermediate", "intermediate result"), ("output", "output"), ("op", "op")]
        else:
            entries = [("pending", "op: backward not reached yet"), ("done", "op: backward done")]
            entries += [("current", "op: backward running in this step")]
        if self.highlighted:
            entries.append(("highlight", "highlighted"))
        units = self.model.collapsible() if self.collapsed else []
        if units:
            entries.append(("module", "a module call, collapsed"))
        self.legend(entries)
        model = self.model
        module_node: dict[int, str] = {}  # id(tensor) -> the node of the collapsed call hiding it
        if units:
            for t in model.tensors:
                region = model.collapsed_in(t, units)
                if region is not None:
                    module_node[id(t)] = f"m{region.number}"
            for region in units:
                self.module(region)
        into_module: set[tuple[str, str]] = set()
        for i, t in enumerate(model.tensors):
            hidden_in = module_node.get(id(t))
            if hidden_in is None:
                self.tensor_node(i, t)
            ctx = t._ctx
            if ctx is None:
                continue
            op = f"op{i}" if hidden_in is None else hidden_in
            if hidden_in is None:
                self.op_node(i, t)
                self.edge(op, f"t{i}", **self.flow_style(t))
            for parent in ctx.parents:  # in argument order, once per use (x * x: two arrows)
                j = model.index.get(id(parent))
                if j is None:
                    continue
                tail = module_node.get(id(parent), f"t{j}")
                if hidden_in is not None:  # an arrow into a collapsed call, once per tensor
                    if tail == hidden_in or (tail, hidden_in) in into_module:
                        continue
                    into_module.add((tail, hidden_in))
                self.edge(tail, op, **(self.flow_style(t) if parent.requires_grad else {}))

    def flow_style(self, t: Tensor) -> dict[str, str]:
        """Arrows along which a trace's gradient has already flowed are drawn in the gradient red."""
        if self.frame is not None and id(t) in self.frame.flowed:
            return {"color": GRAD_COLOR, "penwidth": "2"}
        return {}

    def tensor_node(self, i: int, t: Tensor) -> None:
        name = self.name(t)
        kind = self.kind(t)
        frame = self.frame
        if kind == "scalar":
            self.node(self.body(t), f"t{i}", table([summary(t.data)], "scalar"))
            return
        rows: list[Row | str] = [Row(name, bold=True)] if name else []
        rows.append(shape_dtype(t.data))
        if self.options.show_values:
            rows.append(summary(t.data))
        if frame is not None:
            if id(t) in frame.grad_rows:
                rows.append(frame.grad_rows[id(t)])
        elif self.options.show_grads:
            grad = _grad(t)
            if grad is not None:
                rows.append(Row("grad " + summary(grad), color=GRAD_COLOR))
        source = self.source_row(t)
        if source is not None:
            rows.append(source)
        self.node(self.body(t), f"t{i}", table(rows, kind))

    def op_node(self, i: int, t: Tensor) -> None:
        frame = self.frame
        if frame is None:
            kind = "highlight" if id(t) in self.highlighted else "op"
            self.node(self.body(t), f"op{i}", table([t.op], kind))
            return
        state = frame.op_states.get(id(t), "pending")
        row = frame.op_labels.get(id(t)) or Row(t.op)  # an op whose backward never ran has no step
        self.node(self.body(t), f"op{i}", table([row], state))
        if state == "current":
            self.graph.focus = f"op{i}"

    def module(self, region: Region) -> None:
        """A collapsed module call: one node with its name, class and shapes."""
        call = region.call
        rows: list[Row | str] = [Row(region.label, bold=True)]
        rows.append("in " + ", ".join(str(x.shape) for x in call.inputs) if call.inputs else "in: nothing")
        rows.append(f"out {region.output.shape}")
        kind = "module"
        frame = self.frame
        if frame is not None:  # drawn like an op of the trace: pending, current or done
            states = [frame.op_states.get(key, "pending") for key in region.members]
            state = "current" if "current" in states else "done" if all(s == "done" for s in states) else "pending"
            kind = f"module_{state}"
            done = sum(s == "done" for s in states)
            rows.append(f"{done} of {len(states)} ops done")
            if id(region.output) in frame.grad_rows:
                rows.append(frame.grad_rows[id(region.output)])
        elif self.options.show_grads and _grad(region.output) is not None:
            rows.append(Row("grad " + summary(_grad(region.output)), color=GRAD_COLOR))
        if any(key in self.highlighted for key in region.members):
            kind = "highlight"
        self.node(self.graph, f"m{region.number}", table(rows, kind))
        if kind == "module_current":
            self.graph.focus = f"m{region.number}"

    # ------------------------------------------------------------ the backward view

    def backward(self) -> None:
        """The gradient flow: seed -> each op's backward -> the leaves' .grad."""
        self.legend(
            [
                ("seed", "seed: the gradient backward() starts from"),
                ("backward_op", "an op's backward (and the bytes it saved for it)"),
                ("parameter", "leaf: gradient accumulated into .grad"),
            ]
        )
        model = self.model
        for r in model.roots:
            i = model.index[id(r)]
            # The arrows say ∂L/∂(tensor): L stands for the output, whatever its name.
            name = model.name(r) or "the output"
            seed = "seed ∂L/∂L = 1" if r.size == 1 else "seed: the gradient given to backward()"
            rows = ["L" if name == "L" else f"L = {name}", seed, shape_dtype(r.data)]
            self.node(self.graph, f"seed{i}", table(rows, "seed"))
            self.gradient_edge(f"seed{i}", r)
        for i, t in enumerate(model.tensors):
            ctx = t._ctx
            if ctx is None:
                if t.requires_grad:  # leaves without requires_grad get no gradient: not drawn
                    self.leaf_grad_node(i, t)
                continue
            rows = [t.op and labels.backward_name(t.op)]
            if ctx.saved_nbytes:  # 0 once a backward pass without retain_graph has freed it
                rows.append(f"saved {ctx.saved_nbytes:,} B")
            kind = "highlight" if id(t) in self.highlighted else "backward_op"
            self.node(self.body(t), f"b{i}", table(rows, kind))
            for parent in ctx.parents:
                if parent.requires_grad and id(parent) in model.index:
                    self.gradient_edge(f"b{i}", parent)

    def leaf_grad_node(self, i: int, t: Tensor) -> None:
        name = self.model.name(t)
        rows: list[Row | str] = [Row(f"{name}.grad" if name else ".grad", bold=True), shape_dtype(t.data)]
        if self.options.show_values:
            rows.append("value " + summary(t.data))
        grad = _grad(t)
        if self.options.show_grads and grad is not None:
            rows.append(Row(summary(grad), color=GRAD_COLOR))
        kind = "highlight" if id(t) in self.highlighted else "parameter"
        self.node(self.body(t), f"g{i}", table(rows, kind))

    def gradient_edge(self, tail: str, t: Tensor) -> None:
        """An arrow carrying the gradient with respect to `t`, labelled with its name and shape."""
        j = self.model.index[id(t)]
        head = f"b{j}" if t._ctx is not None else f"g{j}"
        name = self.model.name(t)
        label = f"∂L/∂{name} {t.data.shape}" if name else str(t.data.shape)
        self.edge(tail, head, label=label, color=GRAD_COLOR, fontcolor=GRAD_COLOR, fontsize="9")

    # ------------------------------------------------------------ boxes, the cut, the edges

    def finish(self) -> None:
        # Nest the boxes: smallest first, so a box is complete before it goes into its parent,
        # and the outermost ones go into the graph last, before the edges.
        for region, box in self.boxes.items():
            parent = region.parent
            (self.graph if parent is None else self.boxes[parent]).subgraph(box)
        if self.graph.hidden_nodes:
            self.hidden_marker()
        plain: list[tuple[str, str]] = []  # runs of arrows without attributes go in one call
        for tail, head, attrs in self.edges:
            if attrs:
                self.graph.edges(plain)
                plain.clear()
                self.graph.edge(tail, head, **attrs)
            else:
                plain.append((tail, head))
        self.graph.edges(plain)

    def hidden_marker(self) -> None:
        """The node saying how much was left out, and dashed arrows wherever the drawing was cut."""
        graph, model = self.graph, self.model
        rows = [
            f"… {graph.hidden_nodes:,} more nodes not drawn",
            f"(max_nodes={self.options.max_nodes}; the whole graph has {graph.total_nodes:,} tensors and ops)",
        ]
        self.node(graph, "hidden", table(rows, "hidden"))
        for i, t in enumerate(model.tensors):
            ctx = t._ctx
            if ctx is not None and any(id(p) not in model.index for p in ctx.parents):
                if self.options.direction == "forward":
                    self.edge("hidden", f"op{i}", style="dashed", color="#c62828")
                else:
                    self.edge(f"b{i}", "hidden", style="dashed", color="#c62828")


def _grad(t: Tensor) -> Any:
    """The array of `t.grad`, or None; read without the warning `.grad` gives on non-leaf tensors
    (a drawing shows the gradients that are there, it does not ask for them)."""
    grad = t._grad
    return None if grad is None else grad.data
