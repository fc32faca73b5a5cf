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

One module per concern: `idx` (the file format, read with bounded memory), `mnist` (checksums,
loading, downloads through pooch), `digits`, `loader` (`DataLoader`).
"""

from tinygrad_edu.data.digits import load_digits
from tinygrad_edu.data.idx import DatasetError, read_idx
from tinygrad_edu.data.loader import DataLoader
from tinygrad_edu.data.mnist import (
    BASE_URLS,
    COUNTS,
    DATASETS,
    FILES,
    SHA256,
    DownloadError,
    default_data_dir,
    download_mnist,
    load_mnist,
)

__all__ = [
    "BASE_URLS",
    "COUNTS",
    "DATASETS",
    "FILES",
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
