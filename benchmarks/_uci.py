"""The UCI regression sets with their standard 90/10 splits: loading, standardising, scoring.

The data live in ``../shared/data/uci/<name>/`` (override with ``BAYESKIT_UCI_DIR``), in the format
that folder's README describes: ``data.txt`` (whitespace-separated floats), ``index_features.txt``,
``index_target.txt``, ``n_splits.txt`` and ``index_train_k.txt`` / ``index_test_k.txt`` (0-based
rows of split k). The protocol (Hernandez-Lobato & Adams 2015; Gal & Ghahramani 2016): inputs and
target standardised with the training split's mean and standard deviation (a constant column
gets standard deviation 1), predictions mapped back, test RMSE and test log-likelihood per point
reported in the original units as mean +- standard error over splits.

Example::

    X, y, splits = load_uci("yacht")
    for train, test in splits:
        x_std, y_std = Standardizer.fit(X[train]), Standardizer.fit(y[train])
        ...  # fit on x_std(X[train]), y_std(y[train]); predict mean m and variance v at x_std(X[test])
        scores = gaussian_scores(y[test], y_std.inverse(m), y_std.inverse_variance(v))
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np

__all__ = [
    "UCI_DIR",
    "UCI_DATASETS",
    "Standardizer",
    "gaussian_scores",
    "load_uci",
    "mean_and_standard_error",
]

UCI_DIR = Path(
    os.environ.get("BAYESKIT_UCI_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "uci")
)

# Folder names, smallest first; rows (all splits' train + test) in the comments.
UCI_DATASETS = (
    "yacht",  # 308
    "bostonHousing",  # 506
    "energy",  # 768
    "kin8nm",  # 8,192
    "power-plant",  # 9,568
    "naval-propulsion-plant",  # 11,934
    "protein-tertiary-structure",  # 45,730
)


def _read_ints(path: Path) -> np.ndarray:
    return np.atleast_1d(np.loadtxt(path, dtype=np.int64))


def load_uci(name: str, root: Path | str | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Load a UCI set and its splits.

    Args:
        name: folder name (one of ``UCI_DATASETS``).
        root: the folder that holds the sets (default ``UCI_DIR``).

    Returns:
        ``(X, y, splits)``: inputs ``(n, d)`` and target ``(n,)`` as float64, and a list of
        ``(train_rows, test_rows)`` index arrays, one pair per split, in split order.
    """
    folder = Path(root if root is not None else UCI_DIR) / name
    if not (folder / "data.txt").is_file():
        known = (
            sorted(p.name for p in folder.parent.iterdir() if (p / "data.txt").is_file())
            if folder.parent.is_dir()
            else []
        )
        raise FileNotFoundError(
            f"load_uci: no UCI set {name!r} in {folder.parent} (expected {folder / 'data.txt'}); "
            f"sets found there: {', '.join(known) or 'none'}. Set BAYESKIT_UCI_DIR to the folder that holds them."
        )
    data = np.loadtxt(folder / "data.txt", dtype=np.float64, ndmin=2)
    features = _read_ints(folder / "index_features.txt")
    target = int(_read_ints(folder / "index_target.txt")[0])
    X, y = data[:, features], data[:, target]
    num_splits = int(_read_ints(folder / "n_splits.txt")[0])
    splits = []
    for k in range(num_splits):
        train = _read_ints(folder / f"index_train_{k}.txt")
        test = _read_ints(folder / f"index_test_{k}.txt")
        if np.intersect1d(train, test).size or train.size + test.size != y.shape[0]:
            raise ValueError(f"load_uci: split {k} of {name!r} is not a partition of its {y.shape[0]} rows.")
        splits.append((train, test))
    return X, y, splits


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """``(a - mean) / std`` per column (or for a vector), with the statistics of the data it was fit on.

    A constant column (std 0) gets std 1, so it maps to zeros instead of NaN.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, a) -> Standardizer:
        a = np.asarray(a, dtype=np.float64)
        mean, std = a.mean(axis=0), a.std(axis=0)
        return cls(mean=mean, std=np.where(std > 0, std, 1.0))

    def __call__(self, a) -> np.ndarray:
        return (np.asarray(a, dtype=np.float64) - self.mean) / self.std

    def inverse(self, a) -> np.ndarray:
        """Back to the original units (for values such as predictive means)."""
        return np.asarray(a, dtype=np.float64) * self.std + self.mean

    def inverse_variance(self, v) -> np.ndarray:
        """A variance in standardised units, in the original units."""
        return np.asarray(v, dtype=np.float64) * self.std**2


def gaussian_scores(y, mean, variance) -> dict[str, float]:
    """Test RMSE and mean negative log-likelihood per point of Gaussian predictions ``N(mean, variance)``.

    Give everything in the original units: the NLL then equals the standardised one plus
    ``log(y_std)``. ``log_likelihood`` is ``-nll`` (the quantity the literature tabulates).
    """
    y, mean, variance = (np.asarray(a, dtype=np.float64) for a in (y, mean, variance))
    err = y - mean
    nll = float(np.mean(0.5 * np.log(2.0 * math.pi * variance) + 0.5 * err**2 / variance))
    return {"rmse": float(np.sqrt(np.mean(err**2))), "nll": nll, "log_likelihood": -nll}


def mean_and_standard_error(values) -> tuple[float, float]:
    """Mean and standard error over splits, ``std / sqrt(k)`` with NumPy's default (ddof 0), as in
    the protocol's reference code; the standard error of a single split is NaN."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    se = float(values.std() / math.sqrt(values.size)) if values.size > 1 else math.nan
    return float(values.mean()), se
