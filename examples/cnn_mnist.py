"""Train a small LeNet-style CNN on MNIST to 99% test accuracy, and see what each layer does to the shapes.

Teaches: the layers of a convolutional network in NCHW shapes (a flattened image is unflattened
to (N, 1, 28, 28), each 3x3 convolution keeps the size, each 2x2 max pool halves it, Flatten
hands the maps to the Linear layers), BatchNorm's two modes (batch statistics in train(),
running statistics in eval(), which evaluation must switch to), and Adam with a cosine schedule.
The network is `tinygrad_edu.nn.models.small_cnn`, the one `tinygrad-edu train --model cnn` uses.
Skips, with a message, when the MNIST files are not there.

    python examples/cnn_mnist.py [--data-dir DIR] [--epochs N] [--batch-size B] [--lr LR] [--seed S] [--small]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import optim
from tinygrad_edu.data import DataLoader, load_mnist
from tinygrad_edu.nn.models import small_cnn

# This project keeps the IDX files next to the repository: ../shared/data/mnist.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
EPOCHS = 5


def show_shapes(model: tg.nn.Module, x: tg.Tensor) -> None:
    """Run one batch through the layers one by one, printing each layer's output shape."""
    with tg.no_grad():
        for layer in model:
            x = layer(x)
            print(f"  {type(layer).__name__:<12} -> {x.shape}")


def accuracy(model: tg.nn.Module, X: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    model.eval()  # BatchNorm normalises with its running statistics, not the test batch's
    correct = 0
    with tg.no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(tg.from_numpy(X[start : start + batch_size]))
            correct += int((logits.numpy().argmax(axis=1) == y[start : start + batch_size]).sum())
    model.train()
    return correct / len(X)


def main(
    data_dir: Path,
    n_train: int | None,
    n_test: int | None,
    epochs: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
) -> float | None:
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

    tg.manual_seed(seed)
    model = small_cnn(image_size=28)
    print(model)
    print(f"{sum(p.size for p in model.parameters()):,} parameters; the shapes through the layers:")
    show_shapes(model.eval(), tg.from_numpy(X_train[:batch_size]))
    model.train()

    opt = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    accuracy_now = 0.0
    for epoch in range(epochs):
        t0, losses = time.perf_counter(), []
        for xb, yb in DataLoader(X_train, y_train, batch_size=batch_size, seed=seed * 1000 + epoch):
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - t0
        schedule.step()
        accuracy_now = accuracy(model, X_test, y_test)
        print(f"epoch {epoch + 1}: mean loss {np.mean(losses):.4f}, test accuracy {accuracy_now:.2%} ({seconds:.0f}s)")
    bn = model[2]
    mean, var = np.round(bn.running_mean.numpy()[:3], 3), np.round(bn.running_var.numpy()[:3], 3)
    print(f"first BatchNorm2d, {bn.num_batches_tracked.item()} batches seen: running_mean[:3] {mean}, ", end="")
    print(f"running_var[:3] {var}")
    return accuracy_now


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate, decayed to 0 over the epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="2,000 images, one epoch (also: TINYGRAD_EDU_SMALL=1)")
    args = parser.parse_args()
    if args.small or os.environ.get("TINYGRAD_EDU_SMALL") == "1":
        main(args.data_dir, n_train=2000, n_test=2000, epochs=1)
    else:
        main(args.data_dir, None, None, args.epochs, args.batch_size, args.lr, args.seed)
