"""The two ways a subcommand fails on purpose, each with its exit status.

A subcommand raises one of these with a one-line message; `tinygrad_edu.cli.main` prints it
as `tinygrad-edu COMMAND: error: MESSAGE` and exits with `exit_status`, never a traceback.

>>> UsageError("--sizes needs at least two positive sizes, got [3]").exit_status
2
"""

from __future__ import annotations


class CommandError(Exception):
    """The command ran and could not finish: missing data, a diverging loss, no `dot` (exit 1)."""

    exit_status = 1


class UsageError(CommandError):
    """The command line asks for something impossible, found before any work starts (exit 2,
    the status argparse uses for its own argument errors)."""

    exit_status = 2
