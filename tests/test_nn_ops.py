"""Every function of `nn_op_table.NN_OP_CASES` through the same property tests.

Shapes, strides, paddings and values are drawn by hypothesis; the oracles are NumPy written
independently (values), central finite differences in float64 (first derivatives, and second
derivatives through `create_graph=True`), and PyTorch when installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from nn_op_table import NN_OP_CASES, NNOpCase, np_conv2d

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu.nn.special import erf, erfc

EPS = 1e-6
cases = pytest.mark.parametrize("case", NN_OP_CASES, ids=lambda case: case.name)


def draw_inputs(case: NNOpCase, data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    shapes, params = data.draw(case.cases, label="shapes, params")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    try:
        arrays = case.sample(rng, shapes, params)
    except RuntimeError:
        assume(False)  # no smooth inputs for this shape (a max pool full of near-ties): draw another
    return arrays, params


def tensors_for(case: NNOpCase, arrays: list[np.ndarray]) -> list[tg.Tensor]:
    return [tg.Tensor(a, requires_grad=case.wants_grad(i)) for i, a in enumerate(arrays)]


def central_differences(f, arrays: list[np.ndarray], which: list[int]) -> list[np.ndarray]:
    """d f / d arrays[i] for i in `which`, one element at a time: (f(x + eps) - f(x - eps)) / 2 eps."""
    grads = []
    for i in which:
        array, grad = arrays[i], np.zeros_like(arrays[i])
        for index in np.ndindex(array.shape):
            original = array[index]
            array[index] = original + EPS
            up = f(*arrays)
            array[index] = original - EPS
            down = f(*arrays)
            array[index] = original
            grad[index] = (up - down) / (2 * EPS)
        grads.append(grad)
    return grads


@cases
@given(data=st.data())
def test_forward_matches_numpy_float64(case: NNOpCase, data: st.DataObject) -> None:
    arrays, params = draw_inputs(case, data)
    out = case.fn(*[tg.Tensor(a) for a in arrays], **params)
    expected = case.reference(*arrays, **params)
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@cases
def test_forward_keeps_float32(case: NNOpCase) -> None:
    shapes, params = case.example
    arrays = [a.astype(np.float32) for a in case.sample(np.random.default_rng(0), shapes, params)]
    out = case.fn(*[tg.Tensor(a) for a in arrays], **params)
    assert out.dtype == np.float32, f"{case.name} turned float32 into {out.dtype}"
    expected = case.reference(*[a.astype(np.float64) for a in arrays], **params)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)


@cases
@given(data=st.data())
def test_gradient_matches_finite_differences(case: NNOpCase, data: st.DataObject) -> None:
    arrays, params = draw_inputs(case, data)
    tensors = tensors_for(case, arrays)
    out = case.fn(*tensors, **params)
    weights = np.random.default_rng(1).standard_normal(out.shape)  # every output with its own weight
    (out * weights).sum().backward()
    which = [i for i in range(len(arrays)) if case.wants_grad(i)]
    expected = central_differences(lambda *xs: float(np.sum(case.reference(*xs, **params) * weights)), arrays, which)
    for i, numeric in zip(which, expected):
        t = tensors[i]
        assert t.grad is not None, f"{case.name}: input {i} got no gradient"
        assert t.grad.shape == t.shape and t.grad.dtype == t.dtype
        np.testing.assert_allclose(t.grad.data, numeric, rtol=1e-5, atol=1e-7, err_msg=f"{case.name}, input {i}")


def first_gradient(case: NNOpCase, arrays: list[np.ndarray], params: dict, weights: np.ndarray) -> list[np.ndarray]:
    tensors = tensors_for(case, arrays)
    wanted = [t for t in tensors if t.requires_grad]
    return [g.data for g in tg.grad((case.fn(*tensors, **params) * weights).sum(), wanted)]


@cases
@given(data=st.data())
def test_second_derivative_matches_finite_differences_of_gradient(case: NNOpCase, data: st.DataObject) -> None:
    """create_graph=True: H v matches finite differences of the (already tested) gradient along v."""
    arrays, params = draw_inputs(case, data)
    rng = np.random.default_rng(2)
    tensors = tensors_for(case, arrays)
    wanted = [t for t in tensors if t.requires_grad]
    out = case.fn(*tensors, **params)
    weights = rng.standard_normal(out.shape)
    grads = tg.grad((out * weights).sum(), wanted, create_graph=True)
    directions = [rng.standard_normal(t.shape) for t in wanted]
    along = sum((g * v).sum() for g, v in zip(grads, directions))
    if isinstance(along, tg.Tensor) and along.requires_grad:
        second = tg.grad(along, wanted, allow_unused=True)
        hvp = [np.zeros(t.shape) if h is None else h.data for t, h in zip(wanted, second)]
    else:  # the gradient does not depend on the inputs: H = 0
        hvp = [np.zeros(t.shape) for t in wanted]
    which = [i for i in range(len(arrays)) if case.wants_grad(i)]

    def shifted(sign: float) -> list[np.ndarray]:
        moved = list(arrays)
        for i, v in zip(which, directions):
            moved[i] = arrays[i] + sign * 1e-5 * v
        return first_gradient(case, moved, params, weights)

    for h, p, m in zip(hvp, shifted(1.0), shifted(-1.0)):
        np.testing.assert_allclose(h, (p - m) / 2e-5, rtol=1e-4, atol=1e-6, err_msg=case.name)


@pytest.mark.parametrize("case", [c for c in NN_OP_CASES if c.torch_fn is not None], ids=lambda c: c.name)
@given(data=st.data())
def test_values_and_gradients_match_pytorch(case: NNOpCase, data: st.DataObject) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is an optional oracle (make oracle installs it)")
    arrays, params = draw_inputs(case, data)
    ours = tensors_for(case, arrays)
    theirs = [torch.tensor(a, requires_grad=case.wants_grad(i)) for i, a in enumerate(arrays)]
    out, expected = case.fn(*ours, **params), case.torch_fn(torch, *theirs, **params)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = np.random.default_rng(3).standard_normal(out.shape)
    (out * weights).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for i, (mine, reference) in enumerate(zip(ours, theirs)):
        if case.wants_grad(i):
            np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_the_numpy_conv_reference_is_a_convolution() -> None:
    """The oracle itself, against the definition written as loops."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    stride, padding = (2, 1), (1, 0)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    expected = np.zeros((2, 4, 3, 4))
    for n, o, r, c in np.ndindex(expected.shape):
        window = padded[n, :, r * stride[0] : r * stride[0] + 3, c * stride[1] : c * stride[1] + 2]
        expected[n, o, r, c] = np.sum(window * w[o]) + b[o]
    np.testing.assert_allclose(np_conv2d(x, w, b, stride=stride, padding=padding), expected, rtol=1e-12)


