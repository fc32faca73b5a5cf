"""Tests of `tinygrad_edu.viz.draw_graph`: the DOT structure of known graphs, rendering with the
real `dot` program, huge graphs, the missing-`dot` error and the `tinygrad-edu graph` command."""

from __future__ import annotations

import re
import shutil
import struct
import xml.etree.ElementTree as ET
from collections import Counter

import graphviz
import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import hooks
from tinygrad_edu.viz import DotNotFoundError, GraphDrawing, describe_module, draw_graph

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (make dot)")

# ---------------------------------------------------------------- reading DOT source back

_NODE = re.compile(r"^\t+(\w+) \[label=<(.*)>\]$", re.M)  # labels are HTML-like: <TABLE ...>...</TABLE>
_EDGE = re.compile(r"^\t+(\w+) -> (\w+)(?: \[(.*)\])?$", re.M)


class Dot:
    """The nodes and edges of a DOT source written by draw_graph, legend left out."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.labels: dict[str, str] = {}  # node -> its HTML-like label
        for name, label in _NODE.findall(source):
            if not name.startswith("legend_"):
                self.labels[name] = label
        self.edges: list[tuple[str, str, str]] = [
            (tail, head, attrs) for tail, head, attrs in _EDGE.findall(source) if not tail.startswith("legend_")
        ]

    def table(self, node: str) -> ET.Element:
        element = ET.fromstring(self.labels[node])
        return element if element.tag == "TABLE" else element.find(".//TABLE")

    def fields(self, node: str) -> list[str]:
        """The rows of a node's label as they read: ['W', '(4, 3) float32', ...]."""
        # Graphviz reads a backslash pair as one backslash (graphviz.escape doubles them).
        return ["".join(row.itertext()).replace("\\\\", "\\") for row in self.table(node).iter("TR")]

    def fill(self, node: str) -> str:
        return self.table(node).get("BGCOLOR")

    def frame_style(self, node: str) -> str:
        return self.table(node).get("STYLE")

    def key(self, node: str) -> str:
        """A readable name for a node: 'op:matmul' for ops, the first field for tensors."""
        if node.startswith("op"):
            return "op:" + self.fields(node)[0]
        return self.fields(node)[0]

    def ops(self) -> Counter:
        return Counter(self.fields(node)[0] for node in self.labels if node.startswith("op"))

    def named_edges(self) -> Counter:
        return Counter((self.key(tail), self.key(head)) for tail, head, _ in self.edges)

    def node_named(self, first_field: str) -> str:
        (node,) = [n for n in self.labels if not n.startswith("op") and self.fields(n)[0] == first_field]
        return node


def edge_label(attrs: str) -> str:
    return re.search(r'label="([^"]*)"', attrs).group(1)


def texts_of_svg(svg: bytes) -> tuple[ET.Element, list[str]]:
    root = ET.fromstring(svg)
    return root, ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def svg_groups(root: ET.Element, kind: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == kind]


# ---------------------------------------------------------------- small known graphs


def diamond():
    a = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True, name="a")
    b = a.exp()
    b.name = "b"
    c = a.relu()
    c.name = "c"
    d = b * c
    d.name = "d"
    return a, d


def test_diamond_has_exactly_its_ops_edges_and_labels():
    _a, d = diamond()
    dot = Dot(draw_graph(d).source)
    assert dot.ops() == Counter({"exp": 1, "relu": 1, "mul": 1})
    assert dot.named_edges() == Counter(
        {
            ("a", "op:exp"): 1,
            ("a", "op:relu"): 1,
            ("op:exp", "b"): 1,
            ("op:relu", "c"): 1,
            ("b", "op:mul"): 1,
            ("c", "op:mul"): 1,
            ("op:mul", "d"): 1,
        }
    )
    assert len(dot.labels) == 7  # a, b, c, d and three ops: `a` is drawn once although used twice
    assert dot.fields(dot.node_named("a")) == ["a", "(3,) float32"]
    # The styles: parameter (blue, bold), output (orange, thick), intermediate (white).
    assert dot.fill(dot.node_named("a")) == "#cfe3f7"
    assert dot.fill(dot.node_named("d")) == "#ffd9a8"
    assert dot.fill(dot.node_named("b")) == "#ffffff"


def test_reused_tensor_is_one_node_with_an_arrow_per_use():
    x = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, dtype=np.float64, name="x")
    y = x * x
    y.name = "y"
    z = y + x
    z.name = "z"
    dot = Dot(draw_graph(z).source)
    assert dot.ops() == Counter({"mul": 1, "add": 1})
    assert dot.named_edges() == Counter(
        {("x", "op:mul"): 2, ("op:mul", "y"): 1, ("y", "op:add"): 1, ("x", "op:add"): 1, ("op:add", "z"): 1}
    )
    assert dot.fields(dot.node_named("x")) == ["x", "(2, 2) float64"]
    assert dot.fields(dot.node_named("z")) == ["z", "(2, 2) float64"]


def test_numbers_are_drawn_as_small_constant_nodes():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    dot = Dot(draw_graph(x * 2.5).source)
    (const,) = [n for n in dot.labels if dot.fields(n) == ["2.5"]]
    assert dot.frame_style(const) == "rounded,dashed"
    assert dot.named_edges()[("2.5", "op:mul")] == 1


