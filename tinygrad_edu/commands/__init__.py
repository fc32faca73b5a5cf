"""The subcommands of the `tinygrad-edu` command line, one module each.

Each module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
"""
