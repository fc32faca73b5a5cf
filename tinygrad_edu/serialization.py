"""`save` and `load`: state dicts as `.npz` files, never pickle.

A checkpoint is a NumPy `.npz` archive with one array per entry, so any NumPy can read it and
loading it cannot run code (it is read with `allow_pickle=False`). Saving is atomic: the archive
is written to a temporary file next to the target and renamed over it, so a crash mid-save
leaves the previous file intact, never a half-written one.

>>> import os, tempfile
>>> import numpy as np
>>> import tinygrad_edu as tg
>>> from tinygrad_edu import nn
>>> model = nn.Linear(3, 2)
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> tg.save(model.state_dict(), path)
>>> restored = nn.Linear(3, 2)
>>> restored.load_state_dict(tg.load(path))
IncompatibleKeys(missing_keys=[], unexpected_keys=[])
>>> bool(np.array_equal(restored.weight.data, model.weight.data))
True
"""

from __future__ import annotations

import os
import secrets
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Tensor

PathLike = str | os.PathLike
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or the end record of an empty zip


class CheckpointError(ValueError):
    """A file that is not a valid checkpoint: truncated, corrupted, tampered with, or not an .npz."""


def save(obj: Mapping[str, Any], path: PathLike) -> None:
    """Write a dict of name -> Tensor (or array, or number), such as `model.state_dict()`, to
    `path` as an `.npz` archive, atomically. The path is used as given (no suffix is added)."""
    if hasattr(obj, "state_dict") and not isinstance(obj, Mapping):
        raise TypeError(
            f"save: pass {type(obj).__name__}.state_dict(), not the {type(obj).__name__} itself; "
            "tinygrad_edu saves arrays, never pickled objects"
        )
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: expected a dict of name -> Tensor such as model.state_dict(), got {type(obj).__name__}")
    arrays = {}
    for name, value in obj.items():
        if not isinstance(name, str):
            raise TypeError(f"save: keys must be strings, got {name!r} ({type(name).__name__})")
        array = value.data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"save: entry {name!r} has dtype {array.dtype}; only numeric arrays can be saved")
        arrays[name] = array
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # os.open applies the umask, so the checkpoint gets the permissions of any newly created file.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            # Written member by member (what np.savez does), so that no key can clash with
            # np.savez's own argument names, and with allow_pickle=False on the writing side too.
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, array in arrays.items():
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the rename makes it visible
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX): without this a power cut could undo it."""
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


def load(path: PathLike) -> dict[str, Tensor]:
    """Read a checkpoint written by `save`: a dict of name -> Tensor, in the saved order.

    Every array is read (and its checksum checked) here, so a truncated or tampered file fails
    now with `CheckpointError`, not later. Pickled data is refused.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:  # FileNotFoundError and the like pass through as they are
        magic = file.read(len(_NPY_MAGIC))
    if magic.startswith(_NPY_MAGIC):
        raise CheckpointError(
            f"load: {path} holds a single .npy array, not a state dict (.npz); write it with tinygrad_edu.save"
        )
    if not magic.startswith(_ZIP_MAGICS):
        raise _corrupt(path, ValueError("it does not start like an .npz (zip) archive"))
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise _corrupt(path, error) from None
    result = {}
    with archive:
        try:
            for name in archive.files:
                array = archive[name]
                if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
                    raise ValueError(f"entry {name!r} is not a numeric array")
                result[name] = Tensor(array)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
            raise _corrupt(path, error) from None
    return result


def _corrupt(path: str, error: Exception) -> CheckpointError:
    reason = str(error) or type(error).__name__
    if "pickle" in reason:
        reason += " (refused: unpickling can run arbitrary code)"
    return CheckpointError(
        f"load: {path} is not a valid tinygrad_edu checkpoint: {reason}. The file is truncated, corrupted or "
        "was modified after saving (or is not an .npz written by tinygrad_edu.save); save it again."
    )
