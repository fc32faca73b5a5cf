"""One MNIST training epoch: tinygrad_edu against PyTorch (CPU), interleaved in one run (issue 12).

The same work for both: an MLP 784 -> 256 -> 10 (ReLU; `--hidden` changes it), softmax
cross-entropy, Adam (lr 1e-3, PyTorch's defaults), batch 128, the 60,000 training images
reshuffled each epoch, float32. Each system keeps training its own model epoch after epoch, as
in real training, and batches its data the idiomatic way (our `DataLoader`; PyTorch's indexing
with `randperm`, no DataLoader workers). Both run at their default thread settings unless
`--threads` says otherwise, and the header says which.

Epochs run in interleaved rounds (harness.py) after one warm-up epoch each; the table shows the
median epoch of each system and the median of the per-round ratios. PyTorch is optional: without
it only our time is printed. Without the MNIST files the script says where it looked and exits.

    .venv/bin/python benchmarks/bench_mnist_epoch.py [--rounds 5] [--quick] [--threads N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import harness  # first: it sets OMP_WAIT_POLICY before PyTorch loads
import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, load_mnist

ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    """The shared MNIST folder beside the repository, or beside a folder above it (a worktree)."""
    for folder in ROOT.parents:
        candidate = folder / "shared" / "data" / "mnist"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data" / "mnist"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs per system (default: 5)")
    parser.add_argument("--batch-size", type=int, default=128, help="(default: 128)")
    parser.add_argument("--hidden", type=int, nargs="*", default=[256], help="hidden layer sizes (default: 256)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS and PyTorch threads (default: theirs)")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST IDX files (default: the shared folder)")
    parser.add_argument("--images", type=int, default=None, help="train on the first N images (default: all)")
    parser.add_argument("--no-torch", action="store_true", help="time tinygrad_edu only")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one timed epoch each of 10,000 images")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.images = 1, args.images or 10_000
    if args.rounds < 1 or (args.images is not None and args.images < 1):
        parser.error("--rounds and --images must be at least 1")
    return args


def ours(X: np.ndarray, y: np.ndarray, sizes: Sequence[int], batch_size: int, seed: int = 0) -> Callable[[], float]:
    """An epoch function for tinygrad_edu; it returns the epoch's mean training loss."""
    tg.manual_seed(seed)
    model = nn.MLP(list(sizes))
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


def pytorch(torch, X: np.ndarray, y: np.ndarray, sizes: Sequence[int], batch_size: int, seed: int = 0):
    """The same epoch in idiomatic PyTorch; it returns the epoch's mean training loss."""
    torch.manual_seed(seed)
    layers = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])  # no activation after the last layer: logits
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    if not (data_dir / "train-images-idx3-ubyte.gz").exists() and not (data_dir / "train-images-idx3-ubyte").exists():
        print(f"MNIST epoch: skipped, no MNIST training files in {data_dir} (pass --data-dir)")
        return 0
    torch, reason = (None, "left out on the command line") if args.no_torch else harness.optional_module("torch")
    harness.set_threads(args.threads)
    X, y = load_mnist(data_dir, "train")
    X, y = X[: args.images], y[: args.images]
    sizes = [X.shape[1], *args.hidden, 10]

    losses: dict[str, float] = {}

    def recording(name: str, epoch: Callable[[], float]) -> Callable[[], None]:
        return lambda: losses.__setitem__(name, epoch())

    contenders = {"tinygrad_edu": recording("tinygrad_edu", ours(X, y, sizes, args.batch_size))}
    if torch is not None:
        contenders["pytorch"] = recording("pytorch", pytorch(torch, X, y, sizes, args.batch_size))

    print(f"# MNIST epoch: MLP {'-'.join(map(str, sizes))}, Adam 1e-3, batch {args.batch_size}, {len(X):,} images\n")
    print("\n".join(harness.describe_machine()))
    print(f"command: {' '.join(sys.argv)}")
    if torch is None:
        print(f"skipped pytorch: {reason}")
    print(f"method: 1 warm-up epoch each, then {args.rounds} interleaved rounds of one epoch each, order rotating")
    reference = "pytorch" if torch is not None else "tinygrad_edu"  # the ratio is ours over PyTorch's
    samples = harness.interleaved(contenders, reference, rounds=args.rounds, calls=1, settle=False)

    rows = []
    for name in contenders:
        median = samples.median(name)
        fastest = min(samples.seconds[name])
        rows.append([name, f"{median:.2f}", f"{fastest:.2f}", f"{len(X) / median:,.0f}", f"{losses[name]:.4f}"])
    print()
    print(harness.markdown_table(["system", "median s", "fastest s", "images/s", "last epoch's loss"], rows))
    if torch is not None:
        ratio = samples.ratio("tinygrad_edu")
        low, high = samples.ratio_spread("tinygrad_edu")
        print(
            f"\ntinygrad_edu / PyTorch, median of the per-round ratios: {ratio:.2f}× "
            f"(interquartile {low:.2f}–{high:.2f}×); target ≤ 1.00×: {'met' if ratio <= 1 else 'MISSED'}"
        )
    print(f"load average after: {harness.load_average():.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