def test_inputs_and_constants_have_their_own_style_and_legend():
    x = tg.Tensor(np.ones((5, 3), dtype=np.float32), name="x")  # data: no grad
    w = tg.Tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True, name="w")
    g = draw_graph(x @ w)
    dot = Dot(g.source)
    assert dot.frame_style(dot.node_named("x")) == "rounded,dashed"
    assert dot.fields("t0") == ["(5, 4) float32"]  # the output, unnamed
    legend = {Dot(g.source.replace("legend_", "")).fields(n)[0] for n in re.findall(r"\tlegend_(\w+) \[", g.source)}
    assert {"parameter (leaf, requires grad)", "input / constant (no grad)", "intermediate result", "output"} <= legend
    assert "subgraph cluster_legend" in g.source


def test_params_dict_names_parameters_and_overrides_tensor_names():
    w = tg.Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True, name="old name")
    out = (w * 3.0).sum()
    dot = Dot(draw_graph(out, params={"weight": w}).source)
    assert dot.fields(dot.node_named("weight")) == ["weight", "(2, 2) float32"]
    assert "old name" not in dot.source


def test_show_values_small_tensors_list_values_and_large_ones_summarise():
    small = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="small")
    big = tg.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True, name="big")
    loss = (small * small).sum() + big.sum()
    loss.name = "loss"
    assert "[1, 2, 3]" not in draw_graph(loss).source  # values only on request
    loss.backward()
    dot = Dot(draw_graph(loss, show_values=True).source)
    assert dot.fields(dot.node_named("small")) == ["small", "(3,) float32", "[1, 2, 3]", "grad [2, 4, 6]"]
    assert dot.fields(dot.node_named("big")) == [
        "big",
        "(3, 4) float32",
        "min 0  mean 5.5  max 11",
        "grad min 1  mean 1  max 1",
    ]
    assert dot.fields(dot.node_named("loss")) == ["loss", "() float32", "80"]
    no_grads = Dot(draw_graph(loss, show_values=True, show_grads=False).source)
    assert no_grads.fields(no_grads.node_named("small")) == ["small", "(3,) float32", "[1, 2, 3]"]


def test_retained_grads_of_intermediates_are_shown_without_warnings(recwarn):
    x = tg.Tensor([1.0, -1.0], requires_grad=True, name="x")
    h = x.relu().retain_grad()
    h.name = "h"
    (h * 3.0).sum().backward()
    dot = Dot(draw_graph(h).source)
    assert dot.fields(dot.node_named("h")) == ["h", "(2,) float32", "grad [3, 3]"]
    assert not [w for w in recwarn if "non-leaf" in str(w.message)]


def test_special_characters_in_names_are_escaped():
    x = tg.Tensor([1.0], requires_grad=True, name='a|b<c>{"d"}\\')
    dot = Dot(draw_graph(x.exp()).source)
    assert dot.fields(dot.node_named('a|b<c>{"d"}\\')) == ['a|b<c>{"d"}\\', "(1,) float32"]


def test_rankdir_top_to_bottom_keeps_each_node_a_vertical_list():
    x = tg.Tensor([1.0], requires_grad=True, name="x")
    source = draw_graph(x.exp(), rankdir="TB").source
    assert "rankdir=TB" in source
    assert Dot(source).fields(Dot(source).node_named("x")) == ["x", "(1,) float32"]  # the same rows as LR


def test_several_roots_are_all_outputs():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    a, b = x.exp(), x.tanh()
    a.name, b.name = "a", "b"
    dot = Dot(draw_graph([a, b]).source)
    assert dot.ops() == Counter({"exp": 1, "tanh": 1})
    for name in ("a", "b"):
        assert dot.fill(dot.node_named(name)) == "#ffd9a8"


def test_tensor_draw_is_the_same_as_draw_graph():
    _a, d = diamond()
    drawn = d.draw(show_values=True)
    assert isinstance(drawn, graphviz.Digraph) and isinstance(drawn, GraphDrawing)
    assert drawn.source == draw_graph(d, show_values=True).source


def test_a_leaf_alone_is_one_node():
    x = tg.Tensor([1.0, 2.0], name="x")
    dot = Dot(draw_graph(x).source)
    assert [dot.fields(n) for n in dot.labels] == [["x", "(2,) float32"]]
    assert dot.edges == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"direction": "sideways"}, ValueError, "direction must be 'forward' or 'backward'"),
        ({"rankdir": "XY"}, ValueError, "rankdir must be one of LR, RL, TB, BT"),
        ({"max_nodes": 0}, ValueError, "max_nodes must be a positive integer"),
        ({"params": [1, 2]}, TypeError, "params must be a dict of name -> Tensor or a Module"),
        ({"params": {"w": np.ones(2)}}, TypeError, "params['w'] is a ndarray, not a Tensor"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs, error, message):
    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(error, match=re.escape(message)):
        draw_graph(x.exp(), **kwargs)


def test_drawing_something_that_is_not_a_tensor_says_so():
    with pytest.raises(TypeError, match=r"expected a Tensor .* got ndarray"):
        draw_graph(np.ones(3))


# ---------------------------------------------------------------- the backward view


