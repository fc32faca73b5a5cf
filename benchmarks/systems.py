"""The systems under test, each written the way its users write it, behind one interface.

A training step of a one-hidden-layer ReLU MLP (weights [w1, b1, w2, b2], shaped (out, in)),
softmax cross-entropy (mean) and plain SGD, and the forward+backward of an elementwise op chain.
Every system gets the batch as an ndarray and wraps it without a copy inside its step, as a
training loop does with each new batch: `tinygrad_edu.from_numpy`, `torch.from_numpy`,
`mygrad.astensor(..., constant=True)`.

PyTorch and MyGrad are optional: `available_systems()` leaves out what is not installed, and
says why.

>>> from handwritten import make_batch
>>> x, y, weights = make_batch((16, 16, 10), batch=8, seed=0)
>>> trainer = tinygrad_nn(x, y, weights, lr=0.1)
>>> trainer.step()
>>> [w.shape for w in trainer.weights()]
[(16, 16), (16,), (10, 16), (10,)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import harness
import numpy as np
from handwritten import chain_inputs, make_batch, numpy_chain, numpy_step

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import nn, optim


class Trainer(NamedTuple):
    """One system's training step on a fixed batch, and a way to read its weights back (to check
    that it computes the same update as the hand-written step)."""

    step: Callable[[], None]
    weights: Callable[[], list[np.ndarray]]


class System(NamedTuple):
    label: str  # as printed in the tables
    trainer: Callable[[np.ndarray, np.ndarray, list[np.ndarray], float], Trainer]
    chain: Callable[[np.ndarray, np.ndarray, int], np.ndarray] | None  # None: same engine as another row
    numpy_memory: bool = True  # its arrays come from NumPy, so tracemalloc sees them


# ---------------------------------------------------------------- hand-written NumPy (the floor)


def numpy_trainer(x: np.ndarray, y: np.ndarray, weights: list[np.ndarray], lr: float) -> Trainer:
    own = [w.copy() for w in weights]
    return Trainer(lambda: numpy_step(own, x, y, lr), lambda: own)


# ---------------------------------------------------------------- tinygrad_edu


def tinygrad_raw(x: np.ndarray, y: np.ndarray, weights: list[np.ndarray], lr: float) -> Trainer:
    """Raw Tensors, `F.cross_entropy`, and the update loop of PyTorch code."""
    params = [tg.Tensor(w.copy(), requires_grad=True) for w in weights]

    def step() -> None:
        w1, b1, w2, b2 = params
        xb, yb = tg.from_numpy(x), tg.from_numpy(y)
        loss = F.cross_entropy((xb @ w1.T + b1).relu() @ w2.T + b2, yb)
        for p in params:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in params:
                p -= lr * p.grad

    return Trainer(step, lambda: [p.data for p in params])


def tinygrad_nn(x: np.ndarray, y: np.ndarray, weights: list[np.ndarray], lr: float) -> Trainer:
    """`nn.MLP`, `F.cross_entropy`, `optim.SGD` with `zero_grad`: the step of the tutorials."""
    model = nn.MLP([weights[0].shape[1], weights[0].shape[0], weights[2].shape[0]])
    for param, w in zip(model.parameters(), weights):
        param.data[...] = w
    opt = optim.SGD(model.parameters(), lr=lr)

    def step() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(tg.from_numpy(x)), tg.from_numpy(y))
        loss.backward()
        opt.step()

    return Trainer(step, lambda: [p.data for p in model.parameters()])


def tinygrad_chain(x0: np.ndarray, a: np.ndarray, n_ops: int) -> np.ndarray:
    x = tg.Tensor(x0, requires_grad=True)
    at = tg.from_numpy(a)
    y = x
    for _ in range(n_ops // 2):
        y = (y * at).tanh()
    y.backward(tg.ones_like(y))
    return x.grad.data


# ---------------------------------------------------------------- PyTorch (optional)


def torch_trainer(x: np.ndarray, y: np.ndarray, weights: list[np.ndarray], lr: float) -> Trainer:
    """`torch.nn.Sequential` of `Linear` and `ReLU`, `F.cross_entropy`, `torch.optim.SGD`."""
    import torch

    n_in, n_hidden, n_out = weights[0].shape[1], weights[0].shape[0], weights[2].shape[0]
    model = torch.nn.Sequential(torch.nn.Linear(n_in, n_hidden), torch.nn.ReLU(), torch.nn.Linear(n_hidden, n_out))
    with torch.no_grad():
        for param, w in zip(model.parameters(), weights):
            param.copy_(torch.from_numpy(w))
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step() -> None:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()

    return Trainer(step, lambda: [p.detach().numpy() for p in model.parameters()])


def torch_chain(x0: np.ndarray, a: np.ndarray, n_ops: int) -> np.ndarray:
    import torch

    x = torch.from_numpy(x0).clone().requires_grad_()
    at = torch.from_numpy(a)
    y = x
    for _ in range(n_ops // 2):
        y = (y * at).tanh()
    y.backward(torch.ones_like(y))
    return x.grad.numpy()


# ---------------------------------------------------------------- MyGrad (optional)


def mygrad_trainer(x: np.ndarray, y: np.ndarray, weights: list[np.ndarray], lr: float) -> Trainer:
    """Raw MyGrad tensors (MyGrad has no modules or optimisers), its fused `softmax_crossentropy`,
    and the update written on the arrays, as MyGrad's docs do."""
    import mygrad as mg
    from mygrad.nnet import relu, softmax_crossentropy

    params = [mg.Tensor(w.copy()) for w in weights]

    def step() -> None:
        w1, b1, w2, b2 = params
        xb = mg.astensor(x, constant=True)  # no copy, and no gradient for the input
        logits = mg.matmul(relu(mg.matmul(xb, w1.T) + b1), w2.T) + b2
        loss = softmax_crossentropy(logits, y)
        loss.backward()  # replaces each parameter's .grad, and frees the graph
        for p in params:
            p.data -= lr * p.grad

    return Trainer(step, lambda: [p.data for p in params])


