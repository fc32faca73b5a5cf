"""Output files checked before any work starts, then written as one set: all new or all old.

A command names its output files up front. `OutputSet` checks each one at once: it creates
the folder, writes and removes a test file there, and refuses a folder where a file should go
or a file where a folder should go, with one line and exit status 2 (`UsageError`). So a bad
`--out` fails in a second, not after an hour of training. Then:

    with OutputSet({"--out": [out / "model.npz", out / "training.png"]}) as outputs:
        history = train(...)                                  # the work
        tg.save(state, outputs.stage(out / "model.npz"))      # each file written to a temporary
        plot(history, outputs.stage(out / "training.png"))    # file beside it...
    # ...and, when the block ends without an error, every temporary file renamed over its target

What a user finds after Ctrl-C, or any error, at any moment:

- During the work, or while the files are being written: the previous outputs, untouched;
  no temporary file (each is removed); no new empty folder (one made by the check is removed).
  The command says "interrupted; nothing was written to ...".
- While the finished files are renamed over the old ones (a few system calls): Ctrl-C is held
  back until every rename is done, so the folder holds the complete new set; then the command
  says "interrupted; the new outputs were all written to ... first".

So the outputs are the old set or the new set, never a mix, and every file is complete. Not
covered: a process killed outright (SIGKILL, a power cut) in the microseconds between two
renames can leave a mix; its temporary files (`.NAME.PID.partial.SUFFIX`) are removed by the
next run that writes NAME in that folder.

>>> import pathlib, tempfile
>>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> with OutputSet({"--out": [out / "notes.txt"]}) as outputs:
...     _ = outputs.stage(out / "notes.txt").write_text("new")
>>> (out / "notes.txt").read_text(), sorted(p.name for p in out.iterdir())
('new', ['notes.txt'])
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType

from tinygrad_edu.cli.errors import CommandError, UsageError
from tinygrad_edu.files import process_exists, sync_directory

__all__ = ["OutputSet"]

_PARTIAL = ".partial"  # temporary files are named .STEM.PID.partial.SUFFIX, beside their target


class OutputSet:
    """The files one command run writes; see the module's docstring for what each moment leaves.

    `targets` maps the option that named the files (for messages, e.g. "--out") to the files.
    Construction checks them all and raises `UsageError` (exit status 2) at the first that
    cannot be written. Use the set as a context manager and write each file to
    `stage(target)`; the set is committed when the block ends without an error.
    """

    def __init__(self, targets: Mapping[str, Iterable[str | os.PathLike[str]]]) -> None:
        self._targets: dict[Path, str] = {}  # target -> the option that named it
        self._staged: dict[Path, Path] = {}  # target -> its temporary file
        self._stands_in_for: dict[Path, Path] = {}  # target -> the declared target it replaces
        self._created: list[Path] = []  # folders the check made, outermost first
        self.committed = False
        probed: set[Path] = set()
        try:
            for option, paths in targets.items():
                for path in map(Path, paths):
                    self._targets[path] = option
                    self._check(path, option, probed)
        except BaseException:
            self._remove_created_folders()
            raise

    # ------------------------------------------------------------ checks, before any work

    def _check(self, path: Path, option: str, probed: set[Path]) -> None:
        folder = path.parent
        try:
            if path.is_dir():
                raise UsageError(f"{option}: {path} is a folder, so a file cannot be written there")
            # The nearest folder that exists; "." or "/" at worst.
            existing = next(p for p in (folder, *folder.parents) if p.exists() or p == Path(p.anchor))
            if not existing.is_dir():
                raise UsageError(f"{option}: {existing} is a file, where a folder is expected")
            missing = [p for p in (folder, *folder.parents) if p != existing and existing in p.parents]
        except OSError as error:
            raise UsageError(f"{option}: cannot check {path} ({error.strerror or error})") from None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"{option}: cannot create the folder {folder} ({error.strerror or error})") from None
        self._created.extend(reversed(missing))
        if folder not in probed:
            probed.add(folder)
            try:  # the only reliable test of "can I write here" is to write (permissions, ACLs, read-only mounts)
                fd, probe = tempfile.mkstemp(dir=folder, prefix=".tinygrad-edu-write-test-")
                os.close(fd)
                os.unlink(probe)
            except OSError as error:
                raise UsageError(f"{option}: cannot write in the folder {folder} ({error.strerror or error})") from None

    # ------------------------------------------------------------ writing

    def stage(self, target: str | os.PathLike[str], *, instead_of: str | os.PathLike[str] | None = None) -> Path:
        """The temporary file to write `target` to; it replaces `target` when the set is committed.

        `instead_of`: a declared target that this one stands in for, in the same folder (e.g.
        `graph.dot` when `graph.svg` cannot be rendered); an old file of that name is removed
        with the commit, so that the folder never mixes two runs.
        """
        target = Path(target)
        declared = target if instead_of is None else Path(instead_of)
        if declared not in self._targets or declared.parent != target.parent:
            raise ValueError(f"OutputSet.stage: {target} is not one of the files checked: {list(self._targets)}")
        if instead_of is not None:
            self._stands_in_for[target] = declared
        self._remove_orphans(target)
        temporary = target.with_name(f".{target.stem}.{os.getpid()}{_PARTIAL}{target.suffix}")
        self._staged[target] = temporary
        return temporary

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            try:
                self._commit()
                return
            except KeyboardInterrupt:
                if self.committed:
                    raise KeyboardInterrupt(f"the new outputs were all written to {self._where()} first") from None
                error = KeyboardInterrupt()
            except BaseException:
                self._discard()
                raise
        self._discard()
        if isinstance(error, KeyboardInterrupt) and not error.args:
            raise KeyboardInterrupt(
                f"nothing was written to {self._where()} (what was there before is untouched)"
            ) from None

    def _commit(self) -> None:
        try:
            for temporary in self._staged.values():  # on disk before a rename makes it visible
                with open(temporary, "rb") as file:
                    os.fsync(file.fileno())
            with _interrupts_held():
                for target, temporary in self._staged.items():
                    os.replace(temporary, target)
                for target, declared in self._stands_in_for.items():
                    if declared not in self._staged and declared != target:
                        declared.unlink(missing_ok=True)  # the other form of this output, from an earlier run
                self.committed = True
                for folder in {target.parent for target in self._staged}:
                    sync_directory(folder)
        except OSError as error:  # a full disk, a folder removed under us: say so, not a traceback
            raise CommandError(f"could not write the outputs to {self._where()}: {error}") from None

    def _discard(self) -> None:
        with _interrupts_held():  # a second Ctrl-C must not leave half the temporary files behind
            for temporary in self._staged.values():
                with contextlib.suppress(OSError):
                    temporary.unlink(missing_ok=True)
                # tinygrad_edu.save (and others) write their own temporary beside the file
                # they were given and remove it on an error; nothing else can be left.
            self._staged.clear()
            self._remove_created_folders()

    def _remove_created_folders(self) -> None:
        for folder in reversed(self._created):  # innermost first; only while they are empty
            try:
                folder.rmdir()
            except OSError:
                break
        self._created.clear()

    def _remove_orphans(self, target: Path) -> None:
        """Remove temporary files of `target` left by runs that were killed outright."""
        if os.name != "posix":  # os.kill(pid, 0) probes a process only on POSIX
            return
        head, tail = f".{target.stem}.", f"{_PARTIAL}{target.suffix}"
        for path in target.parent.glob(glob.escape(head) + "*" + glob.escape(tail)):
            pid = path.name[len(head) : -len(tail)]
            if pid.isdigit() and int(pid) != os.getpid() and not process_exists(int(pid)):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _where(self) -> str:
        """The folders written to, or the file when it is the only one in its folder."""
        by_folder: dict[Path, list[Path]] = {}
        for target in self._targets:
            by_folder.setdefault(target.parent, []).append(target)
        return ", ".join(str(files[0] if len(files) == 1 else folder) for folder, files in by_folder.items())


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back while the block runs, then deliver it: for steps that must all
    happen once they have started. Python runs signal handlers in the main thread only, so in
    another thread there is nothing to hold."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield  # (None: a handler installed outside Python, which we could not put back)
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and callable(previous):
        previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
