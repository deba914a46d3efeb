"""Mean functions m(x) for Gaussian processes: zero, constant and linear."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist._distribution import as_float
from bayeskit.gp._precise import matmul

__all__ = ["MeanFunction", "ZeroMean", "ConstantMean", "LinearMean"]


class MeanFunction(eqx.Module):
    """A prior mean function; ``mean(X)`` gives one value per row of ``X`` (shape ``(n, d)``)."""

    def __call__(self, X) -> jax.Array:
        raise NotImplementedError


class ZeroMean(MeanFunction):
    """m(x) = 0. With a zero mean, standardise ``y`` (``GPR(standardize=True)``) or center it."""

    def __call__(self, X):
        return jnp.zeros(X.shape[:1], dtype=X.dtype)

    def __repr__(self):
        return "ZeroMean()"


def _check_finite(owner: str, name: str, value: jax.Array) -> None:
    if not isinstance(value, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(value))):
        raise ValueError(f"{owner}: `{name}` must be finite, got {np.asarray(value)!r}.")


class ConstantMean(MeanFunction):
    """m(x) = c, with ``c`` learned along with the kernel."""

    constant: jax.Array

    def __init__(self, constant=0.0):
        self.constant = as_float(constant)
        if self.constant.ndim != 0:
            raise ValueError(f"ConstantMean: `constant` must be a scalar, got shape {self.constant.shape}.")
        _check_finite("ConstantMean", "constant", self.constant)

    def __call__(self, X):
        return jnp.full(X.shape[:1], self.constant, dtype=X.dtype)

    def __repr__(self):
        return (
            f"ConstantMean(constant={float(self.constant):.4g})"
            if not isinstance(self.constant, jax.core.Tracer)
            else "ConstantMean(<traced>)"
        )


class LinearMean(MeanFunction):
    """m(x) = w^T x + b, with one weight per input column.

    Example:
        >>> LinearMean(num_features=3)(jnp.ones((2, 3))).shape
        (2,)
    """

    weights: jax.Array
    bias: jax.Array

    def __init__(self, num_features: int | None = None, weights=None, bias=0.0):
        if weights is None:
            if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
                raise ValueError(
                    f"LinearMean: give `num_features` (an integer >= 1) or `weights`, got "
                    f"num_features={num_features!r}."
                )
            weights = np.zeros(num_features)
        self.weights = as_float(weights)
        self.bias = as_float(bias)
        if self.weights.ndim != 1:
            raise ValueError(f"LinearMean: `weights` must be 1-D, got shape {tuple(self.weights.shape)}.")
        if self.bias.ndim != 0:
            raise ValueError(f"LinearMean: `bias` must be a scalar, got shape {tuple(self.bias.shape)}.")
        _check_finite("LinearMean", "weights", self.weights)
        _check_finite("LinearMean", "bias", self.bias)

    def __call__(self, X):
        if X.shape[1] != self.weights.shape[0]:
            raise ValueError(
                f"LinearMean: X has {X.shape[1]} columns but the mean has {self.weights.shape[0]} weights."
            )
        return matmul(X, self.weights) + self.bias

    def __repr__(self):
        return f"LinearMean(num_features={self.weights.shape[0]})"
