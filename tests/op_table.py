"""Every op of tinygrad_edu in one table, for generic property tests.

Each `OpCase` says how to call the op on Tensors (`fn`), the same computation in NumPy
(`reference`), which input shapes and parameters to try (a hypothesis strategy, plus one fixed
`example`), where its inputs may lie (`low`, `high`), and which inputs to avoid because the op is
not differentiable there (`smooth`). `test_ops.py` runs every case through the same tests:
values against NumPy (and PyTorch), gradients against central finite differences.

To test a new op, add one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import tinygrad_edu as tg

Shapes = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class OpCase:
    name: str
    fn: Callable[..., tg.Tensor]
    reference: Callable[..., np.ndarray]
    cases: st.SearchStrategy  # draws (input shapes, keyword parameters)
    example: tuple[Shapes, dict[str, Any]]
    low: float = -2.0
    high: float = 2.0
    smooth: Callable[..., bool] = field(default=lambda *arrays, **params: True)
    differentiable: tuple[bool, ...] | None = None  # which inputs get a gradient; None means all
    # The smooth function whose finite differences the gradient must match, when `reference`
    # itself is not smooth enough for them (a float32 round trip).
    smooth_reference: Callable[..., np.ndarray] | None = None

    @property
    def math(self) -> Callable[..., np.ndarray]:
        return self.smooth_reference or self.reference

    def sample(self, rng: np.random.Generator, shapes: Shapes, params: dict[str, Any]) -> list[np.ndarray]:
        """float64 inputs in [low, high] where the op is smooth (retrying a few times)."""
        for _ in range(100):
            arrays = [rng.uniform(self.low, self.high, shape) for shape in shapes]
            if self.smooth(*arrays, **params):
                return arrays
        raise RuntimeError(f"{self.name}: could not sample smooth inputs for {shapes}")


def away_from(points: float | tuple[float, ...], margin: float = 1e-2) -> Callable[..., bool]:
    """Inputs at least `margin` from the kinks at `points` (for relu, abs, ...)."""
    points = points if isinstance(points, tuple) else (points,)
    return lambda *arrays, **params: all(np.all(np.abs(a - p) > margin) for a in arrays for p in points)


def distinct(*arrays: np.ndarray, margin: float = 1e-2, **params: Any) -> bool:
    """Two inputs never (nearly) equal: where max/maximum pick a winner, the winner is clear."""
    if len(arrays) == 2:
        a, b = np.broadcast_arrays(*arrays)
        return bool(np.all(np.abs(a - b) > margin))
    return True


def clear_max(x: np.ndarray, axis: Any = None, keepdims: bool = False, **params: Any) -> bool:
    """The largest value along `axis` beats the runner-up clearly, so max is differentiable."""
    top = np.max(x, axis=axis, keepdims=True)
    runner_up = np.max(np.where(x == top, -np.inf, x), axis=axis, keepdims=True)
    gap = top - runner_up
    return bool(np.all(gap[np.isfinite(gap)] > 1e-2))


shape = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
two_broadcast = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4).map(
    lambda s: (tuple(s.input_shapes), {})
)
one = shape.map(lambda s: ((s,), {}))


@st.composite
def reduction(draw: st.DrawFn, single_axis: bool = False) -> tuple[Shapes, dict[str, Any]]:
    s = draw(nonscalar)
    axes = st.integers(-len(s), len(s) - 1)
    if single_axis:
        axis = draw(axes)
    else:
        axis = draw(st.none() | axes | st.lists(st.integers(0, len(s) - 1), min_size=1, unique=True).map(tuple))
    return (s,), {"axis": axis, "keepdims": draw(st.booleans())}


@st.composite
def last_axis(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    s = draw(nonscalar)
    return (s,), {"axis": draw(st.integers(-len(s), len(s) - 1))}


@st.composite
def matmul_shapes(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["mm", "mv", "vm", "vv", "batched", "broadcast"]))
    if kind == "mm":
        return ((n, k), (k, m)), {}
    if kind == "mv":
        return ((n, k), (k,)), {}
    if kind == "vm":
        return ((k,), (k, m)), {}
    if kind == "vv":
        return ((k,), (k,)), {}
    batch = draw(st.integers(1, 3))
    if kind == "batched":
        return ((batch, n, k), (batch, k, m)), {}
    return ((batch, 1, n, k), (2, k, m)), {}


@st.composite
def reshape_shapes(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    s = draw(shape)
    size = int(np.prod(s))
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    first = draw(st.sampled_from(divisors))
    return (s,), {"shape": (first, -1)}


@st.composite
def permutations(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    s = draw(nonscalar)
    return (s,), {"axes": tuple(draw(st.permutations(range(len(s)))))}


@st.composite
def expand_shapes(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    target = draw(nonscalar)
    kept = target[draw(st.integers(0, len(target))) :]  # a suffix of the target's dims...
    source = tuple(n if draw(st.booleans()) else 1 for n in kept)  # ...some of them set to 1
    return (source,), {"shape": target}


@st.composite
def indices(draw: st.DrawFn) -> tuple[Shapes, dict[str, Any]]:
    s = draw(nonscalar)
    n = s[0]
    kind = draw(st.sampled_from(["int", "slice", "ints", "bool", "tuple"]))
    if kind == "int":
        index: Any = draw(st.integers(-n, n - 1))
    elif kind == "slice":
        index = slice(draw(st.integers(0, n - 1)), None, draw(st.integers(1, 2)))
    elif kind == "ints":  # repeated indices must add up in the gradient
        index = np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=5)))
    elif kind == "bool":
        index = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    else:
        index = (slice(None), draw(st.integers(0, s[1] - 1))) if len(s) > 1 else (draw(st.integers(0, n - 1)),)
    return (s,), {"index": index}


@st.composite
def cat_shapes(draw: st.DrawFn, new_axis: bool = False) -> tuple[Shapes, dict[str, Any]]:
    s = draw(nonscalar)
    axis = draw(st.integers(0, len(s) - (0 if new_axis else 1)))
    count = draw(st.integers(1, 3))
    if new_axis:
        return (s,) * count, {"axis": axis}
    shapes = tuple((*s[:axis], draw(st.integers(1, 3)), *s[axis + 1 :]) for _ in range(count))
    return shapes, {"axis": axis}


def _np_logsumexp(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - top).sum(axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_var(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return np.var(x, axis=axis, keepdims=keepdims, ddof=1)


def _enough_for_var(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> bool:
    return x.size // np.max(x, axis=axis, keepdims=True).size > 1


OP_CASES: list[OpCase] = [
    # primitives
    OpCase("add", lambda a, b: a + b, np.add, two_broadcast, (((3, 1), (1, 4)), {})),
    OpCase("mul", lambda a, b: a * b, np.multiply, two_broadcast, (((4,), (2, 3, 4)), {})),
    OpCase("neg", lambda a: -a, np.negative, one, (((3,),), {})),
    OpCase("exp", tg.exp, np.exp, one, (((2, 3),), {})),
    OpCase("log", tg.log, np.log, one, (((2, 3),), {}), low=0.1, high=3.0),
    OpCase("relu", tg.relu, lambda x: np.maximum(x, 0), one, (((2, 3),), {}), smooth=away_from(0.0)),
    OpCase("tanh", tg.tanh, np.tanh, one, (((4,),), {}), low=-3, high=3),
    OpCase("abs", tg.abs, np.abs, one, (((4,),), {}), smooth=away_from(0.0)),
    OpCase("pow", lambda a, b: a**b, np.power, two_broadcast, (((3,), ()), {}), low=0.2, high=2.0),
    OpCase("pow_scalar", lambda a: a**3, lambda a: a**3, one, (((3,),), {})),
    OpCase("maximum", tg.maximum, np.maximum, two_broadcast, (((2, 3), (3,)), {}), smooth=distinct),
    OpCase(
        "where",
        lambda a, b: tg.where(a.data > 0, a, b),
        lambda a, b: np.where(a > 0, a, b),
        two_broadcast,
        (((2, 3), (3,)), {}),
        smooth=away_from(0.0),
    ),
    OpCase("sum", lambda a, **p: a.sum(**p), lambda a, **p: np.sum(a, **p), reduction(), (((2, 3),), {"axis": 1})),
    OpCase(
        "max",
        lambda a, **p: a.max(**p),
        lambda a, **p: np.max(a, **p),
        reduction(),
        (((2, 3),), {"axis": 0}),
        smooth=clear_max,
    ),
    OpCase("reshape", lambda a, shape: a.reshape(shape), np.reshape, reshape_shapes(), (((2, 3),), {"shape": (3, -1)})),
    OpCase(
        "transpose",
        lambda a, axes: a.transpose(*axes),
        lambda a, axes: np.transpose(a, axes),
        permutations(),
        (((2, 3, 4),), {"axes": (2, 0, 1)}),
    ),
    OpCase(
        "expand", lambda a, shape: a.expand(shape), np.broadcast_to, expand_shapes(), (((3, 1),), {"shape": (3, 4)})
    ),
    OpCase(
        "getitem",
        lambda a, index: a[index],
        lambda a, index: a[index],
        indices(),
        (((4, 3),), {"index": np.array([0, 2, 0])}),
    ),
    OpCase("matmul", lambda a, b: a @ b, np.matmul, matmul_shapes(), (((5, 3), (3, 4)), {})),
    OpCase(
        "cat",
        lambda *ts, axis: tg.cat(list(ts), axis=axis),
        lambda *xs, axis: np.concatenate(xs, axis=axis),
        cat_shapes(),
        (((2, 3), (1, 3)), {"axis": 0}),
    ),
    OpCase(
        "cast",
        lambda a: a.cast(np.float32).cast(np.float64),
        lambda a: a.astype(np.float32).astype(np.float64),
        one,
        (((3,),), {}),
        smooth_reference=lambda a: a,
    ),
    # compositions
    OpCase("sub", lambda a, b: a - b, np.subtract, two_broadcast, (((3, 1), (1, 4)), {})),
    OpCase("div", lambda a, b: a / b, np.divide, two_broadcast, (((3,), (2, 3)), {}), low=0.3, high=2.0),
    OpCase("rsub_scalar", lambda a: 2.0 - a, lambda a: 2.0 - a, one, (((3,),), {})),
    OpCase("rdiv_scalar", lambda a: 2.0 / a, lambda a: 2.0 / a, one, (((3,),), {}), low=0.3, high=2.0),
    OpCase("rpow_scalar", lambda a: 2.0**a, lambda a: 2.0**a, one, (((3,),), {})),
    OpCase("sqrt", tg.sqrt, np.sqrt, one, (((3,),), {}), low=0.1, high=3.0),
    OpCase("sigmoid", tg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), one, (((2, 3),), {}), low=-6, high=6),
    OpCase("softplus", tg.softplus, lambda x: np.logaddexp(0, x), one, (((2, 3),), {}), low=-6, high=6),
    OpCase("minimum", tg.minimum, np.minimum, two_broadcast, (((2, 3), (3,)), {}), smooth=distinct),
    OpCase(
        "min",
        lambda a, **p: a.min(**p),
        lambda a, **p: np.min(a, **p),
        reduction(),
        (((2, 3),), {"axis": 1}),
        smooth=lambda x, **p: clear_max(-x, **p),
    ),
    OpCase("mean", lambda a, **p: a.mean(**p), lambda a, **p: np.mean(a, **p), reduction(), (((2, 3),), {"axis": 0})),
    OpCase(
        "var",
        lambda a, **p: a.var(**p),
        _np_var,
        reduction(),
        (((3, 4),), {"axis": 1}),
        smooth=_enough_for_var,
    ),
    OpCase(
        "logsumexp",
        lambda a, **p: a.logsumexp(**p),
        _np_logsumexp,
        reduction(single_axis=True),
        (((2, 5),), {"axis": -1}),
    ),
    OpCase("softmax", lambda a, axis: a.softmax(axis), _np_softmax, last_axis(), (((2, 5),), {"axis": -1})),
    OpCase(
        "log_softmax",
        lambda a, axis: a.log_softmax(axis),
        lambda x, axis: np.log(_np_softmax(x, axis)),
        last_axis(),
        (((2, 5),), {"axis": -1}),
    ),
    OpCase(
        "clip",
        lambda a: a.clip(-0.5, 0.8),
        lambda a: np.clip(a, -0.5, 0.8),
        one,
        (((3, 2),), {}),
        smooth=away_from((-0.5, 0.8)),
    ),
    OpCase(
        "flatten",
        lambda a: a.flatten(),
        lambda a: a.reshape(-1),
        one,
        (((2, 3),), {}),
    ),
    OpCase(
        "squeeze_unsqueeze",
        lambda a: a.unsqueeze(0).unsqueeze(-1).squeeze(),
        lambda a: np.squeeze(a),
        one,
        (((1, 3),), {}),
    ),
    OpCase("T", lambda a: a.T, lambda a: a.T, one, (((2, 3),), {})),
    OpCase(
        "stack",
        lambda *ts, axis: tg.stack(list(ts), axis=axis),
        lambda *xs, axis: np.stack(xs, axis=axis),
        cat_shapes(new_axis=True),
        (((2, 3), (2, 3)), {"axis": 1}),
    ),
]

CASES_BY_NAME = {case.name: case for case in OP_CASES}
