"""Tests of `tinygrad_edu.viz.trace_backward`: the steps it records, every gradient it reports
(intermediates included) against finite differences and PyTorch's `retain_grad()`, the text of
`explain()` (with the hand-derived numbers of docs/backprop.md), the pictures of `draw(step)`,
and the HTML player as a file. The player in a real browser is in test_player_browser.py."""

from __future__ import annotations

import ast
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.viz import BackwardTrace, draw_graph, trace_backward
from tinygrad_edu.viz.explain import RULES, format_array, formula

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (make dot)")
_NODE = re.compile(r"^\t+(\w+) \[label=<(.*)>\]$", re.M)


def rows_of(source: str) -> dict[str, list[str]]:
    """node -> the rows of its label, as they read (legend left out)."""
    out = {}
    for name, label in _NODE.findall(source):
        if not name.startswith("legend_"):
            table = ET.fromstring(label)
            table = table if table.tag == "TABLE" else table.find(".//TABLE")
            out[name] = ["".join(tr.itertext()) for tr in table.iter("TR")]
    return out


def fills_of(source: str) -> dict[str, str]:
    out = {}
    for name, label in _NODE.findall(source):
        table = ET.fromstring(label)
        table = table if table.tag == "TABLE" else table.find(".//TABLE")
        out[name] = table.get("BGCOLOR")
    return out


# ---------------------------------------------------------------- b = a + a; c = b + b


def doubled():
    a = tg.Tensor(1.0, requires_grad=True, name="a")
    b = a + a
    b.name = "b"
    c = b + b
    c.name = "c"
    return a, b, c


def test_steps_are_the_engines_in_order_with_complete_and_passed_gradients():
    a, b, c = doubled()
    trace = trace_backward(c)
    assert [(s.index, s.op) for s in trace.steps] == [(0, "add"), (1, "add")]
    assert trace.steps[0].tensor is c and trace.steps[1].tensor is b
    assert [s.grad.item() for s in trace.steps] == [1.0, 2.0]  # ∂L/∂c, then the complete ∂L/∂b
    assert [[g.item() for g in s.input_grads] for s in trace.steps] == [[1.0, 1.0], [2.0, 2.0]]
    assert trace.grad_of(a).item() == 4.0 == a.grad.item()
    assert trace.grad_of(b).item() == 2.0 and trace.grad_of(c).item() == 1.0
    assert b._grad is None  # a trace does not keep gradients on intermediates


def test_a_wrong_order_would_compute_a_wrong_gradient():
    """Why the order must be topological: b's backward may run only once both of b's uses
    (the two inputs of c = b + b) have passed their gradient. Run it after only one of them and
    a gets 2, not 4. The trace shows the engine waited: b's step comes after c's, with 1 + 1."""
    a, b, c = doubled()
    trace = trace_backward(c)
    order = [s.tensor for s in trace.steps]
    assert order.index(c) < order.index(b)
    premature = 2 * trace.steps[0].input_grads[0]  # b's backward with only the first 1 arrived
    assert premature.item() == 2.0 != trace.grad_of(a).item()


def test_explain_shows_where_gradients_meet_and_are_added():
    _a, _b, c = doubled()
    text = trace_backward(c).explain()
    paragraphs = text.split("\n\n")
    assert [p.splitlines()[0] for p in paragraphs] == ["Step 0: add  (c = b + b)", "Step 1: add  (b = a + a)"]
    assert "Arrived: ∂L/∂c = 1  (the seed: backward() starts here, at c = 4)" in paragraphs[0]
    assert "b is used twice by this op, so its gradients are added: ∂L/∂b = 1 + 1 = 2" in paragraphs[0]
    assert "Arrived: ∂L/∂b = 1 + 1 = 2  (the gradients from the 2 uses of b were added)" in paragraphs[1]
    assert "a is used twice by this op, so its gradients are added: ∂L/∂a = 2 + 2 = 4" in paragraphs[1]


