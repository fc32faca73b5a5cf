"""`python -m tinygrad_edu`: the same as the `tinygrad-edu` command (`tinygrad_edu.cli`)."""

from tinygrad_edu.cli import console_main

if __name__ == "__main__":
    console_main()
