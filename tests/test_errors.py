"""Mistakes get messages that name the op, the shapes and dtypes and the likely fix."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.errors import AnomalyError, DTypeError, ShapeError


def test_matmul_shape_mismatch_suggests_the_transpose():
    a, b = tg.randn(5, 3), tg.randn(4, 3)
    with pytest.raises(ShapeError) as error:
        a @ b
    assert str(error.value) == (
        "matmul: shapes (5, 3) and (4, 3) are not aligned: 3 (dim 1 of the left) != 4 (dim 0 of the right); "
        "did you mean b.T?"
    )
    assert error.value.__cause__ is None and error.value.__suppress_context__  # no NumPy traceback


def test_matmul_of_a_scalar_says_to_use_star():
    with pytest.raises(ShapeError, match=r"matmul: shapes \(\) and \(3,\): both operands need at least one dimension"):
        tg.Tensor(2.0) @ tg.randn(3)


def test_broadcast_mismatch_names_the_op_and_dimension():
    with pytest.raises(ShapeError) as error:
        tg.randn(5, 3) + tg.randn(4, 3)
    assert str(error.value).startswith(
        "add: shapes (5, 3) and (4, 3) cannot be broadcast: dimension -2 is 5 on the left and 4 on the right"
    )


def test_reshape_error_names_the_op():
    with pytest.raises(ShapeError, match=r"reshape: cannot reshape array of size 6 into shape \(4,\)"):
        tg.randn(2, 3).reshape(4)


def test_index_error_names_the_op_and_shape():
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds .*\(3,\) float32"):
        tg.randn(3)[5]


def test_strict_shapes_refuses_a_broadcast_that_grows_both_operands():
    output, bias = tg.randn(4), tg.randn(4, 1)
    assert (output + bias).shape == (4, 4)  # legal NumPy, silently wrong
    with tg.strict_shapes():
        with pytest.raises(ShapeError, match=r"add: broadcasting \(4,\) with \(4, 1\) grows both operands"):
            output + bias
        assert (tg.randn(3, 4) + tg.randn(4)).shape == (3, 4)  # growing one operand is fine
    assert (output + bias).shape == (4, 4)  # and the switch is off again


def test_where_needs_a_bool_condition():
    with pytest.raises(DTypeError, match="the condition must be a bool tensor, got float32; compare first"):
        tg.where(tg.randn(3), 1.0, 0.0)


def test_detect_anomaly_names_the_op_that_produced_nan_in_forward():
    x = tg.Tensor([1.0, -1.0], requires_grad=True)
    with tg.detect_anomaly():
        y = x * 2  # fine
        with (
            np.errstate(invalid="ignore"),
            pytest.raises(AnomalyError, match=r"the forward of 'log' \(inputs \(2,\) float32\) produced NaN"),
        ):
            y.log()
    with np.errstate(invalid="ignore"):
        y.log()  # outside the block nothing is checked


def test_detect_anomaly_names_the_op_whose_backward_produced_inf():
    x = tg.Tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"), tg.detect_anomaly():
        y = x.sqrt().sum()  # forward is finite: sqrt(0) = 0
        with pytest.raises(AnomalyError, match=r"the backward of 'pow' \(gradient for input 0\) produced Inf"):
            y.backward()


def test_item_and_bool_of_many_elements():
    with pytest.raises(ValueError, match=r"ambiguous; use .any\(\) or .all\(\)"):
        bool(tg.randn(3))
