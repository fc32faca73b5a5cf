"""The layers' functions of `tinygrad_edu.nn.functional` in one table, for generic property tests.

In the style of `op_table.py`: each `NNOpCase` says how to call the function on Tensors (`fn`),
the same computation written independently in NumPy (`reference`: convolution and pooling with
`sliding_window_view` and `einsum`/reductions, not with slices and `cat` as the library does),
which shapes and parameters to try (a hypothesis strategy, with stride, padding and kernel sizes
that don't divide the input, plus one fixed `example`), and the same computation in PyTorch
(`torch_fn`). `test_nn_ops.py` runs every case through the same tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes
from numpy.lib.stride_tricks import sliding_window_view

import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)

Shapes = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class NNOpCase:
    name: str
    fn: Callable[..., Any]
    reference: Callable[..., np.ndarray]
    cases: st.SearchStrategy  # draws (input shapes, keyword parameters)
    example: tuple[Shapes, dict[str, Any]]
    torch_fn: Callable[..., Any] | None = None  # (torch, *tensors, **params)
    low: float = -2.0
    high: float = 2.0
    positive: tuple[int, ...] = ()  # inputs drawn in [0.5, 2] instead (variances)
    differentiable: tuple[bool, ...] | None = None  # which inputs get a gradient; None means all
    smooth: Callable[..., bool] = field(default=lambda *arrays, **params: True)

    def sample(self, rng: np.random.Generator, shapes: Shapes, params: dict[str, Any]) -> list[np.ndarray]:
        """float64 inputs where the function is smooth (retrying a few times)."""
        for _ in range(100):
            arrays = [
                rng.uniform(0.5, 2.0, s) if i in self.positive else rng.uniform(self.low, self.high, s)
                for i, s in enumerate(shapes)
            ]
            if self.smooth(*arrays, **params):
                return arrays
        raise RuntimeError(f"{self.name}: could not sample smooth inputs for {shapes}")

    def wants_grad(self, i: int) -> bool:
        return self.differentiable is None or self.differentiable[i]


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


# ---------------------------------------------------------------- references in NumPy


def np_windows(x: np.ndarray, kernel: Any, stride: Any, padding: Any, fill: float = 0.0) -> np.ndarray:
    """(N, C, OH, OW, kh, kw) windows of the padded input: NumPy's own sliding windows."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def np_conv2d(x, w, b=None, *, stride=1, padding=0):
    out = np.einsum("nchwij,ocij->nohw", np_windows(x, w.shape[2:], stride, padding), w)
    return out if b is None else out + b[None, :, None, None]


def np_max_pool2d(x, *, kernel_size, stride=None, padding=0):
    return np_windows(x, kernel_size, stride or kernel_size, padding, -np.inf).max(axis=(-2, -1))


def np_avg_pool2d(x, *, kernel_size, stride=None, padding=0):
    return np_windows(x, kernel_size, stride or kernel_size, padding).mean(axis=(-2, -1))


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def np_batch_norm_train(x, w, b, *, eps=1e-5):
    axes = (0, *range(2, x.ndim))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * _per_channel(w, x.ndim) + _per_channel(b, x.ndim)


def np_batch_norm_eval(x, w, b, running_mean, running_var, *, eps=1e-5):
    rm, rv = _per_channel(running_mean, x.ndim), _per_channel(running_var, x.ndim)
    return (x - rm) / np.sqrt(rv + eps) * _per_channel(w, x.ndim) + _per_channel(b, x.ndim)


def np_layer_norm(x, w, b, *, eps=1e-5):
    axes = tuple(range(x.ndim - w.ndim, x.ndim))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def np_erf(x):
    import math

    return np.vectorize(math.erf, otypes=[np.float64])(x)


def np_gelu(x):
    return 0.5 * x * (1 + np_erf(x / np.sqrt(2.0)))


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


# ---------------------------------------------------------------- what is smooth


def clear_window_max(x, *, kernel_size, stride=None, padding=0) -> bool:
    """In every window the largest value beats the runner-up clearly, so max pooling is differentiable."""
    windows = np_windows(x, kernel_size, stride or kernel_size, padding, -np.inf)
    flat = np.sort(windows.reshape(*windows.shape[:4], -1), axis=-1)
    if flat.shape[-1] < 2:
        return True
    gap = flat[..., -1] - flat[..., -2]
    return bool(np.all(gap[np.isfinite(gap)] > 1e-2))


def away_from_zero(*arrays, **params) -> bool:
    return all(np.all(np.abs(a) > 1e-2) for a in arrays)


# ---------------------------------------------------------------- shapes and parameters


@st.composite
def conv_cases(draw: st.DrawFn, bias: bool = True) -> tuple[Shapes, dict[str, Any]]:
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.sampled_from([1, 2, 3, (1, 2), (2, 1)]))
    padding = draw(st.sampled_from([0, 1, 2, (0, 1), (1, 0)]))
    ph, pw = _pair(padding)
    h = draw(st.integers(max(1, kh - 2 * ph), 6))  # the kernel fits in the padded input, not always evenly
    w = draw(st.integers(max(1, kw - 2 * pw), 6))
    shapes = ((n, c, h, w), (o, c, kh, kw)) + (((o,),) if bias else ())
    return shapes, {"stride": stride, "padding": padding}


