"""`tinygrad-edu gradcheck`: check every parameter gradient of an MLP against finite differences.

Builds a small float64 MLP and a random batch, then compares the gradient of the loss that
`backward()` computes for every weight and bias with central finite differences
(`tinygrad_edu.check_module_grads`), and prints one table row per parameter. The exit status
is 0 when all of them match and 1 when any does not, so it can guard a CI job.

    tinygrad-edu gradcheck                                  # MLP [3, 4, 2], batch 5, cross-entropy
    tinygrad-edu gradcheck --sizes 8 16 16 3 --loss mse --activation tanh --seed 1
"""

from __future__ import annotations

import argparse

import numpy as np

from tinygrad_edu import Tensor, check_module_grads
from tinygrad_edu.cli.args import add_network_arguments, add_seed_argument, check_sizes, positive_float, positive_int
from tinygrad_edu.nn import MLP, functional

HELP = "check every parameter gradient of an MLP against finite differences and print a table"

LOSSES = {"ce": "cross-entropy", "mse": "mean squared error"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_seed_argument(parser, "the weights, the batch and the directions")
    parser.add_argument("--loss", choices=sorted(LOSSES), default="ce", help="ce: cross-entropy, mse: squared error")
    parser.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default="relu")
    parser.add_argument(
        "--mode",
        choices=["auto", "exact", "directions"],
        default="auto",
        help="exact: every element; directions: random directions (fast for large layers); "
        "auto: exact up to 1000 elements per parameter (default)",
    )
    parser.add_argument(
        "--n-directions", type=positive_int, default=10, help="random directions per parameter (default: 10)"
    )
    parser.add_argument("--eps", type=positive_float, default=1e-6, help="finite-difference step (default: 1e-6)")


def run(args: argparse.Namespace) -> int:
    sizes = check_sizes(args.sizes)
    rng = np.random.default_rng(args.seed)
    # float64 throughout: finite differences in float32 are too coarse to judge a gradient.
    model = MLP(sizes, activation=args.activation, dtype=np.float64, generator=rng)
    x = Tensor(rng.standard_normal((args.batch, sizes[0])))
    if args.loss == "ce":
        target = rng.integers(0, sizes[-1], args.batch)
        loss_fn = functional.cross_entropy
    else:
        target = rng.standard_normal((args.batch, sizes[-1]))
        loss_fn = functional.mse_loss

    n_parameters = sum(p.size for _, p in model.named_parameters())
    print(
        f"MLP {sizes} ({args.activation}, float64, {n_parameters} parameters), random batch of {args.batch}, "
        f"{LOSSES[args.loss]} loss, seed {args.seed}"
    )
    report = check_module_grads(
        model,
        loss_fn,
        x,
        target,
        eps=args.eps,
        mode=args.mode,
        n_directions=args.n_directions,
        seed=args.seed,
    )
    print(report)
    return 0 if report.passed else 1
