"""Argument types and arguments shared by the subcommands, so each check is written once.

The types turn a bad value into an argparse error (the usage, then one line naming the
argument, exit status 2) before any work starts:

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="demo")
>>> add_seed_argument(parser, "the weights")
>>> parser.parse_args(["--seed", "7"]).seed
7
>>> positive_float("0")
Traceback (most recent call last):
argparse.ArgumentTypeError: expected a positive number, got 0
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from tinygrad_edu.cli.errors import UsageError


def positive_int(text: str) -> int:
    """An integer >= 1: sizes, epochs, batch sizes, counts."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def seed(text: str) -> int:
    """An integer >= 0, what `numpy.random.default_rng` accepts as a seed."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0: learning rates, finite-difference steps."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0: penalties."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def add_seed_argument(parser: argparse.ArgumentParser, seeds: str) -> None:
    """`--seed S` (default 0); `seeds` says what the seed fixes, for the help."""
    parser.add_argument("--seed", type=seed, default=0, metavar="S", help=f"seed for {seeds} (default: 0)")


def add_network_arguments(parser: argparse.ArgumentParser, default_sizes: Sequence[int] = (3, 4, 2)) -> None:
    """`--sizes N N ...` (an MLP's layer sizes, input first) and `--batch N` (a random batch)."""
    shown = " ".join(map(str, default_sizes))
    parser.add_argument(
        "--sizes",
        type=positive_int,
        nargs="+",
        default=list(default_sizes),
        metavar="N",
        help=f"layer sizes, input first (default: {shown})",
    )
    parser.add_argument("--batch", type=positive_int, default=5, help="examples in the random batch (default: 5)")


def check_sizes(sizes: Sequence[int]) -> list[int]:
    """The `--sizes` of an MLP: at least an input and an output size (each already positive)."""
    if len(sizes) < 2:
        raise UsageError(
            f"--sizes needs at least two positive sizes, the input's and the output's (e.g. 3 4 2), got {list(sizes)}"
        )
    return list(sizes)