def test_gradients_from_different_steps_are_added_and_said_so():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x.exp()
    y.name = "y"
    loss = (y * x).sum()  # x is used by exp and by mul: two steps pass it a gradient
    loss.name = "loss"
    trace = trace_backward(loss)
    text = trace.explain()
    e = np.exp([1.0, 2.0])
    assert "x already had a gradient from step 1, so they are added" in text
    np.testing.assert_allclose(trace.grad_of(x), e + e * np.array([1.0, 2.0]), rtol=1e-6)


def test_draw_shows_done_current_pending_and_the_accumulation():
    _a, _b, c = doubled()
    trace = trace_backward(c)
    pictures = {step: trace.draw(step) for step in (-1, 0, 1)}
    rows = {step: rows_of(g.source) for step, g in pictures.items()}
    fills = {step: fills_of(g.source) for step, g in pictures.items()}
    done, current, pending = "#c8e6c9", "#ffb74d", "#f4f4f4"

    def ops(step):
        return {rows[step][n][0]: fills[step][n] for n in rows[step] if n.startswith("op")}

    assert ops(-1) == {"step 0: add": pending, "step 1: add": pending}
    assert ops(0) == {"▶ step 0: add": current, "step 1: add": pending}
    assert ops(1) == {"step 0: add ✓": done, "▶ step 1: add": current}

    def grad_row(step, name):
        return next(r[-1] for r in rows[step].values() if r[0] == name)

    assert grad_row(-1, "c") == "∂L/∂c = 1"  # the seed is there before the first step
    assert (grad_row(-1, "b"), grad_row(-1, "a")) == ("∂L/∂b: not reached yet", "∂L/∂a: not reached yet")
    assert grad_row(0, "b") == "∂L/∂b = 1 + 1 = 2"  # the two uses of b, added
    assert grad_row(0, "a") == "∂L/∂a: not reached yet"
    assert grad_row(1, "a") == "∂L/∂a = 2 + 2 = 4"
    assert trace.draw().source == pictures[1].source  # None: the end


def test_a_node_is_as_wide_in_every_frame_so_the_picture_does_not_move():
    x = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True, name="x")
    loss = (x.relu() * x).sum()
    trace = trace_backward(loss)
    widths = [re.findall(r'<TD WIDTH="(\d+)">', trace.draw(step).source) for step in range(-1, len(trace.steps))]
    assert widths[0] and all(w == widths[0] for w in widths)


def test_partial_gradients_say_how_many_arrived():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    h = x * 3.0
    h.name = "h"
    loss = (h.exp() + h.tanh()).sum()  # h gets a gradient from exp and from tanh, in two steps
    trace = trace_backward(loss)
    first = min(s.index for s in trace.steps if s.op in ("exp", "tanh"))
    (row,) = [r[-1] for r in rows_of(trace.draw(first).source).values() if r[0] == "h"]
    assert row.endswith("(1 of 2 arrived)")


def test_a_small_matrix_gradient_is_drawn_a_row_per_line_and_a_large_one_summarised():
    w = tg.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True, name="W")
    v = tg.Tensor(np.ones((9, 5)), requires_grad=True, name="V")
    trace = trace_backward((w**2).sum() + (v * 2.0).sum())
    rows = {r[0]: r for r in rows_of(trace.draw().source).values()}
    assert rows["W"][-4:] == ["∂L/∂W =", "[0, 2]", "[4, 6]", "[8, 10]"]  # ∂(w²)/∂w = 2w, row by row
    assert rows["V"][-1] == "∂L/∂V = min 2  mean 2  max 2"  # 9 rows: summarised
    before = {r[0]: r for r in rows_of(trace.draw(-1).source).values()}
    assert before["W"][-4:] == ["∂L/∂W: not reached yet", "", "", ""]  # as many lines: the node keeps its size


def test_the_transpose_of_a_named_matrix_is_named_with_a_t():
    W = tg.Tensor(np.ones((2, 3)), requires_grad=True, name="W₂")
    A = tg.Tensor(np.ones((4, 3)), name="A₁")
    trace = trace_backward((A @ W.T).sum())
    assert [trace.symbol(s.tensor) for s in trace.steps] == ["L", "t1", "W₂ᵀ"]
    text = trace.explain()
    assert "Step 1: matmul  (t1 = A₁ @ W₂ᵀ)" in text and "∂L/∂W₂ᵀ = A₁ᵀ ∂L/∂t1" in text
    assert "∂L/∂W₂ = (∂L/∂W₂ᵀ)ᵀ" in text
    x = tg.Tensor(np.ones((2, 3, 4)), requires_grad=True, name="x")
    assert "xᵀ" not in trace_backward(x.transpose(2, 0, 1).sum()).explain()  # ᵀ only for a matrix


