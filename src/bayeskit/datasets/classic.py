"""Embedded classic data sets and scikit-learn's offline ones."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Dataset", "eight_schools", "load_diabetes", "load_digits"]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A data set: inputs ``X``, targets ``y``, and what they mean.

    Attributes:
        X: inputs, shape ``(n, d)`` (or ``None``).
        y: targets, shape ``(n,)``.
        feature_names: names of the columns of ``X``.
        description: where the data come from.
        extra: any further named arrays (e.g. true coefficients of a synthetic set).
    """

    X: np.ndarray | None
    y: np.ndarray
    feature_names: tuple[str, ...] = ()
    description: str = ""
    extra: dict = dataclasses.field(default_factory=dict)


def eight_schools() -> Dataset:
    """The eight schools data (Rubin 1981): estimated coaching effects ``y`` and their sd ``sigma``.

    Returns:
        A :class:`Dataset` with ``y`` (8 effects), ``extra["sigma"]`` (8 standard errors) and
        ``extra["schools"]`` (their labels A-H).

    Example:
        >>> d = eight_schools(); d.y.shape, d.extra["sigma"].shape
        ((8,), (8,))
    """
    y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
    sigma = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
    return Dataset(
        X=None,
        y=y,
        description="Eight schools: SAT coaching effects (Rubin 1981; Gelman et al., BDA3 5.5).",
        extra={"sigma": sigma, "schools": tuple("ABCDEFGH")},
    )


def load_digits(scale: bool = True) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images; ships with scikit-learn, offline).

    Args:
        scale: divide pixel intensities (0-16) by 16 so they lie in [0, 1].
    """
    from sklearn.datasets import load_digits as _load

    raw = _load()
    X = raw.data.astype(np.float64)
    if scale:
        X = X / 16.0
    return Dataset(
        X=X,
        y=raw.target.astype(np.int64),
        feature_names=tuple(f"pixel_{i // 8}_{i % 8}" for i in range(64)),
        description="Optical recognition of handwritten digits, 8x8 (UCI), via scikit-learn.",
    )


def load_diabetes() -> Dataset:
    """scikit-learn's diabetes regression data (442 patients, 10 standardised features)."""
    from sklearn.datasets import load_diabetes as _load

    raw = _load()
    return Dataset(
        X=raw.data.astype(np.float64),
        y=raw.target.astype(np.float64),
        feature_names=tuple(raw.feature_names),
        description="Diabetes progression one year after baseline (Efron et al. 2004), via scikit-learn.",
    )
