"""`tinygrad-edu graph`: draw the forward pass and loss of an MLP (or its backward pass) to a file.

Builds an MLP with random weights, runs a random batch through it, takes the softmax
cross-entropy loss, and draws the graph with `tinygrad_edu.viz.draw_graph`: one box per layer
call, the parameters named as in `model.named_parameters()`, every tensor with its shape.
Rendering SVG, PNG or PDF needs Graphviz's `dot` program; `--format dot` writes the DOT source
and needs nothing else.

    tinygrad-edu graph                                   # MLP 3 4 2, batch 5 -> graph.svg
    tinygrad-edu graph --sizes 784 256 10 --out mlp.png
    tinygrad-edu graph --direction backward --values --out backward.svg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HELP = "draw the graph of an MLP's forward pass and loss (or its backward pass) to an SVG, PNG or PDF file"

FORMATS = ("svg", "png", "pdf", "dot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[3, 4, 2], metavar="N", help="layer sizes, input first (default: 3 4 2)"
    )
    parser.add_argument("--batch", type=int, default=5, help="examples in the random batch (default: 5)")
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
    parser.add_argument("--seed", type=int, default=0, help="seed for the weights and the batch (default: 0)")
    parser.add_argument(
        "--rankdir", choices=["LR", "TB", "RL", "BT"], default="LR", help="layout direction (default: LR)"
    )
    parser.add_argument("--values", action="store_true", help="show values (small tensors) or min/mean/max")
    parser.add_argument("--max-nodes", type=int, default=None, help="draw at most this many tensors and ops")


def _output(args: argparse.Namespace) -> tuple[str, Path]:
    """The format and the path to write, each filled in from the other when not given."""
    fmt = args.format
    if fmt is None:
        suffix = args.out.suffix.lstrip(".").lower() if args.out is not None else ""
        fmt = {"gv": "dot"}.get(suffix, suffix) if suffix in (*FORMATS, "gv") else "svg"
    out = args.out if args.out is not None else Path(f"graph.{fmt}")
    return fmt, out


def run(args: argparse.Namespace) -> int:
    from tinygrad_edu import Tensor
    from tinygrad_edu.nn import MLP, functional
    from tinygrad_edu.viz import DotNotFoundError, draw_graph

    if len(args.sizes) < 2 or min(args.sizes) < 1:
        print(f"tinygrad-edu graph: --sizes needs at least two positive sizes, got {args.sizes}", file=sys.stderr)
        return 2
    if args.batch < 1:
        print(f"tinygrad-edu graph: --batch must be at least 1, got {args.batch}", file=sys.stderr)
        return 2
    if args.max_nodes is not None and args.max_nodes < 1:
        print(f"tinygrad-edu graph: --max-nodes must be at least 1, got {args.max_nodes}", file=sys.stderr)
        return 2
    fmt, out = _output(args)

    rng = np.random.default_rng(args.seed)
    model = MLP(args.sizes, generator=rng)
    x = Tensor(rng.standard_normal((args.batch, args.sizes[0])).astype(np.float32), name="x")
    target = rng.integers(0, args.sizes[-1], args.batch)
    loss = functional.cross_entropy(model(x), target)
    loss.name = "loss"
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
        hint = "Or write the DOT source, which needs no `dot`: --format dot"
        print(f"tinygrad-edu graph: {error}\n{hint}", file=sys.stderr)
        return 1
    if out.parent != Path():
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    hidden = f", {graph.hidden_nodes:,} more not drawn" if graph.hidden_nodes else ""
    print(
        f"wrote {out}: the {args.direction} graph of MLP {args.sizes} with cross-entropy loss on a batch of "
        f"{args.batch} (a graph of {graph.total_nodes} tensors and ops{hidden}; {len(data):,} bytes of {fmt})"
    )
    return 0