def test_draw_checks_its_arguments():
    _a, _b, c = doubled()
    trace = trace_backward(c)
    with pytest.raises(ValueError, match=r"step must be an index into steps, from -1 .* to 1"):
        trace.draw(2)
    with pytest.raises(ValueError, match="the trace is drawn on the forward graph"):
        trace.draw(direction="backward")
    with pytest.raises(ValueError, match="rankdir must be one of"):
        trace.draw(rankdir="XY")


def test_collapsed_modules_in_a_trace_show_the_calls_state():
    from tinygrad_edu import nn
    from tinygrad_edu.nn import functional

    tg.manual_seed(0)
    model = nn.MLP([3, 4, 2])
    loss = functional.cross_entropy(model(tg.randn(5, 3)), np.array([0, 1, 1, 0, 1]))
    trace = trace_backward(loss, params=model)
    inside = [s.index for s in trace.steps if s.op in ("relu", "matmul")]
    rows = rows_of(trace.draw(inside[0], collapse_modules=True).source)
    modules = {r[0]: r for n, r in rows.items() if n.startswith("m")}  # one node per layer call
    assert set(modules) == {"layers.0: Linear(3→4)", "layers.1: ReLU", "layers.2: Linear(4→2)"}
    last = modules["layers.2: Linear(4→2)"]  # backward reaches the last layer first
    assert last[3].endswith("ops done") and last[3] != "0 of 3 ops done"


def test_params_name_the_parameters_in_text_and_pictures():
    from tinygrad_edu import nn

    tg.manual_seed(0)
    model = nn.Linear(3, 2)
    loss = model(tg.randn(4, 3)).sum()
    trace = trace_backward(loss, params=model)
    assert "∂L/∂weight" in trace.explain() and "∂L/∂bias" in trace.explain()
    names = {r[0] for r in rows_of(trace.draw().source).values()}
    assert {"weight", "bias"} <= names


def test_trace_backward_is_an_ordinary_backward():
    def program():
        tg.manual_seed(3)
        w = tg.randn(4, 3, requires_grad=True)
        x = tg.randn(5, 3)
        return w, ((x @ w.T).tanh() ** 2).mean()

    w_plain, loss = program()
    loss.backward()
    w_traced, loss = program()
    w_traced.grad = tg.Tensor(np.ones((4, 3), dtype=np.float32))  # .grad accumulates, as usual
    trace = trace_backward(loss)
    np.testing.assert_array_equal(w_traced.grad.numpy(), w_plain.grad.numpy() + 1)
    np.testing.assert_array_equal(trace.grad_of(w_traced), w_plain.grad.numpy())
    with pytest.raises(tg.BackwardError, match="freed"):
        loss.backward()  # the buffers were freed, as after any backward without retain_graph


def test_retain_graph_and_a_given_gradient():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    y = x * x
    trace = trace_backward(y, gradient=np.array([1.0, 0.5, -1.0], dtype=np.float32), retain_graph=True)
    np.testing.assert_allclose(trace.grad_of(x), [2.0, 2.0, -6.0])
    np.testing.assert_allclose(trace.seed, [1.0, 0.5, -1.0])
    again = trace_backward(y.sum())  # the graph was kept
    np.testing.assert_allclose(again.grad_of(x), [2.0, 4.0, 6.0])


def test_a_leaf_root_has_no_steps():
    x = tg.Tensor(2.0, requires_grad=True)
    trace = trace_backward(x)
    assert trace.steps == [] and trace.explain() == "" and trace.grad_of(x).item() == 1.0


