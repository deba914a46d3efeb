"""Dot-product kernels: linear (Bayesian linear regression as a GP) and polynomial."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from bayeskit.gp._precise import matmul
from bayeskit.gp.kernels._base import Kernel, exp_positive, log_positive, params_repr

__all__ = ["Linear", "Polynomial"]


class Linear(Kernel):
    r"""Linear kernel: a GP whose samples are linear functions through the origin.

    .. math:: k(x, x') = \sigma^2\, x^\top x'

    Equivalent to Bayesian linear regression with weights ~ N(0, variance I). Add a ``Constant``
    for an intercept.
    """

    log_variance: jax.Array

    def __init__(self, variance=1.0):
        self.log_variance = log_positive("Linear", "variance", variance)

    variance = property(lambda self: exp_positive(self.log_variance))

    def _matrix(self, X1, X2, same):
        return self.variance * matmul(X1, X2.T)

    def _diag(self, X):
        return self.variance * jnp.sum(X * X, axis=-1)

    def _params_repr(self):
        return params_repr(variance=self.variance)


class Polynomial(Kernel):
    r"""Polynomial kernel of integer ``degree``.

    .. math:: k(x, x') = \sigma^2 (x^\top x' + c)^{p}
    """

    log_variance: jax.Array
    log_offset: jax.Array
    degree: int = eqx.field(static=True)

    def __init__(self, degree: int = 2, variance=1.0, offset=1.0):
        if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
            raise ValueError(f"Polynomial: `degree` must be an integer >= 1, got {degree!r}.")
        self.degree = degree
        self.log_variance = log_positive("Polynomial", "variance", variance)
        self.log_offset = log_positive("Polynomial", "offset", offset)

    variance = property(lambda self: exp_positive(self.log_variance))
    offset = property(lambda self: exp_positive(self.log_offset))

    def _matrix(self, X1, X2, same):
        return self.variance * (matmul(X1, X2.T) + self.offset) ** self.degree

    def _diag(self, X):
        return self.variance * (jnp.sum(X * X, axis=-1) + self.offset) ** self.degree

    def _params_repr(self):
        return f"degree={self.degree}, " + params_repr(variance=self.variance, offset=self.offset)
