"""`DataLoader`: mini-batches of `(X, y)` as Tensors, without copying what need not be copied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_edu.factories import default_generator, from_numpy
from tinygrad_edu.tensor import Tensor

__all__ = ["DataLoader"]


class DataLoader:
    """Mini-batches of `(X, y)` as `(Tensor, Tensor)` pairs, reshuffled on every pass.

    `len(loader)` is the number of batches per pass; the last one is smaller unless
    `drop_last=True`. With `seed`, the sequence of passes is the same on every run; without it,
    the order comes from tinygrad_edu's generator, so `tinygrad_edu.manual_seed` fixes it too.

    Batches cost as little as NumPy allows: without shuffling a batch is a view of `X` and `y`
    (no copy), with shuffling it is the one copy that gathering the rows makes. Either way it is
    read-only, so that changing a batch in place can never change the dataset behind it (copy
    it, `xb.data.copy()`, to get one you may change).

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
        b = self.batch_size
        order = (self._rng or default_generator()).permutation(len(self.X)) if self.shuffle else None
        for start in range(0, len(self) * b, b):
            rows = slice(start, start + b) if order is None else order[start : start + b]
            yield _read_only(self.X[rows]), _read_only(self.y[rows])

    def __repr__(self) -> str:
        return (
            f"DataLoader({len(self.X)} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"seed={self.seed}, drop_last={self.drop_last}, {len(self)} batches)"
        )


def _read_only(batch: np.ndarray) -> Tensor:
    batch.flags.writeable = False  # a view of the dataset or a fresh copy: never changed in place
    return from_numpy(batch)