def test_trace_backward_checks_its_input():
    with pytest.raises(TypeError, match="expected the Tensor to run backward from, got ndarray"):
        trace_backward(np.ones(3))
    with pytest.raises(tg.BackwardError):
        trace_backward(tg.Tensor([1.0, 2.0], requires_grad=True) * 2)  # not a scalar, no gradient given


def test_trace_backward_is_exported_at_the_top():
    assert tg.viz.trace_backward is trace_backward
    assert isinstance(trace_backward(tg.Tensor(1.0, requires_grad=True) * 2), BackwardTrace)


# ---------------------------------------------------------------- every gradient, checked twice


class TG:
    """The few functions whose spelling differs between tinygrad_edu and PyTorch."""

    cat = staticmethod(lambda xs, axis: tg.cat(xs, axis=axis))
    where = staticmethod(tg.where)
    amax = staticmethod(lambda x, axis: x.max(axis=axis, keepdims=True))
    rowsum = staticmethod(lambda x, axis: x.sum(axis=axis, keepdims=True))


def torch_ops():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (make oracle)")

    class Torch:
        cat = staticmethod(lambda xs, axis: torch.cat(xs, dim=axis))
        where = staticmethod(torch.where)
        amax = staticmethod(lambda x, axis: x.amax(dim=axis, keepdim=True))
        rowsum = staticmethod(lambda x, axis: x.sum(dim=axis, keepdim=True))

    return torch, Torch


def program_mlp(t, bump, ops):
    """A small MLP with a broadcast bias, a tensor used three times and a reduction."""
    x, w1, b1, w2 = t["x"], t["w1"], t["b1"], t["w2"]
    z = bump("z", x @ w1.T + b1)
    a = bump("a", z.relu())
    h = bump("h", a * a + a)
    out = bump("out", h @ w2.T)
    return (out.tanh() ** 2).mean()


def program_softmax(t, bump, ops):
    """log-softmax cross-entropy by hand: max, exp, sum, log, sub, getitem, div."""
    logits = bump("logits", t["x"] @ t["w"])
    shifted = bump("shifted", logits - ops.amax(logits, 1))
    log_probs = bump("log_probs", shifted - ops.rowsum(shifted.exp(), 1).log())
    picked = bump("picked", log_probs[[0, 1, 2, 3], [0, 2, 1, 2]])
    return -(picked.sum() / 4.0)


def program_shapes(t, bump, ops):
    """reshape, transpose, cat, maximum, abs, where, a division by a tensor."""
    x, y = t["x"], t["y"]
    r = bump("r", x.reshape(3, 4).transpose(1, 0))
    c = bump("c", ops.cat([r, y], 0))
    m = bump("m", c.maximum(c * 0.5).abs())
    w = bump("w", ops.where(m > 0.3, m / (y.sum() + 3.0), -m))
    return (w * w).sum()


PROGRAMS = {
    "mlp": (program_mlp, {"x": (5, 3), "w1": (4, 3), "b1": (4,), "w2": (2, 4)}, {"x"}, ["z", "a", "h", "out"]),
    "softmax": (program_softmax, {"x": (4, 3), "w": (3, 3)}, set(), ["logits", "shifted", "log_probs", "picked"]),
    "shapes": (program_shapes, {"x": (12,), "y": (2, 3)}, set(), ["r", "c", "m", "w"]),
}