def test_backward_view_shows_gradient_flow_with_shapes_and_saved_bytes():
    x = tg.Tensor([1.0, 2.0, 3.0], name="x")  # an input: no gradient flows to it
    w = tg.Tensor([0.5, -1.0, 2.0], requires_grad=True, name="w")
    loss = (x * w).sum()
    loss.name = "loss"
    dot = Dot(draw_graph(loss, direction="backward").source)
    backward_nodes = {n: dot.fields(n) for n in dot.labels if n.startswith("b")}
    # mul keeps both of its inputs (2 x 3 float32 = 24 bytes) for its backward; sum keeps nothing.
    assert sorted(backward_nodes.values()) == [["MulBackward", "saved 24 B"], ["SumBackward"]]
    seed = next(n for n in dot.labels if n.startswith("seed"))
    assert dot.fields(seed) == ["L = loss", "seed ∂L/∂L = 1", "() float32"]
    grad_node = next(n for n in dot.labels if n.startswith("g"))
    assert dot.fields(grad_node) == ["w.grad", "(3,) float32"]
    labels = {n: dot.fields(n)[0] for n in dot.labels}
    named = [(labels[t], labels[h], edge_label(a)) for t, h, a in dot.edges]
    assert sorted(named) == sorted(
        [
            ("L = loss", "SumBackward", "∂L/∂loss ()"),
            ("SumBackward", "MulBackward", "(3,)"),
            ("MulBackward", "w.grad", "∂L/∂w (3,)"),
        ]
    )
    assert "x" not in {lab.split(".")[0] for lab in labels.values()}  # x gets no gradient: not drawn

    loss.backward()  # frees the saved buffers and fills w.grad = x
    after = Dot(draw_graph(loss, direction="backward").source)
    assert sorted(after.fields(n) for n in after.labels if n.startswith("b")) == [["MulBackward"], ["SumBackward"]]
    grad_node = next(n for n in after.labels if n.startswith("g"))
    assert after.fields(grad_node) == ["w.grad", "(3,) float32", "[1, 2, 3]"]


# ---------------------------------------------------------------- huge graphs


def chain(length: int) -> tuple[tg.Tensor, tg.Tensor]:
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x
    for _ in range(length):
        y = -y
    return x, y


def test_100k_node_graph_is_walked_without_recursion_and_max_nodes_keeps_it_small():
    _x, y = chain(50_000)  # 50,001 tensors + 50,000 ops, 50,000 deep: recursion would fail
    g = draw_graph(y, max_nodes=40)
    assert g.total_nodes == 100_001
    assert g.drawn_nodes == 40
    assert g.hidden_nodes == 100_001 - 40
    dot = Dot(g.source)
    assert len(dot.labels) == 40 + 1  # the nodes kept, and the marker
    assert "… 99,961 more nodes not drawn" in dot.labels["hidden"]
    assert "max_nodes=40" in dot.labels["hidden"]
    # the nodes kept are those nearest the output, and the marker points where the rest attaches
    assert dot.fill("t0") == "#ffd9a8"
    cut = [(t, h, a) for t, h, a in dot.edges if t == "hidden"]
    assert len(cut) == 1 and "style=dashed" in cut[0][2]
    backward = Dot(draw_graph(y, max_nodes=40, direction="backward").source)
    assert sum(1 for n in backward.labels if n.startswith("b")) == 20  # NegBackward, one per op kept
    assert "… 99,961 more nodes not drawn" in backward.labels["hidden"]
    assert [h for t, h, a in backward.edges if "dashed" in a] == ["hidden"]  # the flow goes on there


def test_100k_node_graph_builds_its_whole_source():
    _x, y = chain(50_000)
    g = draw_graph(y)
    assert g.hidden_nodes == 0
    assert len(_NODE.findall(g.source)) == 100_001 + 5  # and the 5 legend entries
    assert "hidden" not in g.source


@needs_dot
def test_10k_node_graph_renders_a_small_picture_with_max_nodes():
    xs = [tg.Tensor([float(i)], requires_grad=True) for i in range(2_500)]
    total = xs[0]
    for v in xs[1:]:
        total = total + v.tanh()
    g = draw_graph(total, max_nodes=150)
    assert g.total_nodes > 10_000
    root, texts = texts_of_svg(g.pipe(format="svg"))
    assert len(svg_groups(root, "node")) <= 150 + 1 + 5  # kept nodes, marker, legend
    assert f"… {g.hidden_nodes:,} more nodes not drawn" in texts


# ---------------------------------------------------------------- module boxes through the hooks seam


class FakeModule:
    """A stand-in for nn.Module: reports each call to `hooks` as `Module.__call__` does."""

    def __init__(self, fn, **attributes):
        self.fn = fn
        self.__dict__.update(attributes)

    def __call__(self, *inputs):
        out = self.fn(*inputs)
        hooks.record_module_call(self, inputs, out)
        return out


class Linear(FakeModule):
    pass


def test_a_module_call_is_a_box_of_everything_between_its_inputs_and_output():
    tg.manual_seed(0)
    w1 = tg.randn(3, 4, requires_grad=True)
    w2 = tg.randn(4, 2, requires_grad=True)
    first = Linear(lambda x: x @ w1, in_features=3, out_features=4)
    second = Linear(lambda x: (x @ w2).tanh(), in_features=4, out_features=2)
    x = tg.randn(5, 3)
    x.name = "x"
    out = second(first(x).relu()).sum()
    source = draw_graph(out, params={"w1": w1, "w2": w2}).source
    boxes = dict(_clusters(source))
    assert sorted(boxes.values()) == ["Linear(3→4)", "Linear(4→2)"]
    body = {label: _cluster_body(source, name) for name, label in boxes.items()}
    dot = Dot(source)
    inside_first = {dot.key(n) for n in _nodes_in(body["Linear(3→4)"])}
    inside_second = {dot.key(n) for n in _nodes_in(body["Linear(4→2)"])}
    assert inside_first == {"w1", "op:matmul", "(5, 4) float32"}
    assert Counter(dot.key(n) for n in _nodes_in(body["Linear(4→2)"])) == Counter(
        {"w2": 1, "op:matmul": 1, "op:tanh": 1, "(5, 2) float32": 2}
    )
    # the input, the relu between the calls and the sum after them are outside both boxes
    assert "x" not in inside_first | inside_second
    assert "op:relu" not in inside_first | inside_second
    assert "op:sum" not in inside_first | inside_second


