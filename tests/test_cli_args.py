"""Argument errors on every subcommand: exit status 2 and one line that names the argument, never
a traceback, and nothing run or written (issue 10, item 11).

Every case goes through `tinygrad_edu.cli.main`, as the `tinygrad-edu` script and
`python -m tinygrad_edu` do; the subprocess tests in test_cli.py check the real processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tinygrad_edu.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def last_line(err: str) -> str:
    return err.rstrip("\n").splitlines()[-1]


# ---------------------------------------------------------------- argparse errors (usage, then one line)

ARGPARSE_ERRORS = [
    # issue 10, item 11: `--seed -1` on every subcommand was a bare traceback from NumPy
    (["train", "--seed", "-1"], "tinygrad-edu train: error: argument --seed: expected an integer >= 0, got -1"),
    (["graph", "--seed", "-1"], "tinygrad-edu graph: error: argument --seed: expected an integer >= 0, got -1"),
    (
        ["gradcheck", "--seed", "-1"],
        "tinygrad-edu gradcheck: error: argument --seed: expected an integer >= 0, got -1",
    ),
    (["graph", "--seed", "x"], "tinygrad-edu graph: error: argument --seed: expected an integer >= 0, got 'x'"),
    # issue 10, item 11: `gradcheck --eps 0` divided by zero
    (["gradcheck", "--eps", "0"], "tinygrad-edu gradcheck: error: argument --eps: expected a positive number, got 0"),
    # (argparse reads "-1e-6" after a space as an option: `--eps -1e-6` is "expected one argument")
    (
        ["gradcheck", "--eps=-1e-6"],
        "tinygrad-edu gradcheck: error: argument --eps: expected a positive number, got -1e-6",
    ),
    (
        ["gradcheck", "--eps", "inf"],
        "tinygrad-edu gradcheck: error: argument --eps: expected a positive number, got inf",
    ),
    (
        ["gradcheck", "--n-directions", "0"],
        "tinygrad-edu gradcheck: error: argument --n-directions: expected a positive integer, got 0",
    ),
    # sizes and batches, zero or negative, on both subcommands that build an MLP
    (
        ["graph", "--sizes", "3", "0", "2"],
        "tinygrad-edu graph: error: argument --sizes: expected a positive integer, got 0",
    ),
    (
        ["gradcheck", "--sizes", "3", "-4", "2"],
        "tinygrad-edu gradcheck: error: argument --sizes: expected a positive integer, got -4",
    ),
    (["graph", "--batch", "0"], "tinygrad-edu graph: error: argument --batch: expected a positive integer, got 0"),
    (
        ["gradcheck", "--batch", "-5"],
        "tinygrad-edu gradcheck: error: argument --batch: expected a positive integer, got -5",
    ),
    (
        ["graph", "--max-nodes", "0"],
        "tinygrad-edu graph: error: argument --max-nodes: expected a positive integer, got 0",
    ),
    # train: sizes, epochs, batch size, learning rate, penalty, unknown names
    (
        ["train", "--hidden", "256", "-3"],
        "tinygrad-edu train: error: argument --hidden: expected a positive integer, got -3",
    ),
    (["train", "--epochs", "0"], "tinygrad-edu train: error: argument --epochs: expected a positive integer, got 0"),
    (
        ["train", "--epochs", "two"],
        "tinygrad-edu train: error: argument --epochs: expected a positive integer, got 'two'",
    ),
    (
        ["train", "--batch-size", "0"],
        "tinygrad-edu train: error: argument --batch-size: expected a positive integer, got 0",
    ),
    (["train", "--lr", "0"], "tinygrad-edu train: error: argument --lr: expected a positive number, got 0"),
    (["train", "--lr", "-1"], "tinygrad-edu train: error: argument --lr: expected a positive number, got -1"),
    (["train", "--lr", "nan"], "tinygrad-edu train: error: argument --lr: expected a positive number, got nan"),
    (
        ["train", "--weight-decay", "-0.1"],
        "tinygrad-edu train: error: argument --weight-decay: expected a number >= 0, got -0.1",
    ),
    (
        ["train", "--dataset", "cifar"],
        "tinygrad-edu train: error: argument --dataset: invalid choice: 'cifar' "
        "(choose from digits, mnist, fashion-mnist)",
    ),
    (
        ["train", "--optimizer", "rmsprop"],
        "tinygrad-edu train: error: argument --optimizer: invalid choice: 'rmsprop' (choose from adam, sgd)",
    ),
    (
        ["train", "--model", "resnet"],
        "tinygrad-edu train: error: argument --model: invalid choice: 'resnet' (choose from mlp, cnn)",
    ),
    (
        ["frobnicate"],
        "tinygrad-edu: error: argument COMMAND: invalid choice: 'frobnicate' (choose from train, graph, gradcheck)",
    ),
]


@pytest.mark.parametrize(("argv", "line"), ARGPARSE_ERRORS, ids=[" ".join(argv) for argv, _ in ARGPARSE_ERRORS])
def test_argument_errors_are_argparse_errors(argv: list[str], line: str, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written, not even a default output
    status, out, err = run(argv, capsys)
    assert status == 2
    assert out == ""
    # Python 3.12 quotes choices ('digits', ...); 3.10/3.11 do not. The words are the same.
    assert last_line(err).replace("'", "") == line.replace("'", "")
    assert err.startswith("usage: tinygrad-edu") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- checks after parsing (one line only)

ONE_LINE_ERRORS = [
    (
        ["graph", "--sizes", "3"],
        "tinygrad-edu graph: error: --sizes needs at least two positive sizes, the input's and the output's "
        "(e.g. 3 4 2), got [3]",
    ),
    (
        ["gradcheck", "--sizes", "5"],
        "tinygrad-edu gradcheck: error: --sizes needs at least two positive sizes, the input's and the output's "
        "(e.g. 3 4 2), got [5]",
    ),
    (
        ["train", "--data-dir", "somewhere"],
        "tinygrad-edu train: error: --data-dir and --download are for mnist and fashion-mnist; "
        "digits ship with scikit-learn",
    ),
    # --hidden is a list of layer sizes for the MLP, but the one dense layer of the CNN
    (
        ["train", "--model", "cnn", "--hidden", "128", "64"],
        "tinygrad-edu train: error: --hidden for --model cnn is the size of its one dense layer, between the "
        "convolutions and the output: give one number (e.g. --hidden 128), got 128 64",
    ),
    (
        ["train", "--model", "cnn", "--dataset", "mnist", "--hidden"],
        "tinygrad-edu train: error: --hidden for --model cnn is the size of its one dense layer, between the "
        "convolutions and the output: give one number (e.g. --hidden 128), got no size",
    ),
    (
        ["train", "--model", "cnn", "--data-dir", "somewhere"],
        "tinygrad-edu train: error: --data-dir and --download are for mnist and fashion-mnist; "
        "digits ship with scikit-learn",
    ),
]


@pytest.mark.parametrize(("argv", "line"), ONE_LINE_ERRORS, ids=[" ".join(argv) for argv, _ in ONE_LINE_ERRORS])
def test_semantic_argument_errors_are_one_line(argv: list[str], line: str, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = run(argv, capsys)
    assert (status, out, err) == (2, "", line + "\n")
    assert list(tmp_path.iterdir()) == []


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["train", "--help"], capsys)
    assert status == 0 and "usage: tinygrad-edu train" in out and "--model {mlp,cnn}" in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run([], capsys)
    assert status == 2
    assert last_line(err) == "tinygrad-edu: error: the following arguments are required: COMMAND"


def test_a_huge_network_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # 10^6 x 10^6 float64 weights (8 TB): NumPy refuses to allocate them.
    status, _, err = run(["gradcheck", "--sizes", "1000000", "1000000"], capsys)
    assert status == 1
    assert err.startswith("tinygrad-edu gradcheck: error: out of memory (Unable to allocate")
    assert err.rstrip().endswith("try smaller sizes or batches") and "Traceback" not in err