def inputs_for(name: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {k: rng.standard_normal(shape) * 0.8 for k, shape in PROGRAMS[name][1].items()}


def run_traced(name: str):
    program, _, constants, _ = PROGRAMS[name]
    t = {k: tg.Tensor(v, requires_grad=k not in constants) for k, v in inputs_for(name).items()}
    kept: dict = {}

    def bump(key, tensor):
        kept[key] = tensor
        return tensor

    return trace_backward(program(t, bump, TG)), t, kept


def finite_differences(name: str, key: str, size: int, eps: float = 1e-6) -> np.ndarray:
    """∂L/∂(the tensor called `key`), by nudging each element of it (a leaf, or an intermediate
    as it is computed) up and down and running the program again."""
    program = PROGRAMS[name][0]
    grad = np.zeros(size)
    for i in range(size):
        values = []
        for sign in (1, -1):
            arrays = inputs_for(name)
            if key in arrays:
                arrays[key].reshape(-1)[i] += sign * eps

            def bump(k, tensor, sign=sign, i=i):
                if k != key:
                    return tensor
                data = tensor.numpy().copy()
                data.reshape(-1)[i] += sign * eps
                return tg.Tensor(data)

            with tg.no_grad():
                values.append(program({k: tg.Tensor(v) for k, v in arrays.items()}, bump, TG).item())
        grad[i] = (values[0] - values[1]) / (2 * eps)
    return grad


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_gradient_of_a_trace_equals_finite_differences(name, float64):
    trace, leaves, kept = run_traced(name)
    _, _, constants, intermediates = PROGRAMS[name]
    for key in [*(k for k in leaves if k not in constants), *intermediates]:
        tensor = leaves.get(key, kept.get(key))
        numerical = finite_differences(name, key, tensor.size)
        np.testing.assert_allclose(trace.grad_of(tensor).reshape(-1), numerical, rtol=1e-5, atol=1e-8, err_msg=key)
    # Each step's gradient is the one grad_of reports, and what it passed on has its inputs' shapes.
    for step in trace.steps:
        np.testing.assert_array_equal(step.grad, trace.grad_of(step.tensor))
        for parent, g in zip(step.tensor.parents, step.input_grads):
            assert g is None or g.shape == parent.shape


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_gradient_of_a_trace_equals_pytorch_retain_grad(name, float64):
    torch, ops = torch_ops()
    program, _, constants, intermediates = PROGRAMS[name]
    trace, leaves, kept = run_traced(name)
    t = {k: torch.tensor(v, requires_grad=k not in constants) for k, v in inputs_for(name).items()}
    retained: dict = {}

    def bump(key, tensor):
        tensor.retain_grad()
        retained[key] = tensor
        return tensor

    program(t, bump, ops).backward()
    for key in intermediates:
        expected = retained[key].grad.numpy()
        np.testing.assert_allclose(trace.grad_of(kept[key]), expected, rtol=1e-10, atol=1e-12, err_msg=key)
    for key, tensor in t.items():
        if key not in constants:
            expected = tensor.grad.numpy()
            np.testing.assert_allclose(trace.grad_of(leaves[key]), expected, rtol=1e-10, atol=1e-12, err_msg=key)


# ---------------------------------------------------------------- the worked example of docs/backprop.md

BACKPROP_PAGE = Path(__file__).resolve().parent.parent / "docs" / "backprop.md"


def _page_constants(page: str, target: str) -> list:
    """The lists that the page's first line `target = tg.Tensor([...], ...)` (or `x, y = tg.Tensor(...),
    tg.Tensor(...)`) passes to Tensor: the weights of its worked example, as the page has them."""
    for line in page.splitlines():
        if line.startswith(f"{target} = tg.Tensor("):
            value = ast.parse(line).body[0].value
            calls = value.elts if isinstance(value, ast.Tuple) else [value]
            return [ast.literal_eval(call.args[0]) for call in calls]
    raise AssertionError(f"docs/backprop.md no longer has a line {target} = tg.Tensor(...): update this test")


def _page_table_value(page: str, row: str) -> list[str]:
    """The numbers, as written, in the last column of the worked example's table row whose first
    column has `row`."""
    (line,) = [line for line in page.splitlines() if line.startswith("| $") and row in line.split("|")[1]]
    return re.findall(r"-?\d+(?:\.\d+)?", line.split("|")[-2])


def _printed(text: str, left: str) -> list[str]:
    """The numbers explain() prints after the first `left = ` followed by a value (not a formula):
    on that line, and on the rows of a matrix below it (its shape, `(1 × 4)`, left out)."""
    lines = text.splitlines()
    value = re.compile(rf"^\s*{re.escape(left)} = (\(\d+ × \d+\)|-?\d|\[)")  # a value, not a formula
    start = next(i for i, line in enumerate(lines) if value.match(line))
    shown = [re.sub(r"\(\d+ × \d+\)", "", lines[start].split(" = ", 1)[1].split("  (")[0])]
    for line in lines[start + 1 :]:
        if not line.lstrip().startswith("["):
            break
        shown.append(line)
    return re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", " ".join(shown))


def backprop_page_example():
    """The 3 → 4 → 2 worked example of docs/backprop.md as the page has it now (its weights read
    from its code, one example as a row: a batch of B = 1), traced with the names of the docs'
    notation; and what the page derives by hand, read from its table."""
    page = BACKPROP_PAGE.read_text(encoding="utf-8")
    (W1,), (b1,), (W2,), (b2,) = (_page_constants(page, name) for name in ("W1", "b1", "W2", "b2"))
    W1, W2 = tg.Tensor(W1, requires_grad=True, name="W₁"), tg.Tensor(W2, requires_grad=True, name="W₂")
    b1, b2 = tg.Tensor(b1, requires_grad=True, name="b₁"), tg.Tensor(b2, requires_grad=True, name="b₂")
    x, y = _page_constants(page, "x, y")
    X, Y = tg.Tensor([x], name="X"), tg.Tensor([y], name="Y")
    Z1 = X @ W1.T + b1
    Z1.name = "Z₁"
    A1 = Z1.relu()
    A1.name = "A₁"
    Y_hat = A1 @ W2.T + b2
    Y_hat.name = "Ŷ"
    loss = ((Y_hat - Y) ** 2).mean()
    loss.name = "L"
    tensors = {"W₁": W1, "b₁": b1, "W₂": W2, "b₂": b2, "Z₁": Z1, "A₁": A1, "Ŷ": Y_hat, "L": loss}
    by_hand = {  # the numbers as the page writes them
        "L": _page_table_value(page, r"L = \frac{1}{2}"),
        "Ŷ": _page_table_value(page, r"\delta_2 = \hat y - y"),  # δ₂ = ∂L/∂ŷ (= ∂L/∂z₂)
        "W₂": _page_table_value(page, r"\partial L / \partial W_2"),
        "A₁": _page_table_value(page, r"\partial L / \partial a_1"),
        "Z₁": _page_table_value(page, r"\delta_1 = "),  # δ₁ = ∂L/∂z₁
    }
    return loss, tensors, by_hand


def test_explain_prints_the_numbers_the_backprop_page_derives_by_hand():
    loss, tensors, by_hand = backprop_page_example()
    assert by_hand["L"] == ["0.7165"] and by_hand["Ŷ"] == ["-0.13", "-1.19"]  # the table was read
    trace = trace_backward(loss)
    text = trace.explain()
    assert f"(the seed: backward() starts here, at L = {by_hand['L'][0]})" in text
    for name in ("Ŷ", "W₂", "A₁", "Z₁"):
        page_numbers = np.array(by_hand[name], dtype=float)
        np.testing.assert_allclose(trace.grad_of(tensors[name]).reshape(-1), page_numbers, atol=5e-5, err_msg=name)
        # explain() prints them as the page writes them, digit for digit
        assert _printed(text, f"∂L/∂{name}") == by_hand[name], f"∂L/∂{name}:\n{text}"
    # The formulas in the docs' notation, with this network's names.
    assert "Step 7: relu  (A₁ = relu(Z₁))" in text and "∂L/∂Z₁ = ∂L/∂A₁ ⊙ 1[Z₁ > 0]" in text
    assert "∂L/∂b₁ = ∂L/∂Z₁, summed over axis 0 back to the shape (4,) of b₁ (b₁ was broadcast)" in text
    assert "Step 5: matmul  (t2 = A₁ @ W₂ᵀ)" in text  # the .T of A₁ @ W₂.T is called W₂ᵀ
    assert "∂L/∂A₁ = ∂L/∂t2 W₂" in text and "∂L/∂W₂ᵀ = A₁ᵀ ∂L/∂t2" in text and "∂L/∂W₂ = (∂L/∂W₂ᵀ)ᵀ" in text
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == len(trace.steps) == 11
    for step, paragraph in zip(trace.steps, paragraphs):
        assert paragraph.startswith(f"Step {step.index}: {step.op}  (")


def test_the_backprop_page_network_in_float64_against_the_general_formulas(float64):
    """The same trace on a batch of 8 random examples, against the page's five formulas."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    W1, W2 = rng.standard_normal((4, 3)) * 0.5, rng.standard_normal((2, 4)) * 0.5
    b1, b2 = rng.standard_normal(4) * 0.1, rng.standard_normal(2) * 0.1
    Z1 = X @ W1.T + b1
    delta2 = 2 / Y.size * (np.maximum(Z1, 0) @ W2.T + b2 - Y)
    delta1 = (delta2 @ W2) * (Z1 > 0)
    params = [tg.Tensor(v, requires_grad=True) for v in (W1, b1, W2, b2)]
    Z1_t = X @ params[0].T + params[1]
    Y_hat_t = Z1_t.relu() @ params[2].T + params[3]
    trace = trace_backward(((Y_hat_t - Y) ** 2).mean())
    np.testing.assert_allclose(trace.grad_of(Y_hat_t), delta2, rtol=1e-12)
    np.testing.assert_allclose(trace.grad_of(Z1_t), delta1, rtol=1e-12, atol=1e-15)
    hand = [delta1.T @ X, delta1.sum(0), delta2.T @ np.maximum(Z1, 0), delta2.sum(0)]
    for p, g in zip(params, hand):
        np.testing.assert_allclose(trace.grad_of(p), g, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- the formula table


PRIMITIVES = (
    "neg exp log relu tanh abs cast add sub mul div pow maximum where sum max reshape transpose expand "
    "getitem scatter_add cat matmul"
).split()


def test_every_primitive_has_its_chain_rule_and_a_custom_op_a_generic_one():
    for op in PRIMITIVES:
        line = formula(op, "out", ["a", "b", "c"], 1 if op == "where" else 0, ndims=(2, 2))
        assert line.startswith("∂L/∂") and "∂L/∂out" in line and "what the backward of" not in line, op
    assert set(RULES) | {"matmul"} >= set(PRIMITIVES)
    assert formula("matmul", "y", ["W", "v"], 0, ndims=(2, 1)) == "∂L/∂W = ∂L/∂y ⊗ v  (an outer product)"
    assert formula("matmul", "y", ["W", "v"], 1, ndims=(2, 1)) == "∂L/∂v = Wᵀ ∂L/∂y"

    class Cube(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x**2

    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = Cube.apply(x)
    y.name = "y"
    text = trace_backward(y.sum()).explain()
    assert "∂L/∂x = what the backward of cube returned for its input 0" in text
    assert f"∂L/∂x = {format_array(np.array([3.0, 12.0]))}" in text  # what Cube's backward returned


# ---------------------------------------------------------------- the player, as a file


def _player(tmp_path, **options):
    _a, _b, c = doubled()
    trace = trace_backward(c)
    path = trace.to_html(tmp_path / "deep" / "player.html", **options)
    return trace, path, path.read_text(encoding="utf-8")


@needs_dot
def test_to_html_writes_one_self_contained_file(tmp_path):
    trace, path, page = _player(tmp_path)
    assert path == tmp_path / "deep" / "player.html"
    assert [p.name for p in path.parent.iterdir()] == ["player.html"]  # written atomically: no temporary left
    ordinary = tmp_path / "ordinary.txt"
    ordinary.write_text("")
    assert path.stat().st_mode & 0o777 == ordinary.stat().st_mode & 0o777  # not private: a player is shared
    assert page.count('<div class="frame"') == len(trace.steps) + 1 == page.count("<svg")
    assert 'id="step-title"' in page and 'id="step-text"' in page
    # nothing is fetched: no external script, style, font, image or link
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page)
    assert not re.search(r"@import|url\(|<link\b|<img\b|<iframe\b", page)
    assert not re.search(r"https?://(?!www\.w3\.org/(2000/svg|1999/xlink))", page)
    data = json.loads(re.search(r'<script type="application/json" id="frames-data">(.*?)</script>', page, re.S)[1])
    frames = data["frames"]
    assert [f["title"] for f in frames] == ["The forward graph", "Step 0: add", "Step 1: add"]
    assert [f["text"] for f in frames[1:]] == trace.explain().split("\n\n")
    assert "2 + 2 = 4" in page  # in the last picture


@needs_dot
def test_a_long_pass_is_played_in_at_most_max_frames(tmp_path):
    x = tg.Tensor([0.5, -0.5], requires_grad=True, name="x")
    h = x
    for _ in range(30):
        h = h.tanh()
    trace = trace_backward(h.sum())
    page = trace.to_html(tmp_path / "p.html", max_frames=8).read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="frames-data">(.*?)</script>', page, re.S)[1])
    assert len(data["frames"]) <= 8 == page.count("<svg") + 0 or page.count("<svg") == len(data["frames"])
    covered = [s for f in data["frames"][1:] for s in range(f["first_step"], f["last_step"] + 1)]
    assert covered == list(range(len(trace.steps)))  # every step, once, in order
    assert all(f["text"].count("Step ") == f["last_step"] - f["first_step"] + 1 for f in data["frames"][1:])
    with pytest.raises(ValueError, match="max_frames must be at least 2"):
        trace.to_html(tmp_path / "q.html", max_frames=1)


@needs_dot
def test_repr_html_is_the_player_in_an_iframe():
    _a, _b, c = doubled()
    html = trace_backward(c)._repr_html_()
    assert html.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in html
    assert "id=&quot;step-title&quot;" in html and "Step 1: add" in html


def test_to_html_without_dot_says_how_to_install_it(tmp_path, monkeypatch):
    from tinygrad_edu.viz import DotNotFoundError

    _a, _b, c = doubled()
    trace = trace_backward(c)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DotNotFoundError, match="sudo apt-get install graphviz"):
        trace.to_html(tmp_path / "p.html")
    assert not (tmp_path / "p.html").exists()


# ---------------------------------------------------------------- anomaly mode and highlight


def test_a_nan_found_by_detect_anomaly_can_be_highlighted():
    x = tg.Tensor([1.0, -1.0], requires_grad=True, name="x")
    with tg.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(tg.AnomalyError) as caught:
        y = x.log()  # log(-1) is NaN: anomaly mode stops right here
        (y * 2).sum().backward()
    error = caught.value
    bad = error.tensor
    assert bad.op == "log"
    assert "test_trace.py" in str(error) and "y = x.log()" in str(error)
    source = draw_graph(bad, highlight=bad).source
    (row,) = [r for r in rows_of(source).values() if r[0].startswith("(2,)")]
    assert row[-1].startswith("made at test_trace.py:") and ": y = x.log()  # log(-1) is NaN" in row[-1]
    assert fills_of(source)["t0"] == "#ffcdd2"


@needs_dot
def test_the_pictures_of_the_player_do_not_move_from_frame_to_frame():
    """Every node keeps its place in every frame (within the width of a thicker border), so the
    reader's eye stays on the graph while the colours and gradients change."""
    from tinygrad_edu import nn
    from tinygrad_edu.nn import functional
    from tinygrad_edu.viz.player import render_svgs

    tg.manual_seed(0)
    model = nn.MLP([6, 8, 8, 3])
    loss = functional.cross_entropy(model(tg.randn(4, 6)), np.array([0, 1, 2, 1]))
    trace = trace_backward(loss, params=model)
    for options in ({}, {"collapse_modules": True}):
        svgs = render_svgs([trace._draw(step, options, legend=False).source for step in range(-1, len(trace.steps))])
        centres = [_node_centres(svg) for svg in svgs]
        for step, frame in enumerate(centres[1:]):
            moved = {
                n: (centres[0][n], c) for n, c in frame.items() if np.abs(np.subtract(c, centres[0][n])).max() > 2.5
            }
            assert not moved, f"{options}: frame of step {step} moved {moved}"


def _node_centres(svg: str) -> dict[str, tuple[float, float]]:
    svg_ns = "{http://www.w3.org/2000/svg}"
    centres = {}
    for group in ET.fromstring(svg).iter(f"{svg_ns}g"):
        if group.get("class") == "node":
            numbers = [float(v) for p in group.iter(f"{svg_ns}path") for v in re.findall(r"-?[\d.]+", p.get("d"))]
            xs, ys = numbers[0::2], numbers[1::2]
            centres[group.find(f"{svg_ns}title").text] = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
    return centres
