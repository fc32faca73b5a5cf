"""`save` and `load`: state dicts as `.npz` files, never pickle.

A checkpoint is a NumPy `.npz` archive (a zip file with one `.npy` member per entry), so any
NumPy reads it, and loading it cannot run code. Saving is atomic: the archive is written to a
temporary file next to the target and renamed over it, so a crash or a kill mid-save leaves the
previous file intact; the next save of the same path removes what a killed save left behind.

`load` trusts nothing in the file: every size it reads is checked against the file's own size
before anything is allocated, every entry's CRC-32 is checked, and any damage (a truncated
file, a flipped bit, an edited header) raises `CheckpointError`, never another exception and
never a dict with an entry missing.

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

import contextlib
import math
import os
import re
import secrets
import struct
import zipfile
import zlib
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from tinygrad_edu.factories import from_numpy
from tinygrad_edu.files import process_exists, sync_directory
from tinygrad_edu.tensor import Tensor

PathLike = str | os.PathLike
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or the end record of an empty zip
_LOCAL_HEADER = 30  # bytes of a zip member's fixed local header; its name and extra field follow
_DEFLATE_MAX_RATIO = 1032  # deflate never inflates one byte into more than this (zlib's technical notes)
_CHUNK = 1 << 20

# What damaged zip or .npy bytes make zipfile, zlib, struct and NumPy's header parser raise. Each one
# was seen in the bit-flip test (tests/test_serialization.py): NotImplementedError for a flipped
# compression method or zip version, RuntimeError for a flipped "encrypted" bit, and so on.
_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    ValueError,  # UnicodeDecodeError of a member name too
    TypeError,  # a .npy header whose dtype NumPy does not understand
    KeyError,
    IndexError,
    OverflowError,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
)


class CheckpointError(ValueError):
    """A file that is not a valid checkpoint: truncated, corrupted, tampered with, or not an .npz."""


# ---------------------------------------------------------------- save


def save(obj: Mapping[str, Any], path: PathLike) -> None:
    """Write a dict of name -> Tensor (or array, or number), such as `model.state_dict()`, to
    `path` as an `.npz` archive, atomically. The path is used as given (no suffix is added).

    Names must stay distinct inside the archive, where the entry `w` is the member `w.npy`: a
    name ending in ".npy" (`"w"` and `"w.npy"` would collide on loading), a path separator or a
    NUL character is refused.

    >>> import os, tempfile
    >>> save({"w": np.zeros(2), "w.npy": np.ones(2)}, os.path.join(tempfile.mkdtemp(), "m.npz"))
    Traceback (most recent call last):
    ...
    ValueError: save: the name 'w.npy' ends in '.npy', which the .npz format drops on loading ...
    """
    if hasattr(obj, "state_dict") and not isinstance(obj, Mapping):
        raise TypeError(
            f"save: pass {type(obj).__name__}.state_dict(), not the {type(obj).__name__} itself; "
            "tinygrad_edu saves arrays, never pickled objects"
        )
    if not isinstance(obj, Mapping):
        raise TypeError(f"save: expected a dict of name -> Tensor such as model.state_dict(), got {type(obj).__name__}")
    arrays = {}
    for name, value in obj.items():
        _check_name(name)
        array = value.data if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"save: entry {name!r} has dtype {array.dtype}; only numeric arrays can be saved")
        arrays[name] = array
    path = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(path))
    _remove_orphans(directory, base)
    # The writer's process id is in the name, so that a later save can tell an orphan (its writer
    # was killed) from the temporary file of a save still running in another process.
    temporary = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
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
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    sync_directory(directory)


def _check_name(name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"save: keys must be strings, got {name!r} ({type(name).__name__})")
    if name.endswith(".npy"):
        raise ValueError(
            f"save: the name {name!r} ends in '.npy', which the .npz format drops on loading (so {name!r} "
            f"would be read back as {name[:-4]!r}); rename it, e.g. {name[:-4] + '_npy'!r}"
        )
    for character, what in (("/", "a '/'"), ("\\", "a '\\'"), ("\0", "a NUL character")):
        if character in name:
            raise ValueError(
                f"save: the name {name!r} contains {what}; .npz member names cannot hold it safely "
                "(zip tools read '/' and '\\' as folders, and a NUL ends the name). Use '.' as in model.state_dict()"
            )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"save: the name {name!r} is not valid Unicode text (it has a lone surrogate)") from None


def _remove_orphans(directory: str, base: str) -> None:
    """Delete the temporary files that killed saves of `base` left in `directory`."""
    if os.name != "posix":  # there, os.kill(pid, 0) only asks whether pid runs; elsewhere it can kill
        return
    pattern = re.compile(rf"\.{re.escape(base)}\.(\d+)\.[0-9a-f]{{12}}\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.listdir(directory):
            match = pattern.fullmatch(entry)
            if match and not process_exists(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(directory, entry))


# ---------------------------------------------------------------- load


def load(path: PathLike) -> dict[str, Tensor]:
    """Read a checkpoint written by `save` (or `np.savez`): a dict of name -> Tensor, in the saved order.

    Every array is read, and its CRC-32 checked, here, so a truncated or tampered file fails now
    with `CheckpointError`, not later. Pickled data is refused.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:  # FileNotFoundError and the like pass through as they are
        magic = file.read(len(_NPY_MAGIC))
        if magic.startswith(_NPY_MAGIC):
            raise CheckpointError(
                f"load: {path} holds a single .npy array, not a state dict (.npz); write it with tinygrad_edu.save"
            )
        if not magic.startswith(_ZIP_MAGICS):
            raise _corrupt(path, "it does not start like an .npz (zip) archive")
        try:
            arrays = _read_archive(file)
        except CheckpointError as error:
            raise _corrupt(path, str(error)) from None
        except _DAMAGE as error:
            raise _corrupt(path, str(error) or type(error).__name__) from None
    return {name: from_numpy(array) for name, array in arrays.items()}