# ---------------------------------------------------------------- erf, the one new primitive


def ulps(values: np.ndarray, exact: np.ndarray) -> np.ndarray:
    return np.abs(values - exact) / np.spacing(np.maximum(np.abs(exact), np.finfo(np.float64).tiny))


def test_erf_and_erfc_are_accurate_to_float64_rounding_over_a_wide_range() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(-30.0, 30.0, 60_001),
            rng.standard_normal(20_000) * 4,
            np.logspace(-300, 1.5, 3_000),
            -np.logspace(-300, 1.5, 3_000),
            [0.0, -0.0, 0.46875, -0.46875, 4.0, -4.0, 26.5, 27.0, 1e300, np.inf, -np.inf, 5e-324],
        ]
    )
    exact = np.array([math.erf(v) for v in x])
    assert ulps(erf(x), exact).max() <= 4  # a few units in the last place, as a libm's erf
    exact_c = np.array([math.erfc(v) for v in x])
    normal = exact_c > 1e-300  # below that, subnormal numbers carry fewer digits
    assert ulps(erfc(x)[normal], exact_c[normal]).max() <= 8
    assert np.abs(erfc(x)[~normal] - exact_c[~normal]).max() < 1e-300
    assert np.isnan(erf(np.array([np.nan]))[0]) and np.isnan(erfc(np.array([np.nan]))[0])
    assert erf(np.float32(0.5)).dtype == np.float32 and erf(np.array([1, 2])).dtype == np.float64


def test_erf_accuracy_check_can_fail() -> None:
    """A float32-accurate erf (tanh-based approximation) is far outside the bound above."""
    x = np.linspace(-3, 3, 1001)
    rough = np.tanh(1.202760580 * x + 0.1009 * x**3)  # good to about 1e-4 only
    assert ulps(rough, np.array([math.erf(v) for v in x])).max() > 1e6


def test_gelu_is_exact_to_float64_rounding_and_matches_pytorch() -> None:
    """0.5·x·(1 + erf(x/√2)), PyTorch's formula: where 1 + erf cancels (x far below 0) the result
    is exact to the rounding of x's own scale (what any float64 implementation of this formula
    gives), and it equals PyTorch's to that rounding."""
    x = np.linspace(-10, 10, 20_001)
    ours = F.gelu(tg.Tensor(x)).data
    # The same function through erfc, which has no cancellation: exact to the result's own rounding.
    exact = np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in x])
    assert np.all(np.abs(ours - exact) <= 2 * np.spacing(np.abs(x)))
    torch = pytest.importorskip("torch")
    theirs = torch.nn.functional.gelu(torch.tensor(x)).numpy()
    assert np.all(np.abs(ours - theirs) <= 2 * np.spacing(np.abs(x)))


def test_gelu_float32_matches_pytorch() -> None:
    torch = pytest.importorskip("torch")
    x = np.linspace(-6, 6, 2001, dtype=np.float32)
    ours = F.gelu(tg.Tensor(x)).data
    assert ours.dtype == np.float32
    theirs = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    assert np.all(np.abs(ours - theirs) <= 2 * np.spacing(np.abs(x)))  # float32 rounding of x's scale


def test_gradcheck_of_the_layers_functions(float64) -> None:
    """The library's own gradcheck agrees too (what a user would run)."""
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(3), requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1), [x, w, b])
    assert tg.gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1), [x])
    assert tg.gradcheck(lambda x: F.gelu(x), [x])
