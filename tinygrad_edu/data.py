"""Datasets for training: MNIST and Fashion-MNIST (IDX files), scikit-learn's 8×8 digits, a DataLoader.

The 8×8 digits ship with scikit-learn, so they work offline:

>>> from tinygrad_edu.data import DataLoader, load_digits
>>> X_train, y_train, X_test, y_test = load_digits()
>>> X_train.shape, X_train.dtype, y_train.dtype, X_test.shape
((1438, 64), dtype('float32'), dtype('int64'), (359, 64))
>>> loader = DataLoader(X_train, y_train, batch_size=100, seed=0)
>>> len(loader)
15
>>> xb, yb = next(iter(loader))
>>> xb.shape, yb.shape
((100, 64), (100,))

MNIST and Fashion-MNIST come as four IDX files each (gzip or raw). `load_mnist` checks their
header, their size and their SHA-256 against the official files before it returns anything:

    images, labels = load_mnist("../shared/data/mnist", kind="train")  # (60000, 784) float32, (60000,) int64
    images, labels = load_mnist(kind="test", download=True)            # fetched into ~/.cache/tinygrad_edu/mnist
    images, labels = load_mnist("../shared/data/fashion-mnist")        # the same for Fashion-MNIST
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import math
import os
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Tensor

__all__ = [
    "BASE_URLS",
    "SHA256",
    "DataLoader",
    "DatasetError",
    "DownloadError",
    "default_data_dir",
    "download_mnist",
    "load_digits",
    "load_mnist",
    "read_idx",
]

DATASETS = ("mnist", "fashion-mnist")
_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

# (images, labels) file names of each split, without the ".gz" of the distributed files.
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
COUNTS = {"train": 60_000, "test": 10_000}
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801  # IDX: unsigned bytes, 3 dims / 1 dim

# SHA-256 of the official files: (the .gz as distributed, its gunzipped content). The second one
# accepts a raw (gunzipped) copy, or one gzipped again with another header, as the same data.
SHA256: dict[str, dict[str, tuple[str, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        "train-labels-idx1-ubyte": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        "t10k-images-idx3-ubyte": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        "t10k-labels-idx1-ubyte": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        ),
        "train-labels-idx1-ubyte": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        ),
        "t10k-images-idx3-ubyte": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        ),
        "t10k-labels-idx1-ubyte": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    },
}

# Where `download=True` fetches the .gz files from, tried in order (each a folder URL ending in
# "/"). A module-level dict so that tests, or users behind a proxy, can point it elsewhere; the
# `base_urls=` argument of `load_mnist`/`download_mnist` overrides it for one call.
BASE_URLS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror (yann.lecun.com is often down)
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's mirror
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


class DatasetError(ValueError):
    """A data file that is not what it should be: wrong header, size, count or checksum."""


class DownloadError(OSError):
    """Every mirror failed; the message lists each attempt and how to get the files by hand."""


class _ChecksumMismatchError(Exception):
    pass


# ---------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or raw) into an array of the shape and dtype its header gives.

    The IDX format: two zero bytes, a type code (0x08 = unsigned byte), the number of
    dimensions, then each dimension as a big-endian uint32, then the data in C order.

    >>> import gzip, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    >>> read_idx(path)
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    path = Path(path)
    _, array = _parse_idx(_content(path, path.read_bytes()), path)
    return array


def _content(path: Path, blob: bytes) -> bytes:
    """The IDX bytes of a file: gunzipped when it is a gzip file (judged by its first bytes, not its name)."""
    if not blob.startswith(_GZIP_MAGIC):
        return blob
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(
            f"{path}: corrupt gzip file ({error}); it is probably truncated or damaged. "
            "Delete it and download it again (load_mnist(..., download=True) re-fetches it)."
        ) from None


def _parse_idx(raw: bytes, path: Path) -> tuple[int, np.ndarray]:
    """(magic number, array) of the IDX bytes `raw`, refusing a header that does not fit the size."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        head = " ".join(f"{b:02x}" for b in raw[:4])
        raise DatasetError(
            f"{path}: not an IDX file: it starts with bytes [{head}], but an IDX file starts with two zero "
            "bytes, a type code (08 for unsigned bytes) and the number of dimensions, e.g. 00 00 08 03 for "
            "MNIST images. Is it an HTML error page or a file of another format?"
        )
    (magic,) = struct.unpack(">I", raw[:4])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(
            f"{path}: IDX header is cut short: magic 0x{magic:08x} announces {ndim} dimensions "
            f"({header} header bytes) but the file has only {len(raw)} bytes"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        problem = "is truncated" if len(raw) < expected else "has extra bytes at the end"
        raise DatasetError(
            f"{path}: the IDX header says shape {dims} of {dtype.itemsize}-byte items, i.e. {expected} bytes, "
            f"but the data has {len(raw)} bytes: the file {problem}. Delete it and download it again."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    # Multi-byte IDX items are big-endian; hand back native order so arithmetic on them is fast.
    return magic, array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


# ---------------------------------------------------------------- locating and checking files


def default_data_dir(dataset: str = "mnist") -> Path:
    """Where `load_mnist(download=True)` keeps a dataset: `$TINYGRAD_EDU_DATA/<dataset>`, or
    `~/.cache/tinygrad_edu/<dataset>` when that variable is not set.

    >>> default_data_dir("fashion-mnist").name
    'fashion-mnist'
    """
    _check_dataset(dataset)
    root = os.environ.get("TINYGRAD_EDU_DATA") or os.path.join("~", ".cache", "tinygrad_edu")
    return Path(root).expanduser() / dataset


def _check_dataset(dataset: str | None) -> None:
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")


def _candidates(data_dir: Path, name: str) -> list[Path]:
    # The distributed name with and without ".gz", and the "train-images.idx3-ubyte" spelling
    # that some copies of the raw files use.
    dotted = name.replace("-idx", ".idx")
    return [data_dir / f"{name}.gz", data_dir / name, data_dir / f"{dotted}.gz", data_dir / dotted]


def _find(data_dir: Path, name: str) -> Path | None:
    return next((p for p in _candidates(data_dir, name) if p.is_file()), None)


def _how_to_get(data_dir: Path, dataset: str | None) -> str:
    names = ", ".join(f"{n}.gz" for pair in FILES.values() for n in pair)
    which = dataset or "mnist"
    return (
        f"load_mnist expects the four {_TITLES.get(which, which)} IDX files (gzip or raw) in {data_dir}: {names}. "
        f"Get them with load_mnist(..., download=True) or `tinygrad-edu train --dataset {which} --download` "
        f"(they go to {default_data_dir(which)} unless you pass a directory), or copy them there from "
        f"{BASE_URLS[which][0]}"
    )


def _identify(path: Path, blob: bytes, raw: bytes, name: str, dataset: str | None) -> str:
    """Which dataset the file `path` (the IDX file `name`) is a copy of, judged by its SHA-256."""
    blob_digest = hashlib.sha256(blob).hexdigest()
    match = next((c for c in DATASETS if SHA256[c][name][0] == blob_digest), None)
    if match is None:  # not the distributed .gz: maybe a raw copy, or the same data gzipped again
        raw_digest = blob_digest if raw is blob else hashlib.sha256(raw).hexdigest()
        match = next((c for c in DATASETS if SHA256[c][name][1] == raw_digest), None)
    if match is None:
        raise DatasetError(
            f"{path}: unknown SHA-256 {blob_digest}: it is not the official {name} file of MNIST or "
            f"Fashion-MNIST (gzip or raw). The file is corrupt or was changed; delete it and download it "
            "again, or pass verify=False to load it anyway."
        )
    if dataset is not None and match != dataset:
        raise DatasetError(
            f"{path}: this is the {_TITLES[match]} file {name}, but {_TITLES[dataset]} was asked for; "
            f"point data_dir at the {_TITLES[dataset]} files or pass dataset={match!r}"
        )
    return match


def _load_file(path: Path, name: str, magic: int, count: int, verify: bool, dataset: str | None) -> tuple[Any, str]:
    """(array, dataset) of one IDX file, after checking its magic, shape and checksum."""
    blob = path.read_bytes()
    raw = _content(path, blob)
    found_magic, array = _parse_idx(raw, path)
    kind = "image" if magic == IMAGE_MAGIC else "label"
    if found_magic != magic:
        hint = {IMAGE_MAGIC: " (that of an image file)", LABEL_MAGIC: " (that of a label file)"}.get(found_magic, "")
        raise DatasetError(
            f"{path}: magic number 0x{found_magic:08x}{hint}, but an MNIST {kind} file starts with "
            f"0x{magic:08x}; are the image and label files swapped or renamed?"
        )
    expected_shape = (count, 28, 28) if magic == IMAGE_MAGIC else (count,)
    if array.shape != expected_shape:
        raise DatasetError(
            f"{path}: the header says {array.shape[0]} items of shape {array.shape[1:]}, but the official "
            f"{name} file has {count} items of shape {expected_shape[1:]}"
        )
    match = _identify(path, blob, raw, name, dataset) if verify else (dataset or "unverified")
    return array, match


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    kind: str = "train",
    download: bool = False,
    *,
    dataset: str | None = None,
    verify: bool = True,
    base_urls: Sequence[str] | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST or Fashion-MNIST `kind` split ("train" or "test") as `(images, labels)`.

    `images` is float32 `(N, 784)` in [0, 1], `labels` int64 `(N,)` (N = 60000 or 10000). The
    files in `data_dir` may be gzipped or raw. Each file's IDX header and size are checked, and
    (with `verify=True`) its SHA-256 must be that of the official file; the checksum also tells
    MNIST from Fashion-MNIST, so `dataset` ("mnist" or "fashion-mnist") is only needed to insist
    on one, or to say which one to download.

    `data_dir=None` means `default_data_dir(dataset or "mnist")`. With `download=True`, files
    that are missing or fail their checksum are fetched first; `base_urls`, `timeout`, `retries`
    and `backoff` are passed on to `download_mnist`.

        >>> images, labels = load_mnist("../shared/data/mnist", kind="test")  # doctest: +SKIP
        >>> images.shape, images.dtype, labels[:5].tolist()                   # doctest: +SKIP
        ((10000, 784), dtype('float32'), [7, 2, 1, 0, 4])
    """
    if kind not in FILES:
        raise ValueError(f"load_mnist: kind must be 'train' or 'test', got {kind!r}")
    _check_dataset(dataset)
    data_dir = default_data_dir(dataset or "mnist") if data_dir is None else Path(data_dir).expanduser()
    if download:
        download_mnist(
            dataset or "mnist",
            data_dir,
            kinds=(kind,),
            base_urls=base_urls,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )
    if not data_dir.is_dir():
        problem = "is a file, not a directory" if data_dir.exists() else "does not exist"
        raise FileNotFoundError(f"data directory {data_dir} {problem}. {_how_to_get(data_dir, dataset)}")
    image_name, label_name = FILES[kind]
    paths = {name: _find(data_dir, name) for name in (image_name, label_name)}
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        raise FileNotFoundError(
            f"{', '.join(f'{m}(.gz)' for m in missing)} not found in {data_dir}. {_how_to_get(data_dir, dataset)}"
        )
    count = COUNTS[kind]
    images, images_from = _load_file(paths[image_name], image_name, IMAGE_MAGIC, count, verify, dataset)
    labels, labels_from = _load_file(paths[label_name], label_name, LABEL_MAGIC, count, verify, dataset)
    if images_from != labels_from:
        raise DatasetError(
            f"{paths[image_name]} is from {_TITLES[images_from]} but {paths[label_name]} is from "
            f"{_TITLES[labels_from]}; keep each dataset's files in a directory of their own"
        )
    if labels.max() > 9:
        raise DatasetError(f"{paths[label_name]}: labels must be 0-9, found {int(labels.max())}")
    x = images.reshape(count, 28 * 28).astype(np.float32)
    x /= 255.0
    return x, labels.astype(np.int64)


# ---------------------------------------------------------------- downloading


def download_mnist(
    dataset: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    *,
    kinds: Sequence[str] = ("train", "test"),
    base_urls: Sequence[str] | None = None,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    quiet: bool = False,
) -> Path:
    """Fetch the official .gz files of `dataset` into `data_dir` (default `default_data_dir(dataset)`).

    Only files that are missing or fail their checksum are fetched. Each one is streamed into a
    temporary file next to its destination, checked against its SHA-256, and only then moved into
    place with `os.replace`, so an interrupted or corrupted download never leaves a bad file
    behind. Each base URL (from `base_urls`, else `BASE_URLS[dataset]`) is tried up to `retries`
    times, `timeout` seconds per network operation, with exponential `backoff` between attempts;
    a mirror that serves the wrong bytes is left for the next one at once. Returns `data_dir`.

        >>> download_mnist("mnist", kinds=["test"])  # doctest: +SKIP
        PosixPath('/home/me/.cache/tinygrad_edu/mnist')
    """
    _check_dataset(dataset)
    for kind in kinds:
        if kind not in FILES:
            raise ValueError(f"download_mnist: kinds must be 'train' and/or 'test', got {kind!r}")
    if retries < 1:
        raise ValueError(f"download_mnist: retries must be at least 1, got {retries}")
    data_dir = default_data_dir(dataset) if data_dir is None else Path(data_dir).expanduser()
    urls = list(BASE_URLS[dataset] if base_urls is None else base_urls)
    if not urls:
        raise ValueError("download_mnist: no base URLs to download from")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError(
            f"cannot create the data directory {data_dir} ({error}); pass another data_dir, or set "
            "TINYGRAD_EDU_DATA to a writable folder"
        ) from None
    for kind in kinds:
        for name in FILES[kind]:
            existing = _find(data_dir, name)
            found = _official_dataset(existing, name) if existing is not None else None
            if found == dataset:
                continue  # already there and verified
            if found is not None:  # never overwrite the other dataset's good file
                raise DatasetError(
                    f"{existing} is the official {_TITLES[found]} file {name}, but {_TITLES[dataset]} was to be "
                    f"downloaded into {data_dir}; keep each dataset in a directory of its own, or pass "
                    f"dataset={found!r} to use these files"
                )
            _fetch(
                f"{name}.gz", urls, data_dir / f"{name}.gz", SHA256[dataset][name][0], timeout, retries, backoff, quiet
            )
    return data_dir


def _official_dataset(path: Path, name: str) -> str | None:
    """The dataset whose official file `name` this is, or None (corrupt, truncated, unknown)."""
    blob = path.read_bytes()
    try:
        return _identify(path, blob, _content(path, blob), name, None)
    except DatasetError:
        return None


def _fetch(
    filename: str,
    urls: Sequence[str],
    dest: Path,
    sha256: str,
    timeout: float,
    retries: int,
    backoff: float,
    quiet: bool,
) -> None:
    failures: list[str] = []
    for base in urls:
        url = base if base.endswith("/") else base + "/"
        url += filename
        for attempt in range(retries):
            if not quiet:
                print(f"downloading {url} -> {dest}", file=sys.stderr)
            try:
                _download_once(url, dest, sha256, timeout)
                return
            except _ChecksumMismatchError as error:
                failures.append(f"{url}: {error}")
                break  # this mirror serves other bytes; asking again will not change them
            except urllib.error.HTTPError as error:
                failures.append(f"{url}: HTTP {error.code} {error.reason}")
                if 400 <= error.code < 500 and error.code not in (408, 429):
                    break  # not there (404) or forbidden: retrying will not help
            except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out, cut short
                failures.append(f"{url}: {type(error).__name__}: {error}")
            if attempt + 1 < retries and backoff > 0:
                time.sleep(backoff * 2**attempt)
    raise DownloadError(
        f"could not download {filename} to {dest.parent}; attempts:\n  "
        + "\n  ".join(failures)
        + f"\nCheck the network (or a proxy), or download {filename} by hand from one of "
        f"{', '.join(urls)} into {dest.parent}."
    )


def _download_once(url: str, dest: Path, sha256: str, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_edu"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            digest, received = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as f:
                while chunk := response.read(1 << 16):
                    f.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                f.flush()
                os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
            # http.client returns a short body without complaint when the server hangs up early.
            if length is not None and received != int(length):
                raise http.client.IncompleteRead(b"", int(length) - received)
            if digest.hexdigest() != sha256:
                raise _ChecksumMismatchError(f"got SHA-256 {digest.hexdigest()}, expected {sha256}")
            os.replace(tmp, dest)  # atomic: readers see the old file or the complete new one
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


# ---------------------------------------------------------------- the 8x8 digits


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8×8 digits (1797 images, offline) as `(X_train, y_train, X_test, y_test)`.

    X is float32 `(N, 64)` scaled to [0, 1] (the pixels are 0..16), y is int64. The split is
    fixed (same `seed`, same split) and stratified: `test_fraction` of each class is held out,
    1438 training and 359 test images by default.

    >>> X_train, y_train, X_test, y_test = load_digits()
    >>> float(X_train.min()), float(X_train.max()), sorted(set(y_test.tolist())) == list(range(10))
    (0.0, 1.0, True)
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError(
            "load_digits needs scikit-learn (the digits ship with it): pip install 'tinygrad_edu[data]' "
            "or pip install scikit-learn"
        ) from None
    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits: test_fraction must be between 0 and 1, got {test_fraction}")
    bunch = sklearn_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):  # the same share of every class in the test set
        members = rng.permutation(np.flatnonzero(y == label))
        test[members[: round(test_fraction * len(members))]] = True
    return X[~test], y[~test], X[test], y[test]


# ---------------------------------------------------------------- batches


class DataLoader:
    """Mini-batches of `(X, y)` as `(Tensor, Tensor)` pairs, reshuffled on every pass.

    `len(loader)` is the number of batches per pass; the last one is smaller unless
    `drop_last=True`. With `seed`, the sequence of passes is the same on every run; without it,
    the order comes from tinygrad_edu's generator, so `tinygrad_edu.manual_seed` fixes it too.

    >>> import numpy as np
    >>> loader = DataLoader(np.arange(10.0).reshape(5, 2), np.arange(5), batch_size=2, shuffle=False)
    >>> len(loader), [yb.tolist() for _, yb in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        batch_size: int,
        shuffle: bool = True,
        seed: int | None = None,
        drop_last: bool = False,
    ) -> None:
        self.X = X.data if isinstance(X, Tensor) else np.asarray(X)
        self.y = y.data if isinstance(y, Tensor) else np.asarray(y)
        if self.X.ndim == 0 or self.y.ndim == 0 or len(self.X) != len(self.y):
            raise ValueError(
                f"DataLoader: X and y need the same number of samples (first dimension), got shapes "
                f"{self.X.shape} and {self.y.shape}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n, b = len(self.X), self.batch_size
        order = None
        if self.shuffle:
            from tinygrad_edu.factories import default_generator

            order = (self._rng or default_generator()).permutation(n)
        for start in range(0, len(self) * b, b):
            if order is None:
                # Copies, so that changing a batch in place cannot change the dataset.
                xb, yb = self.X[start : start + b].copy(), self.y[start : start + b].copy()
            else:
                index = order[start : start + b]
                xb, yb = self.X[index], self.y[index]  # fancy indexing copies already
            yield Tensor._wrap(xb), Tensor._wrap(yb)

    def __repr__(self) -> str:
        return (
            f"DataLoader({len(self.X)} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"seed={self.seed}, drop_last={self.drop_last}, {len(self)} batches)"
        )
