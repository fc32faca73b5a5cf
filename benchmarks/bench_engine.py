"""How much does the engine cost over plain NumPy?

Two measurements, each against a hand-written NumPy forward/backward of the same computation
(the floor for any NumPy engine) and against PyTorch when it is installed:

(a) per-op overhead: forward + backward of a 1,000-op elementwise chain on a (10,) vector,
    in microseconds per op;
(b) one SGD training step of a 784 -> 256 -> 10 ReLU MLP with softmax cross-entropy (mean),
    float32, at several batch sizes, from the same weights;
(c) one backward rule (tanh's) as the engine runs it, on ndarrays, against the same NumPy
    written out, and against evaluating it with Tensor operations.

The contenders run interleaved (A B C A B C ...) so that a noisy neighbour slows them alike;
the table shows medians and ratios to NumPy. Run:

    .venv/bin/python benchmarks/bench_engine.py [--repeats 30] [--batches 1 32 128 1024]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

# PyTorch's OpenMP threads spin after each call by default, stealing the CPU from whatever runs
# next; interleaved runs need them to sleep instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

import tinygrad_edu as tg

try:
    import torch
except ImportError:  # PyTorch is optional: the comparison is skipped without it
    torch = None


def interleaved_medians(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Run each contender once per round, `repeats` rounds; the median seconds of each."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():  # warm-up: caches, allocator, BLAS threads
        fn()
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


# ---------------------------------------------------------------- (a) a chain of small ops


def chain_contenders(n_ops: int) -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(10).astype(np.float32)
    a0 = (0.5 + rng.random(10)).astype(np.float32)

    def engine() -> None:
        x = tg.Tensor(x0, requires_grad=True)
        a = tg.Tensor(a0)
        y = x
        for _ in range(n_ops // 2):
            y = (y * a).tanh()
        y.backward(tg.ones_like(y))

    def numpy() -> None:
        outs = []
        y = x0
        for _ in range(n_ops // 2):
            y = np.tanh(y * a0)
            outs.append(y)
        g = np.ones_like(y)
        for out in reversed(outs):
            g = g * (1 - out * out) * a0

    contenders = {"tinygrad_edu": engine, "numpy": numpy}
    if torch is not None:
        xt0, at = torch.from_numpy(x0), torch.from_numpy(a0)

        def pytorch() -> None:
            x = xt0.clone().requires_grad_()
            y = x
            for _ in range(n_ops // 2):
                y = (y * at).tanh()
            y.backward(torch.ones_like(y))

        contenders["pytorch"] = pytorch
    return contenders


# ---------------------------------------------------------------- (b) an MLP training step


def init_weights(rng: np.random.Generator) -> list[np.ndarray]:
    def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    return [uniform((256, 784), 784), uniform((256,), 784), uniform((10, 256), 256), uniform((10,), 256)]


def numpy_step(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float) -> None:
    """One hand-written training step, updating `weights` in place: the floor for any NumPy engine."""
    # np.dot, not @: np.matmul is several times slower for batch-1 outer products.
    w1, b1, w2, b2 = weights
    batch = len(x)
    z1 = np.dot(x, w1.T) + b1
    h = np.maximum(z1, 0)
    logits = np.dot(h, w2.T) + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    _loss = -(shifted[np.arange(batch), y] - np.log(s[:, 0])).mean()
    d_logits = e / s
    d_logits[np.arange(batch), y] -= 1
    d_logits /= batch
    dw2, db2 = np.dot(d_logits.T, h), d_logits.sum(axis=0)
    dz1 = np.dot(d_logits, w2) * (z1 > 0)
    dw1, db1 = np.dot(dz1.T, x), dz1.sum(axis=0)
    for w, dw in zip(weights, (dw1, db1, dw2, db2)):
        w -= lr * dw


def mlp_contenders(batch: int, lr: float = 0.01) -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(batch)
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    weights = init_weights(rng)

    params = [tg.Tensor(w, requires_grad=True) for w in weights]
    xt = tg.Tensor(x)

    def engine() -> None:
        w1, b1, w2, b2 = params
        logits = (xt @ w1.T + b1).relu() @ w2.T + b2
        loss = -logits.log_softmax(axis=1)[np.arange(batch), y].mean()
        for p in params:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in params:
                p.data -= lr * p.grad.data

    w_np = [w.copy() for w in weights]

    def numpy() -> None:
        numpy_step(w_np, x, y, lr)

    contenders = {"tinygrad_edu": engine, "numpy": numpy}
    if torch is not None:
        tparams = [torch.tensor(w, requires_grad=True) for w in weights]
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def pytorch() -> None:
            w1, b1, w2, b2 = tparams
            logits = torch.relu(tx @ w1.T + b1) @ w2.T + b2
            loss = torch.nn.functional.cross_entropy(logits, ty)
            for p in tparams:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in tparams:
                    p -= lr * p.grad

        contenders["pytorch"] = pytorch
    return contenders


# ---------------------------------------------------------------- (c) one backward rule


def rule_contenders(n: int) -> dict[str, Callable[[], object]]:
    """tanh's backward rule as the engine runs it (on arrays), against the same NumPy written
    out, and against the same rule evaluated on Tensors with recording off."""
    from tinygrad_edu import ops

    x = tg.Tensor(np.random.default_rng(0).random(n, dtype=np.float32), requires_grad=True)
    ctx, out = x.tanh()._ctx, np.tanh(x.data)
    grad = np.ones(n, dtype=np.float32)

    def engine() -> object:
        return ops.Tanh.backward(ctx, grad)

    def numpy() -> object:
        return grad * (1 - out * out)

    def tensor_ops() -> object:
        g, t = tg.Tensor._wrap(grad), tg.Tensor._wrap(out)
        return g * (1 - t * t)

    return {"tinygrad_edu": engine, "numpy": numpy, "tensor ops": tensor_ops}


def report(title: str, medians: dict[str, float], unit: float, unit_name: str) -> None:
    base = medians["numpy"]
    print(f"{title:<34}" + "".join(f"{name:>22}" for name in medians))
    cells = [f"{m / unit:9.2f} {unit_name} ({m / base:4.2f}x)" for m in medians.values()]
    print(f"{'':<34}" + "".join(f"{c:>22}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="interleaved rounds per measurement")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128, 1024])
    parser.add_argument("--chain", type=int, default=1000, help="ops in the elementwise chain")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    parser.add_argument("--torch-threads", type=int, default=2, help="PyTorch's intra-op threads")
    args = parser.parse_args()
    global torch
    if args.no_torch:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
    print(f"medians of {args.repeats} interleaved runs; ratio to the hand-written NumPy version in brackets")
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    torch_note = f", torch {torch.__version__} ({args.torch_threads} threads)" if torch is not None else ", no torch"
    print(f"numpy {np.__version__} (OPENBLAS_NUM_THREADS={blas}){torch_note}")
    print()
    chain = interleaved_medians(chain_contenders(args.chain), args.repeats)
    report(f"(a) {args.chain}-op chain, per op", {k: v / args.chain for k, v in chain.items()}, 1e-6, "us")
    print()
    for n in (10, 100_000):
        contenders = rule_contenders(n)
        with tg.no_grad():  # as in backward(): the engine switches recording off for the whole pass
            rule = interleaved_medians(contenders, args.repeats * 100 if n == 10 else args.repeats)
        report(f"(c) tanh backward rule, n={n}", rule, 1e-6, "us")
    print()
    for batch in args.batches:
        step = interleaved_medians(mlp_contenders(batch), args.repeats)
        report(f"(b) MLP step, batch {batch}", step, 1e-3, "ms")


if __name__ == "__main__":
    main()
