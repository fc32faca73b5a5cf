"""`tinygrad-edu train`: train a network on digits (offline), MNIST or Fashion-MNIST.

Shows a progress bar per epoch (plain lines when the output is not a terminal), prints the
train loss, test loss, test accuracy and time of every epoch, and writes to `--out` the model
(`model.npz`), the loss and accuracy curves (`training.png`) and the forward graph of a small
batch through the model and the loss (`graph.svg`).

    tinygrad-edu train                                           # digits, offline, a few seconds
    tinygrad-edu train --dataset mnist --data-dir ../shared/data/mnist
    tinygrad-edu train --dataset fashion-mnist --download        # into ~/.cache/tinygrad_edu
    tinygrad-edu train --hidden 512 --optimizer sgd --lr 0.05 --schedule step --epochs 5

Options left out take the recipe of the network and dataset (`tinygrad_edu.cli.recipes`),
chosen to reach ≥ 97% on digits, ≥ 98% on MNIST and ≥ 88% on Fashion-MNIST.

`--out` is checked before training starts: a folder that cannot be created or written to
stops the command at once (exit status 2). The outputs are written as one set: after Ctrl-C
at any moment, `--out` holds either the previous outputs or all the new ones, never a mix
(`tinygrad_edu.cli.outputs`); the command then exits with status 130.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tinygrad_edu as tg
from tinygrad_edu.cli.args import add_seed_argument, non_negative_float, positive_float, positive_int
from tinygrad_edu.cli.errors import CommandError, UsageError
from tinygrad_edu.cli.outputs import OutputSet
from tinygrad_edu.cli.plots import forward_graph, plot_history, require_matplotlib
from tinygrad_edu.cli.recipes import DATASETS, DEFAULT_LR, MODELS, OPTIMIZERS, RECIPES, SCHEDULES, TrainConfig
from tinygrad_edu.cli.training import SAMPLE_SIZE, TrainResult, run_training
from tinygrad_edu.data import DatasetError
from tinygrad_edu.viz import DotNotFoundError

HELP = "train a network on digits (offline), MNIST or Fashion-MNIST; write the model, a plot and the graph"


# ---------------------------------------------------------------- the outputs


@dataclass(frozen=True)
class Output:
    """One file `train` writes into `--out`: its name, a line for the summary, and the function
    that writes it (to the temporary path `outputs.stage(...)` gives) and returns its final path."""

    name: str
    about: str
    write: Callable[[TrainResult, OutputSet, Path], Path]


def _write_model(result: TrainResult, outputs: OutputSet, target: Path) -> Path:
    tg.save(result.model.state_dict(), outputs.stage(target))
    return target


def _write_plot(result: TrainResult, outputs: OutputSet, target: Path) -> Path:
    c, acc = result.config, result.history.test_acc
    title = (
        f"{c.dataset}: {result.describe_model()}, {c.optimizer} lr {c.lr:g} ({c.schedule}), batch {c.batch_size}: "
        f"{100 * acc[-1]:.2f}% test accuracy"
    )
    plot_history(result.history, outputs.stage(target), title)
    return target


def _write_graph(result: TrainResult, outputs: OutputSet, target: Path) -> Path:
    """The SVG, or the DOT source in `graph.dot` when Graphviz's `dot` is not installed."""
    X, y = result.sample
    graph = forward_graph(result.model, X, y)
    try:
        svg = graph.pipe(format="svg")
    except DotNotFoundError:
        source = target.with_suffix(".dot")
        outputs.stage(source, instead_of=target).write_text(graph.source)
        return source
    outputs.stage(target).write_bytes(svg)
    return target


# In the order they are written: the model first, as it is the one that matters most.
OUTPUTS = (
    Output("model.npz", "the trained weights (tinygrad_edu.load, then model.load_state_dict)", _write_model),
    Output("training.png", "loss and accuracy per epoch", _write_plot),
    Output("graph.svg", f"the forward graph of a batch of {SAMPLE_SIZE} through the model and the loss", _write_graph),
)


