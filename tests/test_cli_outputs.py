"""Output paths checked before any work, and outputs written as a set (`tinygrad_edu.cli.outputs`).

Regressions of issue 10, item 11: `train --out PATH` with an unwritable PATH, or with a file
where the folder should be, trained every epoch and then died with a traceback, losing the
model; `graph --out` to an unwritable path was a traceback. Now each fails at once, before
any training, with one line and exit status 2. The real Ctrl-C tests are in
test_cli_interrupt.py; here the set's mechanics are checked in-process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinygrad_edu.cli import main
from tinygrad_edu.cli.errors import CommandError
from tinygrad_edu.cli.outputs import OutputSet


@pytest.fixture
def unwritable(tmp_path: Path):
    """A folder in which no file can be created, with the reasons the system gives for creating
    a file and a folder there. Root may write almost anywhere, so for root it is sysfs."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
    else:
        folder = Path("/sys/kernel")
        if not folder.is_dir():
            pytest.skip("running as root and there is no /sys/kernel to be refused by")
    reasons = []
    for attempt in (lambda: (folder / "probe").write_bytes(b""), lambda: (folder / "sub").mkdir()):
        try:
            attempt()
        except OSError as error:
            reasons.append(error.strerror)
        else:
            pytest.skip(f"{folder} turned out to be writable here")
    yield folder, reasons[0], reasons[1]
    if os.geteuid() != 0:
        folder.chmod(0o700)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, float]:
    start = time.perf_counter()
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err, time.perf_counter() - start


# ---------------------------------------------------------------- train --out, before any training


def test_train_out_is_an_existing_file(tmp_path: Path, capsys) -> None:
    existing = tmp_path / "results"
    existing.write_text("my notes")
    status, out, err, seconds = run(["train", "--out", str(existing)], capsys)
    assert status == 2
    assert err == f"tinygrad-edu train: error: --out: {existing} is a file, where a folder is expected\n"
    assert out == ""  # not one epoch was trained (the default run prints a line per epoch)
    assert existing.read_text() == "my notes"
    assert seconds < 1.0


def test_train_out_below_an_existing_file(tmp_path: Path, capsys) -> None:
    existing = tmp_path / "results"
    existing.write_text("my notes")
    status, out, err, _ = run(["train", "--out", str(existing / "run1")], capsys)
    assert (status, out) == (2, "")
    assert err == f"tinygrad-edu train: error: --out: {existing} is a file, where a folder is expected\n"


def test_train_out_in_an_unwritable_folder(unwritable, capsys) -> None:
    folder, cannot_write, _ = unwritable
    status, out, err, seconds = run(["train", "--out", str(folder)], capsys)
    assert (status, out) == (2, "")
    assert err == f"tinygrad-edu train: error: --out: cannot write in the folder {folder} ({cannot_write})\n"
    assert seconds < 1.0


def test_train_out_cannot_be_created(unwritable, capsys) -> None:
    folder, _, cannot_create = unwritable
    status, out, err, _ = run(["train", "--out", str(folder / "run1")], capsys)
    assert (status, out) == (2, "")
    assert err == f"tinygrad-edu train: error: --out: cannot create the folder {folder / 'run1'} ({cannot_create})\n"


def test_train_out_holds_a_folder_named_like_an_output(tmp_path: Path, capsys) -> None:
    (tmp_path / "model.npz").mkdir()
    status, out, err, _ = run(["train", "--out", str(tmp_path)], capsys)
    assert (status, out) == (2, "")
    folder = tmp_path / "model.npz"
    assert err == f"tinygrad-edu train: error: --out: {folder} is a folder, so a file cannot be written there\n"