def test_nested_module_calls_draw_nested_boxes_named_from_named_modules():
    tg.manual_seed(0)
    w = tg.randn(2, 2, requires_grad=True)
    inner = FakeModule(lambda x: (x @ w).relu())
    outer = FakeModule(lambda x: inner(x * 2.0) + 1.0)

    class Model:
        def named_modules(self):
            return [("block", outer), ("block.inner", inner)]

        def named_parameters(self):
            return [("block.inner.w", w)]

    out = outer(tg.randn(3, 2, requires_grad=True))  # so that x * 2.0, inside outer, is recorded
    source = draw_graph(out, params=Model()).source
    assert source.index('label="block: FakeModule"') < source.index('label="block.inner: FakeModule"')
    outer_body = _cluster_body(source, _cluster_named(source, "block: FakeModule"))
    assert 'label="block.inner: FakeModule"' in outer_body  # the inner box sits in the outer one
    inner_nodes = {Dot(source).key(n) for n in _nodes_in(_cluster_body(source, _cluster_named(source, "block.inner")))}
    assert inner_nodes == {"block.inner.w", "op:matmul", "op:relu", "(3, 2) float32"}
    outer_only = {Dot(source).key(n) for n in _nodes_in(outer_body)} - inner_nodes
    assert outer_only >= {"op:mul", "op:add", "2", "1"}


def test_a_module_called_twice_gets_two_numbered_boxes():
    w = tg.Tensor(np.eye(2, dtype=np.float32), requires_grad=True, name="w")
    cell = FakeModule(lambda h: (h @ w).tanh())
    h = tg.Tensor(np.ones((1, 2), dtype=np.float32), name="h0")
    out = cell(cell(h))
    source = draw_graph(out).source
    assert 'label="FakeModule (call 1)"' in source and 'label="FakeModule (call 2)"' in source
    # w is used by both calls, so it belongs to neither box
    dot = Dot(source)
    for call in ("FakeModule (call 1)", "FakeModule (call 2)"):
        assert "w" not in {dot.key(n) for n in _nodes_in(_cluster_body(source, _cluster_named(source, call)))}


def test_a_container_returning_its_last_layers_tensor_gets_its_own_box():
    # container(x) returns layer's output unchanged: one tensor, two calls, two nested boxes.
    w = tg.Tensor(np.eye(2, dtype=np.float32), requires_grad=True)
    layer = FakeModule(lambda x: x @ w)
    container = FakeModule(lambda x: layer(x.relu()))
    x = tg.Tensor(np.ones((1, 2), dtype=np.float32), requires_grad=True)
    out = container(x)
    assert [c.module for c in hooks.module_calls(out)] == [layer, container]
    source = draw_graph(out, params=_names({"net": container, "net.layer": layer})).source
    outer_body = _cluster_body(source, _cluster_named(source, "net: FakeModule"))
    assert 'label="net.layer: FakeModule"' in outer_body
    assert "op:relu" in {Dot(source).key(n) for n in _nodes_in(outer_body)}


def test_hooks_look_tensors_up_by_identity_and_forget_them():
    x = tg.Tensor([[1.0, 2.0]], requires_grad=True)
    y = x * 2  # more than one element: a lookup with == would raise
    hooks.record_module_call("m", (x,), y)
    hooks.record_module_call("outer", (x,), y)
    assert [c.module for c in hooks.module_calls(y)] == ["m", "outer"]
    assert hooks.module_call(y).module == "outer"
    assert hooks.module_calls(x * 2) == ()
    key = id(y)
    del y
    assert key not in hooks._calls


def test_describe_module():
    assert describe_module(Linear(None, in_features=784, out_features=256)) == "Linear(784→256)"
    assert describe_module(FakeModule(None, sizes=[3, 4, 2])) == "FakeModule(3→4→2)"
    assert describe_module(FakeModule(None, p=0.5)) == "FakeModule(p=0.5)"
    assert describe_module(FakeModule(None)) == "FakeModule"


def _names(modules: dict):
    class Named:
        def named_modules(self):
            return list(modules.items())

        def named_parameters(self):
            return []

    return Named()


_CLUSTER = re.compile(r'subgraph (cluster_\d+) \{\n\t+graph \[.*label=(?:"([^"]*)"|(\w+))')


def _clusters(source: str) -> list[tuple[str, str]]:
    """(name, label) of the module boxes in a DOT source (the legend left out)."""
    return [(name, quoted or bare) for name, quoted, bare in _CLUSTER.findall(source)]


def _cluster_named(source: str, label_start: str) -> str:
    (name,) = [name for name, label in _clusters(source) if label.startswith(label_start)]
    return name


