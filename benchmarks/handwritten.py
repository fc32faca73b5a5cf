"""The floor: the benchmarks' work written out by hand in NumPy, and the data they share.

Any autograd engine on NumPy does at least this much work, so its time is what every system is
measured against. This is the one copy of the hand-written step: every benchmark imports it.

>>> import numpy as np
>>> x, y, weights = make_batch((16, 16, 10), batch=8, seed=0)
>>> before = [w.copy() for w in weights]
>>> numpy_step(weights, x, y, lr=0.1)
>>> all(not np.array_equal(w, b) for w, b in zip(weights, before))
True
"""

from __future__ import annotations

import numpy as np


def init_weights(sizes: tuple[int, int, int], rng: np.random.Generator) -> list[np.ndarray]:
    """[w1, b1, w2, b2] of a `sizes[0] -> sizes[1] -> sizes[2]` MLP, float32, weights shaped
    (out, in) and drawn like PyTorch's `nn.Linear` (uniform in ±1/sqrt(fan_in))."""
    n_in, n_hidden, n_out = sizes

    def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return [
        uniform((n_hidden, n_in), n_in),
        uniform((n_hidden,), n_in),
        uniform((n_out, n_hidden), n_hidden),
        uniform((n_out,), n_hidden),
    ]


def make_batch(sizes: tuple[int, int, int], batch: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A float32 batch `x` (batch, sizes[0]) in [0, 1), int64 class indices `y` and the weights."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[2], batch, dtype=np.int64)
    return x, y, init_weights(sizes, rng)


def numpy_step(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float) -> None:
    """One SGD step of a one-hidden-layer ReLU MLP with softmax cross-entropy (mean), written out
    by hand, updating `weights` ([w1, b1, w2, b2]) in place."""
    # np.dot, not @: np.matmul is several times slower for batch-1 outer products.
    w1, b1, w2, b2 = weights
    batch = len(x)
    z1 = np.dot(x, w1.T) + b1
    h = np.maximum(z1, 0)
    logits = np.dot(h, w2.T) + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    _loss = -(shifted[np.arange(batch), y] - np.log(s[:, 0])).mean()  # computed, as every system does
    d_logits = e / s
    d_logits[np.arange(batch), y] -= 1
    d_logits /= batch
    dw2, db2 = np.dot(d_logits.T, h), d_logits.sum(axis=0)
    dz1 = np.dot(d_logits, w2) * (z1 > 0)
    dw1, db1 = np.dot(dz1.T, x), dz1.sum(axis=0)
    for w, dw in zip(weights, (dw1, db1, dw2, db2)):
        w -= lr * dw


def chain_inputs(length: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The input vector `x0` and the constant factor `a` of the op chain, float32."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(length).astype(np.float32), (0.5 + rng.random(length)).astype(np.float32)


def numpy_chain(x0: np.ndarray, a: np.ndarray, n_ops: int) -> np.ndarray:
    """Forward and backward of `n_ops` elementwise ops, y = tanh(y * a) repeated `n_ops // 2`
    times, by hand; returns d(sum of y)/d(x0), seeded with ones as the engines are."""
    outs = []
    y = x0
    for _ in range(n_ops // 2):
        y = np.tanh(y * a)
        outs.append(y)
    g = np.ones_like(y)
    for out in reversed(outs):
        g = g * (1 - out * out) * a
    return g
