"""Gradient checking (`tinygrad_edu.gradient_check`) and the `tinygrad-edu gradcheck` command.

A gradient checker is only trustworthy if it passes every correct backward (no false alarms)
and fails every wrong one (no false passes), naming where. So most tests here build a custom
`Function` with a deliberately wrong backward and assert exactly which input and element the
report blames, with which values.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from op_table import OP_CASES, OpCase

import tinygrad_edu as tg
from tinygrad_edu import Function, GradcheckError, Tensor, cli, ops
from tinygrad_edu.errors import DTypeError
from tinygrad_edu.gradient_check import GradcheckReport, GradcheckWarning
from tinygrad_edu.gradient_setup import AUTO_EXACT_MAX_ELEMENTS

# The op table's `cast` is x -> float32 -> float64: it rounds to float32 on purpose, which puts
# float32 rounding noise into every finite difference at eps=1e-6 (gradcheck refuses that, see
# test_float32_rounding_inside_fn_is_refused_not_reported). It is linear, so a large step is exact.
EPS = {"cast": 1e-2}


def f64(values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def failure(fn, inputs, check=tg.gradcheck, **kwargs) -> tuple[GradcheckReport, str]:
    """Run a check that must fail; return its report and message."""
    with pytest.raises(GradcheckError) as info:
        check(fn, inputs, **kwargs)
    assert info.value.report is not None
    return info.value.report, str(info.value)


# ---------------------------------------------------------------- every op passes


def op_inputs(case: OpCase, arrays: list[np.ndarray]) -> list[Tensor]:
    wants = case.differentiable or (True,) * len(arrays)
    return [Tensor(a, requires_grad=w) for a, w in zip(arrays, wants)]


@pytest.mark.parametrize("case", OP_CASES, ids=lambda case: case.name)
def test_gradcheck_and_gradgradcheck_pass_for_every_op(case: OpCase) -> None:
    shapes, params = case.example
    tensors = op_inputs(case, case.sample(np.random.default_rng(0), shapes, params))
    before = [t.data for t in tensors]

    def fn(*xs):
        return case.fn(*xs, **params)

    eps = EPS.get(case.name, 1e-6)
    assert tg.gradcheck(fn, tensors, eps=eps) is True
    assert tg.gradgradcheck(fn, tensors, eps=eps) is True
    assert all(t.data is b for t, b in zip(tensors, before)), "the inputs' arrays were not put back"
    assert all(t.grad is None for t in tensors), "gradcheck must not touch .grad"


@pytest.mark.parametrize("case", OP_CASES, ids=lambda case: case.name)
@settings(max_examples=8)
@given(data=st.data())
def test_gradcheck_passes_for_every_op_on_drawn_shapes(case: OpCase, data: st.DataObject) -> None:
    shapes, params = data.draw(case.cases, label="shapes, params")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    try:
        arrays = case.sample(rng, shapes, params)
    except RuntimeError:
        assume(False)  # no smooth inputs for this shape (e.g. a max over ties)
    assert tg.gradcheck(lambda *xs: case.fn(*xs, **params), op_inputs(case, arrays), eps=EPS.get(case.name, 1e-6))


# ---------------------------------------------------------------- wrong backwards are caught


class SquareSignFlip(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return -(grad * 2 * x)  # should be +2x


class SquareMissingFactor(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # should be 2x


X = [[0.5, -1.5, 1.0], [2.5, -0.3, 0.8]]  # the largest |x| is at (1, 0)


def test_sign_flip_is_caught_and_the_report_names_input_and_element() -> None:
    x = f64(X)
    report, message = failure(lambda x: SquareSignFlip.apply(x).sum(), [x])
    (row,) = report.rows
    assert (row.name, row.n_failed, row.total) == ("input 0", 6, 6)
    # The error |4x| grows with |x| faster than the tolerance: the worst element is the largest |x|.
    assert row.worst_index == (1, 0)
    assert row.analytical[row.worst] == pytest.approx(-5.0, abs=1e-12)
    assert row.numerical[row.worst] == pytest.approx(5.0, abs=1e-6)
    assert row.abs_err[row.worst] == pytest.approx(10.0, abs=1e-6)
    assert row.rel_err[row.worst] == pytest.approx(2.0, abs=1e-6)
    assert "input 0" in message and "(1, 0)" in message and "6/6" in message
    assert "-5" in message and "sign error" in message
    assert x.grad is None and x.data.dtype == np.float64


def test_missing_factor_2_is_caught() -> None:
    report, message = failure(lambda x: SquareMissingFactor.apply(x).sum(), [f64(X)])
    (row,) = report.rows
    assert row.n_failed == 6 and row.worst_index == (1, 0)
    assert row.analytical[row.worst] == pytest.approx(2.5) and row.numerical[row.worst] == pytest.approx(5.0)
    assert "backward = 0.5 x numerical" in message


class ScaleTransposed(Function):
    """x * w (elementwise) whose backward returns x's gradient transposed."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return (grad * w).T, grad * x  # the first should not be transposed