def save_outputs(result: TrainResult, out_dir: str | Path) -> dict[str, Path]:
    """Write every file of `OUTPUTS` to `out_dir` as one set (all new, or, after an error or
    Ctrl-C, all as they were); return their final paths by name."""
    out = Path(out_dir)
    with OutputSet({"--out": [out / output.name for output in OUTPUTS]}) as outputs:
        return write_outputs(result, outputs, out)


def write_outputs(result: TrainResult, outputs: OutputSet, out: Path) -> dict[str, Path]:
    """Stage every file of `OUTPUTS` in `outputs` (committed when its `with` block ends)."""
    return {output.name: output.write(result, outputs, out / output.name) for output in OUTPUTS}


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def recipe(attribute: str) -> str:
        """The recipes' defaults for one option, for its help: "default: 30 for digits, 10 for mnist"."""
        several_models = len({model for model, _ in RECIPES}) > 1
        shown = {}
        for (model, dataset), r in RECIPES.items():
            value = getattr(r, attribute)
            key = f"{model} on {dataset}" if several_models else dataset
            shown[key] = " ".join(map(str, value)) if isinstance(value, tuple) else str(value)
        if len(set(shown.values())) == 1:
            return f"default: {next(iter(shown.values()))}"
        return "default: " + ", ".join(f"{v} for {k}" for k, v in shown.items())

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.add_argument("--dataset", choices=DATASETS, default="digits", help="digits works offline (default: digits)")
    parser.add_argument("--model", choices=list(MODELS), default="mlp", help="the network to train (default: mlp)")
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
        type=positive_int,
        nargs="*",
        default=None,
        metavar="N",
        help=f"hidden layer sizes; none for a linear classifier ({recipe('hidden')})",
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=None, help=f"passes over the training set ({recipe('epochs')})"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=None, metavar="B", help=f"images per step ({recipe('batch_size')})"
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help=f"learning rate ({recipe('lr')}; with another optimizer than the recipe's: "
        f"{', '.join(f'{v:g} for {k}' for k, v in DEFAULT_LR.items())})",
    )
    parser.add_argument(
        "--weight-decay",
        type=non_negative_float,
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
    add_seed_argument(parser, "the weights and the batch order")
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="folder for the outputs (default: runs/DATASET)"
    )
    parser.add_argument(
        "--progress",
        choices=["auto", "bar", "lines", "none"],
        default="auto",
        help="a progress bar on a terminal, plain lines otherwise (default: auto)",
    )


def run(args: argparse.Namespace) -> int:
    if args.dataset == "digits" and (args.data_dir is not None or args.download):
        raise UsageError("--data-dir and --download are for mnist and fashion-mnist; digits ship with scikit-learn")
    config = TrainConfig(
        dataset=args.dataset,
        model=args.model,
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
    # Everything that could stop the outputs from being written is checked before training.
    require_matplotlib()
    with OutputSet({"--out": [out / output.name for output in OUTPUTS]}) as outputs:
        try:
            result = run_training(config, log=lambda line: print(line, flush=True), progress=progress)
        except BrokenPipeError:
            raise  # our reader went away; not a training error
        except (OSError, DatasetError, ImportError, FloatingPointError) as error:
            raise CommandError(str(error)) from None
        try:
            paths = write_outputs(result, outputs, out)
        except OSError as error:
            raise CommandError(f"could not write the outputs to {out}: {error}") from None
    print(f"test accuracy {100 * result.history.test_acc[-1]:.2f}%; outputs in {out}/:")
    for output in OUTPUTS:
        path = paths[output.name]
        note = " (Graphviz's `dot` is missing: DOT source instead of SVG)" if path.suffix == ".dot" else ""
        print(f"  {path.name:<13} {output.about}{note}")
    return 0
