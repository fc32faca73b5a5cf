"""A first look: train a two-layer network on XOR with nothing but Tensors and backward().

Run with `make demo` (or `.venv/bin/python examples/demo.py`).
"""

import numpy as np

import tinygrad_edu as tg


def main(steps: int = 500, lr: float = 0.5, seed: int = 0) -> float:
    tg.manual_seed(seed)
    x = tg.Tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = tg.Tensor([[0], [1], [1], [0]])
    w1 = (tg.randn(2, 8) * 1.0).detach().requires_grad_()
    b1 = tg.zeros(8, requires_grad=True)
    w2 = (tg.randn(8, 1) * 0.5).detach().requires_grad_()
    b2 = tg.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    for step in range(steps + 1):
        prediction = ((x @ w1 + b1).tanh() @ w2 + b2).sigmoid()
        loss = ((prediction - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in params:
                p.data -= lr * p.grad.data
        if step % 100 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
    print("predictions:", np.round(prediction.numpy().ravel(), 3), "targets:", y.numpy().ravel())
    return loss.item()


if __name__ == "__main__":
    main()
