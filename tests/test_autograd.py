"""Graph semantics of backward(): accumulation, retain_graph, freeing, grad modes, custom ops."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.errors import BackwardError, DTypeError, ShapeError


def test_reused_tensor_accumulates_per_node():
    a = tg.Tensor(2.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_diamond_adds_both_paths():
    x = tg.Tensor([1.5, -2.0], requires_grad=True, dtype=np.float64)
    left, right = x * 2, x * 3
    (left * right).sum().backward()  # d/dx 6x^2 = 12x
    np.testing.assert_allclose(x.grad.data, 12 * x.data)


def test_leaf_grad_accumulates_across_backward_calls():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2 + 3, 4 + 3])


def test_retain_graph_allows_a_second_backward():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_second_backward_through_freed_graph_raises():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(BackwardError, match=r"mul: its saved buffers were freed.*retain_graph=True"):
        y.backward()


def test_backward_frees_saved_buffers():
    x = tg.Tensor(np.ones(1000, np.float32), requires_grad=True)
    y = x.exp()
    assert y._ctx.saved_nbytes == 4000
    y.sum().backward()
    assert y._ctx.saved_nbytes == 0


def test_nonscalar_backward_needs_a_gradient():
    x = tg.Tensor([[1.0, 2.0]], requires_grad=True)
    y = x * 2
    with pytest.raises(BackwardError, match=r"shape \(1, 2\), not a single value.*\.sum\(\).*gradient="):
        y.backward()
    y.backward(gradient=tg.Tensor([[1.0, 10.0]]))
    np.testing.assert_allclose(x.grad.data, [[2.0, 20.0]])


def test_gradient_argument_must_match_the_output_shape():
    y = tg.Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(ShapeError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        y.backward(gradient=[1.0, 1.0, 1.0])


def test_backward_without_a_graph_explains_why():
    with pytest.raises(BackwardError, match="does not require grad"):
        (tg.Tensor([1.0]) * 2).sum().backward()


def test_no_grad_records_nothing():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        y = (x.exp() * x).sum()
    assert not y.requires_grad and y.op is None and y.parents == () and y.is_leaf
    assert y._ctx is None  # no Context, so no saved buffers either


def test_no_grad_as_decorator_with_and_without_parentheses():
    x = tg.Tensor([1.0], requires_grad=True)

    @tg.no_grad()
    def double(t):
        return t * 2

    @tg.no_grad
    def triple(t):
        return t * 3

    assert not double(x).requires_grad and not triple(x).requires_grad
    assert tg.is_grad_enabled()


def test_enable_grad_inside_no_grad_and_nesting_restores():
    x = tg.Tensor([1.0], requires_grad=True)
    with tg.no_grad():
        with tg.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
        with tg.set_grad_enabled(True):
            assert tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError), tg.no_grad():
        1 / 0  # noqa: B018
    assert tg.is_grad_enabled()


def test_recursive_decorated_function_restores_the_mode():
    @tg.no_grad()
    def depth(n):
        return 0 if n == 0 else 1 + depth(n - 1)

    depth(3)
    assert tg.is_grad_enabled()


def test_detach_stops_gradients():
    x = tg.Tensor([3.0], requires_grad=True)
    y = x * x.detach()  # only the first factor is differentiated
    y.sum().backward()
    assert x.grad.item() == 3.0
    assert x.detach().data is x.data  # shares memory, like PyTorch


def test_requires_grad_on_integers_is_refused():
    with pytest.raises(DTypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        tg.Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(DTypeError):
        tg.arange(3).requires_grad_()


def test_retain_grad_keeps_non_leaf_gradients():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3
    hidden.retain_grad()
    other = x * 4
    (hidden * hidden + other).sum().backward()
    np.testing.assert_allclose(hidden.grad.data, 2 * hidden.data)
    with pytest.warns(UserWarning, match="retain_grad"):
        assert other.grad is None


def test_leaf_grads_are_separate_writable_arrays():
    a, b = tg.Tensor([1.0], requires_grad=True), tg.Tensor([2.0], requires_grad=True)
    (a + b).sum().backward()  # add hands one gradient array to both inputs
    assert a.grad.data is not b.grad.data
    s = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    s.sum().backward()  # the gradient of sum is a broadcast (read-only) view
    s.grad.data[0, 0] = 5.0  # .grad must still be writable, and own its memory
    assert s.grad.data.sum() == 10.0


def test_broadcast_gradients_are_summed_to_the_input_shape():
    a = tg.Tensor(np.ones((3, 1)), requires_grad=True)
    b = tg.Tensor(np.ones((1, 4)), requires_grad=True)
    c = tg.Tensor(np.ones(4), requires_grad=True)
    d = tg.Tensor(2.0, requires_grad=True)
    ((a + b) * c * d).sum().backward()
    np.testing.assert_allclose(a.grad.data, np.full((3, 1), 8.0))
    np.testing.assert_allclose(b.grad.data, np.full((1, 4), 6.0))
    np.testing.assert_allclose(c.grad.data, np.full(4, 12.0))
    assert d.grad.shape == () and d.grad.item() == 24.0


def test_mixed_dtypes_give_gradients_in_each_inputs_dtype():
    a = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
    b = tg.Tensor(np.ones(2, np.float64), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_grad_function_leaves_dot_grad_alone():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = tg.Tensor([3.0], requires_grad=True)
    z = (x * x).sum() * y
    gx, gy = tg.grad(z, [x, y])
    np.testing.assert_allclose(gx.data, [6.0, 12.0])
    np.testing.assert_allclose(gy.data, [5.0])
    assert x.grad is None and y.grad is None


def test_grad_of_intermediate_and_with_grad_outputs():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 2
    out = hidden * hidden
    (g_hidden,) = tg.grad(out, hidden, grad_outputs=tg.Tensor([1.0, 0.5]))
    np.testing.assert_allclose(g_hidden.data, [2 * 2.0 * 1.0, 2 * 4.0 * 0.5])


def test_grad_reports_unused_inputs():
    x, unused = tg.Tensor([1.0], requires_grad=True), tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(BackwardError, match=r"input 1 .* was not used"):
        tg.grad((x * 2).sum(), [x, unused])
    gx, gu = tg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_backward_on_a_leaf_seeds_its_own_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    x.backward(tg.Tensor([3.0, 4.0]))
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])


# ---------------------------------------------------------------- custom ops


class Square(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


def test_custom_function_forward_backward_and_name():
    x = tg.Tensor([3.0], requires_grad=True)
    y = Square.apply(x)
    assert y.op == "square" and y.parents == (x,)
    y.sum().backward()
    assert x.grad.item() == 6.0


def test_custom_function_is_differentiable_twice():
    x = tg.Tensor([3.0], requires_grad=True, dtype=np.float64)
    (g,) = tg.grad(Square.apply(x).sum(), x, create_graph=True)
    (gg,) = tg.grad(g.sum(), x)
    assert g.item() == 6.0 and gg.item() == 2.0


def test_custom_function_sees_needs_input_grad_and_accepts_numbers():
    seen = {}

    class Scale(tg.Function):
        @staticmethod
        def forward(ctx, x, factor):
            ctx.save_for_backward(factor)
            return x * factor

        @staticmethod
        def backward(ctx, grad):
            seen["needs"] = ctx.needs_input_grad
            (factor,) = ctx.saved_tensors
            return grad * factor, None

    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    Scale.apply(x, 3.0).sum().backward()
    assert seen["needs"] == (True, False)
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])


def test_custom_function_returning_the_wrong_number_of_gradients():
    class Bad(tg.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(BackwardError, match=r"bad: backward returned 1 gradient\(s\) for 2 input\(s\)"):
        Bad.apply(x, x).sum().backward()


def test_custom_function_returning_the_wrong_shape_is_named():
    class Transposed(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.T * 2  # wrong: the gradient must have x's shape

    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ShapeError, match=r"transposed: backward returned a gradient of shape \(3, 2\) for input 0"):
        Transposed.apply(x).sum().backward()


def test_grad_of_an_output_listed_twice_adds_both_seeds():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (g,) = tg.grad([y, y], x)
    np.testing.assert_allclose(g.data, [4.0, 8.0])
