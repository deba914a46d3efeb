"""Point-prediction errors for regression: root mean squared error and mean absolute error."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.metrics import _checks

__all__ = ["mae", "rmse"]


def _pair(fn: str, y, y_pred) -> tuple[jax.Array, jax.Array]:
    y = _checks.observations(fn, y)
    y_pred = _checks.finite_floats(fn, "y_pred", y_pred)
    _checks.same_shape(fn, "y", y, "y_pred", y_pred)
    return y, y_pred


@jax.jit
def _rmse(y: jax.Array, y_pred: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.mean(jnp.square(y - y_pred)))


@jax.jit
def _mae(y: jax.Array, y_pred: jax.Array) -> jax.Array:
    return jnp.mean(jnp.abs(y - y_pred))


def rmse(y, y_pred) -> jax.Array:
    r"""Return the root mean squared error of point predictions.

    .. math:: \mathrm{RMSE} = \sqrt{\tfrac{1}{n} \textstyle\sum_i (y_i - \hat y_i)^2}

    For a probabilistic prediction pass its mean (the RMSE-optimal point prediction). The UCI
    benchmark papers report test RMSE in the target's original units.

    Args:
        y: observed values, any shape.
        y_pred: point predictions, the same shape as ``y``.

    Returns:
        A scalar: the RMSE over all entries (lower is better).

    Raises:
        ValueError: if the shapes differ or an input holds NaN or inf.

    Example:
        >>> round(float(rmse(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0]))), 4)  # sqrt((0 + 4) / 2)
        1.4142
    """
    return _rmse(*_pair("rmse", y, y_pred))


def mae(y, y_pred) -> jax.Array:
    r"""Return the mean absolute error of point predictions.

    .. math:: \mathrm{MAE} = \tfrac{1}{n} \textstyle\sum_i |y_i - \hat y_i|

    The MAE-optimal point prediction is the predictive median.

    Args:
        y: observed values, any shape.
        y_pred: point predictions, the same shape as ``y``.

    Returns:
        A scalar: the MAE over all entries (lower is better).

    Raises:
        ValueError: if the shapes differ or an input holds NaN or inf.

    Example:
        >>> float(mae(jnp.array([1.0, 2.0]), jnp.array([1.0, 4.0])))
        1.0
    """
    return _mae(*_pair("mae", y, y_pred))
