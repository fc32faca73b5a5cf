"""`tinygrad-edu train`: train an MLP or a CNN on digits (offline), MNIST or Fashion-MNIST.

Shows a progress bar per epoch (plain lines when the output is not a terminal), prints the
train loss, test loss, test accuracy and time of every epoch, and writes to `--out` the model
(`model.npz`), the loss and accuracy curves (`training.png`), the forward graph of a small
batch through the model and the loss (`graph.svg`), and the backprop player of that batch
(`backprop.html`: backward() through the trained network step by step, one offline HTML file;
`tinygrad_edu.viz.trace_backward`). The graph draws every op, each layer in a box; the CNN's
player draws each layer as one node (its text still goes op by op), which keeps it a few MB.

    tinygrad-edu train                                           # digits, offline, a few seconds
    tinygrad-edu train --dataset mnist --data-dir ../shared/data/mnist
    tinygrad-edu train --dataset fashion-mnist --download        # into ~/.cache/tinygrad_edu
    tinygrad-edu train --hidden 512 --optimizer sgd --lr 0.05 --schedule step --epochs 5
    tinygrad-edu train --model cnn --dataset mnist --data-dir ../shared/data/mnist

`--model mlp` (the default) is a multilayer perceptron, `--hidden` its hidden layer sizes;
`--model cnn` is a small LeNet-style network (`tinygrad_edu.nn.models.small_cnn`: two 3x3
convolutions, each with BatchNorm, ReLU and a 2x2 max pool, then a dense layer of `--hidden`
units). Options left out take the recipe of the network and dataset
(`tinygrad_edu.cli.recipes`), chosen to reach ≥ 97% on digits, ≥ 98% on MNIST (≥ 99% with the
CNN) and ≥ 88% on Fashion-MNIST.

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
from tinygrad_edu.cli.plots import forward_graph, plot_history, require_matplotlib, sample_loss
from tinygrad_edu.cli.recipes import DATASETS, DEFAULT_LR, MODELS, OPTIMIZERS, RECIPES, SCHEDULES, TrainConfig
from tinygrad_edu.cli.training import SAMPLE_SIZE, TrainResult, run_training
from tinygrad_edu.data import DatasetError
from tinygrad_edu.viz import DotNotFoundError, trace_backward
from tinygrad_edu.viz.player import player_html

HELP = "train an MLP or a CNN on digits (offline), MNIST or Fashion-MNIST; write the model, a plot and the graph"


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
    # Two lines: a CNN's description alone takes most of the figure's width.
    title = (
        f"{c.dataset}: {result.describe_model()}\n"
        f"{c.optimizer} lr {c.lr:g} ({c.schedule}), batch {c.batch_size}, {c.epochs} epochs: "
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


def _write_player(result: TrainResult, outputs: OutputSet, target: Path) -> Path:
    """The backprop player of the same batch as the graph, or the text of the pass in `backprop.txt`
    when Graphviz's `dot` is not installed. The model's `.grad`s are left as training left them."""
    X, y = result.sample
    parameters = list(result.model.parameters())
    grads = [p.grad for p in parameters]
    try:
        trace = trace_backward(sample_loss(result.model, X, y), params=result.model)
    finally:
        for p, grad in zip(parameters, grads):
            p.grad = grad
    title = f"Watching backprop: {result.describe_model()}, a batch of {len(y)} {result.config.dataset} test images"
    collapse = MODELS[result.config.model].collapse_layers_in_player
    try:
        page = player_html(trace, title=title, collapse_modules=collapse)  # drawn before anything is staged
    except DotNotFoundError:
        text = target.with_suffix(".txt")
        outputs.stage(text, instead_of=target).write_text(trace.explain() + "\n", encoding="utf-8")
        return text
    outputs.stage(target).write_text(page, encoding="utf-8")
    return target


# In the order they are written: the model first, as it is the one that matters most.
OUTPUTS = (
    Output("model.npz", "the trained weights (tinygrad_edu.load, then model.load_state_dict)", _write_model),
    Output("training.png", "loss and accuracy per epoch", _write_plot),
    Output("graph.svg", f"the forward graph of a batch of {SAMPLE_SIZE} through the model and the loss", _write_graph),
    Output("backprop.html", "backward() on that batch, step by step: open it in a browser", _write_player),
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


def _shown(value: object) -> str:
    """A recipe's value as typed on the command line: "256 128", "0.002", "adam"."""
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def recipe(attribute: str) -> str:
        """The recipes' defaults for one option, for its help, e.g.
        "default: mlp 30 on digits, 10 on mnist and fashion-mnist; cnn 10 on digits, 5 on ..."."""
        shown: dict[str, dict[str, list[str]]] = {}  # model -> value -> datasets
        for (model, dataset), r in RECIPES.items():
            text = _shown(getattr(r, attribute))
            shown.setdefault(model, {}).setdefault(text, []).append(dataset)
        if len({text for values in shown.values() for text in values}) == 1:
            return f"default: {next(iter(next(iter(shown.values()))))}"
        per_model = []
        for model, values in shown.items():
            if len(values) == 1:
                per_model.append(f"{model} {next(iter(values))}")
            else:
                per_model.append(
                    f"{model} " + ", ".join(f"{text} on {' and '.join(datasets)}" for text, datasets in values.items())
                )
        return "default: " + "; ".join(per_model)

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.add_argument("--dataset", choices=DATASETS, default="digits", help="digits works offline (default: digits)")
    parser.add_argument(
        "--model",
        choices=list(MODELS),
        default="mlp",
        help="the network: a multilayer perceptron, or a small convolutional network (default: mlp)",
    )
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
        help="; ".join(f"{name}: {model.hidden}" for name, model in MODELS.items()) + f" ({recipe('hidden')})",
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
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the outputs (default: runs/DATASET for the mlp, runs/DATASET-cnn for the cnn)",
    )
    parser.add_argument(
        "--progress",
        choices=["auto", "bar", "lines", "none"],
        default="auto",
        help="a progress bar on a terminal, plain lines otherwise (default: auto)",
    )


def default_out(dataset: str, model: str) -> Path:
    """`runs/DATASET` for the MLP, `runs/DATASET-MODEL` for another network: a CNN run does not
    replace the outputs of an MLP run on the same data."""
    return Path("runs") / (dataset if model == "mlp" else f"{dataset}-{model}")


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
    try:  # the combinations argparse cannot check alone, e.g. two --hidden sizes for the cnn
        config = config.resolved()
    except ValueError as error:
        raise UsageError(str(error)) from None
    progress = {"auto": None, "bar": "bar", "lines": "lines", "none": False}[args.progress]
    out = args.out if args.out is not None else default_out(args.dataset, args.model)
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
    width = max(len(output.name) for output in OUTPUTS)
    for output in OUTPUTS:
        path = paths[output.name]
        note = {
            ".dot": " (Graphviz's `dot` is missing: DOT source instead of SVG)",
            ".txt": " (Graphviz's `dot` is missing: the steps as text instead of the player)",
        }.get(path.suffix, "")
        print(f"  {path.name:<{width}}  {output.about}{note}")
    return 0
