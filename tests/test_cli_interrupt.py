"""Ctrl-C, for real: SIGINT sent to `python -m tinygrad_edu train` at several moments (issue 10, item 11).

Whatever the moment, the command must exit with status 130 and one short line (no
traceback), and `--out` must hold either the previous outputs or the complete new ones, equal
to those of an uninterrupted run with the same arguments (the model's arrays, the other files
byte for byte): never a mix, never a truncated file, never a temporary file left behind.

The moments: during an epoch (after the first epoch's line), and each step of writing the
outputs, found by watching `--out` from outside: the model written to its temporary file (the
plot and the graph are still to come), the plot written (the graph to come), the graph
written (the last step before the renames), and the summary printed (the interpreter's
shutdown to come); each of these plus a random delay of up to 20 ms, so that repeated runs
sample the whole of each step. The microseconds of the renames themselves are too short to
hit from outside; test_cli_outputs.py interrupts them in-process.

Each run is a Python process that imports scikit-learn and matplotlib (2-4 s on this shared
machine); the four runs of the writing steps go in parallel.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.cli import main

pytestmark = [
    pytest.mark.skipif(os.name != "posix", reason="sends POSIX signals"),
    pytest.mark.skipif(
        importlib.util.find_spec("sklearn") is None or importlib.util.find_spec("matplotlib") is None,
        reason="the digits run needs scikit-learn and matplotlib (pip install 'tinygrad_edu[data,plots]')",
    ),
]

OLD = ["--hidden", "16", "--seed", "1"]  # the previous run in --out
NEW = ["--hidden", "24", "--seed", "2"]  # the interrupted one: every output differs from OLD's
TIMEOUT = 180


def command(out: Path, epochs: int) -> list[str]:
    train = [sys.executable, "-m", "tinygrad_edu", "train"]
    return [*train, *NEW, "--epochs", str(epochs), "--progress", "lines", "--out", str(out)]


def start(out: Path, epochs: int) -> subprocess.Popen[str]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen(
        command(out, epochs), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=out.parent
    )


def wait_for_line(process: subprocess.Popen[str], prefix: str) -> None:
    """Read stdout up to the first line that starts with `prefix`."""
    for line in process.stdout:
        if line.startswith(prefix):
            return
    raise AssertionError(f"no line starting with {prefix!r}; stderr: {process.stderr.read()}")


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, err


def snapshot(folder: Path) -> dict[str, object]:
    """The outputs in `folder`: the model's arrays (an .npz records the time it was written),
    the other files' bytes."""
    shot: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".npz":
            shot[path.name] = {k: v.numpy() for k, v in tg.load(path).items()}
        else:
            shot[path.name] = path.read_bytes()
    return shot


def same(a: dict[str, object], b: dict[str, object]) -> bool:
    if a.keys() != b.keys():
        return False
    for name in a:
        if isinstance(a[name], dict):
            if a[name].keys() != b[name].keys() or not all(np.array_equal(a[name][k], b[name][k]) for k in a[name]):
                return False
        elif a[name] != b[name]:
            return False
    return True


def outcome(folder: Path, old: dict[str, object], new: dict[str, object]) -> str:
    names = sorted(p.name for p in folder.iterdir())
    assert not [n for n in names if n.startswith(".")], f"temporary files left behind: {names}"
    current = snapshot(folder)
    if same(current, old):
        return "old"
    assert same(current, new), f"{folder} holds neither the old outputs nor the complete new ones: {names}"
    return "new"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], dict[str, object]]:
    """A folder with the outputs of an OLD run, and the old and the new outputs (those of an
    uninterrupted NEW run, which the interrupted ones must equal when they finish)."""
    folders = []
    for name, arguments in (("old", OLD), ("new", NEW)):
        folder = tmp_path_factory.mktemp(name) / "out"
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["train", *arguments, "--epochs", "1", "--progress", "none", "--out", str(folder)]) == 0
        folders.append(folder)
    old, new = snapshot(folders[0]), snapshot(folders[1])
    assert old.keys() == new.keys() and not same(old, new)
    return folders[0], old, new


def previous_outputs(runs, tmp_path: Path, name: str = "out") -> Path:
    folder = tmp_path / name
    shutil.copytree(runs[0], folder)
    return folder


def nothing_written(folder: Path) -> str:
    return f"\ntinygrad-edu train: interrupted; nothing was written to {folder} (what was there before is untouched)\n"


def test_ctrl_c_during_an_epoch(runs, tmp_path: Path) -> None:
    _, old, new = runs
    out = previous_outputs(runs, tmp_path)
    process = start(out, epochs=10_000)
    wait_for_line(process, "epoch     1/10000")  # training is under way: the second epoch has begun
    process.send_signal(signal.SIGINT)
    status, err = finish(process)
    assert (status, err) == (130, nothing_written(out))
    assert outcome(out, old, new) == "old"


STAGED = re.compile(r"^\.\w+\.\d+\.partial\.\w+$")  # .training.1234.partial.png: an output written, not yet renamed


def interrupt_after(process: subprocess.Popen[str], out: Path, step: int, delay: float, log: list[str]) -> None:
    """SIGINT `delay` seconds after the `step`-th output file is written to its temporary file
    in `out` (1: the model, 2: the plot, 3: the graph), or after the summary line (step 4)."""
    wait_for_line(process, "epoch 1/1")
    if step == 4:
        wait_for_line(process, "  graph.")
    else:
        seen: set[str] = set()
        while len(seen) < step and process.poll() is None:
            seen.update(p.name for p in out.iterdir() if STAGED.match(p.name))
            time.sleep(0.001)
        log.append(f"step {step}: saw {sorted(seen)}")
    time.sleep(delay)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)


def test_ctrl_c_at_each_step_of_writing_the_outputs(runs, tmp_path: Path) -> None:
    _, old, new = runs
    rng = random.Random()
    steps = [1, 2, 3, 4]
    delays = [rng.uniform(0, 0.02) for _ in steps]
    folders = [previous_outputs(runs, tmp_path, f"out{step}") for step in steps]
    processes = [start(folder, epochs=1) for folder in folders]
    log: list[str] = []
    watchers = [
        threading.Thread(target=interrupt_after, args=(p, folder, step, delay, log))
        for p, folder, step, delay in zip(processes, folders, steps, delays)
    ]
    for watcher in watchers:
        watcher.start()
    for watcher in watchers:
        watcher.join(TIMEOUT)
    results = []
    for step, process, folder in zip(steps, processes, folders):
        status, err = finish(process)
        result = outcome(folder, old, new)
        results.append((step, status, result))
        assert "Traceback" not in err and "Exception ignored" not in err, err
        if result == "old":
            assert (status, err) == (130, nothing_written(folder))
        elif status == 130:  # interrupted once the new outputs were in place
            assert err in (
                f"\ntinygrad-edu train: interrupted; the new outputs were all written to {folder} first\n",
                "\ntinygrad-edu train: interrupted\n",
            ), err
        else:  # the signal came after the command had ended
            assert (status, err) == (0, "")
    print(f"\n(step, exit status, outputs) with delays {[round(d, 3) for d in delays]}: {results}; {log}")
    # The model and the plot were written while later outputs were still to come: always the old set.
    assert [r for r in results if r[0] in (1, 2)] == [(1, 130, "old"), (2, 130, "old")]
