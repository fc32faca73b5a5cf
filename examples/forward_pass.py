"""The forward pass of a 2-layer MLP, step by step, with every intermediate and its shape.

Teaches: z₁ = W₁x + b₁, a₁ = ReLU(z₁), z₂ = W₂a₁ + b₂, ŷ = softmax(z₂) for one example
(3,) → (4,) → (4,) → (2,) → (2,), then the same for a batch (z₁ = X W₁ᵀ + b₁), and the
worked example of docs/forward-pass.md, whose numbers it checks.

    python examples/forward_pass.py [--small]
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import tinygrad_edu as tg


def main(batch: int = 5) -> dict[str, tg.Tensor]:
    tg.manual_seed(0)
    W1, b1 = tg.randn(4, 3) * 0.5, tg.zeros(4)
    W2, b2 = tg.randn(2, 4) * 0.5, tg.zeros(2)

    print("one example:")
    x = tg.Tensor([1.0, -2.0, 0.5])
    steps = {"x": x}
    steps["z1"] = W1 @ x + b1
    steps["a1"] = steps["z1"].relu()
    steps["z2"] = W2 @ steps["a1"] + b2
    steps["y_hat"] = steps["z2"].softmax()
    for name, t in steps.items():
        print(f"  {name:>5} {t.shape!s:8} {np.round(t.numpy(), 3)}")
    assert [t.shape for t in steps.values()] == [(3,), (4,), (4,), (2,), (2,)]

    print(f"a batch of {batch} (one example per row, z1 = X W1ᵀ + b1):")
    X = tg.randn(batch, 3)
    Z1 = X @ W1.T + b1
    Y_hat = (Z1.relu() @ W2.T + b2).softmax(axis=-1)
    print(f"  X {X.shape} → Z1 {Z1.shape} → Y_hat {Y_hat.shape}")
    assert Y_hat.shape == (batch, 2) and np.allclose(Y_hat.numpy().sum(axis=1), 1, atol=1e-6)

    print("the worked example:")
    W1 = tg.Tensor(np.array([[0.2, -0.3], [0.4, 0.1], [-0.5, 0.6]]))
    b1 = tg.Tensor(np.array([0.1, -0.2, 0.0]))
    W2, b2 = tg.Tensor(np.array([0.7, -0.4, 0.3])), tg.Tensor(np.array(-0.1))
    z1 = W1 @ tg.Tensor(np.array([0.5, 0.8])) + b1
    z2 = W2 @ z1.relu() + b2
    y_hat = z2.sigmoid()
    print(
        f"  z1 = {z1.numpy().round(4)}  a1 = {z1.relu().numpy().round(4)}  z2 = {z2.item():.4f}  ŷ = {y_hat.item():.4f}"
    )
    assert np.allclose(z1.numpy(), [-0.04, 0.08, 0.23]) and np.isclose(z2.item(), -0.063)
    assert round(y_hat.item(), 4) == 0.4843
    return steps


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a smaller batch (also: TINYGRAD_EDU_SMALL=1)")
    args = parser.parse_args()
    main(batch=2 if args.small or os.environ.get("TINYGRAD_EDU_SMALL") == "1" else 5)