@st.composite
def pool_cases(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel = draw(st.sampled_from([1, 2, 3, (2, 3), (3, 2)]))
    kh, kw = _pair(kernel)
    stride = draw(st.sampled_from([None, 1, 2, 3, (2, 1)]))
    padding = draw(st.sampled_from([0, 1, (0, 1), (1, 0)]))
    ph, pw = _pair(padding)
    if ph > kh // 2 or pw > kw // 2:  # PyTorch allows at most half the kernel
        padding, ph, pw = 0, 0, 0
    h, w = draw(st.integers(max(1, kh - 2 * ph), 7)), draw(st.integers(max(1, kw - 2 * pw), 7))
    return ((n, c, h, w),), {"kernel_size": kernel, "stride": stride, "padding": padding}


@st.composite
def batch_norm_cases(draw: st.DrawFn, running: bool = False) -> tuple[Shapes, dict[str, Any]]:
    spatial = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    shape = (draw(st.integers(2, 4)), draw(st.integers(1, 3)), *spatial)
    channel = (shape[1],)
    return (shape, channel, channel) + ((channel, channel) if running else ()), {}


@st.composite
def layer_norm_cases(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    normalized = shape[draw(st.integers(0, len(shape) - 1)) :]
    if np.prod(normalized) < 2:  # one value normalises to 0 whatever it is: nothing to check
        shape, normalized = (*shape[:-1], 3), (*normalized[:-1], 3)
    return (shape, normalized, normalized), {}


@st.composite
def embedding_cases(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    rows, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    ids_shape = draw(array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
    size = int(np.prod(ids_shape))
    ids = draw(st.lists(st.integers(0, rows - 1), min_size=size, max_size=size))  # repeats must add up
    return ((rows, dim),), {"ids": np.array(ids, dtype=np.int64).reshape(ids_shape)}


elementwise = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4).map(lambda s: ((s,), {}))


NN_OP_CASES: list[NNOpCase] = [
    NNOpCase(
        "conv2d",
        lambda x, w, b, **p: F.conv2d(x, w, b, **p),
        np_conv2d,
        conv_cases(),
        (((2, 3, 7, 5), (4, 3, 3, 2), (4,)), {"stride": 2, "padding": 1}),
        torch_fn=lambda torch, x, w, b, **p: torch.nn.functional.conv2d(x, w, b, **p),
    ),
    NNOpCase(
        "conv2d_no_bias",
        lambda x, w, **p: F.conv2d(x, w, None, **p),
        np_conv2d,
        conv_cases(bias=False),
        (((1, 2, 5, 5), (3, 2, 3, 3)), {"stride": 1, "padding": 0}),
        torch_fn=lambda torch, x, w, **p: torch.nn.functional.conv2d(x, w, None, **p),
    ),
    NNOpCase(
        "max_pool2d",
        lambda x, **p: F.max_pool2d(x, **p),
        np_max_pool2d,
        pool_cases(),
        (((2, 3, 7, 7),), {"kernel_size": 2, "stride": None, "padding": 0}),
        torch_fn=lambda torch, x, **p: torch.nn.functional.max_pool2d(x, **p),
        smooth=clear_window_max,
    ),
    NNOpCase(
        "avg_pool2d",
        lambda x, **p: F.avg_pool2d(x, **p),
        np_avg_pool2d,
        pool_cases(),
        (((2, 3, 7, 6),), {"kernel_size": 3, "stride": 2, "padding": 1}),
        torch_fn=lambda torch, x, **p: torch.nn.functional.avg_pool2d(x, **p),
    ),
    NNOpCase(
        "batch_norm_train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        np_batch_norm_train,
        batch_norm_cases(),
        (((4, 3, 2, 2), (3,), (3,)), {}),
        torch_fn=lambda torch, x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True),
    ),
    NNOpCase(
        "batch_norm_eval",
        lambda x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b, training=False),
        np_batch_norm_eval,
        batch_norm_cases(running=True),
        (((4, 3, 2, 2), (3,), (3,), (3,), (3,)), {}),
        torch_fn=lambda torch, x, w, b, rm, rv: torch.nn.functional.batch_norm(x, rm, rv, w, b, training=False),
        positive=(4,),
        differentiable=(True, True, True, False, False),
    ),
    NNOpCase(
        "layer_norm",
        lambda x, w, b: F.layer_norm(x, w.shape, w, b),
        np_layer_norm,
        layer_norm_cases(),
        (((2, 3, 4), (3, 4), (3, 4)), {}),
        torch_fn=lambda torch, x, w, b: torch.nn.functional.layer_norm(x, w.shape, w, b),
    ),
    NNOpCase(
        "embedding",
        lambda w, ids: F.embedding(ids, w),
        lambda w, ids: w[ids],
        embedding_cases(),
        (((5, 3),), {"ids": np.array([[0, 4, 4], [2, 0, 1]])}),
        torch_fn=lambda torch, w, ids: torch.nn.functional.embedding(torch.from_numpy(ids), w),
    ),
    NNOpCase(
        "leaky_relu",
        lambda x: F.leaky_relu(x, 0.1),
        lambda x: np.where(x > 0, x, 0.1 * x),
        elementwise,
        (((2, 3),), {}),
        torch_fn=lambda torch, x: torch.nn.functional.leaky_relu(x, 0.1),
        smooth=away_from_zero,
    ),
    NNOpCase(
        "gelu",
        F.gelu,
        np_gelu,
        elementwise,
        (((2, 3),), {}),
        torch_fn=lambda torch, x: torch.nn.functional.gelu(x),
        low=-4.0,
        high=4.0,
    ),
    NNOpCase(
        "gelu_tanh",
        lambda x: F.gelu(x, approximate="tanh"),
        np_gelu_tanh,
        elementwise,
        (((2, 3),), {}),
        torch_fn=lambda torch, x: torch.nn.functional.gelu(x, approximate="tanh"),
        low=-4.0,
        high=4.0,
    ),
    NNOpCase(
        "erf",
        F.erf,
        np_erf,
        elementwise,
        (((2, 3),), {}),
        torch_fn=lambda torch, x: torch.erf(x),
        low=-4.0,
        high=4.0,
    ),
]

CASES_BY_NAME = {case.name: case for case in NN_OP_CASES}