def _cluster_body(source: str, name: str) -> str:
    """The text of one cluster, nested clusters included (DOT's braces are balanced)."""
    start = source.index(f"subgraph {name} {{")
    depth = 0
    for i in range(start, len(source)):
        depth += source[i] == "{" and source[i - 1] != "\\"
        depth -= source[i] == "}" and source[i - 1] != "\\"
        if source[i] == "}" and source[i - 1] != "\\" and depth == 0:
            return source[start : i + 1]
    raise AssertionError(f"unbalanced cluster {name}")


def _nodes_in(body: str) -> list[str]:
    return [name for name, _ in _NODE.findall(body)]


# ---------------------------------------------------------------- rendering with the real dot


@needs_dot
def test_render_svg_has_every_node_label_and_shape():
    _a, d = diamond()
    d.sum().backward()
    g = draw_graph(d, show_values=True)
    svg = g.pipe(format="svg")
    root, texts = texts_of_svg(svg)
    assert root.tag == f"{SVG}svg"
    assert len(svg_groups(root, "node")) == len(_NODE.findall(g.source)) == 7 + 5
    assert len(svg_groups(root, "edge")) == 7  # the legend's chain is invisible: not in the SVG
    # d = e^a relu(a), so dd/da = e^a (relu(a) + [a > 0]) = [2e, 0, 4e^3]
    for text in ("a", "b", "c", "d", "(3,) float32", "exp", "relu", "mul", "[1, -2, 3]", "grad [5.44, 0, 80.3]"):
        assert text in texts


