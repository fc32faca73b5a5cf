"""The `tinygrad-edu` command: `train`, `graph` and `gradcheck` subcommands.

tinygrad-edu train --dataset digits --epochs 10
tinygrad-edu graph --sizes 3 4 2 --out graph.svg
tinygrad-edu gradcheck --sizes 3 4 2
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = ("train", "graph", "gradcheck")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinygrad-edu", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"tinygrad_edu.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"tinygrad_edu.commands.{name}":
                raise
            continue  # not part of this version of the package
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
