"""Inputs and targets standardised on the training data, and a validation split carved from it."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from bayeskit._checks import as_real_scalar
from bayeskit.nn import _bdl_checks as checks

__all__ = ["Scaling", "carve_validation"]


class Scaling(eqx.Module):
    """Column means and standard deviations of X (and of y for regression); constant columns get sd 1."""

    x_loc: jax.Array
    x_scale: jax.Array
    y_loc: jax.Array
    y_scale: jax.Array

    @classmethod
    def fit(cls, X, y=None, standardize: bool = True) -> Scaling:
        if not standardize:
            one = jnp.ones((), X.dtype)
            return cls(jnp.zeros(X.shape[1], X.dtype), jnp.ones(X.shape[1], X.dtype), 0 * one, one)
        sx = jnp.std(X, axis=0)
        if y is None:
            y_loc, y_scale = jnp.zeros((), X.dtype), jnp.ones((), X.dtype)
        else:
            y_loc, sy = jnp.mean(y), jnp.std(y)
            y_scale = jnp.where(sy > 0, sy, 1.0)
        return cls(jnp.mean(X, axis=0), jnp.where(sx > 0, sx, 1.0), y_loc, y_scale)

    def x(self, X):
        return (X - self.x_loc) / self.x_scale

    def y(self, y):
        return (y - self.y_loc) / self.y_scale


def carve_validation(key: jax.Array, X, y, validation, owner: str, num_classes: int | None = None):
    """``(X_train, y_train, X_val, y_val)``: ``validation`` is None, a fraction in (0, 1) or ``(X_val, y_val)``.

    A given ``(X_val, y_val)`` is checked as the training data are (finite, matching lengths, as
    many columns as ``X``; labels in ``0..num_classes-1`` for a classifier): a validation loss
    that is NaN would never improve, and training would return its initial weights.
    """
    if validation is None:
        return X, y, None, None
    if isinstance(validation, tuple | list) and len(validation) == 2:
        if num_classes is None:
            Xv, yv = checks.check_regression_data(owner, validation[0], validation[1], "X_val", "y_val")
        else:
            Xv, yv, _ = checks.check_classification_data(
                owner,
                validation[0],
                validation[1],
                num_classes,
                y_name="y_val",
                x_name="X_val",
                training=False,
            )
        if Xv.shape[1] != X.shape[1]:
            raise ValueError(f"{owner}: `X_val` has {Xv.shape[1]} column(s) but `X` has {X.shape[1]}.")
        return X, y, Xv.astype(X.dtype), yv
    fraction = as_real_scalar(validation)
    if fraction is None:
        raise ValueError(
            f"{owner}: `validation` must be a fraction in (0, 1) or (X_val, y_val), got {type(validation).__name__}."
        )
    if not 0.0 < fraction < 1.0:
        raise ValueError(
            f"{owner}: `validation` must be a fraction in (0, 1) or (X_val, y_val), got {validation!r}."
        )
    n = X.shape[0]
    num_val = max(1, int(round(fraction * n)))
    if num_val >= n:
        raise ValueError(f"{owner}: `validation`={validation!r} leaves no training rows out of {n}.")
    order = jax.random.permutation(key, n)
    val, tr = order[:num_val], order[num_val:]
    return X[tr], y[tr], X[val], y[val]
