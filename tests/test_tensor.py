"""Tensor construction, dtype rules, factories, attributes, display and NumPy interop."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.errors import DTypeError


def test_python_numbers_and_lists_get_the_default_float_dtype():
    assert tg.Tensor(3).dtype == np.float32
    assert tg.Tensor([[1, 2], [3, 4]]).dtype == np.float32
    assert tg.Tensor([1, 2], dtype=np.int64).dtype == np.int64


def test_set_default_dtype(float64):
    assert tg.Tensor([1.0]).dtype == np.float64
    assert tg.zeros(2).dtype == np.float64 and tg.randn(2).dtype == np.float64
    with pytest.raises(DTypeError, match="expected a float dtype"):
        tg.set_default_dtype(np.int32)


def test_arrays_keep_their_dtype_and_are_copied():
    a = np.array([1.0, 2.0], dtype=np.float64)
    t = tg.Tensor(a)
    assert t.dtype == np.float64
    a[0] = 100.0  # changing the source afterwards does not reach the tensor
    assert t.data[0] == 1.0
    assert tg.Tensor(np.array([1, 2], dtype=np.int32)).dtype == np.int32


def test_unsupported_data_is_refused_clearly():
    with pytest.raises(TypeError, match="cannot make a tensor from str"):
        tg.Tensor("abc")
    with pytest.raises(TypeError, match="cannot make a tensor"):
        tg.Tensor([[1, 2], [3]])


def test_attributes():
    w = tg.Tensor(np.ones((2, 3)), requires_grad=True, name="W")
    x = tg.Tensor(np.ones(3))
    y = w @ x
    assert (w.shape, w.ndim, w.size, w.dtype, w.name) == ((2, 3), 2, 6, np.float64, "W")
    assert w.is_leaf and w.op is None and w.parents == ()
    assert not y.is_leaf and y.op == "matmul" and y.parents == (w, x)
    assert w.T.shape == (3, 2) and len(w) == 2 and w.numel() == 6


def test_numpy_interop():
    t = tg.Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t) is t.data and t.numpy() is t.data
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert tg.Tensor([2.5]).item() == 2.5 and float(tg.Tensor(2.5)) == 2.5
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(np.ones(2) + tg.Tensor([1.0, 2.0]), [2.0, 3.0])  # reflected ops
    assert isinstance(np.ones(2) * tg.Tensor([1.0, 2.0]), tg.Tensor)
    with pytest.raises(ValueError, match="one element"):
        t.item()


def test_repr_shows_data_shape_dtype_op_and_requires_grad():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    text = repr(x * 2)
    assert text == "Tensor([2., 4.], shape=(2,), dtype=float32, op='mul', requires_grad=True)"
    assert repr(tg.Tensor(1.5, name="b")) == "Tensor(1.5, shape=(), dtype=float32, name='b')"


def test_comparisons_return_bool_tensors_without_gradient():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x < 2, [True, False, False]),
        (x <= 2, [True, True, False]),
        (x > 2, [False, False, True]),
        (x >= 2, [False, True, True]),
        (x == 2, [False, True, False]),
        (x != 2, [True, False, True]),
    ]:
        assert result.dtype == np.bool_ and not result.requires_grad and result.op is None
        assert result.tolist() == expected
    assert (~(x > 2)).tolist() == [True, True, False]


def test_scalars_keep_the_tensor_dtype():
    x = tg.Tensor(np.ones(2, np.float32))
    for result in (x + 1, 1 + x, x * 2.5, x / 3, 2 - x, x**2, 2**x):
        assert result.dtype == np.float32
    assert (tg.arange(3) * 2).dtype == np.int64
    # An int tensor times a Python float takes the default float dtype, as in PyTorch (NumPy: float64).
    assert (tg.arange(3) * 0.5).dtype == np.float32


def test_factories():
    tg.manual_seed(0)
    a = tg.randn(2, 3)
    tg.manual_seed(0)
    b = tg.randn((2, 3))
    np.testing.assert_array_equal(a.data, b.data)
    rng = np.random.default_rng(5)
    c = tg.rand(4, generator=rng)
    assert c.shape == (4,) and np.all((c.data >= 0) & (c.data < 1))
    assert tg.zeros(2, 3).tolist() == [[0.0] * 3] * 2 and tg.ones(2).tolist() == [1.0, 1.0]
    assert tg.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert tg.arange(3).tolist() == [0, 1, 2] and tg.arange(3).dtype == np.int64
    assert tg.arange(0.0, 1.0, 0.5).dtype == np.float32
    assert tg.zeros_like(a).shape == (2, 3) and tg.ones_like(tg.arange(2)).dtype == np.int64
    w = tg.zeros(3, requires_grad=True, dtype=np.float64)
    assert w.requires_grad and w.dtype == np.float64


def test_functions_mirror_methods():
    x = tg.Tensor([[1.0, -2.0], [3.0, 0.5]])
    np.testing.assert_allclose(tg.relu(x).data, x.relu().data)
    np.testing.assert_allclose(tg.softmax(x, axis=0).data, x.softmax(axis=0).data)
    np.testing.assert_allclose(tg.sum(x, axis=1).data, [-1.0, 3.5])
    np.testing.assert_allclose(tg.matmul(x, x).data, x.data @ x.data)
    np.testing.assert_allclose(tg.exp([0.0, 1.0]).data, [1.0, np.e], rtol=1e-6)


def test_transpose_follows_numpy_permutations_and_pytorch_swaps():
    x = tg.zeros(2, 3, 4)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3)  # a permutation, as in NumPy
    assert x.transpose(0, 2).shape == (4, 3, 2)  # two axes swapped, as in PyTorch
    assert x.transpose().shape == (4, 3, 2) and x.T.shape == (4, 3, 2)
    assert x.mT.shape == (2, 4, 3)


def test_indexing_with_tensors_lists_and_masks():
    x = tg.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    assert x[1].tolist() == [2.0, 3.0]
    assert x[[0, 0, 2]].shape == (3, 2)
    assert x[tg.Tensor(np.array([2]))].tolist() == [[4.0, 5.0]]
    assert x[x > 2.5].tolist() == [3.0, 4.0, 5.0]
    x[[0, 0], 1].sum().backward()  # a repeated index adds up
    assert x.grad.tolist() == [[0.0, 2.0], [0.0, 0.0], [0.0, 0.0]]


def test_clip_passes_gradient_inside_the_closed_interval_like_torch_clamp():
    x = tg.Tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    y = x.clip(-1.0, 1.0)
    assert y.tolist() == [-1.0, -1.0, 0.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_max_splits_the_gradient_between_ties_like_amax():
    x = tg.Tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5]


def test_relu_gradient_at_zero_is_zero():
    x = tg.Tensor([-1.0, 0.0, 1.0], requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


def test_stable_sigmoid_logsumexp_and_softmax_at_extremes():
    x = tg.Tensor([-1e4, -50.0, 0.0, 50.0, 1e4], requires_grad=True, dtype=np.float64)
    s = x.sigmoid()
    assert np.all(np.isfinite(s.data))
    np.testing.assert_allclose(s.data, [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-12, atol=0)
    s.sum().backward()
    assert np.all(np.isfinite(x.grad.data))
    big = tg.Tensor([[1e4, 0.0, -1e4]], requires_grad=True)
    assert np.isclose(big.logsumexp(axis=1).item(), 1e4)
    np.testing.assert_allclose(big.softmax(axis=1).data, [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(big.log_softmax(axis=1).data, [[0.0, -1e4, -2e4]])
    big.log_softmax(axis=1)[0, 0].backward()
    np.testing.assert_allclose(big.grad.data, [[0.0, 0.0, 0.0]], atol=1e-7)


def test_var_is_unbiased_by_default_like_pytorch():
    x = tg.Tensor([1.0, 2.0, 3.0, 4.0])
    assert np.isclose(x.var().item(), np.var(x.data, ddof=1))
    assert np.isclose(x.var(correction=0).item(), np.var(x.data))


def test_cat_stack_and_where():
    a, b = tg.Tensor([[1.0, 2.0]], requires_grad=True), tg.Tensor([[3.0, 4.0]], requires_grad=True)
    assert tg.cat([a, b]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert a.cat(b, axis=1).tolist() == [[1.0, 2.0, 3.0, 4.0]]
    assert tg.stack([a, b], axis=0).shape == (2, 1, 2)
    chosen = tg.where(a > 1.5, a, b)
    assert chosen.tolist() == [[3.0, 2.0]]
    chosen.sum().backward()
    assert a.grad.tolist() == [[0.0, 1.0]] and b.grad.tolist() == [[1.0, 0.0]]
    assert tg.where(a > 1.5, 0.0, a).tolist() == [[1.0, 0.0]]