def test_folders_made_by_the_check_are_removed_when_the_command_fails(tmp_path: Path, capsys) -> None:
    out = tmp_path / "new" / "deeper"
    status, _, err, _ = run(
        ["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "no-data"), "--out", str(out)], capsys
    )
    assert status == 1 and "does not exist" in err
    assert list(tmp_path.iterdir()) == []  # neither new/ nor new/deeper is left behind


# ---------------------------------------------------------------- graph --out


def test_graph_out_in_an_unwritable_folder(unwritable, capsys) -> None:
    folder, cannot_write, _ = unwritable
    status, out, err, _ = run(["graph", "--out", str(folder / "graph.svg")], capsys)
    assert (status, out) == (2, "")
    assert err == f"tinygrad-edu graph: error: --out: cannot write in the folder {folder} ({cannot_write})\n"


def test_graph_out_in_a_folder_that_cannot_be_created(unwritable, capsys) -> None:
    folder, _, cannot_create = unwritable
    status, _, err, _ = run(["graph", "--out", str(folder / "pictures" / "graph.svg")], capsys)
    assert status == 2
    assert (
        err == f"tinygrad-edu graph: error: --out: cannot create the folder {folder / 'pictures'} ({cannot_create})\n"
    )


def test_graph_out_is_a_folder(tmp_path: Path, capsys) -> None:
    status, _, err, _ = run(["graph", "--format", "dot", "--out", str(tmp_path)], capsys)
    assert status == 2
    assert err == f"tinygrad-edu graph: error: --out: {tmp_path} is a folder, so a file cannot be written there\n"


def test_graph_replaces_its_file_whole(tmp_path: Path, capsys) -> None:
    out = tmp_path / "g.gv"
    out.write_text("old")
    assert main(["graph", "--format", "dot", "--out", str(out)]) == 0
    assert out.read_text().startswith("digraph") and sorted(p.name for p in tmp_path.iterdir()) == ["g.gv"]


# ---------------------------------------------------------------- the set, in-process


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def old_outputs(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "a.txt").write_text("old a")
    (folder / "b.txt").write_text("old b")
    return folder


def test_the_set_is_written_when_the_block_ends(old_outputs: Path) -> None:
    with OutputSet({"--out": [old_outputs / "a.txt", old_outputs / "b.txt"]}) as outputs:
        outputs.stage(old_outputs / "a.txt").write_text("new a")
        outputs.stage(old_outputs / "b.txt").write_text("new b")
        assert files(old_outputs)["a.txt"] == b"old a"  # nothing visible before the end
    assert files(old_outputs) == {"a.txt": b"new a", "b.txt": b"new b"}
    assert outputs.committed


def test_an_error_while_writing_leaves_the_old_set(old_outputs: Path) -> None:
    with pytest.raises(ValueError, match="a writer failed"):
        with OutputSet({"--out": [old_outputs / "a.txt", old_outputs / "b.txt"]}) as outputs:
            outputs.stage(old_outputs / "a.txt").write_text("new a")
            raise ValueError("a writer failed")
    assert files(old_outputs) == {"a.txt": b"old a", "b.txt": b"old b"}  # and no temporary file


def test_ctrl_c_while_writing_leaves_the_old_set_and_says_so(old_outputs: Path) -> None:
    with pytest.raises(KeyboardInterrupt) as info:
        with OutputSet({"--out": [old_outputs / "a.txt", old_outputs / "b.txt"]}) as outputs:
            outputs.stage(old_outputs / "a.txt").write_text("new a")
            raise KeyboardInterrupt
    assert str(info.value) == f"nothing was written to {old_outputs} (what was there before is untouched)"
    assert files(old_outputs) == {"a.txt": b"old a", "b.txt": b"old b"}


def test_ctrl_c_during_the_renames_is_held_until_the_set_is_complete(old_outputs: Path, monkeypatch) -> None:
    """A real SIGINT to this process between the first and the second rename."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("the test runner handles SIGINT itself")
    replace = os.replace
    renamed = []

    def replace_then_interrupt(source, target):
        replace(source, target)
        renamed.append(Path(target).name)
        if len(renamed) == 1:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here, long before the next rename

    monkeypatch.setattr(os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt) as info:
        with OutputSet({"--out": [old_outputs / "a.txt", old_outputs / "b.txt"]}) as outputs:
            outputs.stage(old_outputs / "a.txt").write_text("new a")
            outputs.stage(old_outputs / "b.txt").write_text("new b")
    assert renamed == ["a.txt", "b.txt"]
    assert str(info.value) == f"the new outputs were all written to {old_outputs} first"
    assert files(old_outputs) == {"a.txt": b"new a", "b.txt": b"new b"}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_stand_in_removes_the_old_file_it_replaces(tmp_path: Path) -> None:
    (tmp_path / "graph.svg").write_text("old svg")
    with OutputSet({"--out": [tmp_path / "graph.svg"]}) as outputs:
        outputs.stage(tmp_path / "graph.dot", instead_of=tmp_path / "graph.svg").write_text("digraph {}")
    assert files(tmp_path) == {"graph.dot": b"digraph {}"}  # not a new .dot beside an old .svg


def test_only_checked_files_can_be_staged(tmp_path: Path) -> None:
    with OutputSet({"--out": [tmp_path / "a.txt"]}) as outputs:
        with pytest.raises(ValueError, match="is not one of the files checked"):
            outputs.stage(tmp_path / "elsewhere.txt")
        outputs.stage(tmp_path / "a.txt").write_text("a")


def test_temporary_files_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f".model.{int(dead.stdout)}.partial.npz"
    orphan.write_bytes(b"x" * 1000)
    alive = tmp_path / f".model.{os.getppid()}.partial.npz"  # another run, still going: not ours to remove
    alive.write_bytes(b"y")
    with OutputSet({"--out": [tmp_path / "model.npz"]}) as outputs:
        outputs.stage(tmp_path / "model.npz").write_bytes(b"new")
    assert files(tmp_path) == {f".model.{os.getppid()}.partial.npz": b"y", "model.npz": b"new"}


def test_a_failed_check_removes_the_folders_it_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(Exception, match="is a file, where a folder is expected"):
        OutputSet({"--out": [tmp_path / "made" / "a.txt"], "--trace": [blocker / "b.html"]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_failed_rename_is_a_command_error_not_a_traceback(old_outputs: Path, monkeypatch) -> None:
    def refuse(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(CommandError) as info:
        with OutputSet({"--out": [old_outputs / "a.txt"]}) as outputs:
            outputs.stage(old_outputs / "a.txt").write_text("new a")
    target = old_outputs / "a.txt"
    assert str(info.value) == f"could not write the outputs to {target}: [Errno 28] No space left on device"
    assert files(old_outputs) == {"a.txt": b"old a", "b.txt": b"old b"}  # the temporary file is gone