@needs_dot
def test_render_png_is_a_real_picture(tmp_path):
    _a, d = diamond()
    png = draw_graph(d).pipe(format="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # from the IHDR chunk
    assert width > 300 and height > 100 and len(png) > 5_000
    path = draw_graph(d).render(outfile=tmp_path / "graph.png", cleanup=True)
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.gv"))  # cleanup=True leaves only the picture


@needs_dot
def test_jupyter_shows_the_graph_inline_as_svg():
    _a, d = diamond()
    bundle = draw_graph(d)._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


@needs_dot
def test_render_escaped_names_and_backward_view():
    x = tg.Tensor([1.0], requires_grad=True, name='a|b<c>"d"')
    loss = x.exp().sum()
    _, texts = texts_of_svg(draw_graph(loss).pipe(format="svg"))
    assert 'a|b<c>"d"' in texts
    _root, texts = texts_of_svg(draw_graph(loss, direction="backward").pipe(format="svg"))
    assert {"SumBackward", "ExpBackward", "saved 4 B", 'a|b<c>"d".grad', '∂L/∂a|b<c>"d" (1,)'} <= set(texts)


# ---------------------------------------------------------------- without dot


def test_missing_dot_gives_install_instructions_and_the_source_still_builds(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot` anywhere
    _a, d = diamond()
    g = draw_graph(d)
    assert len(Dot(g.source).labels) == 7  # building the DOT source needs no dot program
    for render in (lambda: g.pipe(format="svg"), lambda: g.render(outfile=tmp_path / "g.svg"), g._repr_mimebundle_):
        with pytest.raises(DotNotFoundError) as caught:
            render()
        message = str(caught.value)
        assert "`dot` program was not found on PATH" in message
        assert "sudo apt-get install graphviz" in message
        assert "brew install graphviz" in message
        assert "conda install -c conda-forge graphviz" in message
        assert isinstance(caught.value, graphviz.ExecutableNotFound)  # existing handlers still catch it


# ---------------------------------------------------------------- the MLP 3 -> 4 -> 2 with cross-entropy


def mlp_loss(batch: int = 5, seed: int = 0):
    from tinygrad_edu import nn
    from tinygrad_edu.nn import functional

    rng = np.random.default_rng(seed)
    model = nn.MLP([3, 4, 2], generator=rng)
    x = tg.Tensor(rng.standard_normal((batch, 3)).astype(np.float32), name="x")
    loss = functional.cross_entropy(model(x), rng.integers(0, 2, batch))
    loss.name = "loss"
    return model, x, loss


def expected_edges(root: tg.Tensor, names: dict[int, str]) -> Counter:
    """The edges draw_graph must draw, from the public `.op` and `.parents` of the tensors."""

    def key(t):
        if t.op is None and t.ndim == 0 and id(t) not in names and t.name is None:
            return f"{t.item():.3g}"  # a number in an expression
        name = names.get(id(t)) or t.name
        return name if name else f"{t.shape} {t.dtype}"

    edges: Counter = Counter()
    seen, stack = {id(root)}, [root]
    while stack:
        t = stack.pop()
        if t.op is None:
            continue
        edges[("op:" + t.op, key(t))] += 1
        for p in t.parents:
            edges[(key(p), "op:" + t.op)] += 1
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return edges


def test_mlp_with_cross_entropy_has_exactly_its_ops_edges_and_labels():
    model, _, loss = mlp_loss()
    dot = Dot(draw_graph(loss, params=model).source)
    names = {id(p): n for n, p in model.named_parameters()}
    assert dot.named_edges() == expected_edges(loss, names)
    # Parameters, named from the model, with the shapes of Linear(3, 4) and Linear(4, 2).
    for name, shape in [
        ("layers.0.weight", "(4, 3)"),
        ("layers.0.bias", "(4,)"),
        ("layers.2.weight", "(2, 4)"),
        ("layers.2.bias", "(2,)"),
    ]:
        node = dot.node_named(name)
        assert dot.fields(node) == [name, f"{shape} float32"]
        assert dot.fill(node) == "#cfe3f7"  # parameter style
    assert dot.fields(dot.node_named("x")) == ["x", "(5, 3) float32"]
    assert dot.fields(dot.node_named("loss")) == ["loss", "() float32"]
    ops = dot.ops()
    # The model: two Linear layers (x @ W.T + b) and a ReLU; softmax cross-entropy adds exp,
    # log and sum (log_softmax), getitem (picking each row's class) and the mean.
    assert ops["matmul"] == 2 and ops["transpose"] == 2 and ops["relu"] == 1
    assert ops["exp"] == 1 and ops["log"] == 1 and ops["getitem"] == 1
    assert sum(ops.values()) == sum(1 for tail, _ in dot.named_edges().elements() if tail.startswith("op:"))
    shapes = Counter(dot.fields(n)[-1] for n in dot.labels if n.startswith("t") and "float32" in dot.labels[n])
    assert shapes["(5, 4) float32"] == 3  # x W1.T, + b1, relu
    assert shapes["(5, 2) float32"] >= 2  # a1 W2.T, + b2 (the logits), and inside log_softmax


def test_mlp_layers_are_boxes_named_like_named_modules():
    model, _, loss = mlp_loss()
    source = draw_graph(loss, params=model).source
    dot = Dot(source)
    boxes = {label: name for name, label in _clusters(source)}
    assert {"layers.0: Linear(3→4)", "layers.1: ReLU", "layers.2: Linear(4→2)"} <= set(boxes)
    # Outer boxes appear only if hooks reports the calls of containers that return their last
    # layer's tensor; then they must be the model and its Sequential.
    assert set(boxes) - {"layers.0: Linear(3→4)", "layers.1: ReLU", "layers.2: Linear(4→2)"} <= {
        "MLP(3→4→2)",
        "layers: Sequential",
    }
    first = Counter(dot.key(n) for n in _nodes_in(_cluster_body(source, boxes["layers.0: Linear(3→4)"])))
    assert first == Counter(
        {
            "layers.0.weight": 1,
            "layers.0.bias": 1,
            "op:transpose": 1,
            "op:matmul": 1,
            "op:add": 1,
            "(3, 4) float32": 1,  # W.T
            "(5, 4) float32": 2,  # x W.T and x W.T + b
        }
    )
    relu = Counter(dot.key(n) for n in _nodes_in(_cluster_body(source, boxes["layers.1: ReLU"])))
    assert relu == Counter({"op:relu": 1, "(5, 4) float32": 1})
    outside = {dot.key(n) for n in dot.labels} - {
        dot.key(n) for b in boxes.values() for n in _nodes_in(_cluster_body(source, b))
    }
    assert {"x", "loss", "op:exp", "op:log", "op:getitem"} <= outside  # the input and the loss


def test_mlp_backward_view_shows_gradient_shapes_and_saved_bytes():
    model, _, loss = mlp_loss()
    loss.backward(retain_graph=True)  # keeps the saved buffers, so their sizes are drawn
    dot = Dot(draw_graph(loss, params=model, direction="backward").source)
    edge_labels = Counter(edge_label(a) for _, _, a in dot.edges)
    for name, shape in [
        ("layers.0.weight", "(4, 3)"),
        ("layers.0.bias", "(4,)"),
        ("layers.2.weight", "(2, 4)"),
        ("layers.2.bias", "(2,)"),
    ]:
        assert edge_labels[f"∂L/∂{name} {shape}"] == 1
        node = next(n for n in dot.labels if n.startswith("g") and dot.fields(n)[0] == f"{name}.grad")
        grad = dict(model.named_parameters())[name].grad.data
        assert dot.fields(node)[1] == f"{shape} float32"
        assert dot.fields(node)[2].startswith("[" if grad.size <= 8 else f"min {grad.min():.3g}")
    assert edge_labels["(5, 4)"] >= 2  # the gradient reaching the relu and the first layer
    backward_ops = Counter(dot.fields(n)[0] for n in dot.labels if n.startswith("b"))
    assert backward_ops["MatmulBackward"] == 2 and backward_ops["ReluBackward"] == 1
    # relu keeps a (5, 4) bool mask: 20 bytes
    assert ["ReluBackward", "saved 20 B"] in [dot.fields(n) for n in dot.labels]
    assert "x" not in {dot.fields(n)[0] for n in dot.labels if n.startswith("g")}  # no grad for the input


@needs_dot
def test_mlp_renders_to_svg_with_every_node_and_label():
    model, _, loss = mlp_loss()
    g = draw_graph(loss, params=model)
    root, texts = texts_of_svg(g.pipe(format="svg"))
    assert len(svg_groups(root, "node")) == len(_NODE.findall(g.source))
    assert len(svg_groups(root, "cluster")) == 1 + len(re.findall(r"subgraph cluster_\d+", g.source))
    for text in ("layers.0: Linear(3→4)", "layers.2: Linear(4→2)", "layers.0.weight", "(4, 3) float32", "x"):
        assert text in texts
    assert texts.count("(5, 4) float32") == 3


# ---------------------------------------------------------------- the command line


def run_cli(*argv: str) -> int:
    from tinygrad_edu.cli import main

    return main(["graph", *argv])


@needs_dot
def test_cli_writes_a_valid_svg(tmp_path, capsys):
    out = tmp_path / "graph.svg"
    assert run_cli("--out", str(out)) == 0
    root, texts = texts_of_svg(out.read_bytes())
    assert root.tag == f"{SVG}svg"
    assert len(svg_groups(root, "node")) > 30
    assert {"layers.0: Linear(3→4)", "layers.2.weight", "(5, 4) float32", "loss"} <= set(texts)
    assert f"wrote {out}" in capsys.readouterr().out


@needs_dot
def test_cli_other_sizes_png_and_backward(tmp_path):
    out = tmp_path / "deep" / "mlp.png"  # the format comes from the suffix; folders are made
    assert run_cli("--sizes", "6", "8", "8", "3", "--batch", "4", "--direction", "backward", "--out", str(out)) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "forward.svg"
    assert run_cli("--sizes", "6", "8", "8", "3", "--batch", "4", "--format", "svg", "--out", str(svg)) == 0
    _, texts = texts_of_svg(svg.read_bytes())
    assert {"layers.4: Linear(8→3)", "(4, 8) float32", "(4, 3) float32"} <= set(texts)


def test_cli_without_dot_explains_and_can_still_write_dot_source(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert run_cli("--out", str(tmp_path / "g.svg")) == 1
    assert "sudo apt-get install graphviz" in capsys.readouterr().err
    assert not (tmp_path / "g.svg").exists()
    assert run_cli("--format", "dot", "--out", str(tmp_path / "g.gv")) == 0
    assert 'label="layers.0: Linear(3→4)"' in (tmp_path / "g.gv").read_text()


def test_cli_rejects_bad_sizes(capsys):
    assert run_cli("--sizes", "3") == 2
    assert "--sizes needs at least two positive sizes" in capsys.readouterr().err


# ---------------------------------------------------------------- collapsed modules, highlights


def test_collapse_modules_draws_each_layer_call_as_one_node_with_its_shapes():
    model, _x, loss = mlp_loss(batch=5)
    full = Dot(draw_graph(loss, params=model).source)
    g = draw_graph(loss, params=model, collapse_modules=True)
    dot = Dot(g.source)
    modules = sorted(n for n in dot.labels if n.startswith("m"))
    # The MLP's call holds all the others alone, so it is opened: one node per layer call.
    assert [dot.fields(m) for m in modules] == [
        ["layers.0: Linear(3→4)", "in (5, 3)", "out (5, 4)"],
        ["layers.1: ReLU", "in (5, 4)", "out (5, 4)"],
        ["layers.2: Linear(4→2)", "in (5, 4)", "out (5, 2)"],
    ]
    assert all(dot.fill(m) == "#ece6fa" for m in modules)
    assert "subgraph cluster_0" not in g.source  # no boxes left: the calls inside are hidden in the nodes
    names = {dot.fields(n)[0] for n in dot.labels}
    assert not names & {"layers.0.weight", "layers.2.bias"}  # the parameters are inside the calls
    assert dot.ops()["matmul"] == 0 and dot.ops()["relu"] == 0
    # x goes into the first layer, each layer into the next, the last one into the loss's first op.
    arrows = [(dot.key(t), dot.key(h)) for t, h, _ in dot.edges if t in modules or h in modules]
    assert sorted(arrows) == sorted(
        [
            ("x", "layers.0: Linear(3→4)"),
            ("layers.0: Linear(3→4)", "layers.1: ReLU"),
            ("layers.1: ReLU", "layers.2: Linear(4→2)"),
            ("layers.2: Linear(4→2)", "op:sub"),
        ]
    )
    # Everything after the model is drawn op by op, as without collapsing.
    outside = Counter({op: n for op, n in full.ops().items() if op not in ("matmul", "transpose", "relu")})
    outside["add"] -= 2  # the two biases
    assert +dot.ops() == +outside


def test_collapse_modules_opens_a_model_level_by_level_but_keeps_separate_calls_whole():
    from tinygrad_edu import nn

    inner = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    wrapper = nn.Sequential(inner)  # a call around a call around the layers: opened twice
    loss = wrapper(tg.randn(2, 3)).sum()
    modules = [
        n for n in Dot(draw_graph(loss, params=wrapper, collapse_modules=True).source).labels if n.startswith("m")
    ]
    assert len(modules) == 2  # the Linear and the ReLU
    first, second = nn.Linear(3, 3), nn.Linear(3, 3)  # two calls side by side: each stays one node
    loss = (second(first(tg.randn(2, 3)))).sum()
    assert len([n for n in Dot(draw_graph(loss, collapse_modules=True).source).labels if n.startswith("m")]) == 2


def test_collapse_modules_keeps_separate_calls_and_what_is_between_them():
    w = tg.Tensor(np.eye(2, dtype=np.float32), requires_grad=True, name="w")
    cell = FakeModule(lambda h: (h @ w).tanh())
    h0 = tg.Tensor(np.ones((1, 2), dtype=np.float32), name="h0")
    out = (cell(cell(h0) * 2.0)).sum()
    dot = Dot(draw_graph(out, collapse_modules=True).source)
    modules = sorted(n for n in dot.labels if n.startswith("m"))
    assert [dot.fields(n)[0] for n in modules] == ["FakeModule (call 1)", "FakeModule (call 2)"]
    assert all(dot.fields(n)[1:] == ["in (1, 2)", "out (1, 2)"] for n in modules)
    # w is shared by the two calls, so it stays outside both and feeds each of them
    assert Counter(dot.key(h) for t, h, _ in dot.edges if dot.key(t) == "w") == Counter(
        {dot.key(modules[0]): 1, dot.key(modules[1]): 1}
    )
    assert dot.ops()["mul"] == 1  # the * 2.0 between the calls is drawn


def test_highlight_marks_tensors_and_says_where_they_were_made():
    x = tg.Tensor([1.0, -1.0], requires_grad=True, name="x")
    with np.errstate(invalid="ignore"):
        y = x.log()
    y.name = "y"
    loss = y.sum()
    y._ctx.source = ("/home/me/train.py", 12, "    y = x.log()\n")  # what detect_anomaly() records
    g = draw_graph(loss, highlight=y)
    dot = Dot(g.source)
    node = dot.node_named("y")
    assert dot.fill(node) == "#ffcdd2" and dot.table(node).get("BORDER") == "4"
    assert dot.fields(node) == ["y", "(2,) float32", "made at train.py:12: y = x.log()"]
    assert dot.fill(dot.node_named("x")) == "#cfe3f7"  # the others keep their colours
    legend = {Dot(g.source.replace("legend_", "")).fields(n)[0] for n in re.findall(r"\tlegend_(\w+) \[", g.source)}
    assert "highlighted" in legend
    both = Dot(draw_graph(loss, highlight=[x, y]).source)
    assert both.fill(both.node_named("x")) == both.fill(both.node_named("y")) == "#ffcdd2"
    backward = Dot(draw_graph(loss, highlight=y, direction="backward").source)
    (log_backward,) = [n for n in backward.labels if backward.fields(n)[0] == "LogBackward"]
    assert backward.fill(log_backward) == "#ffcdd2"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"highlight": np.ones(2)}, "highlight must be a Tensor or a list of Tensors, got ndarray"),
        ({"highlight": [None]}, "highlight must be a Tensor or a list of Tensors, got NoneType"),
    ],
)
def test_bad_highlight_says_what_is_wrong(kwargs, message):
    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=re.escape(message)):
        draw_graph(x.exp(), **kwargs)


@needs_dot
def test_collapsed_mlp_renders(tmp_path):
    model, _, loss = mlp_loss()
    _, texts = texts_of_svg(draw_graph(loss, params=model, collapse_modules=True).pipe(format="svg"))
    assert {"layers.0: Linear(3→4)", "layers.2: Linear(4→2)", "in (5, 3)", "out (5, 2)", "loss"} <= set(texts)


# ---------------------------------------------------------------- to_dict


def test_to_dict_is_the_drawn_graph_as_json():
    import json

    from tinygrad_edu.viz import to_dict

    model, _x, loss = mlp_loss()
    loss.backward()
    data = to_dict(loss, params=model)
    json.dumps(data, allow_nan=False)  # strict JSON
    nodes = {n["id"]: n for n in data["nodes"]}
    dot = Dot(draw_graph(loss, params=model).source)
    assert set(nodes) == set(dot.labels)  # the same nodes, with the same ids, as the picture
    assert Counter((e["source"], e["target"]) for e in data["edges"]) == Counter((t, h) for t, h, _ in dot.edges)
    weight = next(n for n in data["nodes"] if n["name"] == "layers.0.weight")
    w = dict(model.named_parameters())["layers.0.weight"]
    assert weight["kind"] == "tensor" and weight["op"] is None and weight["shape"] == [4, 3]
    assert weight["dtype"] == "float32" and weight["module"] == "layers.0: Linear(3→4)" and weight["requires_grad"]
    assert weight["value"]["values"] is None  # 12 elements: summarised
    assert weight["grad"]["mean"] == pytest.approx(float(w.grad.numpy().mean()), rel=1e-6)
    assert weight["grad"]["abs_max"] == pytest.approx(float(np.abs(w.grad.numpy()).max()), rel=1e-6)
    bias = next(n for n in data["nodes"] if n["name"] == "layers.2.bias")
    b = dict(model.named_parameters())["layers.2.bias"]
    assert bias["grad"]["values"] == pytest.approx(b.grad.numpy().tolist())
    assert nodes["t0"]["name"] == "loss" and nodes["t0"]["module"] is None
    relu = next(n for n in data["nodes"] if n["kind"] == "op" and n["op"] == "relu")
    assert relu["module"] == "layers.1: ReLU" and relu["shape"] == [5, 4]
    assert next(n for n in data["nodes"] if n["name"] == "x")["grad"] is None
    # the arrows into an op say which argument they are
    matmul = next(n["id"] for n in data["nodes"] if n["kind"] == "op" and n["op"] == "matmul" and n["shape"] == [5, 4])
    into = sorted((e["input"], nodes[e["source"]]["name"]) for e in data["edges"] if e["target"] == matmul)
    assert into == [(0, "x"), (1, None)]  # x @ W.T: W.T is unnamed


def test_to_dict_writes_nan_and_inf_as_strings():
    from tinygrad_edu.viz import to_dict

    x = tg.Tensor([0.0, -1.0, 1.0], requires_grad=True, name="x")
    with np.errstate(divide="ignore", invalid="ignore"):
        y = x.log()
    (node,) = [n for n in to_dict(y)["nodes"] if n["kind"] == "tensor" and n["op"] == "log"]
    assert node["value"]["values"] == ["-inf", "nan", 0.0]
    assert node["value"]["nonfinite"] == 2
