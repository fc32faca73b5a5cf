"""One MNIST training epoch: tinygrad_edu against PyTorch, side by side in one run.

The same work for both: MLP 784 -> 256 -> 128 -> 10 (ReLU), softmax cross-entropy, Adam
(lr 1e-3, PyTorch's defaults), batch 128, the 60,000 training images reshuffled each epoch,
float32. Each contender keeps training its own model epoch after epoch, as in real training.
The epochs run interleaved (ours, PyTorch, ours, ...) so that a noisy neighbour on a shared
machine slows both alike; the table shows the median and the fastest epoch of each, and the
ratios of both. PyTorch is optional: without it only our time is printed.

On a machine shared with other work, two BLAS threads on two cores wait for each other
whenever a neighbour holds a core, and epochs then take several times longer, for both
contenders but more for NumPy's OpenBLAS; `--threads 1` measures without that effect.

    .venv/bin/python benchmarks/bench_mnist_epoch.py [--repeats 5] [--threads N] [--data-dir DIR]

`--threads N` sets the BLAS threads of NumPy (through OPENBLAS_NUM_THREADS and friends, which
must be set before NumPy loads, hence the late imports) and PyTorch's intra-op threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per contender (default: 5)")
    parser.add_argument("--batch-size", type=int, default=128, help="(default: 128)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS / intra-op threads (default: as installed)")
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA, help=f"MNIST IDX files (default: {DEFAULT_DATA})"
    )
    parser.add_argument("--no-torch", action="store_true", help="time tinygrad_edu only")
    return parser.parse_args()


def ours(X, y, batch_size: int, seed: int = 0) -> Callable[[], float]:
    """An epoch function for tinygrad_edu; returns the mean training loss of the epoch."""
    import tinygrad_edu as tg
    import tinygrad_edu.nn.functional as F  # noqa: N812
    from tinygrad_edu import nn, optim
    from tinygrad_edu.data import DataLoader

    tg.manual_seed(seed)
    model = nn.MLP([784, 256, 128, 10])
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(X, y, batch_size, shuffle=True, seed=seed)

    def epoch() -> float:
        total = 0.0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        return total / len(X)

    return epoch


def pytorch(torch, X, y, batch_size: int, seed: int = 0) -> Callable[[], float]:
    """The same epoch in idiomatic PyTorch (tensor indexing, no DataLoader workers)."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(seed)

    def epoch() -> float:
        total = 0.0
        order = torch.randperm(len(Xt), generator=generator)
        for start in range(0, len(Xt), batch_size):
            index = order[start : start + batch_size]
            xb, yb = Xt[index], yt[index]
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        return total / len(Xt)

    return epoch


def main() -> int:
    args = parse_args()
    if args.threads is not None:  # before NumPy (and its BLAS) is imported
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    # PyTorch's OpenMP threads spin after each call by default, stealing the CPU from the
    # contender that runs next; interleaved runs need them to sleep (as in bench_engine.py).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from tinygrad_edu.data import load_mnist

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:  # PyTorch is optional: only our time is printed
            pass
    if torch is not None and args.threads is not None:
        torch.set_num_threads(args.threads)

    X, y = load_mnist(args.data_dir, "train")
    contenders = {"tinygrad_edu": ours(X, y, args.batch_size)}
    if torch is not None:
        contenders["pytorch"] = pytorch(torch, X, y, args.batch_size)

    print(
        f"MNIST epoch: MLP 784-256-128-10, Adam 1e-3, batch {args.batch_size}, {len(X)} images; "
        f"numpy {np.__version__}"
        + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "")
    )
    print(
        f"cpus {os.cpu_count()}, BLAS threads {args.threads or 'default'}, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, load average {os.getloadavg()[0]:.1f}"
    )
    times: dict[str, list[float]] = {name: [] for name in contenders}
    losses: dict[str, float] = {}
    for round_ in range(args.repeats + 1):  # round 0 is a warm-up: caches, allocator, thread pools
        for name, epoch in contenders.items():
            start = time.perf_counter()
            losses[name] = epoch()
            elapsed = time.perf_counter() - start
            if round_ > 0:
                times[name].append(elapsed)
            print(f"  {'warm-up' if round_ == 0 else f'epoch {round_}'}: {name:<12} {elapsed:6.2f}s", flush=True)

    print(f"\n{'contender':<14}{'median':>9}{'fastest':>9}{'img/s':>10}   last epoch's loss")
    medians = {}
    for name, ts in times.items():
        medians[name] = statistics.median(ts)
        print(f"{name:<14}{medians[name]:8.2f}s{min(ts):8.2f}s{len(X) / medians[name]:10,.0f}   {losses[name]:.4f}")
    if "pytorch" in medians:
        ratio = medians["tinygrad_edu"] / medians["pytorch"]
        verdict = "faster than" if ratio < 1 else "slower than"
        print(f"\nratio tinygrad_edu / pytorch (medians): {ratio:.2f}  (tinygrad_edu is {verdict} PyTorch)")
        # A busy neighbour only ever adds time, so the fastest epochs are the least disturbed ones.
        fastest = min(times["tinygrad_edu"]) / min(times["pytorch"])
        print(f"ratio tinygrad_edu / pytorch (fastest epochs): {fastest:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
