"""The shared part of stationary kernels: a (possibly ARD) lengthscale and a variance."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.gp.kernels._base import Kernel, log_positive, params_repr
from bayeskit.gp.kernels._distance import squared_distance

__all__ = ["Stationary"]


class Stationary(Kernel):
    """A kernel of the scaled squared distance ``r^2 = sum_d (x_d - x'_d)^2 / l_d^2``, times a variance.

    ``lengthscale`` is a scalar (isotropic) or one per input column (ARD); ``variance`` is the
    marginal variance k(x, x). Subclasses define ``_profile(r2)`` with ``_profile(0) = 1``.
    """

    log_lengthscale: jax.Array
    log_variance: jax.Array

    def __init__(self, lengthscale=1.0, variance=1.0):
        name = type(self).__name__
        self.log_lengthscale = log_positive(name, "lengthscale", lengthscale)
        self.log_variance = log_positive(name, "variance", variance)
        if self.log_lengthscale.ndim > 1:
            raise ValueError(
                f"{name}: `lengthscale` must be a scalar or a 1-D array (one per input column), "
                f"got shape {tuple(self.log_lengthscale.shape)}."
            )
        if self.log_variance.ndim != 0:
            raise ValueError(
                f"{name}: `variance` must be a scalar, got shape {tuple(self.log_variance.shape)}."
            )

    @property
    def lengthscale(self) -> jax.Array:
        return jnp.exp(self.log_lengthscale)

    @property
    def variance(self) -> jax.Array:
        return jnp.exp(self.log_variance)

    @property
    def num_features(self):
        return None if self.log_lengthscale.ndim == 0 else self.log_lengthscale.shape[0]

    def _scaled_squared_distance(self, X1, X2, same):
        inv = jnp.exp(-self.log_lengthscale)
        A = X1 * inv
        r2 = squared_distance(A, A if same else X2 * inv)
        if same:  # exact zeros on the diagonal, whatever the rounding of the expansion
            r2 = r2 * (1.0 - jnp.eye(r2.shape[0], dtype=r2.dtype))
        return r2

    def _profile(self, r2):
        raise NotImplementedError

    def _matrix(self, X1, X2, same):
        return self.variance * self._profile(self._scaled_squared_distance(X1, X2, same))

    def _diag(self, X):
        return jnp.full(X.shape[:1], self.variance, dtype=X.dtype)

    def _params_repr(self):
        return params_repr(lengthscale=self.lengthscale, variance=self.variance)
