"""Synthetic regression and classification data with known truth."""

from __future__ import annotations

import jax
import numpy as np

from bayeskit._checks import as_real_scalar, check_int, check_positive_number
from bayeskit._key import check_key
from bayeskit.datasets.classic import Dataset

__all__ = ["make_regression", "make_classification"]


def _check_sizes(fn: str, num_samples: int, num_features: int) -> None:
    for name, v in (("num_samples", num_samples), ("num_features", num_features)):
        check_int(fn, name, v)


def _check_finite(fn: str, **values) -> None:
    """Weight scales and intercepts: finite real numbers (NaN or inf made all-NaN or constant data)."""
    for name, v in values.items():
        number = as_real_scalar(v)
        if number is None or not np.isfinite(number):
            raise ValueError(f"{fn}: `{name}` must be a finite number, got {v!r}.")


def make_regression(
    key: jax.Array,
    num_samples: int = 100,
    num_features: int = 5,
    noise_scale: float = 1.0,
    num_informative: int | None = None,
    weight_scale: float = 1.0,
    intercept: float = 0.0,
) -> Dataset:
    """Draw a linear regression data set ``y = X w + b + noise`` with the truth kept.

    ``X`` is standard normal; the first ``num_informative`` weights are drawn from
    N(0, weight_scale^2) and the rest are zero (a sparse truth for lasso demonstrations).

    The draws are JAX's in its default float precision, returned as float64: the same key gives
    different values with ``jax_enable_x64`` on (as ``bayeskit tour``, the tests and the benchmarks
    run) and off.

    Returns:
        A :class:`Dataset` whose ``extra`` holds ``weights``, ``intercept`` and ``noise_scale``.
    """
    key = check_key(key, "datasets.make_regression")
    _check_sizes("make_regression", num_samples, num_features)
    check_positive_number("make_regression", "noise_scale", noise_scale)
    _check_finite("make_regression", weight_scale=weight_scale, intercept=intercept)
    k = (
        num_features
        if num_informative is None
        else check_int("make_regression", "num_informative", num_informative, 0)
    )
    if not 0 <= k <= num_features:
        raise ValueError(f"make_regression: `num_informative` must be in [0, {num_features}], got {k}.")
    kx, kw, ke = jax.random.split(key, 3)
    X = np.asarray(jax.random.normal(kx, (num_samples, num_features)), dtype=np.float64)
    w = np.zeros(num_features)
    w[:k] = weight_scale * np.asarray(jax.random.normal(kw, (k,)), dtype=np.float64)
    y = X @ w + intercept + noise_scale * np.asarray(jax.random.normal(ke, (num_samples,)), dtype=np.float64)
    return Dataset(
        X=X,
        y=y,
        feature_names=tuple(f"x{i}" for i in range(num_features)),
        description=f"Synthetic linear regression, {k} informative of {num_features} features.",
        extra={"weights": w, "intercept": float(intercept), "noise_scale": float(noise_scale)},
    )


def make_classification(
    key: jax.Array,
    num_samples: int = 200,
    num_features: int = 2,
    weight_scale: float = 2.0,
    intercept: float = 0.0,
) -> Dataset:
    """Draw a logistic regression data set: ``y ~ Bernoulli(sigmoid(X w + b))`` with the truth kept.

    As for :func:`make_regression`, the draws depend on whether ``jax_enable_x64`` is on.

    Returns:
        A :class:`Dataset` with integer labels in {0, 1}; ``extra`` holds ``weights`` and
        ``intercept``.
    """
    key = check_key(key, "datasets.make_classification")
    _check_sizes("make_classification", num_samples, num_features)
    _check_finite("make_classification", weight_scale=weight_scale, intercept=intercept)
    kx, kw, ky = jax.random.split(key, 3)
    X = np.asarray(jax.random.normal(kx, (num_samples, num_features)), dtype=np.float64)
    w = weight_scale * np.asarray(jax.random.normal(kw, (num_features,)), dtype=np.float64)
    p = 1.0 / (1.0 + np.exp(-(X @ w + intercept)))
    u = np.asarray(jax.random.uniform(ky, (num_samples,)), dtype=np.float64)
    return Dataset(
        X=X,
        y=(u < p).astype(np.int64),
        feature_names=tuple(f"x{i}" for i in range(num_features)),
        description="Synthetic logistic regression.",
        extra={"weights": w, "intercept": float(intercept)},
    )
