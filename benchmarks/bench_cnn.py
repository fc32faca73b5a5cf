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
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20, help="interleaved rounds")
    parser.add_argument(
        "--steps-in-a-row", type=int, default=3, help="steps per contender per round (first not counted)"
    )
    parser.add_argument("--threads", type=int, default=1, help="PyTorch's intra-op threads (default 1)")
    args = parser.parse_args()
    if torch is not None:
        torch.set_num_threads(args.threads)
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
