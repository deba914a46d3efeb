"""The constant kernel (an unknown offset, or a learnable scale in ``c * k``) and white noise."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.gp.kernels._base import Kernel, exp_positive, log_positive, params_repr

__all__ = ["Constant", "White"]


class Constant(Kernel):
    r"""Constant kernel ``k(x, x') = c``: a random offset with variance ``c``.

    ``c * k`` for a number ``c`` builds ``Constant(c) * k``, a learnable output scale.
    """

    log_variance: jax.Array

    def __init__(self, variance=1.0):
        self.log_variance = log_positive("Constant", "variance", variance)

    variance = property(lambda self: exp_positive(self.log_variance))

    def _matrix(self, X1, X2, same):
        return jnp.full((X1.shape[0], X2.shape[0]), self.variance, dtype=X1.dtype)

    def _diag(self, X):
        return jnp.full(X.shape[:1], self.variance, dtype=X.dtype)

    def _params_repr(self):
        return params_repr(variance=self.variance)


class White(Kernel):
    r"""White-noise kernel ``k(x, x') = \sigma^2 [x \text{ is } x']``.

    Noise belongs to a point, not to a location: ``kernel(X)`` adds ``variance`` on the diagonal,
    while the cross-covariance ``kernel(X1, X2)`` between two input sets is zero even where rows
    coincide. ``GPR`` has its own ``noise``; use ``White`` for noise inside a latent process.
    """

    log_variance: jax.Array

    def __init__(self, variance=1.0):
        self.log_variance = log_positive("White", "variance", variance)

    variance = property(lambda self: exp_positive(self.log_variance))

    def _matrix(self, X1, X2, same):
        if same:
            return self.variance * jnp.eye(X1.shape[0], dtype=X1.dtype)
        return jnp.zeros((X1.shape[0], X2.shape[0]), dtype=X1.dtype)

    def _diag(self, X):
        return jnp.full(X.shape[:1], self.variance, dtype=X.dtype)

    def _params_repr(self):
        return params_repr(variance=self.variance)