def mygrad_chain(x0: np.ndarray, a: np.ndarray, n_ops: int) -> np.ndarray:
    import mygrad as mg

    x = mg.Tensor(x0)
    y = x
    for _ in range(n_ops // 2):
        y = mg.tanh(y * a)
    y.backward(np.ones_like(x0))
    return x.grad


# ---------------------------------------------------------------- the registry

REFERENCE = "numpy"

SYSTEMS: dict[str, System] = {
    "numpy": System("hand-written NumPy", numpy_trainer, numpy_chain),
    "tinygrad": System("tinygrad_edu (Tensors + F.cross_entropy)", tinygrad_raw, tinygrad_chain),
    "tinygrad-nn": System("tinygrad_edu (nn.MLP + optim.SGD)", tinygrad_nn, None),
    "torch": System("PyTorch eager (nn + optim.SGD)", torch_trainer, torch_chain, numpy_memory=False),
    "mygrad": System("MyGrad", mygrad_trainer, mygrad_chain),
}
OPTIONAL = {"torch": "torch", "mygrad": "mygrad"}  # system -> the module it needs


def available_systems(leave_out: tuple[str, ...] = ()) -> tuple[dict[str, System], dict[str, str]]:
    """The systems that can run here, and for each one left out the reason."""
    chosen, skipped = {}, {}
    for key, system in SYSTEMS.items():
        if key in leave_out:
            skipped[key] = "left out on the command line"
            continue
        if key in OPTIONAL:
            module, reason = harness.optional_module(OPTIONAL[key])
            if module is None:
                skipped[key] = reason
                continue
        chosen[key] = system
    return chosen, skipped


def check_same_update(systems: dict[str, System], sizes: tuple[int, int, int], batch: int = 32) -> None:
    """Before timing anything: one step of every system, from the same weights and batch, with a
    large learning rate, leaves the same weights as the hand-written step (float32 tolerance);
    and every chain computes the same gradient."""
    x, y, weights = make_batch(sizes, batch, seed=1)
    expected = SYSTEMS[REFERENCE].trainer(x, y, weights, 0.5)
    expected.step()
    for key, system in systems.items():
        trainer = system.trainer(x, y, weights, 0.5)
        trainer.step()
        for i, (got, want) in enumerate(zip(trainer.weights(), expected.weights())):
            np.testing.assert_allclose(
                got, want, rtol=1e-4, atol=1e-5, err_msg=f"{key}: parameter {i} after one step of {sizes}"
            )
    x0, a = chain_inputs()
    want = numpy_chain(x0, a, 100)
    for key, system in systems.items():
        if system.chain is not None:
            np.testing.assert_allclose(system.chain(x0, a, 100), want, rtol=1e-4, atol=1e-6, err_msg=f"{key}: chain")
