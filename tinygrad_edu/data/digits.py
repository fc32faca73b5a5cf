"""scikit-learn's 8×8 digits: the offline default dataset."""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits"]


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
