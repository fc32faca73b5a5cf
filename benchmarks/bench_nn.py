"""How much do `nn`, `functional` and `optim` cost over plain NumPy?

One SGD training step (forward, loss, backward, update) of `nn.MLP([784, 256, 10])` with
`nn.functional.cross_entropy` and `optim.SGD`, float32, at several batch sizes, against:

- numpy: a hand-written NumPy forward/backward/update of the same network (the floor for any
  NumPy engine), from the same weights;
- engine: the same step written directly with Tensors (bench_engine.py's version), which shows
  what the Module/functional/optimiser layers add on top of the engine;
- pytorch: `torch.nn` + `torch.optim.SGD`, when PyTorch is installed.

The contenders run interleaved, a few steps each per round (see `rotated_medians`), so that a
noisy neighbour slows them alike; the table shows medians per step and ratios to NumPy. Run:

    .venv/bin/python benchmarks/bench_nn.py [--repeats 30] [--batches 1 32 128 1024] [--no-torch]

On a shared or busy machine, OPENBLAS_NUM_THREADS=1 makes the figures much steadier: a matmul
split over two threads waits for whichever thread the scheduler has put aside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from bench_engine import init_weights, mlp_contenders, numpy_step, report, torch

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import nn, optim


def rotated_medians(
    contenders: dict[str, Callable[[], object]], repeats: int, steps_in_a_row: int = 4
) -> dict[str, float]:
    """Median seconds per step of each contender, measured as in a training loop.

    bench_engine.py's interleaving (A B C A B C ...), with two changes. Each contender runs
    `steps_in_a_row` steps per round and the first is not counted: it runs with caches that
    the other contenders just filled (PyTorch's step alone slows the next step of anything by
    0.1-0.3 ms here), which a training loop never sees. And the order rotates every round
    (A B C, B C A, C A B, ...), so no contender always follows the same one.
    """
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rotation in range(repeats):
        for i in range(len(names)):
            name = names[(rotation + i) % len(names)]
            step = contenders[name]
            step()  # warm-up, not counted
            for _ in range(steps_in_a_row - 1):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(times[name]) for name in names}


def setup(batch: int, lr: float) -> tuple[nn.MLP, optim.SGD, tg.Tensor, np.ndarray, list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(batch)
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    weights = init_weights(rng)  # the same draws, in the same order, as bench_engine's contenders
    model = nn.MLP([784, 256, 10])
    for param, w in zip(model.parameters(), weights):
        param.data[...] = w
    return model, optim.SGD(model.parameters(), lr=lr), tg.Tensor(x), y, weights, x


def nn_contenders(batch: int, lr: float = 0.01) -> dict[str, Callable[[], object]]:
    model, opt, xt, y, weights, x = setup(batch, lr)

    def tinygrad_nn() -> None:
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), y)
        loss.backward()
        opt.step()

    w_np = [w.copy() for w in weights]
    contenders = {
        "nn+optim": tinygrad_nn,
        "engine": mlp_contenders(batch, lr)["tinygrad_edu"],  # the same step with raw Tensors
        "numpy": lambda: numpy_step(w_np, x, y, lr),
    }
    if torch is not None:
        torch_model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
        with torch.no_grad():
            for param, w in zip(torch_model.parameters(), weights):
                param.copy_(torch.from_numpy(w))
        torch_opt = torch.optim.SGD(torch_model.parameters(), lr=lr)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def pytorch() -> None:
            torch_opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(torch_model(tx), ty)
            loss.backward()
            torch_opt.step()

        contenders["pytorch"] = pytorch
    return contenders


def check_same_step(batch: int = 32, lr: float = 0.5) -> None:
    """Before timing anything: the nn step and the NumPy step compute the same update."""
    model, opt, xt, y, weights, x = setup(batch, lr)
    opt.zero_grad()
    F.cross_entropy(model(xt), y).backward()
    opt.step()
    numpy_step(weights, x, y, lr)
    for param, w in zip(model.parameters(), weights):
        np.testing.assert_allclose(param.data, w, rtol=1e-4, atol=1e-6)


def main() -> None:
    global torch
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="interleaved rounds per measurement")
    parser.add_argument(
        "--steps-in-a-row", type=int, default=4, help="steps per contender per round (first not counted)"
    )
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128, 1024])
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    parser.add_argument("--torch-threads", type=int, default=2, help="PyTorch's intra-op threads")
    args = parser.parse_args()
    if args.no_torch:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
    counted = args.repeats * (args.steps_in_a_row - 1)
    print(
        f"medians of {counted} steps ({args.repeats} interleaved rounds of {args.steps_in_a_row} steps in a row, "
        "the first not counted); ratio to the hand-written NumPy version in brackets"
    )
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    torch_note = f", torch {torch.__version__} ({args.torch_threads} threads)" if torch is not None else ", no torch"
    print(f"numpy {np.__version__} (OPENBLAS_NUM_THREADS={blas}){torch_note}")
    check_same_step()
    print("check: one nn+optim step updates the weights as the NumPy step does")
    print()
    for batch in args.batches:
        step = rotated_medians(nn_contenders(batch), args.repeats, args.steps_in_a_row)
        report(f"MLP step, batch {batch}", step, 1e-3, "ms")


if __name__ == "__main__":
    main()
