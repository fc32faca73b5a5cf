"""One training step of a small CNN: tinygrad_edu against PyTorch CPU on the same network.

The network is `tinygrad_edu.nn.models.small_cnn()` (the `tinygrad-edu train --model cnn`
network for 28x28 images): [Conv 3x3 -> BatchNorm -> ReLU -> MaxPool 2x2] x 2 -> Linear ->
ReLU -> Linear, float32, NCHW. PyTorch gets the same layers and, through `load_state_dict`
(the parameter and buffer names are the same), the same weights. A step is forward,
cross-entropy, backward and an Adam update, on a batch of random 28x28 images.

The contenders run interleaved, a few steps each per round with the first not counted, and
the order rotating every round (`rotated_medians` of bench_nn.py), so that a noisy neighbour
slows both alike; the table shows the median step of each and the ratio. Before timing, one
step of each from the same weights is compared, so that both compute the same thing.

    .venv/bin/python benchmarks/bench_cnn.py [--batch 64] [--repeats 20] [--threads 1]

`--threads` is PyTorch's intra-op threads; set NumPy's BLAS threads to the same with
OPENBLAS_NUM_THREADS (the Makefile's default is 1) for a like-for-like comparison.

`--epochs N` times whole MNIST training epochs instead (the 60,000 training images, reshuffled
each epoch, N epochs of each contender, alternating), and prints the test accuracy after them:
the epoch time of `tinygrad-edu train --model cnn` against PyTorch's on the same network.

    .venv/bin/python benchmarks/bench_cnn.py --epochs 2 [--data-dir ../shared/data/mnist]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

# PyTorch's OpenMP threads spin after each call by default, stealing the CPU from whatever runs
# next; interleaved runs need them to sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from bench_nn import rotated_medians

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import optim
from tinygrad_edu.nn.models import small_cnn

try:
    import torch
except ImportError:  # PyTorch is optional: without it only our step is timed
    torch = None

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def torch_cnn(model: tg.nn.Module) -> torch.nn.Module:
    """The same network in PyTorch, with `model`'s weights and buffers."""
    c1, c2 = model[1].out_channels, model[5].out_channels
    layers = torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 28, 28)),
        torch.nn.Conv2d(1, c1, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(c1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(c1, c2, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(c2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(model[10].in_features, model[10].out_features),
        torch.nn.ReLU(),
        torch.nn.Linear(model[12].in_features, model[12].out_features),
    )
    layers.load_state_dict({name: torch.from_numpy(t.data.copy()) for name, t in model.state_dict().items()})
    return layers


def contenders(batch: int) -> dict[str, Callable[[], float]]:
    rng = np.random.default_rng(0)
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    tg.manual_seed(0)
    model = small_cnn()
    steps: dict[str, Callable[[], float]] = {}
    if torch is not None:
        theirs = torch_cnn(model)
        torch_opt = torch.optim.Adam(theirs.parameters(), lr=1e-3)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def pytorch() -> float:
            torch_opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(theirs(xt), yt)
            loss.backward()
            torch_opt.step()
            return loss.item()

        steps["pytorch"] = pytorch
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xb = tg.from_numpy(x)

    def tinygrad_edu() -> float:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), y)
        loss.backward()
        opt.step()
        return loss.item()

    steps["tinygrad_edu"] = tinygrad_edu
    return steps


def check_same_step(batch: int) -> None:
    """Both take the same first steps from the same weights (float32 rounding apart)."""
    if torch is None:
        return
    steps = contenders(batch)
    for step in range(3):
        ours, theirs = steps["tinygrad_edu"](), steps["pytorch"]()
        if not np.isclose(ours, theirs, rtol=1e-4):
            raise SystemExit(f"the two networks differ: loss {ours} vs PyTorch's {theirs} at step {step}")


def epoch_contenders(data_dir: Path, batch: int) -> tuple[dict[str, Callable[[], float]], Callable[[], dict]]:
    """An epoch function per contender (each returns its mean training loss), and a function that
    evaluates both models on the test images."""
    from tinygrad_edu.data import DataLoader, load_mnist

    X, y = load_mnist(data_dir, "train")
    X_test, y_test = load_mnist(data_dir, "test")
    tg.manual_seed(0)
    model = small_cnn()
    opt = optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(X, y, batch, shuffle=True, seed=0)

    def tinygrad_edu() -> float:
        model.train()
        total = 0.0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        return total / len(X)

    epochs = {"tinygrad_edu": tinygrad_edu}
    if torch is not None:
        theirs = torch_cnn(model)
        torch_opt = torch.optim.Adam(theirs.parameters(), lr=2e-3)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        generator = torch.Generator().manual_seed(0)

        def pytorch() -> float:
            theirs.train()
            total = 0.0
            order = torch.randperm(len(Xt), generator=generator)
            for start in range(0, len(Xt), batch):
                index = order[start : start + batch]
                loss = torch.nn.functional.cross_entropy(theirs(Xt[index]), yt[index])
                torch_opt.zero_grad()
                loss.backward()
                torch_opt.step()
                total += loss.item() * len(index)
            return total / len(Xt)

        epochs["pytorch"] = pytorch

    def accuracies() -> dict[str, float]:
        model.eval()
        with tg.no_grad():
            result = {"tinygrad_edu": float((model(tg.from_numpy(X_test)).data.argmax(1) == y_test).mean())}
        if torch is not None:
            theirs.eval()
            with torch.no_grad():
                result["pytorch"] = float((theirs(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean())
        return result

    return epochs, accuracies


def time_epochs(data_dir: Path, batch: int, count: int) -> None:
    """`count` epochs of each contender, alternating; the time of each, then the test accuracy."""
    epochs, accuracies = epoch_contenders(data_dir, batch)
    print(f"MNIST epochs of small_cnn, Adam 2e-3 (constant), batch {batch}, alternating, load {os.getloadavg()[0]:.1f}")
    times: dict[str, list[float]] = {name: [] for name in epochs}
    for epoch in range(count):
        for name, run in epochs.items():
            start = time.perf_counter()
            loss = run()
            times[name].append(time.perf_counter() - start)
            print(f"  epoch {epoch + 1} {name:<14}{times[name][-1]:7.1f} s   mean loss {loss:.4f}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    print("median epoch: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in medians.items()))
    if "pytorch" in medians:
        print(f"ratio tinygrad_edu / pytorch: {medians['tinygrad_edu'] / medians['pytorch']:.2f}x")
    print("test accuracy: " + ", ".join(f"{name} {value:.2%}" for name, value in accuracies().items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20, help="interleaved rounds")
    parser.add_argument(
        "--steps-in-a-row", type=int, default=3, help="steps per contender per round (first not counted)"
    )
    parser.add_argument("--threads", type=int, default=1, help="PyTorch's intra-op threads (default 1)")
    parser.add_argument("--epochs", type=int, default=0, help="time this many MNIST epochs instead of steps")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help=f"MNIST files (default {DEFAULT_DATA})")
    args = parser.parse_args()
    if torch is not None:
        torch.set_num_threads(args.threads)
    if args.epochs:
        time_epochs(args.data_dir, args.batch, args.epochs)
        return
    check_same_step(args.batch)
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    versions = f"numpy {np.__version__} (OPENBLAS_NUM_THREADS={blas})"
    if torch is not None:
        versions += f", torch {torch.__version__} ({args.threads} threads)"
    print(f"small_cnn training step (Adam), batch {args.batch}, float32; {versions}")
    start = time.perf_counter()
    medians = rotated_medians(contenders(args.batch), args.repeats, args.steps_in_a_row)
    counted = args.repeats * (args.steps_in_a_row - 1)
    print(f"medians of {counted} steps each ({time.perf_counter() - start:.0f} s)")
    for name, seconds in medians.items():
        print(f"  {name:<14}{seconds * 1e3:8.1f} ms")
    if "pytorch" in medians:
        print(f"  ratio tinygrad_edu / pytorch: {medians['tinygrad_edu'] / medians['pytorch']:.2f}x")


if __name__ == "__main__":
    main()