def _read_archive(file: IO[bytes]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(file) as archive:
        members = archive.infolist()
        _check_layout(file, members, archive.start_dir)
        for info in members:
            if not info.filename.endswith(".npy"):
                raise CheckpointError(f"member {info.filename!r} is not a numeric array (.npy)")
            name = info.filename[:-4]
            if name in arrays:
                raise CheckpointError(f"two entries are named {name!r}")
            if info.compress_type == zipfile.ZIP_STORED:
                plausible = info.file_size == info.compress_size
            else:  # compressed (np.savez_compressed): deflate's ratio bounds what the stored bytes inflate to
                plausible = info.file_size <= _DEFLATE_MAX_RATIO * info.compress_size + 64
            if not plausible:
                raise CheckpointError(
                    f"entry {name!r} claims {info.file_size} bytes, but {info.compress_size} bytes are stored for it"
                )
            with archive.open(info) as member:
                arrays[name] = _read_npy(member, name, info.file_size)
    return arrays


def _check_layout(file: IO[bytes], members: list[zipfile.ZipInfo], directory_start: int) -> None:
    """The members must fill the file from its first byte to the central directory, each right after
    the previous one: then no entry can be missing from the directory (a flipped bit in a length
    field can make zipfile skip one), and no two entries can share bytes."""
    ordered = sorted(members, key=lambda info: info.header_offset)
    ends = [info.header_offset for info in ordered[1:]] + [directory_start]
    position = 0
    for info, next_start in zip(ordered, ends):
        if info.header_offset != position:
            raise CheckpointError(
                f"member {info.filename!r} starts at byte {info.header_offset}, but the one before it ends at "
                f"byte {position}: the archive's directory does not describe its contents"
            )
        file.seek(position)
        header = file.read(_LOCAL_HEADER)
        if len(header) != _LOCAL_HEADER or not header.startswith(b"PK\x03\x04"):
            raise CheckpointError(f"member {info.filename!r} has no local header at byte {position}")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        position += _LOCAL_HEADER + name_length + extra_length + info.compress_size
        # A writer that could not seek back puts the CRC and sizes after the data (12 to 24 bytes).
        if info.flag_bits & 0x08 and next_start - position in (12, 16, 20, 24):
            position = next_start
    if position != directory_start:
        raise CheckpointError(
            f"the members end at byte {position} but the archive's directory starts at byte {directory_start}: "
            "the directory does not describe the archive's contents"
        )


def _read_npy(member: IO[bytes], name: str, stored_size: int) -> np.ndarray:
    """One `.npy` member: its header checked against the bytes it holds before anything is allocated."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise CheckpointError(f"entry {name!r} is a .npy file of version {version}, which is not read here")
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None or dtype.shape != ():
        reason = " (refused: unpickling can run arbitrary code)" if dtype.hasobject else ""
        raise CheckpointError(f"entry {name!r} is not a numeric array: dtype {dtype}{reason}")
    nbytes = math.prod(shape) * dtype.itemsize
    if member.tell() + nbytes != stored_size:
        raise CheckpointError(
            f"entry {name!r} announces shape {shape} of {dtype} ({nbytes} bytes), but holds "
            f"{stored_size - member.tell()} bytes of data"
        )
    flat = np.empty(nbytes, dtype=np.uint8)
    view, done = memoryview(flat), 0
    while done < nbytes:  # in chunks, so that no second copy of a large array is ever made
        read = member.readinto(view[done : done + _CHUNK])
        if not read:
            raise CheckpointError(f"entry {name!r} ends after {done} of its {nbytes} bytes")
        done += read
    member.read(1)  # reach the member's end, where zipfile checks its CRC-32
    array = flat.view(dtype).reshape(shape, order="F" if fortran_order else "C")
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def _corrupt(path: str, reason: str) -> CheckpointError:
    return CheckpointError(
        f"load: {path} is not a valid tinygrad_edu checkpoint: {reason}. The file is truncated, corrupted or "
        "was modified after saving (or is not an .npz written by tinygrad_edu.save); save it again."
    )
