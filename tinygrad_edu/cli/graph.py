"""`tinygrad-edu graph`: draw the forward pass and loss of an MLP (or its backward pass) to a file.

Builds an MLP with random weights, runs a random batch through it, takes the softmax
cross-entropy loss, and draws the graph with `tinygrad_edu.viz.draw_graph`: one box per layer
call, the parameters named as in `model.named_parameters()`, every tensor with its shape.
Rendering SVG, PNG or PDF needs Graphviz's `dot` program; `--format dot` writes the DOT source
and needs nothing else. `--out` is checked before anything is drawn, and the file is replaced
whole or not at all.

    tinygrad-edu graph                                   # MLP 3 4 2, batch 5 -> graph.svg
    tinygrad-edu graph --sizes 784 256 10 --out mlp.png
    tinygrad-edu graph --direction backward --values --out backward.svg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tinygrad_edu import Tensor
from tinygrad_edu.cli.args import add_network_arguments, add_seed_argument, check_sizes, positive_int
from tinygrad_edu.cli.errors import CommandError
from tinygrad_edu.cli.outputs import OutputSet
from tinygrad_edu.nn import MLP, Module, functional
from tinygrad_edu.viz import DotNotFoundError, draw_graph

HELP = "draw the graph of an MLP's forward pass and loss (or its backward pass) to an SVG, PNG or PDF file"

FORMATS = ("svg", "png", "pdf", "dot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.add_argument(
        "--direction",
        choices=["forward", "backward"],
        default="forward",
        help="forward: tensors and ops; backward: the gradient flow after backward() (default: forward)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="file format; dot is the Graphviz source (default: from --out's suffix, else svg)",
    )
    parser.add_argument("--out", type=Path, default=None, help="file to write (default: graph.FORMAT)")
    add_seed_argument(parser, "the weights and the batch")
    parser.add_argument(
        "--rankdir", choices=["LR", "TB", "RL", "BT"], default="LR", help="layout direction (default: LR)"
    )
    parser.add_argument("--values", action="store_true", help="show values (small tensors) or min/mean/max")
    parser.add_argument("--max-nodes", type=positive_int, default=None, help="draw at most this many tensors and ops")


def output_format(fmt: str | None, out: Path | None) -> tuple[str, Path]:
    """The format and the path to write, each filled in from the other when not given.

    >>> [(fmt, str(path)) for fmt, path in [output_format(None, Path("mlp.png")), output_format("pdf", None)]]
    [('png', 'mlp.png'), ('pdf', 'graph.pdf')]
    """
    if fmt is None:
        suffix = out.suffix.lstrip(".").lower() if out is not None else ""
        fmt = {"gv": "dot"}.get(suffix, suffix) if suffix in (*FORMATS, "gv") else "svg"
    return fmt, out if out is not None else Path(f"graph.{fmt}")


def example_loss(sizes: list[int], batch: int, seed: int) -> tuple[Module, Tensor]:
    """An MLP of `sizes` with random weights and its cross-entropy loss on a random batch."""
    rng = np.random.default_rng(seed)
    model = MLP(sizes, generator=rng)
    x = Tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32), name="x")
    target = rng.integers(0, sizes[-1], batch)
    loss = functional.cross_entropy(model(x), target)
    loss.name = "loss"
    return model, loss


def run(args: argparse.Namespace) -> int:
    sizes = check_sizes(args.sizes)
    fmt, out = output_format(args.format, args.out)
    with OutputSet({"--out": [out]}) as outputs:
        model, loss = example_loss(sizes, args.batch, args.seed)
        if args.direction == "backward":
            # retain_graph keeps what each op saved, so the picture can say how many bytes that is.
            loss.backward(retain_graph=True)
        graph = draw_graph(
            loss,
            params=model,
            direction=args.direction,
            rankdir=args.rankdir,
            show_values=args.values,
            max_nodes=args.max_nodes,
        )
        try:
            data = graph.source.encode() if fmt == "dot" else graph.pipe(format=fmt)
        except DotNotFoundError as error:
            raise CommandError(f"{error}\nOr write the DOT source, which needs no `dot`: --format dot") from None
        outputs.stage(out).write_bytes(data)
    hidden = f", {graph.hidden_nodes:,} more not drawn" if graph.hidden_nodes else ""
    print(
        f"wrote {out}: the {args.direction} graph of MLP {sizes} with cross-entropy loss on a batch of "
        f"{args.batch} (a graph of {graph.total_nodes} tensors and ops{hidden}; {len(data):,} bytes of {fmt})"
    )
    return 0
