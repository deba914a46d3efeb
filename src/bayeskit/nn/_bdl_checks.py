"""Checks at the public boundary of the Bayesian deep learning estimators.

Every check looks only at concrete values: under ``jit``/``vmap`` (e.g. a benchmark that trains
one network per split at once) traced arguments pass through unchecked, as elsewhere in bayeskit.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._checks import check_int as check_positive_int
from bayeskit._checks import non_numeric, one_point_hint
from bayeskit._stacklevel import user_stacklevel

__all__ = [
    "check_classification_data",
    "check_features",
    "check_fitted",
    "check_hidden",
    "check_positive",
    "check_positive_int",
    "check_rate",
    "check_regression_data",
]


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _finite(owner: str, name: str, a) -> None:
    if not _concrete(a):
        return
    values = np.asarray(a)
    bad = ~np.isfinite(values)
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        raise ValueError(
            f"{owner}: `{name}` contains {int(bad.sum())} NaN or infinite value(s) (first at index {first}); "
            "remove or impute those rows first."
        )


def check_features(owner: str, X, num_features: int | None = None, name: str = "X") -> jax.Array:
    """``X`` as a finite float array ``(n, d)`` (a vector is read as one feature)."""
    X = _numeric(owner, name, X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.zeros(()).dtype)
    one_dimensional = X.ndim == 1
    if one_dimensional:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{owner}: `{name}` must be a non-empty array (n, d) or (n,), got shape {X.shape}.")
    _finite(owner, name, X)
    if num_features is not None and X.shape[1] != num_features:
        hint = one_point_hint(name, X.shape[0], num_features, "feature") if one_dimensional else ""
        raise ValueError(
            f"{owner}: `{name}` has {X.shape[1]} column(s) but the model was fitted on {num_features}." + hint
        )
    return X


def _numeric(owner: str, name: str, a) -> jax.Array:
    """``a`` as a JAX array of numbers or booleans; strings and objects are named."""
    if (what := non_numeric(a)) is not None:
        if what == "a JAX random key":
            raise TypeError(
                f"{owner}: `{name}` must hold numbers, got a JAX random key; is it in the key's place? "
                "fit takes the key first, fit(key, X, y); predict takes it by name, predict(X, key=key)."
            )
        raise ValueError(
            f"{owner}: `{name}` must hold numbers, got {what}; encode categories as integers "
            "0, 1, ..., K-1 first."
        )
    return jnp.asarray(a)


def _targets(owner: str, X: jax.Array, y, name: str) -> jax.Array:
    y = _numeric(owner, name, y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{owner}: `{name}` must be 1-D (one target per row), got shape {y.shape}.")
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{owner}: `X` has {X.shape[0]} rows but `{name}` has {y.shape[0]} entries; they must match."
        )
    _finite(owner, name, y)
    return y


def check_regression_data(owner: str, X, y, x_name: str = "X", y_name: str = "y"):
    """``(X, y)`` as finite arrays ``(n, d)`` and ``(n,)`` of X's float dtype, lengths matching."""
    X = check_features(owner, X, name=x_name)
    y = _targets(owner, X, y, y_name)
    return X, y.astype(X.dtype)


def check_classification_data(
    owner: str,
    X,
    y,
    num_classes: int | None = None,
    y_name: str = "y",
    x_name: str = "X",
    *,
    training: bool = True,
):
    """``(X, y, K)``: finite inputs, integer labels in ``0..K-1`` (K from the data unless given);
    training data (not a validation set) must hold two classes at least."""
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 2
    ):
        raise ValueError(f"{owner}: `num_classes` must be an integer >= 2, got {num_classes!r}.")
    X = check_features(owner, X, name=x_name)
    y = _targets(owner, X, y, y_name)
    if _concrete(y):
        values = np.asarray(y)
        bad = (values != np.round(values)) | (values < 0)
        if bad.any():
            i = int(np.argmax(bad.ravel()))
            raise ValueError(
                f"{owner}: `{y_name}` must hold class labels 0, 1, ..., K-1, but {int(bad.sum())} "
                f"entr{'y is' if bad.sum() == 1 else 'ies are'} not (first: {values.ravel()[i].item():g} at index {i}). "
                "Encode the classes as whole numbers from 0 (e.g. with np.unique(y, return_inverse=True))."
            )
        seen = int(values.max()) + 1
        if training and (values == values.flat[0]).all():
            raise ValueError(
                f"{owner}: `{y_name}` holds only class {int(values.flat[0])} (all {values.size} labels); "
                "a classifier needs examples of at least two classes."
            )
        if num_classes is None:
            num_classes = max(seen, 2)
            missing = sorted(set(range(num_classes)) - set(np.unique(values).astype(int).tolist()))
            if missing and missing == list(range(len(missing))):
                warnings.warn(
                    f"{owner}: `{y_name}` has no label {', '.join(map(str, missing))}: the model will have "
                    f"{num_classes} classes, {len(missing)} never seen. Labels must count from 0 "
                    "(e.g. y - y.min()), or pass `num_classes`.",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )
        elif seen > num_classes:
            raise ValueError(f"{owner}: `{y_name}` has label {seen - 1} but `num_classes` is {num_classes}.")
    elif num_classes is None:
        raise ValueError(f"{owner}: pass `num_classes` when the labels are traced.")
    return X, y.astype(jnp.int32), int(num_classes)


def check_rate(owner: str, name: str, value):
    """A probability strictly inside (0, 1), e.g. a dropout rate."""
    if _concrete(value):
        v = np.asarray(value)
        if v.ndim != 0 or not (0.0 < float(v) < 1.0):
            raise ValueError(f"{owner}: `{name}` must be a number in (0, 1), got {value!r}.")
    return value


def check_positive(owner: str, name: str, value):
    """A finite positive number (a precision, a prior scale, a learning rate)."""
    if _concrete(value):
        v = np.asarray(value)
        if v.ndim != 0 or not np.isfinite(v) or float(v) <= 0.0:
            raise ValueError(f"{owner}: `{name}` must be a finite positive number, got {value!r}.")
    return value


def check_hidden(owner: str, hidden) -> tuple[int, ...]:
    """Hidden-layer widths as a tuple of positive ints."""
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        widths = tuple(hidden)
    except TypeError:
        raise ValueError(
            f"{owner}: `hidden` must be a width or a sequence of widths, got {hidden!r}."
        ) from None
    for w in widths:
        check_positive_int(owner, "hidden", w)
    return tuple(int(w) for w in widths)


def check_fitted(owner: str, params) -> None:
    """Raise if the estimator was never fitted (``params`` is None)."""
    if params is None:
        raise ValueError(
            f"{owner}: this estimator is not fitted; call `fit(key, X, y)` first (it returns the fitted "
            "estimator) and predict with what it returns."
        )
