"""`tinygrad-edu train`: train an MLP on digits (offline), MNIST or Fashion-MNIST.

Shows a progress bar per epoch (plain lines when the output is not a terminal), prints the
train loss, test loss, test accuracy and time of every epoch, and writes to `--out` the model
(`model.npz`), the loss and accuracy curves (`training.png`) and the forward graph of a small
batch through the model and the loss (`graph.svg`).

    tinygrad-edu train                                           # digits, offline, a few seconds
    tinygrad-edu train --dataset mnist --data-dir ../shared/data/mnist
    tinygrad-edu train --dataset fashion-mnist --download        # into ~/.cache/tinygrad_edu
    tinygrad-edu train --hidden 512 --optimizer sgd --lr 0.05 --schedule step --epochs 5

Options left out take the dataset's recipe (`tinygrad_edu.training.RECIPES`), chosen to reach
≥ 97% on digits, ≥ 98% on MNIST and ≥ 88% on Fashion-MNIST.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "train an MLP on digits (offline), MNIST or Fashion-MNIST; write the model, a plot and the graph"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinygrad_edu.training import DATASETS, DEFAULT_LR, OPTIMIZERS, RECIPES, SCHEDULES

    def recipe(attribute: str) -> str:
        values = {name: getattr(r, attribute) for name, r in RECIPES.items()}
        shown = {name: " ".join(map(str, v)) if isinstance(v, tuple) else str(v) for name, v in values.items()}
        if len(set(shown.values())) == 1:
            return f"default: {next(iter(shown.values()))}"
        return "default: " + ", ".join(f"{v} for {k}" for k, v in shown.items())

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.add_argument("--dataset", choices=DATASETS, default="digits", help="digits works offline (default: digits)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder with the four IDX files of MNIST or Fashion-MNIST, gzip or raw "
        "(default: $TINYGRAD_EDU_DATA/DATASET or ~/.cache/tinygrad_edu/DATASET)",
    )
    parser.add_argument(
        "--download", action="store_true", help="fetch missing MNIST/Fashion-MNIST files into --data-dir first"
    )
    parser.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="*",
        default=None,
        metavar="N",
        help=f"hidden layer sizes; none for a linear classifier ({recipe('hidden')})",
    )
    parser.add_argument(
        "--epochs", type=_positive_int, default=None, help=f"passes over the training set ({recipe('epochs')})"
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, default=None, metavar="B", help=f"images per step ({recipe('batch_size')})"
    )
    parser.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help=f"learning rate ({recipe('lr')}; with another optimizer than the recipe's: "
        f"{', '.join(f'{v:g} for {k}' for k, v in DEFAULT_LR.items())})",
    )
    parser.add_argument(
        "--weight-decay",
        type=_non_negative_float,
        default=None,
        metavar="WD",
        help=f"L2 penalty ({recipe('weight_decay')})",
    )
    parser.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=None, help=f"sgd uses momentum 0.9 ({recipe('optimizer')})"
    )
    parser.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=None,
        help=f"learning rate per epoch: cosine decay to 0, step (x0.3 every third of the run) or constant "
        f"({recipe('schedule')})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the weights and the batch order (default: 0)")
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="folder for the outputs (default: runs/DATASET)"
    )
    parser.add_argument(
        "--progress",
        choices=["auto", "bar", "lines", "none"],
        default="auto",
        help="a progress bar on a terminal, plain lines otherwise (default: auto)",
    )
    parser.set_defaults(train_parser=parser)  # so run() can report argument errors the argparse way


def run(args: argparse.Namespace) -> int:
    from tinygrad_edu.data import DatasetError, DownloadError
    from tinygrad_edu.training import TrainConfig, run_training, save_outputs

    parser = getattr(args, "train_parser", None)
    if args.dataset == "digits" and (args.data_dir is not None or args.download):
        message = "--data-dir and --download are for mnist and fashion-mnist; digits ship with scikit-learn"
        if parser is not None:
            parser.error(message)  # exits with status 2, as for any other bad argument
        print(f"tinygrad-edu train: error: {message}", file=sys.stderr)
        return 2
    config = TrainConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        download=args.download,
        hidden=args.hidden,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        schedule=args.schedule,
        weight_decay=args.weight_decay,
        seed=args.seed,
    )
    progress = {"auto": None, "bar": "bar", "lines": "lines", "none": False}[args.progress]
    out = args.out if args.out is not None else Path("runs") / args.dataset
    try:
        result = run_training(config, log=lambda line: print(line, flush=True), progress=progress)
    except (FileNotFoundError, DatasetError, DownloadError, ImportError, FloatingPointError) as error:
        print(f"tinygrad-edu train: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was written", file=sys.stderr)
        return 130
    paths = save_outputs(result, out)
    print(f"test accuracy {100 * result.history.test_acc[-1]:.2f}%; outputs in {out}/:")
    print(f"  {paths['model'].name:<13} the trained weights (tinygrad_edu.load, then model.load_state_dict)")
    print(f"  {paths['plot'].name:<13} loss and accuracy per epoch")
    if "graph" in paths:
        note = "" if paths["graph"].suffix == ".svg" else " (Graphviz's `dot` is missing: DOT source instead of SVG)"
        print(f"  {paths['graph'].name:<13} the forward graph of a batch of 8 through the model and the loss{note}")
    return 0
