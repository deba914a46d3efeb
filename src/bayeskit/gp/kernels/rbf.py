"""The squared-exponential (RBF) and rational-quadratic kernels."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.gp.kernels._base import exp_positive, log_positive, params_repr
from bayeskit.gp.kernels._stationary import Stationary

__all__ = ["RBF", "RationalQuadratic"]


class RBF(Stationary):
    r"""Squared-exponential kernel: infinitely smooth functions.

    .. math:: k(x, x') = \sigma^2 \exp\left(-\tfrac12 \sum_d (x_d - x'_d)^2 / \ell_d^2\right)

    Example:
        >>> k = RBF(lengthscale=[1.0, 2.0], variance=0.5)  # ARD over two input columns
        >>> k(jnp.zeros((3, 2))).shape
        (3, 3)
    """

    def _profile(self, r2):
        return jnp.exp(-0.5 * r2)


class RationalQuadratic(Stationary):
    r"""Rational-quadratic kernel: a scale mixture of RBF kernels (RBF as ``alpha`` -> infinity).

    .. math:: k(x, x') = \sigma^2 \left(1 + \frac{r^2}{2\alpha}\right)^{-\alpha}
    """

    log_alpha: jax.Array

    def __init__(self, lengthscale=1.0, variance=1.0, alpha=1.0):
        super().__init__(lengthscale, variance)
        self.log_alpha = log_positive("RationalQuadratic", "alpha", alpha)

    @property
    def alpha(self) -> jax.Array:
        return exp_positive(self.log_alpha)

    def _profile(self, r2):
        alpha = self.alpha
        return jnp.exp(-alpha * jnp.log1p(r2 / (2.0 * alpha)))

    def _params_repr(self):
        return params_repr(lengthscale=self.lengthscale, variance=self.variance, alpha=self.alpha)
