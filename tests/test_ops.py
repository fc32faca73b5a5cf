"""Every op in `op_table.OP_CASES` through the same property tests.

Shapes, parameters and values are drawn by hypothesis; the oracles are NumPy (values), central
finite differences in float64 (first and second derivatives) and PyTorch when installed.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from op_table import OP_CASES, OpCase

import tinygrad_edu as tg

EPS = 1e-6


def draw_inputs(case: OpCase, data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    shapes, params = data.draw(case.cases, label="shapes, params")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    try:
        arrays = case.sample(rng, shapes, params)
    except RuntimeError:
        assume(False)  # no smooth inputs for this shape (e.g. a max over ties): draw another
    return arrays, params


def central_differences(f, arrays: list[np.ndarray], eps: float = EPS) -> list[np.ndarray]:
    """d f / d arrays[i] for a scalar f, one element at a time: (f(x + eps) - f(x - eps)) / 2 eps."""
    grads = []
    for array in arrays:
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + eps
            up = f(*arrays)
            array[index] = original - eps
            down = f(*arrays)
            array[index] = original
            grad[index] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads


cases = pytest.mark.parametrize("case", OP_CASES, ids=lambda case: case.name)


@cases
@given(data=st.data())
def test_forward_matches_numpy_float64(case: OpCase, data: st.DataObject) -> None:
    arrays, params = draw_inputs(case, data)
    out = case.fn(*[tg.Tensor(a) for a in arrays], **params)
    expected = case.reference(*arrays, **params)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@cases
def test_forward_keeps_float32(case: OpCase) -> None:
    shapes, params = case.example
    arrays = [a.astype(np.float32) for a in case.sample(np.random.default_rng(0), shapes, params)]
    out = case.fn(*[tg.Tensor(a) for a in arrays], **params)
    expected = case.reference(*arrays, **params)
    if case.name != "cast":  # cast goes float32 -> float64 on purpose
        assert out.dtype == np.float32, f"{case.name} turned float32 into {out.dtype}"
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)


@cases
@given(data=st.data())
def test_gradient_matches_finite_differences(case: OpCase, data: st.DataObject) -> None:
    arrays, params = draw_inputs(case, data)
    tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(*tensors, **params)
    # A random upstream gradient, so every output element matters with its own weight.
    weights = np.random.default_rng(1).standard_normal(out.shape)
    (out * weights).sum().backward()
    expected = central_differences(lambda *xs: float(np.sum(case.math(*xs, **params) * weights)), arrays)
    for i, (t, numeric) in enumerate(zip(tensors, expected)):
        assert t.grad is not None, f"{case.name}: input {i} got no gradient"
        assert t.grad.shape == t.shape and t.grad.dtype == t.dtype
        np.testing.assert_allclose(t.grad.data, numeric, rtol=1e-5, atol=1e-7, err_msg=f"{case.name}, input {i}")


def first_gradient(case: OpCase, arrays: list[np.ndarray], params: dict, weights: np.ndarray) -> list[np.ndarray]:
    tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
    loss = (case.fn(*tensors, **params) * weights).sum()
    return [g.data for g in tg.grad(loss, tensors)]


@cases
@given(data=st.data())
def test_second_derivative_matches_finite_differences_of_gradient(case: OpCase, data: st.DataObject) -> None:
    """create_graph=True: the gradient is differentiable again, and H v matches finite
    differences of the (already tested) first gradient along v."""
    arrays, params = draw_inputs(case, data)
    rng = np.random.default_rng(2)
    tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(*tensors, **params)
    weights = rng.standard_normal(out.shape)
    grads = tg.grad((out * weights).sum(), tensors, create_graph=True)
    # The recorded gradient equals the ordinary one.
    for g, plain in zip(grads, first_gradient(case, arrays, params, weights)):
        np.testing.assert_allclose(g.data, plain, rtol=1e-12, atol=1e-12)

    directions = [rng.standard_normal(a.shape) for a in arrays]
    along = sum((g * v).sum() for g, v in zip(grads, directions))
    if isinstance(along, tg.Tensor) and along.requires_grad:
        hvp = [
            np.zeros_like(a) if h is None else h.data
            for a, h in zip(arrays, tg.grad(along, tensors, allow_unused=True))
        ]
    else:  # the gradient does not depend on the inputs (a linear op): H = 0
        hvp = [np.zeros_like(a) for a in arrays]

    eps = 1e-5
    plus = first_gradient(case, [a + eps * v for a, v in zip(arrays, directions)], params, weights)
    minus = first_gradient(case, [a - eps * v for a, v in zip(arrays, directions)], params, weights)
    for i, (h, p, m) in enumerate(zip(hvp, plus, minus)):
        np.testing.assert_allclose(h, (p - m) / (2 * eps), rtol=1e-4, atol=1e-6, err_msg=f"{case.name}, input {i}")


# ---------------------------------------------------------------- PyTorch as a second oracle

TORCH_FUNCTIONS = {
    "add": lambda torch, a, b: a + b,
    "mul": lambda torch, a, b: a * b,
    "neg": lambda torch, a: -a,
    "exp": lambda torch, a: a.exp(),
    "log": lambda torch, a: a.log(),
    "relu": lambda torch, a: a.relu(),
    "tanh": lambda torch, a: a.tanh(),
    "abs": lambda torch, a: a.abs(),
    "pow": lambda torch, a, b: a**b,
    "maximum": lambda torch, a, b: torch.maximum(a, b),
    "minimum": lambda torch, a, b: torch.minimum(a, b),
    "sub": lambda torch, a, b: a - b,
    "div": lambda torch, a, b: a / b,
    "sqrt": lambda torch, a: a.sqrt(),
    "sigmoid": lambda torch, a: a.sigmoid(),
    "softplus": lambda torch, a: torch.nn.functional.softplus(a),
    "matmul": lambda torch, a, b: a @ b,
    "sum": lambda torch, a, axis=None, keepdims=False: a.sum() if axis is None else a.sum(axis, keepdim=keepdims),
    "mean": lambda torch, a, axis=None, keepdims=False: a.mean() if axis is None else a.mean(axis, keepdim=keepdims),
    "var": lambda torch, a, axis=None, keepdims=False: a.var() if axis is None else a.var(axis, keepdim=keepdims),
    "max": lambda torch, a, axis=None, keepdims=False: a.amax() if axis is None else a.amax(axis, keepdim=keepdims),
    "logsumexp": lambda torch, a, axis, keepdims=False: a.logsumexp(axis, keepdim=keepdims),
    "softmax": lambda torch, a, axis: a.softmax(axis),
    "log_softmax": lambda torch, a, axis: a.log_softmax(axis),
    "clip": lambda torch, a: a.clamp(-0.5, 0.8),
    "transpose": lambda torch, a, axes: a.permute(*axes),
}


@pytest.mark.parametrize("case", [c for c in OP_CASES if c.name in TORCH_FUNCTIONS], ids=lambda c: c.name)
@given(data=st.data())
def test_values_and_gradients_match_pytorch(case: OpCase, data: st.DataObject) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is an optional oracle (make torch installs it)")
    arrays, params = draw_inputs(case, data)
    if case.name in ("sum", "mean", "var", "max") and isinstance(params.get("axis"), tuple) and not params["axis"]:
        assume(False)
    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = case.fn(*ours, **params), TORCH_FUNCTIONS[case.name](torch, *theirs, **params)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = np.random.default_rng(3).standard_normal(out.shape)
    (out * weights).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=1e-9, atol=1e-12)
