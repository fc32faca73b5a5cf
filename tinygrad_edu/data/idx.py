"""IDX files (the format of MNIST and Fashion-MNIST), gzip or raw, read with bounded memory.

An IDX file is two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
each dimension as a big-endian uint32, then the data in C order. The header announces the size
of the data, so the reader never takes more than it announces (plus one byte, to notice extra
data) and, with `max_bytes`, never more than the caller knows the file can hold: a small gzip
file that inflates to gigabytes is refused after `max_bytes + 1` bytes.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["DatasetError", "read_idx"]

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIMS = 64  # NumPy's limit; the IDX files in use have 1 to 4
_CHUNK = 1 << 20


class DatasetError(ValueError):
    """A data file that is not what it should be: wrong header, size, count or checksum."""


def read_idx(path: str | os.PathLike, *, max_bytes: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip or raw, told apart by its first bytes) into an array of the shape
    and dtype its header gives. With `max_bytes`, a file whose content (after gunzipping) is
    larger is refused without being read further.

    >>> import gzip, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    >>> read_idx(path)
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    _, array, _ = read_idx_content(Path(path), max_bytes)
    return array


def read_idx_content(path: Path, max_bytes: int | None = None) -> tuple[int, np.ndarray, bytearray]:
    """(magic number, array, the file's IDX bytes) of the IDX file `path`; the array is a view of those bytes."""
    with open(path, "rb") as file:
        compressed = file.read(2) == _GZIP_MAGIC
        file.seek(0)
        stream: BinaryIO = gzip.GzipFile(fileobj=file) if compressed else file  # type: ignore[assignment]
        file_size = None if compressed else os.fstat(file.fileno()).st_size
        try:
            content, magic, dtype, dims, size = _read_header(stream, path, max_bytes, file_size)
            _append(stream, content, size - len(content) + 1)  # one byte more than announced shows extra data
        except (OSError, EOFError, zlib.error) as error:
            if not compressed:
                raise
            raise DatasetError(
                f"{path}: corrupt gzip file ({error}); it is probably truncated or damaged. "
                "Delete it and download it again (load_mnist(..., download=True) re-fetches it)."
            ) from None
    if len(content) != size:
        if len(content) < size:
            problem = f"but the {'content' if compressed else 'file'} has only {len(content)}: it is truncated"
        elif compressed:
            problem = "but the file inflates to more than that (reading stopped one byte past it)"
        else:
            problem = f"but the file has {file_size}: it has extra bytes at the end"
        raise DatasetError(
            f"{path}: the IDX header says shape {dims} of {dtype.itemsize}-byte items, i.e. {size} bytes, "
            f"{problem}. Delete it and download it again."
        )
    array = np.frombuffer(content, dtype=dtype, offset=size - math.prod(dims) * dtype.itemsize).reshape(dims)
    # Multi-byte IDX items are big-endian; hand back native order so arithmetic on them is fast.
    return magic, array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("=")), content


def _read_header(
    stream: BinaryIO, path: Path, max_bytes: int | None, file_size: int | None
) -> tuple[bytearray, int, np.dtype, tuple[int, ...], int]:
    """(header bytes, magic, dtype, dims, size in bytes of the whole file's content), after checking
    that the size the header announces fits in `max_bytes` and in the file."""
    content = bytearray()
    _append(stream, content, 4)
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _IDX_DTYPES:
        head = " ".join(f"{b:02x}" for b in content[:4])
        raise DatasetError(
            f"{path}: not an IDX file: it starts with bytes [{head}], but an IDX file starts with two zero "
            "bytes, a type code (08 for unsigned bytes) and the number of dimensions, e.g. 00 00 08 03 for "
            "MNIST images. Is it an HTML error page or a file of another format?"
        )
    ndim = content[3]
    if ndim > _MAX_DIMS:
        raise DatasetError(
            f"{path}: the IDX header announces {ndim} dimensions, but an array has at most {_MAX_DIMS} "
            "(MNIST files have 1 or 3): the file is corrupt or not an IDX file"
        )
    _append(stream, content, 4 * ndim)
    if len(content) < 4 + 4 * ndim:
        raise DatasetError(
            f"{path}: IDX header is cut short: it announces {ndim} dimensions ({4 + 4 * ndim} header bytes) "
            f"but the {'content' if file_size is None else 'file'} has only {len(content)} bytes"
        )
    magic, dtype, dims, size = _parse_header(content)
    for limit, what in ((max_bytes, "the largest such file there is"), (file_size, "the file's size")):
        if limit is not None and size > limit:
            raise DatasetError(
                f"{path}: the IDX header says shape {dims} of {dtype.itemsize}-byte items, i.e. {size} bytes, "
                f"more than {limit} bytes ({what}): the file is truncated or corrupt. Delete it and download it again."
            )
    return content, magic, dtype, dims, size


def _parse_header(content: bytearray) -> tuple[int, np.dtype, tuple[int, ...], int]:
    """(magic, dtype, dims, total size in bytes) of the header at the start of `content`."""
    (magic,) = struct.unpack(">I", content[:4])
    ndim = content[3]
    dims = struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[content[2]])
    return magic, dtype, dims, 4 + 4 * ndim + math.prod(dims) * dtype.itemsize


def _append(stream: BinaryIO, content: bytearray, count: int) -> None:
    """Read up to `count` more bytes of `stream` onto `content`, a chunk at a time, so that memory
    grows only with what the stream really holds (a gzip bomb stops at `count`)."""
    while count > 0:
        chunk = stream.read(min(count, _CHUNK))
        if not chunk:
            return
        content += chunk
        count -= len(chunk)
