"""The `tinygrad-edu` command (also `python -m tinygrad_edu`): an application on the library.

    tinygrad-edu train --dataset digits --epochs 10
    tinygrad-edu graph --sizes 3 4 2 --out graph.svg
    tinygrad-edu gradcheck --sizes 3 4 2

One module per subcommand (`train`, `graph`, `gradcheck`), each with `HELP` (one line),
`add_arguments(parser)` and `run(args) -> int`; a new subcommand is a module and an entry in
`SUBCOMMANDS`. What they share is written once: argument types and common arguments
(`args`), outputs checked before work and written as a set (`outputs`), the training loop
(`training`), recipes (`recipes`), progress (`progress`) and pictures (`plots`). The library
never imports this package.

`main` turns every way a command can end into an exit status and at most a few lines on
stderr, never a traceback for a user's mistake:

- 2: an argument error, from argparse or a `UsageError` (an output path that cannot be
  written, too few `--sizes`...), found before any work starts;
- 1: a command that cannot finish (a `CommandError`: missing data, a diverging loss, no
  `dot`), or out of memory;
- 130: Ctrl-C, with a line that says what was written. (This holds from the moment `main`
  runs: during Python's own start-up, importing NumPy and this package, a fraction of a
  second, Python still prints its traceback.)

>>> main(["gradcheck", "--eps", "0"])
2
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from tinygrad_edu.cli import gradcheck, graph, train
from tinygrad_edu.cli.errors import CommandError

PROG = "tinygrad-edu"
SUBCOMMANDS = {"train": train, "graph": graph, "gradcheck": gradcheck}

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `tinygrad-edu` with `argv` (default: `sys.argv[1:]`) and return its exit status."""
    prog = PROG
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # argparse printed the usage and the error (status 2), or --help (0)
            return done.code if isinstance(done.code, int) else 2
        prog = f"{PROG} {args.command}"
        return int(args.run(args) or 0)
    except CommandError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return error.exit_status
    except MemoryError as error:
        detail = f" ({error})" if str(error) else ""
        print(f"{prog}: error: out of memory{detail}; try smaller sizes or batches", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        detail = f"; {interrupt}" if str(interrupt) else ""
        print(f"\n{prog}: interrupted{detail}", file=sys.stderr)
        return EXIT_INTERRUPTED


def console_main() -> NoReturn:
    """The `tinygrad-edu` script and `python -m tinygrad_edu`: `main()`, then exit with its status."""
    try:
        status = main()
        sys.stdout.flush()  # so that a broken pipe shows here, not in the interpreter's shutdown
    except BrokenPipeError:
        # The reader of our output went away (`tinygrad-edu ... | head`): stop quietly, as Unix
        # tools do, and keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    # The command is over and its outputs complete: Ctrl-C during the interpreter's shutdown
    # (most of a second with scikit-learn and matplotlib loaded) has nothing left to stop and
    # would only print Python's "Exception ignored" traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)
