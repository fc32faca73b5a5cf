"""Tests of tinygrad_edu.nn.functional: values against NumPy (and PyTorch when installed),
stability at extreme logits, and every parameter gradient of an MLP with each loss against
central finite differences in float64 (the `float64` fixture of conftest.py makes float64 the
default dtype for one test and restores float32 after it)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import nn
from tinygrad_edu.errors import DTypeError, ShapeError


def torch_or_skip():
    return pytest.importorskip("torch")


def log_softmax_reference(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# ---------------------------------------------------------------- finite differences


def finite_difference_grads(loss_fn: Callable[[], tg.Tensor], params: list[tg.Tensor], eps: float = 1e-6):
    """Central differences (f(p + eps) - f(p - eps)) / 2 eps for every element of every parameter."""
    grads = []
    for p in params:
        g = np.zeros_like(p.data)
        for index in np.ndindex(p.shape):
            original = p.data[index]
            p.data[index] = original + eps
            up = loss_fn().item()
            p.data[index] = original - eps
            down = loss_fn().item()
            p.data[index] = original
            g[index] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def check_model_grads(model: nn.Module, loss_fn: Callable[[], tg.Tensor]) -> None:
    params = list(model.parameters())
    assert all(p.dtype == np.float64 for p in params)
    model.zero_grad()
    loss_fn().backward()
    analytic = [p.grad.data.copy() for p in params]
    with tg.no_grad():
        numeric = finite_difference_grads(loss_fn, params)
    for (name, _), a, n in zip(model.named_parameters(), analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-8, err_msg=f"gradient of {name}")
        assert np.abs(n).max() > 1e-6, f"{name}: the check must not pass because every gradient is 0"


def _loss_cases(rng: np.random.Generator) -> dict[str, Callable[[tg.Tensor], tg.Tensor]]:
    n, classes = 6, 3
    index = rng.integers(0, classes, n)
    probs = rng.random((n, classes))
    probs /= probs.sum(axis=1, keepdims=True)
    regression_target = rng.standard_normal((n, classes))
    binary_target = rng.random((n, classes))  # soft labels in [0, 1]
    return {
        "cross_entropy mean": lambda out: F.cross_entropy(out, index),
        "cross_entropy sum": lambda out: F.cross_entropy(out, index, reduction="sum"),
        "cross_entropy none": lambda out: (F.cross_entropy(out, index, reduction="none") * np.arange(1.0, n + 1)).sum(),
        "cross_entropy probabilities": lambda out: F.cross_entropy(out, probs),
        "nll_loss of log_softmax": lambda out: F.nll_loss(F.log_softmax(out, axis=1), index),
        "mse_loss": lambda out: F.mse_loss(out, regression_target),
        "mse_loss sum": lambda out: F.mse_loss(out, regression_target, reduction="sum"),
        "binary_cross_entropy_with_logits": lambda out: F.binary_cross_entropy_with_logits(out, binary_target),
    }


LOSS_NAMES = list(_loss_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("loss_name", LOSS_NAMES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_parameter_gradients_match_finite_differences(float64, loss_name, activation):
    rng = np.random.default_rng(1)
    tg.manual_seed(2)
    model = nn.MLP([4, 5, 3], activation=activation)
    x = tg.Tensor(rng.standard_normal((6, 4)))
    loss = _loss_cases(rng)[loss_name]
    check_model_grads(model, lambda: loss(model(x)))


def test_deeper_mlp_gradients_match_finite_differences(float64):
    rng = np.random.default_rng(3)
    tg.manual_seed(3)
    model = nn.MLP([3, 4, 4, 2])
    x = tg.Tensor(rng.standard_normal((5, 3)))
    y = rng.integers(0, 2, 5)
    check_model_grads(model, lambda: F.cross_entropy(model(x), y))


def test_finite_difference_check_catches_a_wrong_gradient(float64):
    """The helper above must be able to fail: a loss whose backward is deliberately wrong."""

    class WrongSquare(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x  # the truth is 2x

    tg.manual_seed(0)
    model = nn.Linear(2, 2)
    x = tg.Tensor([[0.5, -1.0]])
    with pytest.raises(AssertionError, match="gradient of weight"):
        check_model_grads(model, lambda: WrongSquare.apply(model(x)).sum())


# ---------------------------------------------------------------- cross_entropy


def test_cross_entropy_matches_reference():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((7, 5)).astype(np.float32) * 3
    target = rng.integers(0, 5, 7)
    per_sample = -log_softmax_reference(logits.astype(np.float64))[np.arange(7), target]
    out = F.cross_entropy(tg.Tensor(logits), target, reduction="none")
    assert out.shape == (7,) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, per_sample, rtol=1e-5)
    np.testing.assert_allclose(F.cross_entropy(tg.Tensor(logits), target).item(), per_sample.mean(), rtol=1e-5)
    np.testing.assert_allclose(
        F.cross_entropy(tg.Tensor(logits), target, reduction="sum").item(), per_sample.sum(), rtol=1e-5
    )


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    rng = np.random.default_rng(1)
    logits = tg.Tensor(rng.standard_normal((4, 3)), requires_grad=True, dtype=np.float64)
    target = np.array([0, 2, 1, 2])
    F.cross_entropy(logits, target).backward()
    softmax = np.exp(log_softmax_reference(logits.data))
    expected = (softmax - np.eye(3)[target]) / 4
    np.testing.assert_allclose(logits.grad.data, expected, rtol=1e-12, atol=1e-15)


def test_uniform_logits_over_10_classes_give_ln_10():
    for logits in (tg.zeros(5, 10), tg.full((5, 10), 3.7), tg.full((5, 10), -1e4)):
        target = np.arange(5)
        np.testing.assert_allclose(F.cross_entropy(logits, target).item(), math.log(10), rtol=1e-6)
        np.testing.assert_allclose(F.cross_entropy(logits, target, reduction="sum").item(), 5 * math.log(10), rtol=1e-6)
        np.testing.assert_allclose(
            F.cross_entropy(logits, target, reduction="none").data, [math.log(10)] * 5, rtol=1e-6
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_and_log_softmax_are_finite_and_exact_at_1e4(dtype):
    data = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [1e4, 1e4, -1e4]], dtype=dtype)
    target = np.array([0, 2, 1])
    logits = tg.Tensor(data, requires_grad=True)

    log_probs = F.log_softmax(logits, axis=1)
    np.testing.assert_array_equal(log_probs.data[:2], [[0, -2e4, -1e4], [-2e4, 0, -1e4]])
    np.testing.assert_allclose(log_probs.data[2], [-math.log(2), -math.log(2), -2e4 - math.log(2)], rtol=1e-6)

    loss = F.cross_entropy(logits, target)
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), (0 + 1e4 + math.log(2)) / 3, rtol=1e-6)
    loss.backward()
    assert np.isfinite(logits.grad.data).all()
    expected = np.array([[0, 0, 0], [0, 1, -1], [0.5, -0.5, 0]]) / 3  # softmax - one_hot, over the batch
    np.testing.assert_allclose(logits.grad.data, expected, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(logits.grad.data[:2], expected[:2].astype(dtype))

    picked = tg.Tensor(data, requires_grad=True)
    F.log_softmax(picked, axis=1)[np.arange(3), target].sum().backward()
    np.testing.assert_array_equal(picked.grad.data[:2], [[0, 0, 0], [0, -1, 1]])  # one_hot - softmax, exactly


def test_probability_targets_equal_index_targets_for_one_hot():
    rng = np.random.default_rng(2)
    data = rng.standard_normal((6, 4)).astype(np.float32) * 5
    index = rng.integers(0, 4, 6)
    for reduction in ("mean", "sum", "none"):
        a = tg.Tensor(data, requires_grad=True)
        b = tg.Tensor(data, requires_grad=True)
        by_index = F.cross_entropy(a, index, reduction=reduction)
        by_probability = F.cross_entropy(b, F.one_hot(index, 4).float(), reduction=reduction)
        np.testing.assert_allclose(by_probability.data, by_index.data, rtol=1e-6)
        by_index.sum().backward()
        by_probability.sum().backward()
        np.testing.assert_allclose(b.grad.data, a.grad.data, rtol=1e-6, atol=1e-7)


def test_probability_targets_match_reference_and_reach_the_target():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((3, 4))
    probs = rng.random((3, 4))
    probs /= probs.sum(axis=1, keepdims=True)
    target = tg.Tensor(probs, requires_grad=True)  # soft targets may require grad, as in PyTorch
    loss = F.cross_entropy(tg.Tensor(logits), target)
    np.testing.assert_allclose(loss.item(), -(probs * log_softmax_reference(logits)).sum(axis=1).mean(), rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(target.grad.data, -log_softmax_reference(logits) / 3, rtol=1e-5)


def test_cross_entropy_unbatched_and_spatial_targets():
    rng = np.random.default_rng(4)
    single = rng.standard_normal(5)
    np.testing.assert_allclose(
        F.cross_entropy(tg.Tensor(single), np.array(3)).item(), -log_softmax_reference(single)[3], rtol=1e-6
    )
    logits = rng.standard_normal((2, 4, 3))  # (N, C, d): classes on axis 1, as in PyTorch
    target = rng.integers(0, 4, (2, 3))
    expected = -np.take_along_axis(log_softmax_reference(logits, axis=1), target[:, None, :], axis=1)[:, 0, :]
    out = F.cross_entropy(tg.Tensor(logits), target, reduction="none")
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


def test_cross_entropy_matches_pytorch():
    torch = torch_or_skip()
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((8, 6)) * 4
    target = rng.integers(0, 6, 8)
    probs = rng.random((8, 6))
    probs /= probs.sum(axis=1, keepdims=True)
    for tgt, torch_tgt in ((target, torch.from_numpy(target)), (probs, torch.from_numpy(probs))):
        for reduction in ("mean", "sum", "none"):
            ours = tg.Tensor(logits, requires_grad=True)
            theirs = torch.tensor(logits, requires_grad=True)
            out = F.cross_entropy(ours, tgt, reduction=reduction)
            ref = torch.nn.functional.cross_entropy(theirs, torch_tgt, reduction=reduction)
            np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
            out.sum().backward()
            ref.sum().backward()
            np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 6),
    classes=st.integers(1, 7),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 1e4]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_property_finite_and_matches_reference(n, classes, scale, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, classes)) * scale
    target = rng.integers(0, classes, n)
    x = tg.Tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, target)
    expected = -log_softmax_reference(logits)[np.arange(n), target].mean()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-9, atol=1e-12)
    loss.backward()
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data.sum(axis=1), 0, atol=1e-12)  # softmax - one_hot sums to 0 per row


def test_cross_entropy_errors_name_the_problem():
    logits = tg.zeros(4, 3)
    with pytest.raises(IndexError, match=r"class index 3 is out of range for 3 classes"):
        F.cross_entropy(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(IndexError, match=r"class index -1"):  # NumPy would silently read it as class 2
        F.cross_entropy(logits, np.array([0, -1, 2, 1]))
    with pytest.raises(ShapeError, match=r"target of shape \(4,\); got shape \(3,\)"):
        F.cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(ShapeError, match=r"float target is read as class probabilities.*np.int64"):
        F.cross_entropy(logits, tg.Tensor([0, 1, 2, 0]))  # a list becomes float32: the classic mistake
    with pytest.raises(DTypeError, match="dtype bool"):
        F.cross_entropy(logits, np.array([True, False, True, False]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        F.cross_entropy(logits, np.array([0, 1, 2, 0]), reduction="average")
    with pytest.raises(ShapeError, match="class dimension"):
        F.cross_entropy(tg.Tensor(1.0), np.array(0))


# ---------------------------------------------------------------- other losses


def test_nll_loss_matches_reference():
    rng = np.random.default_rng(6)
    log_probs = log_softmax_reference(rng.standard_normal((5, 4)))
    target = rng.integers(0, 4, 5)
    expected = -log_probs[np.arange(5), target]
    np.testing.assert_allclose(F.nll_loss(tg.Tensor(log_probs), target).item(), expected.mean(), rtol=1e-12)
    np.testing.assert_allclose(F.nll_loss(tg.Tensor(log_probs), target, reduction="none").data, expected)
    with pytest.raises(DTypeError, match="integer class indices"):
        F.nll_loss(tg.Tensor(log_probs), target.astype(np.float64))


def test_mse_loss_values_and_shape_check():
    prediction = tg.Tensor([[1.0], [2.0], [4.0]], requires_grad=True)
    target = np.array([[0.0], [2.0], [2.0]])
    loss = F.mse_loss(prediction, target)
    np.testing.assert_allclose(loss.item(), (1 + 0 + 4) / 3, rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(prediction.grad.data, [[2 / 3], [0], [4 / 3]], rtol=1e-6)
    assert F.mse_loss(prediction, target, reduction="sum").item() == pytest.approx(5.0)
    assert F.mse_loss(prediction, target, reduction="none").shape == (3, 1)
    with pytest.raises(ShapeError, match=r"\(3, 1\).*\(3,\).*\(N, N\)"):
        F.mse_loss(prediction, np.array([0.0, 2.0, 2.0]))  # would broadcast to (3, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_with_logits_is_finite_and_exact_at_1e4(dtype):
    x = tg.Tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    per_element = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_array_equal(per_element.data, [0, 0, 1e4, 1e4])
    loss = F.binary_cross_entropy_with_logits(x, y)
    assert loss.item() == 5e3
    loss.backward()
    np.testing.assert_array_equal(x.grad.data, np.array([0, 0, 1, -1], dtype=dtype) / 4)  # (sigmoid(x) - y) / n


def test_binary_cross_entropy_with_logits_matches_reference_and_slope_at_zero():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(20) * 3
    y = rng.random(20)
    p = 1 / (1 + np.exp(-x))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    out = F.binary_cross_entropy_with_logits(tg.Tensor(x), y, reduction="none")
    np.testing.assert_allclose(out.data, expected, rtol=1e-10)
    zero = tg.Tensor([0.0, 0.0], requires_grad=True, dtype=np.float64)
    F.binary_cross_entropy_with_logits(zero, [1.0, 0.0], reduction="sum").backward()
    np.testing.assert_array_equal(zero.grad.data, [-0.5, 0.5])  # sigmoid(0) - y, also exactly at the kink of |x|
    with pytest.raises(ShapeError, match="binary_cross_entropy_with_logits"):
        F.binary_cross_entropy_with_logits(tg.zeros(3, 1), np.zeros(3))


def test_losses_match_pytorch():
    torch = torch_or_skip()
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 3)) * 3
    y = rng.random((6, 3))
    for ours_fn, torch_fn in (
        (F.mse_loss, torch.nn.functional.mse_loss),
        (F.binary_cross_entropy_with_logits, torch.nn.functional.binary_cross_entropy_with_logits),
    ):
        for reduction in ("mean", "sum", "none"):
            ours = tg.Tensor(x, requires_grad=True)
            theirs = torch.tensor(x, requires_grad=True)
            out = ours_fn(ours, y, reduction=reduction)
            ref = torch_fn(theirs, torch.from_numpy(y), reduction=reduction)
            np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
            out.sum().backward()
            ref.sum().backward()
            np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------- activations and helpers


def test_activations_match_numpy():
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(F.relu(tg.Tensor(x)).data, np.maximum(x, 0))
    np.testing.assert_allclose(F.sigmoid(tg.Tensor(x)).data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(F.tanh(tg.Tensor(x)).data, np.tanh(x), rtol=1e-12)


def test_softmax_and_log_softmax_along_axis_or_dim():
    x = np.random.default_rng(9).standard_normal((3, 4))
    for axis in (0, 1, -1):
        expected = log_softmax_reference(x, axis)
        np.testing.assert_allclose(F.log_softmax(tg.Tensor(x), axis=axis).data, expected, rtol=1e-12)
        np.testing.assert_allclose(F.softmax(tg.Tensor(x), axis).data, np.exp(expected), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(tg.Tensor(x), dim=0).data, np.exp(log_softmax_reference(x, 0)), rtol=1e-12)
    huge = F.softmax(tg.Tensor([1e4, 0.0, -1e4]))
    np.testing.assert_array_equal(huge.data, [1, 0, 0])


def test_one_hot():
    out = F.one_hot(np.array([2, 0, 1]), 4)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, np.eye(4, dtype=np.int64)[[2, 0, 1]])
    assert F.one_hot(tg.Tensor(np.array([[1], [3]]))).shape == (2, 1, 4)  # num_classes inferred as max + 1
    with pytest.raises(IndexError, match="class index 4 is out of range for 4 classes"):
        F.one_hot([4], 4)
    with pytest.raises(DTypeError, match="must be integers"):
        F.one_hot(tg.Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="empty"):
        F.one_hot(np.array([], dtype=np.int64))


def test_dropout_function():
    tg.manual_seed(0)
    x = tg.ones(20000, requires_grad=True)
    out = F.dropout(x, 0.25)
    kept = out.data != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out.data[kept], 1 / 0.75, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, out.data)  # the gradient goes through the same mask
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
