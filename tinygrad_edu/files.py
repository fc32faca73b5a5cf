"""Two small file-system helpers shared by everything that writes files atomically (checkpoints,
the command's outputs): write to a temp file beside the target, rename it over the target, then
make the rename durable. A temp file carries its writer's process id, so a later writer can tell
an orphan of a killed process from a file another process is still writing.
"""

from __future__ import annotations

import os


def process_exists(pid: int) -> bool:
    """True when a process with this id is running (or we are not allowed to ask)."""
    try:
        os.kill(pid, 0)  # signal 0: no signal is sent, only whether the process exists is checked
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a pid we cannot even ask about): not ours to judge
    return True


def sync_directory(directory: str | os.PathLike[str]) -> None:
    """Make renames in `directory` durable (POSIX): without this a power cut could undo them."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
