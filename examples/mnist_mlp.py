"""Train the 784→256→10 MLP on real MNIST with mini-batch SGD and report the test accuracy.

Teaches: loading MNIST, the loss at step 0 (≈ ln 10 = 2.303, a uniform guess), the training
loop (zero_grad, backward, step), and evaluation under no_grad() with argmax predictions.
Skips, with a message, when the MNIST files are not there.

    python examples/mnist_mlp.py [--data-dir DIR] [--epochs N] [--small]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, load_mnist

# This project keeps the IDX files next to the repository: ../shared/data/mnist.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def main(data_dir: Path, n_train: int | None, n_test: int | None, epochs: int, batch_size: int = 64) -> float | None:
    if not (data_dir / "t10k-labels-idx1-ubyte.gz").exists() and not (data_dir / "t10k-labels-idx1-ubyte").exists():
        print(f"skipped: no MNIST files in {data_dir}; pass --data-dir DIR (the four IDX files),")
        print("or download them once into ~/.cache/tinygrad_edu/mnist with:")
        print('  python -c "from tinygrad_edu.data import download_mnist; download_mnist()"')
        return None
    X_train, y_train = load_mnist(data_dir, kind="train")
    X_test, y_test = load_mnist(data_dir, kind="test")
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    X_test, y_test = X_test[:n_test], y_test[:n_test]
    print(f"training on {len(X_train)} images, testing on {len(X_test)}")

    tg.manual_seed(0)
    model = nn.MLP([784, 256, 10])
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with tg.no_grad():
        start = F.cross_entropy(model(tg.Tensor(X_train[:1000])), y_train[:1000]).item()
    print(f"loss before training {start:.3f} (a uniform guess gives ln 10 = {np.log(10):.3f})")

    for epoch in range(epochs):
        t0, losses = time.perf_counter(), []
        for xb, yb in DataLoader(X_train, y_train, batch_size=batch_size, seed=epoch):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with tg.no_grad():
            accuracy = float((model(tg.Tensor(X_test)).numpy().argmax(axis=1) == y_test).mean())
        seconds = time.perf_counter() - t0
        print(f"epoch {epoch + 1}: mean loss {np.mean(losses):.3f}, test accuracy {accuracy:.1%} ({seconds:.1f}s)")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="2,000 images, one epoch (also: TINYGRAD_EDU_SMALL=1)")
    args = parser.parse_args()
    if args.small or os.environ.get("TINYGRAD_EDU_SMALL") == "1":
        main(args.data_dir, n_train=2000, n_test=2000, epochs=1)
    else:
        main(args.data_dir, n_train=None, n_test=None, epochs=args.epochs)
