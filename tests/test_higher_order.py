"""Gradients of gradients: create_graph=True makes the backward pass itself differentiable."""

from __future__ import annotations

import numpy as np

import tinygrad_edu as tg


def derivatives(f, x0: np.ndarray, order: int) -> list[np.ndarray]:
    """f'(x0), f''(x0), ... elementwise, by differentiating the recorded gradient again."""
    x = tg.Tensor(x0, requires_grad=True)
    current, result = f(x), []
    for _ in range(order):
        (current,) = tg.grad(current.sum(), x, create_graph=True)
        result.append(current.data)
    return result


def test_derivatives_of_x_cubed():
    x0 = np.array([-1.5, 0.0, 2.0])
    first, second, third = derivatives(lambda x: x**3, x0, 3)
    np.testing.assert_allclose(first, 3 * x0**2)
    np.testing.assert_allclose(second, 6 * x0)
    np.testing.assert_allclose(third, [6.0, 6.0, 6.0])


def test_second_derivative_of_tanh():
    x0 = np.linspace(-3, 3, 7)
    t = np.tanh(x0)
    _, second = derivatives(lambda x: x.tanh(), x0, 2)
    np.testing.assert_allclose(second, -2 * t * (1 - t**2), rtol=1e-12, atol=1e-15)


def test_second_derivative_of_sigmoid():
    x0 = np.linspace(-8, 8, 9)
    s = 1 / (1 + np.exp(-x0))
    first, second = derivatives(lambda x: x.sigmoid(), x0, 2)
    np.testing.assert_allclose(first, s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(second, s * (1 - s) * (1 - 2 * s), rtol=1e-10, atol=1e-15)


def mlp_loss(params: list[tg.Tensor], x: tg.Tensor, target: np.ndarray) -> tg.Tensor:
    w1, b1, w2, b2 = params
    logits = (x @ w1.T + b1).tanh() @ w2.T + b2
    return -logits.log_softmax(axis=1)[np.arange(len(target)), target].mean()


def test_hessian_vector_product_of_an_mlp_loss_matches_finite_differences():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(4, 3), (4,), (2, 4), (2,)]]
    x, target = tg.Tensor(rng.standard_normal((5, 3))), np.array([0, 1, 1, 0, 1])
    directions = [rng.standard_normal(a.shape) for a in arrays]

    def gradient(values: list[np.ndarray]) -> list[np.ndarray]:
        params = [tg.Tensor(v, requires_grad=True) for v in values]
        return [g.data for g in tg.grad(mlp_loss(params, x, target), params)]

    params = [tg.Tensor(a, requires_grad=True) for a in arrays]
    grads = tg.grad(mlp_loss(params, x, target), params, create_graph=True)
    along = sum((g * v).sum() for g, v in zip(grads, directions))
    hvp = tg.grad(along, params)

    eps = 1e-5
    plus = gradient([a + eps * v for a, v in zip(arrays, directions)])
    minus = gradient([a - eps * v for a, v in zip(arrays, directions)])
    for h, p, m in zip(hvp, plus, minus):
        np.testing.assert_allclose(h.data, (p - m) / (2 * eps), rtol=1e-6, atol=1e-9)
    assert all(np.abs(h.data).max() > 1e-3 for h in hvp[:3])  # a real, non-zero curvature


def test_backward_with_create_graph_leaves_differentiable_grads():
    x = tg.Tensor([2.0], requires_grad=True, dtype=np.float64)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.item() == 12.0
    (first,) = (x.grad,)
    x.grad = None
    first.sum().backward()
    assert x.grad.item() == 12.0  # d/dx 3x^2 = 6x
