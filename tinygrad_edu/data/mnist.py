"""MNIST and Fashion-MNIST: four IDX files each, checked against the official SHA-256, downloaded with pooch.

`load_mnist` checks each file's header, size and checksum before it returns anything:

    images, labels = load_mnist("../shared/data/mnist", kind="train")  # (60000, 784) float32, (60000,) int64
    images, labels = load_mnist(kind="test", download=True)            # fetched into ~/.cache/tinygrad_edu/mnist
    images, labels = load_mnist("../shared/data/fashion-mnist")        # the same for Fashion-MNIST

Downloading (retries, checksums, the atomic move into the cache) is pooch's job
(`pip install 'tinygrad_edu[data]'`); this module only says what to fetch and from where.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinygrad_edu.data.idx import DatasetError, read_idx_content

__all__ = [
    "BASE_URLS",
    "COUNTS",
    "DATASETS",
    "FILES",
    "SHA256",
    "DownloadError",
    "default_data_dir",
    "download_mnist",
    "load_mnist",
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


class DownloadError(OSError):
    """Every mirror failed; the message lists each attempt and how to get the files by hand."""


def known_size(name: str) -> int:
    """Bytes of the IDX content of the MNIST (and Fashion-MNIST) file `name`: header plus data.

    >>> known_size("t10k-labels-idx1-ubyte"), known_size("train-images-idx3-ubyte")
    (10008, 47040016)
    """
    count = COUNTS["train" if name.startswith("train") else "test"]
    return 16 + count * 28 * 28 if "images" in name else 8 + count


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


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _identify(path: Path, content: bytearray, name: str, dataset: str | None) -> str:
    """Which dataset the file `path` (the IDX file `name`, whose IDX bytes are `content`) is a copy of,
    judged by its SHA-256."""
    file_digest = _file_sha256(path)
    match = next((c for c in DATASETS if SHA256[c][name][0] == file_digest), None)
    if match is None:  # not the distributed .gz: maybe a raw copy, or the same data gzipped again
        content_digest = hashlib.sha256(content).hexdigest()
        match = next((c for c in DATASETS if SHA256[c][name][1] == content_digest), None)
    if match is None:
        raise DatasetError(
            f"{path}: unknown SHA-256 {file_digest}: it is not the official {name} file of MNIST or "
            f"Fashion-MNIST (gzip or raw). The file is corrupt or was changed; delete it and download it "
            "again, or pass verify=False to load it anyway."
        )
    if dataset is not None and match != dataset:
        raise DatasetError(
            f"{path}: this is the {_TITLES[match]} file {name}, but {_TITLES[dataset]} was asked for; "
            f"point data_dir at the {_TITLES[dataset]} files or pass dataset={match!r}"
        )
    return match


def _load_file(path: Path, name: str, verify: bool, dataset: str | None) -> tuple[np.ndarray, str]:
    """(array, dataset) of the IDX file `name` at `path`, after checking its magic, shape and checksum."""
    kind = "image" if "images" in name else "label"
    magic = IMAGE_MAGIC if kind == "image" else LABEL_MAGIC
    # The size is known in advance, so a file that would be larger (a gzip bomb) is refused early.
    found_magic, array, content = read_idx_content(path, max_bytes=known_size(name))
    if found_magic != magic:
        hint = {IMAGE_MAGIC: " (that of an image file)", LABEL_MAGIC: " (that of a label file)"}.get(found_magic, "")
        raise DatasetError(
            f"{path}: magic number 0x{found_magic:08x}{hint}, but an MNIST {kind} file starts with "
            f"0x{magic:08x}; are the image and label files swapped or renamed?"
        )
    count = COUNTS["train" if name.startswith("train") else "test"]
    expected_shape = (count, 28, 28) if kind == "image" else (count,)
    if array.shape != expected_shape:
        raise DatasetError(
            f"{path}: the header says {array.shape[0]} items of shape {array.shape[1:]}, but the official "
            f"{name} file has {count} items of shape {expected_shape[1:]}"
        )
    match = _identify(path, content, name, dataset) if verify else (dataset or "unverified")
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
) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST or Fashion-MNIST `kind` split ("train" or "test") as `(images, labels)`.

    `images` is float32 `(N, 784)` in [0, 1], `labels` int64 `(N,)` (N = 60000 or 10000). The
    files in `data_dir` may be gzipped or raw. Each file's IDX header and size are checked, and
    (with `verify=True`) its SHA-256 must be that of the official file; the checksum also tells
    MNIST from Fashion-MNIST, so `dataset` ("mnist" or "fashion-mnist") is only needed to insist
    on one, or to say which one to download.

    `data_dir=None` means `default_data_dir(dataset or "mnist")`. With `download=True`, files
    that are missing or fail their checksum are fetched first; `base_urls`, `timeout` and
    `retries` are passed on to `download_mnist`.

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
            dataset or "mnist", data_dir, kinds=(kind,), base_urls=base_urls, timeout=timeout, retries=retries
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
    images, images_from = _load_file(paths[image_name], image_name, verify, dataset)
    labels, labels_from = _load_file(paths[label_name], label_name, verify, dataset)
    if images_from != labels_from:
        raise DatasetError(
            f"{paths[image_name]} is from {_TITLES[images_from]} but {paths[label_name]} is from "
            f"{_TITLES[labels_from]}; keep each dataset's files in a directory of their own"
        )
    if labels.max() > 9:
        raise DatasetError(f"{paths[label_name]}: labels must be 0-9, found {int(labels.max())}")
    x = images.reshape(len(images), 28 * 28).astype(np.float32)
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
    quiet: bool = False,
) -> Path:
    """Fetch the official .gz files of `dataset` into `data_dir` (default `default_data_dir(dataset)`).

    Only files that are missing or fail their checksum are fetched, with pooch: each one is
    checked against its SHA-256 before it is moved into place, so a broken download never
    leaves a bad file behind. Each base URL (from `base_urls`, else `BASE_URLS[dataset]`) is
    tried `retries` times, `timeout` seconds per network operation, then the next one. Returns
    `data_dir`.

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
        import pooch
    except ImportError:
        raise ImportError(
            "downloading MNIST needs pooch: pip install 'tinygrad_edu[data]' (or pip install pooch), "
            f"or copy the files into {data_dir} by hand"
        ) from None
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
            _fetch(pooch, f"{name}.gz", SHA256[dataset][name][0], data_dir, urls, timeout, retries, quiet)
    return data_dir