def test_transposed_gradient_on_a_square_input_is_caught() -> None:
    rng = np.random.default_rng(3)
    x, w = f64(rng.standard_normal((3, 3))), f64(rng.standard_normal((3, 3)))
    report, message = failure(lambda x, w: ScaleTransposed.apply(x, w).sum(), [x, w])
    bad, good = report.rows
    assert bad.name == "input 0" and not bad.passed and good.passed
    assert bad.n_failed == 6  # the diagonal is its own transpose: only the 6 off-diagonal elements fail
    correct = w.data  # d sum(x * w) / dx
    expected = np.unravel_index(np.argmax(np.abs(correct.T - correct) / (1e-5 + 1e-3 * np.abs(correct))), (3, 3))
    assert bad.worst_index == tuple(int(i) for i in expected) and bad.worst_index[0] != bad.worst_index[1]
    assert "for input 0\n" in message  # the headline blames input 0 only
    assert "transposed" in message


class AddBiasWrongAxis(Function):
    """x + b for x of shape (n, m) and b of shape (m,); the backward sums b's gradient over
    the wrong axis. On a square x the shape still fits, so only the values are wrong."""

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad.sum(axis=1)  # should be axis=0: b was broadcast over the rows


def test_gradient_summed_over_the_wrong_axis_is_caught() -> None:
    rng = np.random.default_rng(4)
    x, b = f64(rng.standard_normal((3, 3))), f64(rng.standard_normal(3))
    report, message = failure(lambda x, b: AddBiasWrongAxis.apply(x, b), [x, b])
    good, bad = report.rows
    assert good.passed and bad.name == "input 1" and bad.n_failed == 3
    # The output is not a scalar: both sides use the documented seed direction u.
    u = np.random.default_rng(0).standard_normal((3, 3))
    np.testing.assert_allclose(bad.analytical, u.sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(bad.numerical, u.sum(axis=0), atol=1e-6)
    expected = int(np.argmax(np.abs(u.sum(axis=1) - u.sum(axis=0)) / (1e-5 + 1e-3 * np.abs(u.sum(axis=0)))))
    assert bad.worst_index == (expected,)
    assert "for input 1\n" in message and "seed direction" in message


def test_a_seed_of_ones_would_hide_the_wrong_axis() -> None:
    """Why the seed direction of a non-scalar output is random: with ones, the row sums and the
    column sums of the seed are all equal, so the wrong axis gives the right numbers."""
    rng = np.random.default_rng(4)
    x, b = f64(rng.standard_normal((3, 3))), f64(rng.standard_normal(3))
    ones = np.ones((3, 3))
    (_, wrong) = tg.grad(AddBiasWrongAxis.apply(x, b), [x, b], grad_outputs=ones)
    (_, numerical) = tg.numerical_grad(lambda x, b: x + b, [x, b], grad_outputs=ones)
    np.testing.assert_allclose(wrong.data, numerical, atol=1e-6)


class ForgetsLastElement(Function):
    """x ** 3 whose backward drops the last element's gradient (an off-by-one)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        out = grad * 3 * x**2
        out[-1] = 0  # the bug
        return out


def test_a_single_wrong_element_is_named() -> None:
    x = f64([0.4, -0.9, 1.3, 0.7, -1.1])
    report, message = failure(lambda x: ForgetsLastElement.apply(x).sum(), [x])
    (row,) = report.rows
    assert (row.n_failed, row.total, row.worst_index) == (1, 5, (4,))
    assert row.analytical[4] == 0 and row.numerical[4] == pytest.approx(3 * 1.1**2, abs=1e-6)
    assert "1/5" in message and "(4,)" in message and "3.63" in message


def shifted_relu(compare):
    """A relu with its kink at C = 0.5: max(x - C, 0), whose backward uses `compare`."""

    class ShiftedReLU(Function):
        C = 0.5

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(compare(x, ShiftedReLU.C))
            return np.maximum(x - ShiftedReLU.C, 0)

        @staticmethod
        def backward(ctx, grad):
            (mask,) = ctx.saved_tensors
            return grad * mask

    return ShiftedReLU


def test_relu_with_greater_equal_is_caught_at_its_kink() -> None:
    """The `>=` bug only changes the gradient exactly at the kink x = C, so that is where it must
    be checked. There the function has no derivative (slope 0 on the left, 1 on the right) and
    central differences give the average 0.5; backward's 1 is reported, element 1, and the
    report says why: a kink."""
    x = f64([-1.0, 0.5, 1.5, 0.2])
    report, message = failure(lambda x: shifted_relu(np.greater_equal).apply(x).sum(), [x])
    (row,) = report.rows
    assert (row.n_failed, row.worst_index) == (1, (1,))
    assert row.analytical[1] == 1.0 and row.numerical[1] == pytest.approx(0.5, abs=1e-9)
    assert "not differentiable" in message and "slope is 0 on the left and 1 on the right" in message


def test_at_a_kink_no_convention_passes_and_away_from_it_both_do() -> None:
    """What the kink test means: `>` (PyTorch's convention, 0 at the kink) fails there too,
    because no number is the derivative of a kink; and away from the kink, where the two
    conventions agree, both pass."""
    at_kink, away = f64([-1.0, 0.5, 1.5]), f64([-1.0, 0.3, 0.9, 1.5])
    report, _ = failure(lambda x: shifted_relu(np.greater).apply(x).sum(), [at_kink])
    assert report.rows[0].worst_index == (1,) and report.rows[0].analytical[1] == 0.0
    for compare in (np.greater, np.greater_equal):
        assert tg.gradcheck(lambda x, c=compare: shifted_relu(c).apply(x).sum(), [away])


def test_a_point_just_next_to_a_kink_is_no_false_alarm() -> None:
    """x = C + 1e-7 is differentiable (slope 1) but within eps of the kink: the central
    difference with eps = 1e-6 straddles it (0.55). gradcheck sees the finite difference change
    with the step, measures again with eps/10, and passes, saying so."""
    x = f64([-1.0, 0.5 + 1e-7, 1.5])
    assert tg.gradcheck(lambda x: shifted_relu(np.greater).apply(x).sum(), [x]) is True
    assert tg.gradcheck(lambda x: x.relu().sum(), [f64([-1.0, 1e-7, 2.0])]) is True
    result = tg.check_module_grads({"x": x}, lambda: shifted_relu(np.greater).apply(x).sum())
    assert result.passed and result.rows[0].remeasured == 1
    assert "straddled a kink" in str(result)


def test_fn_that_leaves_the_graph_is_caught_and_explained() -> None:
    x = f64([0.5, -1.0, 2.0])
    report, message = failure(lambda x: Tensor(x.data**2).sum(), [x])
    assert report.rows[0].n_failed == 3
    assert "does not require grad" in message and "backward gives 0 everywhere" in message


def test_raise_exception_false_returns_false() -> None:
    assert tg.gradcheck(lambda x: SquareSignFlip.apply(x).sum(), [f64(X)], raise_exception=False) is False


def test_bad_arguments_are_explained() -> None:
    x = f64([1.0, 2.0])
    with pytest.raises(ValueError, match="requires_grad=True"):
        tg.gradcheck(lambda x: x.sum(), [Tensor(np.array([1.0, 2.0]))])
    with pytest.raises(ValueError, match="mode must be one of"):
        tg.gradcheck(lambda x: x.sum(), [x], mode="fast")
    with pytest.raises(ValueError, match="eps must be"):
        tg.gradcheck(lambda x: x.sum(), [x], eps=0)
    with pytest.raises(TypeError, match="must return a Tensor"):
        tg.gradcheck(lambda x: 3.0, [x])
    with pytest.raises(ValueError, match="NaN or Inf"), np.errstate(all="ignore"):
        tg.gradcheck(lambda x: (x - 1.0).log().sum(), [x])
    with pytest.raises(ValueError, match=r"x \+- eps rounds back to x"):
        tg.gradcheck(lambda x: x.sum(), [f64([1.0, 1e20])])


def test_a_random_fn_is_refused() -> None:
    rng = np.random.default_rng(0)
    x = f64([1.0, 2.0])
    with pytest.raises(ValueError, match="not deterministic"):
        tg.gradcheck(lambda x: (x * Tensor(rng.standard_normal(2))).sum(), [x])


# ---------------------------------------------------------------- numerical_grad


def test_numerical_grad_values() -> None:
    x, y = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.5])
    gx, gy = tg.numerical_grad(lambda x, y: (x**3 + x * y).sum(), [f64(x), f64(y)])
    np.testing.assert_allclose(gx, 3 * x**2 + y, atol=1e-8)
    np.testing.assert_allclose(gy, x, atol=1e-8)
    assert gx.dtype == np.float64 and gx.shape == (3,)


def test_numerical_grad_of_a_non_scalar_fn_uses_a_seed_direction() -> None:
    x = np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.7]])
    u = np.array([[1.0, 0.0, -1.0], [2.0, 0.5, 0.0]])
    (g,) = tg.numerical_grad(lambda x: x**2, [f64(x)], grad_outputs=u)
    np.testing.assert_allclose(g, 2 * x * u, atol=1e-8)  # uᵀJ, as backward(gradient=u) computes
    (g,) = tg.numerical_grad(lambda x: x**2, [f64(x)])  # the documented default direction
    np.testing.assert_allclose(g, 2 * x * np.random.default_rng(0).standard_normal((2, 3)), atol=1e-8)
    # It agrees with backward seeded with the same direction.
    t = f64(x)
    (t**2).backward(u)
    np.testing.assert_allclose(t.grad.data, tg.numerical_grad(lambda x: x**2, [t], grad_outputs=u)[0], atol=1e-8)
    # Several outputs: one direction each.
    (g,) = tg.numerical_grad(lambda x: (x**2, x.sum()), [f64(x)], grad_outputs=(u, 3.0))
    np.testing.assert_allclose(g, 2 * x * u + 3.0, atol=1e-8)


def test_numerical_grad_gives_none_for_non_float_inputs() -> None:
    x, index = np.array([1.0, 2.0, 3.0]), np.array([0, 2, 0])
    gx, gi = tg.numerical_grad(lambda x, i: x[i].sum(), [f64(x), index])
    np.testing.assert_allclose(gx, [2.0, 0.0, 1.0], atol=1e-8)
    assert gi is None


def awkward_inputs() -> list:
    """float64 with values whose bits are easy to disturb, a transposed (non-contiguous) view,
    float32, and a plain ndarray."""
    a = Tensor(np.array([[0.1, -0.0, 1e-300], [1e3, 3.0, -7.25]]), requires_grad=True)
    a.data = np.asarray(a.data).T  # a non-contiguous view
    b = Tensor(np.array([0.1, 0.7, -2.2], dtype=np.float32), requires_grad=True)
    c = np.array([0.3, 1.0 / 3.0])
    return [a, b, c]


def snapshot(inputs: list) -> list:
    return [(x.data if isinstance(x, Tensor) else x, np.asarray(x).dtype, np.asarray(x).tobytes()) for x in inputs]


def assert_restored(inputs: list, before: list) -> None:
    for x, (array, dtype, raw) in zip(inputs, before):
        current = x.data if isinstance(x, Tensor) else x
        assert current is array, "the original array object must be put back"
        assert current.dtype == dtype and current.tobytes() == raw, "the values changed"


def test_numerical_grad_restores_the_inputs_exactly() -> None:
    inputs = awkward_inputs()
    before = snapshot(inputs)
    grads = tg.numerical_grad(lambda a, b, c: (a * 3).sum() + (b**3).sum() + (c * 2).sum(), inputs)
    assert_restored(inputs, before)
    assert inputs[1].dtype == np.float32 and [g.dtype for g in grads] == [np.float64] * 3
    np.testing.assert_allclose(grads[0], np.full((3, 2), 3.0), rtol=1e-6)
    np.testing.assert_allclose(grads[1], 3 * inputs[1].data.astype(np.float64) ** 2, rtol=1e-5)
    np.testing.assert_allclose(grads[2], [2.0, 2.0], rtol=1e-6)


@pytest.mark.parametrize("fail_at", [1, 2, 5, 9, 15])
def test_numerical_grad_restores_the_inputs_when_fn_raises(fail_at: int) -> None:
    inputs = awkward_inputs()
    before = snapshot(inputs)
    calls = []

    def fn(a, b, c):
        calls.append(1)
        if len(calls) == fail_at:  # 1: the first call; later ones: with an element perturbed
            raise RuntimeError("boom")
        return (a * a).sum() + b.sum() + float(c.sum())

    with pytest.raises(RuntimeError, match="boom"):
        tg.numerical_grad(fn, inputs)
    assert_restored(inputs, before)


def test_gradcheck_restores_the_inputs_when_fn_raises() -> None:
    inputs = awkward_inputs()[:2]
    before = snapshot(inputs)
    calls = []

    def fn(a, b):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return (a * 2).sum() + b.sum()

    with pytest.raises(RuntimeError, match="boom"), pytest.warns(GradcheckWarning, match="input 1 is float32"):
        tg.gradcheck(fn, inputs)
    assert_restored(inputs, before)


# ---------------------------------------------------------------- float32


def test_float32_inputs_are_checked_in_float64_and_the_warning_says_so() -> None:
    x = Tensor(np.array([0.3, -1.2, 2.0], dtype=np.float32), requires_grad=True)
    original = x.data
    with pytest.warns(GradcheckWarning, match=r"float32; checking in float64 on a copy.*unreliable"):
        assert tg.gradcheck(lambda x: x.sigmoid().sum(), [x]) is True
    assert x.data is original and x.dtype == np.float32
    # A wrong backward on float32 inputs is still caught.
    with pytest.warns(GradcheckWarning):
        report, _ = failure(lambda x: SquareSignFlip.apply(x).sum(), [x])
    assert report.rows[0].n_failed == 3


def test_float32_finite_differences_really_are_unreliable() -> None:
    """The claim behind the warning: the same central difference in float32 is off by percents."""
    x32 = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    eps = np.float32(1e-6)
    f = lambda x: (x**3).sum()  # noqa: E731
    numeric32 = np.array(
        [(f(x32 + eps * e) - f(x32 - eps * e)) / (2 * eps) for e in np.eye(3, dtype=np.float32)], dtype=np.float64
    )
    exact = 3 * x32.astype(np.float64) ** 2
    assert np.max(np.abs(numeric32 - exact) / exact) > 1e-2  # a false alarm at rtol=1e-3
    (numeric64,) = tg.numerical_grad(f, [x32])
    np.testing.assert_allclose(numeric64, exact, rtol=1e-7)


def test_float32_rounding_inside_fn_is_refused_not_reported() -> None:
    x = f64([0.3, -1.2, 1.7])
    with pytest.raises(DTypeError, match=r"rounds to float32.*op 'cast'.*eps >="):
        tg.gradcheck(lambda x: x.float().double().sum(), [x])
    with pytest.raises(DTypeError, match=r"output 0"):
        tg.gradcheck(lambda x: (x * x).float().sum(), [x])
    # A float32 constant that the inputs never pass through is harmless.
    w = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert tg.gradcheck(lambda x: (x * w).sum(), [x])
    # With a step large enough for float32 (a linear fn), the check is meaningful and runs.
    assert tg.gradcheck(lambda x: x.float().double().sum(), [x], eps=1e-2)


# ---------------------------------------------------------------- gradgradcheck


def softmax_cross_entropy(z: Tensor, target: np.ndarray) -> Tensor:
    return -(z.log_softmax(axis=1) * target).sum() / len(target)


def test_gradgradcheck_passes_for_tanh_sigmoid_and_softmax_cross_entropy() -> None:
    rng = np.random.default_rng(5)
    z = f64(rng.standard_normal((4, 3)) * 2)
    target = np.eye(3)[[0, 2, 1, 1]]
    assert tg.gradgradcheck(lambda z: z.tanh(), [z])
    assert tg.gradgradcheck(lambda z: z.sigmoid().sum(), [z])
    assert tg.gradgradcheck(lambda z: softmax_cross_entropy(z, target), [z])


def test_gradgradcheck_passes_for_nn_functional_cross_entropy() -> None:
    F = pytest.importorskip("tinygrad_edu.nn.functional")
    z = f64(np.random.default_rng(6).standard_normal((5, 4)))
    assert tg.gradgradcheck(lambda z: F.cross_entropy(z, np.array([0, 3, 1, 1, 2])), [z])


class CubeTensorFriendly(Function):
    """x ** 3 with a backward written in the operators arrays and Tensors share: twice differentiable."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


class TanhSavesItsDerivative(Function):
    """tanh whose forward saves 1 - tanh(x)^2, an array derived from the output. The first
    derivative is right, but under create_graph=True a derived array comes back as a constant,
    so the second derivative is silently lost."""

    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(1 - out * out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (derivative,) = ctx.saved_tensors
        return grad * derivative


class CubeWithNumPy(Function):
    """x ** 3 whose backward computes with NumPy on the array inside the Tensor."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        array = x.data if isinstance(x, Tensor) else x
        return grad * (3 * np.square(array))


def test_gradgradcheck_passes_for_a_custom_op_written_for_it() -> None:
    x = f64([0.5, -1.2, 2.0])
    assert tg.gradgradcheck(lambda x: CubeTensorFriendly.apply(x).sum(), [x])


@pytest.mark.parametrize("op", [TanhSavesItsDerivative, CubeWithNumPy], ids=lambda op: op.__name__)
def test_gradgradcheck_catches_a_backward_that_is_not_differentiable(op: type[Function]) -> None:
    x = f64([0.5, -1.2, 2.0])
    assert tg.gradcheck(lambda x: op.apply(x).sum(), [x])  # the first derivative is right...
    report, message = failure(lambda x: op.apply(x).sum(), [x], check=tg.gradgradcheck)  # ...the second is lost
    (row,) = report.rows
    assert row.n_failed == 3 and np.all(row.analytical == 0)
    second = -2 * np.tanh(x.data) * (1 - np.tanh(x.data) ** 2) if op is TanhSavesItsDerivative else 6 * x.data
    v = np.random.default_rng(0).standard_normal(3)  # the seed direction for the first derivatives
    np.testing.assert_allclose(row.numerical, second * v, rtol=1e-6)
    assert "second derivatives" in message and "the first derivative for input 0 does not require grad" in message


def test_gradgradcheck_of_a_linear_fn_is_no_false_alarm() -> None:
    """The first derivative of a linear fn is a constant, recorded nowhere, and that is right."""
    x, w = f64([0.5, -1.2]), f64([2.0, 3.0])
    assert tg.gradgradcheck(lambda x: (x * 3.0).sum(), [x])
    assert tg.gradgradcheck(lambda x, w: (x * w).sum(), [x, w])  # d/dx = w depends on w only


# ---------------------------------------------------------------- directions mode


class LinearSignFlip(Function):
    """x @ W whose backward flips the sign of W's gradient."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return grad @ w.T, -(x.T @ grad)


def two_layer(rng: np.random.Generator, sizes=(784, 256, 10), batch: int = 32):
    n_in, n_hidden, n_out = sizes
    params = {
        "W1": f64(rng.uniform(-1, 1, (n_in, n_hidden)) / np.sqrt(n_in)),
        "b1": f64(rng.uniform(-1, 1, n_hidden) / np.sqrt(n_in)),
        "W2": f64(rng.uniform(-1, 1, (n_hidden, n_out)) / np.sqrt(n_hidden)),
        "b2": f64(rng.uniform(-1, 1, n_out) / np.sqrt(n_hidden)),
    }
    x, target = rng.uniform(0, 1, (batch, n_in)), np.eye(n_out)[rng.integers(0, n_out, batch)]
    return params, x, target


def test_directions_mode_catches_a_wrong_gradient() -> None:
    params, x, target = two_layer(np.random.default_rng(7), sizes=(60, 40, 5), batch=8)
    p = params

    def loss(x, target):
        h = (LinearSignFlip.apply(x, p["W1"]) + p["b1"]).relu()
        return softmax_cross_entropy(h @ p["W2"] + p["b2"], target)

    report = tg.check_module_grads(params, loss, x, target, mode="directions", n_directions=6)
    assert [row.passed for row in report.rows] == [False, True, True, True]
    w1 = report.rows[0]
    assert w1.mode == "directions" and w1.n_failed == 6
    # A sign flip: along every direction, v . grad is the negative of the finite difference.
    np.testing.assert_allclose(w1.analytical, -w1.numerical, rtol=1e-4)
    assert "FAIL 6/6" in str(report) and "mode='exact'" in str(report)
    with pytest.raises(GradcheckError, match=r"input 0 .*6/6 dirs"):
        tg.gradcheck(lambda w: loss(x, target), [p["W1"]], mode="directions", n_directions=6)


def test_directions_mode_checks_a_784_256_10_model_in_well_under_a_second() -> None:
    params, x, target = two_layer(np.random.default_rng(8))
    calls = []

    def loss(x, target):
        calls.append(1)
        h = (x @ params["W1"] + params["b1"]).relu()
        return softmax_cross_entropy(h @ params["W2"] + params["b2"], target)

    start = time.perf_counter()
    assert tg.gradcheck(lambda w: loss(x, target), [params["W1"]], mode="directions", n_directions=10)
    elapsed = time.perf_counter() - start
    # The cost does not depend on the 200,704 elements: 1 call for backward, 1 to confirm fn is
    # deterministic, 2 per direction (a few more only if a direction straddles a relu kink).
    assert 22 <= len(calls) <= 26
    # The same number of plain forward passes, as a yardstick for a machine that may be busy.
    start = time.perf_counter()
    with tg.no_grad():
        for _ in range(len(calls)):
            loss(x, target)
    forwards = time.perf_counter() - start
    print(f"\ndirections mode, 784x256 weight of a 784-256-10 model: {elapsed:.3f}s ({forwards:.3f}s of forwards)")
    assert elapsed < max(1.0, 3 * forwards), f"{elapsed:.2f}s for the check, {forwards:.2f}s for its forward passes"


@pytest.mark.parametrize("mode", ["exact", "directions", "auto"])
def test_an_empty_input_has_nothing_to_fail_in_any_mode(mode: str) -> None:
    empty, x = f64(np.zeros((0, 3))), f64([1.0, 2.0])
    assert tg.gradcheck(lambda e, x: e.sum() + (x * x).sum(), [empty, x], mode=mode)


def test_auto_mode_uses_directions_for_large_inputs_only() -> None:
    params, x, target = two_layer(np.random.default_rng(9), sizes=(40, 30, 4), batch=6)

    def loss(x, target):
        h = (x @ params["W1"] + params["b1"]).tanh()
        return softmax_cross_entropy(h @ params["W2"] + params["b2"], target)

    report = tg.check_module_grads(params, loss, x, target)
    assert params["W1"].size > AUTO_EXACT_MAX_ELEMENTS >= params["W2"].size
    assert [row.check for row in report.rows] == ["10 dirs", "exact", "exact", "exact"]
    assert report.passed


# ---------------------------------------------------------------- check_module_grads


def test_check_module_grads_over_a_dict_of_named_tensors() -> None:
    rng = np.random.default_rng(10)
    W, b = f64(rng.standard_normal((3, 2))), f64(rng.standard_normal(2))
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    report = tg.check_module_grads({"W": W, "b": b}, lambda x, y: ((x @ W + b - y) ** 2).mean(), x, y)
    assert report.passed and bool(report)
    assert [(r.name, r.shape, r.check) for r in report.rows] == [("W", (3, 2), "exact"), ("b", (2,), "exact")]
    assert all(r.max_abs_err < 1e-8 and r.max_rel_err < 1e-6 for r in report.rows)
    lines = str(report).splitlines()
    assert lines[0].split() == ["parameter", "shape", "check", "max", "abs", "err", "max", "rel", "err", "result"]
    assert lines[1].startswith("W ") and "(3, 2)" in lines[1] and lines[1].endswith("ok")
    assert W.grad is None and b.grad is None


def test_check_module_grads_names_the_wrong_parameter() -> None:
    rng = np.random.default_rng(11)
    W, b = f64(rng.standard_normal((3, 2))), f64(rng.standard_normal(2))
    x = rng.standard_normal((4, 3))
    params = {"W": W, "b": b}

    def loss(x):
        return (LinearSignFlip.apply(x, W) + b).tanh().sum()

    report = tg.check_module_grads(params, loss, x)
    assert not report.passed and [r.passed for r in report.rows] == [False, True]
    assert "FAIL 6/6" in report.summary().splitlines()[1]
    with pytest.raises(GradcheckError, match="for W\n"):
        tg.check_module_grads(params, loss, x, raise_exception=True)


def test_check_module_grads_verbose_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    W = f64([[1.0, 2.0]])
    tg.check_module_grads({"W": W}, lambda: (W**2).sum(), verbose=True)
    out = capsys.readouterr().out
    assert "parameter" in out and "W " in out and "all 1 match finite differences" in out


def test_check_module_grads_reports_frozen_parameters() -> None:
    W, frozen = f64([[1.0, 2.0]]), Tensor(np.array([3.0]))
    report = tg.check_module_grads({"W": W, "frozen": frozen}, lambda: (W * frozen).sum())
    assert [r.name for r in report.rows] == ["W"] and "not checked (requires_grad=False): frozen" in str(report)


def module_tools():
    nn = pytest.importorskip("tinygrad_edu.nn")
    return nn, nn.functional


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_check_module_grads_on_an_nn_mlp(loss: str) -> None:
    nn, F = module_tools()
    rng = np.random.default_rng(12)
    model = nn.MLP([4, 6, 5, 3], activation="tanh", dtype=np.float64, generator=rng)
    x = Tensor(rng.standard_normal((7, 4)))
    if loss == "ce":
        report = tg.check_module_grads(model, F.cross_entropy, x, rng.integers(0, 3, 7))
    else:
        report = tg.check_module_grads(model, F.mse_loss, x, Tensor(rng.standard_normal((7, 3))))
    assert report.passed
    assert [r.name for r in report.rows] == [name for name, _ in model.named_parameters()]
    assert [r.shape for r in report.rows] == [p.shape for _, p in model.named_parameters()]


def test_check_module_grads_on_a_float32_mlp_checks_float64_copies() -> None:
    nn, F = module_tools()
    rng = np.random.default_rng(13)
    model = nn.MLP([3, 4, 2], dtype=np.float32, generator=rng)
    arrays = [p.data for p in model.parameters()]
    x = Tensor(rng.standard_normal((5, 3)).astype(np.float32))
    with pytest.warns(GradcheckWarning, match="float32; checking in float64"):
        report = tg.check_module_grads(model, F.cross_entropy, x, np.array([0, 1, 1, 0, 1]))
    assert report.passed and "and the batch checked in float64 on a copy" in str(report)
    assert all(p.data is a and p.dtype == np.float32 for p, a in zip(model.parameters(), arrays))
    assert x.dtype == np.float32


def test_check_module_grads_refuses_dropout_in_training_mode() -> None:
    nn, F = module_tools()
    rng = np.random.default_rng(14)
    model = nn.Sequential(
        nn.Linear(3, 8, dtype=np.float64, generator=rng),
        nn.Dropout(0.5, generator=rng),
        nn.Linear(8, 2, dtype=np.float64, generator=rng),
    )
    x, y = Tensor(rng.standard_normal((6, 3))), np.array([0, 1, 1, 0, 1, 0])
    with pytest.raises(ValueError, match=r"not deterministic.*eval\(\)"):
        tg.check_module_grads(model, F.cross_entropy, x, y)
    assert tg.check_module_grads(model.eval(), F.cross_entropy, x, y).passed


def test_check_module_grads_times_a_784_256_10_mlp() -> None:
    nn, F = module_tools()
    rng = np.random.default_rng(15)
    model = nn.MLP([784, 256, 10], dtype=np.float64, generator=rng)
    x, y = Tensor(rng.uniform(0, 1, (32, 784))), rng.integers(0, 10, 32)
    start = time.perf_counter()
    report = tg.check_module_grads(model, F.cross_entropy, x, y, mode="directions")
    elapsed = time.perf_counter() - start
    assert report.passed and [r.check for r in report.rows] == ["10 dirs"] * 4
    start = time.perf_counter()
    with tg.no_grad():
        for _ in range(4 * 22):
            F.cross_entropy(model(x), y)
    forwards = time.perf_counter() - start
    print(f"\ncheck_module_grads, directions mode, MLP 784-256-10: {elapsed:.3f}s ({forwards:.3f}s of forwards)")
    assert elapsed < max(2.0, 3 * forwards)


# ---------------------------------------------------------------- the command line


def test_cli_prints_the_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    module_tools()
    assert cli.main(["gradcheck", "--sizes", "3", "4", "2", "--batch", "5", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("MLP [3, 4, 2] (relu, float64, 26 parameters)")
    assert lines[1].split()[:3] == ["parameter", "shape", "check"]
    rows = {line.split()[0]: line for line in lines[2:6]}
    assert list(rows) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert "(4, 3)" in rows["layers.0.weight"] and all(row.endswith("ok") for row in rows.values())
    assert "check_module_grads: all 4 match finite differences" in out


def test_cli_mse_loss_and_other_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    module_tools()
    assert cli.main(["gradcheck", "--sizes", "2", "5", "3", "1", "--loss", "mse", "--activation", "sigmoid"]) == 0
    out = capsys.readouterr().out
    assert "mean squared error loss" in out and "layers.4.bias" in out and "all 6 match" in out


def test_cli_exits_1_when_a_gradient_is_wrong(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    module_tools()
    right = ops.ReLU.backward
    # A relu whose backward is twice too large: the first layer's gradients go wrong.
    monkeypatch.setattr(ops.ReLU, "backward", staticmethod(lambda ctx, grad: 2 * right(ctx, grad)))
    assert cli.main(["gradcheck", "--sizes", "3", "4", "2", "--seed", "1"]) == 1
    out = capsys.readouterr().out
    results = {line.split()[0]: line.split()[-2:] for line in out.splitlines()[2:6]}
    assert results["layers.0.weight"][0] == "FAIL" and results["layers.0.bias"][0] == "FAIL"
    assert results["layers.2.weight"][-1] == "ok" and results["layers.2.bias"][-1] == "ok"
    assert "2 of 4 FAIL" in out and "backward = 2 x numerical" in out


def test_cli_rejects_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["gradcheck", "--sizes", "3"]) == 2
    assert "at least two positive sizes" in capsys.readouterr().err


def test_installed_command_runs() -> None:
    module_tools()
    exe = Path(sys.executable).parent / "tinygrad-edu"
    command = str(exe) if exe.exists() else shutil.which("tinygrad-edu")
    if command is None:
        pytest.skip("the tinygrad-edu script is not installed (pip install -e . installs it)")
    done = subprocess.run(
        [command, "gradcheck", "--sizes", "3", "4", "2", "--batch", "5", "--seed", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "layers.2.bias" in done.stdout and "all 4 match finite differences" in done.stdout
    assert done.stderr == ""


def test_no_warning_for_float64_checks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.gradcheck(lambda x: x.tanh().sum(), [f64([0.1, 0.2])])
