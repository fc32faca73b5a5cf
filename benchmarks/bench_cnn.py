"""One training step of a small CNN: tinygrad_edu against PyTorch CPU on the same network (issue 14).

The network is `tinygrad_edu.nn.models.small_cnn()` (the CNN of `examples/cnn_mnist.py` for
28x28 images): [Conv 3x3 -> BatchNorm -> ReLU -> MaxPool 2x2] x 2 -> Linear -> ReLU -> Linear,
float32, NCHW. PyTorch gets the same layers and, through `load_state_dict` (the parameter and
buffer names are the same), the same weights. A step is forward, cross-entropy, backward and an
Adam update, on a batch of random 28x28 images. Before timing, the first steps of both from the
same weights are compared, so that both compute the same thing.

The steps run in interleaved rounds (harness.py: rotating order, an uncounted call per turn,
paired per-round ratios); the table shows the median step of each and the median ratio.

    .venv/bin/python benchmarks/bench_cnn.py [--batch 64] [--rounds 20] [--threads 1] [--quick]

`--epochs N` times whole MNIST epochs instead (the 60,000 training images, reshuffled each
epoch, Adam 2e-3; N timed epochs of each after a warm-up one, interleaved), then prints both
models' test accuracy: the epoch time of the CNN against PyTorch's on the same network.

    .venv/bin/python benchmarks/bench_cnn.py --epochs 2 [--data-dir DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import harness  # first: it sets OMP_WAIT_POLICY before PyTorch loads
import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F  # noqa: N812  (PyTorch's usual name)
from tinygrad_edu import optim
from tinygrad_edu.nn.models import small_cnn

ROOT = Path(__file__).resolve().parents[1]
torch, TORCH_MISSING = harness.optional_module("torch")


def default_data_dir() -> Path:
    """The shared MNIST folder beside the repository, or beside a folder above it (a worktree)."""
    for folder in ROOT.parents:
        if (folder / "shared" / "data" / "mnist").is_dir():
            return folder / "shared" / "data" / "mnist"
    return ROOT.parent / "shared" / "data" / "mnist"


def torch_cnn(model: tg.nn.Module):
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


def step_contenders(batch: int) -> dict[str, Callable[[], float]]:
    """A training step of each system on the same batch, from the same weights; each returns its loss."""
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


def check_same_steps(batch: int) -> None:
    """Both take the same first steps from the same weights (float32 rounding apart)."""
    if torch is None:
        return
    steps = step_contenders(batch)
    for step in range(3):
        ours, theirs = steps["tinygrad_edu"](), steps["pytorch"]()
        if not np.isclose(ours, theirs, rtol=1e-4):
            raise SystemExit(f"the two networks differ: loss {ours} vs PyTorch's {theirs} at step {step}")


def epoch_contenders(data_dir: Path, batch: int) -> tuple[dict[str, Callable[[], float]], Callable[[], dict]]:
    """An epoch function per system (each returns its mean training loss), and a function that
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

    epochs: dict[str, Callable[[], float]] = {"tinygrad_edu": tinygrad_edu}
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
            logits = np.concatenate(
                [model(tg.from_numpy(X_test[i : i + 1000])).data for i in range(0, len(X_test), 1000)]
            )
        result = {"tinygrad_edu": float((logits.argmax(1) == y_test).mean())}
        if torch is not None:
            theirs.eval()
            with torch.no_grad():
                result["pytorch"] = float((theirs(torch.from_numpy(X_test)).argmax(1).numpy() == y_test).mean())
        return result

    return epochs, accuracies


def report(samples: harness.Samples, unit: float, unit_name: str) -> None:
    for name in samples.seconds:
        print(f"  {name:<14}{samples.median(name) / unit:8.1f} {unit_name}")
    if "pytorch" in samples.seconds:
        low, high = samples.ratio_spread("tinygrad_edu")
        print(f"  tinygrad_edu / pytorch: {samples.ratio('tinygrad_edu'):.2f}x (quartiles {low:.2f}-{high:.2f})")
    else:
        print(f"  ({TORCH_MISSING})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    harness.add_timing_arguments(parser)
    parser.add_argument("--batch", type=int, default=64, help="(default: 64)")
    parser.add_argument("--epochs", type=int, default=0, help="time this many MNIST epochs instead of steps")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST IDX files (default: the shared folder)")
    args = harness.parse_timing_arguments(parser, argv)
    harness.set_threads(args.threads)
    clock = harness.CLOCKS[args.clock]
    reference = "pytorch" if torch is not None else "tinygrad_edu"
    if args.epochs:
        data_dir = args.data_dir or default_data_dir()
        if not data_dir.is_dir():
            raise SystemExit(f"no MNIST files in {data_dir}; pass --data-dir DIR")
        epochs, accuracies = epoch_contenders(data_dir, args.batch)
        print(f"MNIST epochs of small_cnn, Adam 2e-3, batch {args.batch}: {args.epochs} timed after a warm-up each")
        print("\n".join(harness.describe_machine()))
        samples = harness.interleaved(epochs, reference, rounds=args.epochs, calls=1, settle=False, clock=clock)
        report(samples, 1.0, "s per epoch")
        print("test accuracy: " + ", ".join(f"{name} {value:.2%}" for name, value in accuracies().items()))
        return
    check_same_steps(args.batch)
    steps = step_contenders(args.batch)
    calls = harness.calls_to_last(steps["tinygrad_edu"], args.turn_ms / 1e3, clock)
    print(f"small_cnn training step (Adam), batch {args.batch}, float32: {args.rounds} rounds of {calls} calls")
    print("\n".join(harness.describe_machine()))
    report(harness.interleaved(steps, reference, rounds=args.rounds, calls=calls, clock=clock), 1e-3, "ms per step")


if __name__ == "__main__":
    main()