def _official_dataset(path: Path, name: str) -> str | None:
    """The dataset whose official file `name` this is, or None (corrupt, truncated, unknown)."""
    try:
        _, _, content = read_idx_content(path, max_bytes=known_size(name))
        return _identify(path, content, name, None)
    except DatasetError:
        return None


def _fetch(
    pooch, filename: str, sha256: str, data_dir: Path, urls: list[str], timeout: float, retries: int, quiet: bool
) -> None:
    """Fetch `filename` from the first of `urls` that serves it with the right checksum."""
    failures = []
    logger = pooch.get_logger()

    def quiet_filter(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING

    if quiet:
        logger.addFilter(quiet_filter)  # pooch says "Downloading file ..." at level INFO
    try:
        for base in urls:
            fetcher = pooch.create(
                path=data_dir,
                base_url=base if base.endswith("/") else base + "/",
                registry={filename: f"sha256:{sha256}"},
                retry_if_failed=retries - 1,
            )
            try:
                fetcher.fetch(filename, downloader=pooch.HTTPDownloader(timeout=timeout))
                return
            # requests' errors are OSErrors; pooch raises ValueError for a checksum that does not match
            except (OSError, ValueError) as error:
                failures.append(f"{fetcher.get_url(filename)}: {type(error).__name__}: {error}")
    finally:
        logger.removeFilter(quiet_filter)
    raise DownloadError(
        f"could not download {filename} to {data_dir}; attempts ({retries} per mirror):\n  "
        + "\n  ".join(failures)
        + f"\nCheck the network (or a proxy), or download {filename} by hand from one of "
        f"{', '.join(urls)} into {data_dir}."
    )
