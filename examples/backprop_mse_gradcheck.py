"""Backpropagation by hand for a 2-layer MSE network, checked against backward() and finite differences.

Teaches, in the notation of the docs (docs/index.md): δ₂ = (2/n)(Ŷ − Y), ∂L/∂W₂ = δ₂ᵀA₁,
δ₁ = (δ₂W₂) ⊙ 1[Z₁ > 0], ∂L/∂W₁ = δ₁ᵀX in NumPy; that backward() computes the same numbers;
and that both agree with central finite differences (gradcheck), which share nothing with
either derivation.

    python examples/backprop_mse_gradcheck.py [--small]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import tinygrad_edu as tg


def main(batch: int = 16, hidden: int = 8) -> None:
    rng = np.random.default_rng(0)
    d, k = 3, 2
    X, Y = rng.standard_normal((batch, d)), rng.standard_normal((batch, k))
    W1, b1 = rng.standard_normal((hidden, d)) * 0.5, rng.standard_normal(hidden) * 0.1
    W2, b2 = rng.standard_normal((k, hidden)) * 0.5, np.zeros(k)
    n = batch * k

    # Forward and backward by hand (float64 throughout).
    Z1 = X @ W1.T + b1
    A1 = np.maximum(Z1, 0)
    Y_hat = A1 @ W2.T + b2
    delta2 = (2 / n) * (Y_hat - Y)
    delta1 = (delta2 @ W2) * (Z1 > 0)
    hand = {"W1": delta1.T @ X, "b1": delta1.sum(0), "W2": delta2.T @ A1, "b2": delta2.sum(0)}
    print(f"L = {np.mean((Y_hat - Y) ** 2):.6f}")

    # The same with Tensors and backward().
    params = {name: tg.Tensor(v, requires_grad=True) for name, v in {"W1": W1, "b1": b1, "W2": W2, "b2": b2}.items()}

    def loss_fn(W1, b1, W2, b2):
        return ((((X @ W1.T + b1).relu()) @ W2.T + b2 - Y) ** 2).mean()

    loss_fn(*params.values()).backward()
    for name, p in params.items():
        error = np.abs(p.grad.numpy() - hand[name]).max()
        print(f"dL/d{name} {p.shape!s:8} max |backward − hand| = {error:.1e}")
        assert error < 1e-12

    # And both against finite differences.
    assert tg.gradcheck(loss_fn, tuple(params.values()))
    print("gradcheck: backward() matches central finite differences for W1, b1, W2, b2")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a smaller network (also: TINYGRAD_EDU_SMALL=1)")
    args = parser.parse_args()
    small = args.small or os.environ.get("TINYGRAD_EDU_SMALL") == "1"
    main(batch=4 if small else 16, hidden=4 if small else 8)
