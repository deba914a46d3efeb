"""Checks shared by the two conjugate linear regressions: the prior's shapes and the design matrix."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.conjugate._data import observations
from bayeskit.dist._distribution import as_float, is_concrete

__all__ = ["prior_precision_matrix", "check_precision", "design", "design_and_targets"]


def prior_precision_matrix(owner: str, loc: jax.Array, prior_precision) -> jax.Array:
    """Expand a scalar or diagonal ``prior_precision`` to a ``(d, d)`` matrix matching ``loc``."""
    if loc.ndim != 1:
        raise ValueError(
            f"{owner}: `prior_mean` must be a vector with one entry per weight, but got shape {loc.shape}."
        )
    d = loc.shape[0]
    lam = as_float(prior_precision)
    if lam.ndim == 0:
        return lam * jnp.eye(d, dtype=lam.dtype)
    if lam.shape == (d,):
        return jnp.diag(lam)
    if lam.shape == (d, d):
        return lam
    raise ValueError(
        f"{owner}: `prior_precision` must be a scalar, a vector of {d} diagonal entries or a ({d}, {d}) "
        f"matrix to match `prior_mean`, but got shape {lam.shape}."
    )


def check_precision(owner: str, precision: jax.Array) -> None:
    """Raise ``ValueError`` unless a concrete ``precision`` is symmetric positive definite."""
    if not is_concrete(precision):
        return
    lam = np.asarray(precision, dtype=np.float64)
    if not np.isfinite(lam).all():
        raise ValueError(f"{owner}: `prior_precision` must be finite.")
    if not np.allclose(lam, lam.T, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(lam).max())):
        raise ValueError(f"{owner}: `prior_precision` must be symmetric; pass (P + P.T) / 2.")
    try:
        np.linalg.cholesky(lam)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{owner}: `prior_precision` must be positive definite (it is the inverse of the weights' "
            "prior covariance); a scalar or a vector of positive diagonal entries always is."
        ) from None


def design(owner: str, name: str, X, num_features: int) -> jax.Array:
    """Return a design matrix of shape ``(n, d)`` (or one row ``(d,)``), rejecting NaN and wrong widths."""
    x = observations(owner, name, X, min_ndim=0)
    if x.ndim not in (1, 2) or x.shape[-1] != num_features:
        raise ValueError(
            f"{owner}: `{name}` must have shape (n, {num_features}) — one row per point and one column per "
            f"weight — but got shape {x.shape}. Reshape a single feature with X[:, None]; add a column of "
            "ones for an intercept."
        )
    return x


def design_and_targets(owner: str, X, y, num_features: int) -> tuple[jax.Array, jax.Array]:
    """Return ``(X, y)`` with shapes ``(n, d)`` and ``(n,)``, after checking they agree."""
    x = design(owner, "X", X, num_features)
    if x.ndim != 2:
        raise ValueError(
            f"{owner}: `X` must have shape (n, {num_features}), but got shape {x.shape}; "
            "wrap one row as X[None]."
        )
    t = observations(owner, "y", y)
    if t.ndim != 1:
        raise ValueError(
            f"{owner}: `y` must have shape (n,), one target per row of X, but got shape {t.shape}."
        )
    if t.shape[0] != x.shape[0]:
        raise ValueError(
            f"{owner}: `X` has {x.shape[0]} rows but `y` has {t.shape[0]} entries; give one target per row."
        )
    return x, t
