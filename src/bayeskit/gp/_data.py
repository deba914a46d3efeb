"""Checks on training and test inputs shared by every GP model."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._checks import one_point_hint
from bayeskit._stacklevel import user_stacklevel
from bayeskit.gp.kernels._base import as_inputs, as_numbers

__all__ = ["check_inputs", "check_labels", "check_training_data", "warn_constant_targets"]


def _check_finite(owner: str, name: str, arr: jax.Array) -> None:
    if isinstance(arr, jax.core.Tracer):
        return
    a = np.asarray(arr)
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise ValueError(
            f"{owner}: `{name}` contains {int(bad.sum())} NaN or infinite value(s) (first at index "
            f"{where}); remove or impute those rows first."
        )


def check_inputs(owner: str, X, name: str = "X", num_features: int | None = None) -> jax.Array:
    """``X`` as a finite 2-D float array, with ``num_features`` columns when given.

    Half precision (float16, bfloat16) becomes float32: no Cholesky factorisation exists in it,
    and 3 significant digits could not hold a covariance matrix's conditioning anyway.
    """
    one_dimensional = np.ndim(X) == 1
    X = as_inputs(X, name, owner)
    X = X.astype(jnp.promote_types(X.dtype, jnp.float32))
    if X.shape[0] == 0:
        raise ValueError(f"{owner}: `{name}` has no rows.")
    _check_finite(owner, name, X)
    if num_features is not None and X.shape[1] != num_features:
        hint = one_point_hint(name, X.shape[0], num_features) if one_dimensional else ""
        raise ValueError(
            f"{owner}: `{name}` has {X.shape[1]} column(s) but the model was fitted on {num_features}." + hint
        )
    return X


def check_training_data(owner: str, X, y) -> tuple[jax.Array, jax.Array]:
    """``(X, y)`` as finite arrays ``(n, d)`` and ``(n,)`` with matching lengths."""
    X = check_inputs(owner, X)
    y = as_numbers(y, "y", owner)
    if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] != 1):
        raise ValueError(f"{owner}: `y` must be 1-D (one target per row), got shape {tuple(y.shape)}.")
    if y.ndim == 2:
        # In NumPy when concrete: eager jnp indexing compiles a program per new shape.
        y = y[:, 0] if isinstance(y, jax.core.Tracer) else jnp.asarray(np.asarray(y)[:, 0])
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"{owner}: `X` has {X.shape[0]} rows but `y` has {y.shape[0]} entries; they must match."
        )
    _check_finite(owner, "y", y)
    if y.dtype != X.dtype:
        y = (
            jnp.asarray(np.asarray(y), dtype=X.dtype)
            if not isinstance(y, jax.core.Tracer)
            else y.astype(X.dtype)
        )
    return X, y


def warn_constant_targets(owner: str, y: jax.Array) -> None:
    """Warn when every (concrete) target is the same number: a regression fit then has no
    variation to explain, the marginal likelihood grows without bound as the noise and kernel
    variance shrink to zero, and the fit predicts that constant with near-zero variance. Almost
    always a data pipeline that lost ``y``; the fit still runs, as the model defines it."""
    if isinstance(y, jax.core.Tracer) or y.shape[0] < 2:
        return
    arr = np.asarray(y)
    if (arr == arr[0]).all():
        warnings.warn(
            f"{owner}: every entry of `y` is {arr[0].item():g} ({arr.size} targets): there is no variation to "
            "learn from, so the learned noise and kernel variance shrink toward 0 and the fit "
            "predicts that constant with near-zero variance. Check how `y` was built.",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )


def check_labels(owner: str, y: jax.Array, *, both_classes: bool = True) -> None:
    """Raise a ``ValueError`` naming ``y`` unless every (concrete) label is 0 or 1, and, with
    ``both_classes`` (a fit), unless both classes occur."""
    if isinstance(y, jax.core.Tracer):
        return
    arr = np.asarray(y)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        i = np.argwhere(bad)[0].tolist()
        raise ValueError(
            f"{owner}: `y` must hold the class labels 0 and 1 (or booleans), but {int(bad.sum())} "
            f"entr{'y is' if bad.sum() == 1 else 'ies are'} something else (first: {arr[tuple(i)]!r} at "
            f"index {i[0] if len(i) == 1 else i}). For labels -1/+1 pass `y > 0`; for more than two "
            "classes fit one classifier per class."
        )
    if both_classes and arr.size and (arr == arr.flat[0]).all():
        raise ValueError(
            f"{owner}: `y` holds only class {int(arr.flat[0])} (all {arr.size} labels); a classifier "
            "needs examples of both classes 0 and 1 to learn where one turns into the other."
        )
