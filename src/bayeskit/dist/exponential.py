"""The exponential distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter

__all__ = ["Exponential"]


class Exponential(Distribution):
    r"""Exponential distribution with rate ``rate`` (mean ``1 / rate``).

    .. math:: p(x) = \lambda e^{-\lambda x}, \quad x \ge 0

    Example:
        >>> d = Exponential(2.0)
        >>> float(d.mean)
        0.5
    """

    rate: jax.Array

    def __init__(self, rate=1.0):
        self.rate = as_float(rate)

    def __check_init__(self):
        check_parameter(
            "Exponential",
            "rate",
            self.rate,
            C.positive,
            "`rate` is the inverse of the mean: for mean m pass rate=1/m.",
        )

    @property
    def batch_shape(self):
        return jnp.shape(self.rate)

    @property
    def support(self):
        return C.positive

    def log_prob(self, x):
        lp = jnp.log(self.rate) - self.rate * x
        return jnp.where(x >= 0, lp, -jnp.inf)

    def _sample(self, key, sample_shape):
        eps = jax.random.exponential(key, self._extended_shape(sample_shape), dtype=self.rate.dtype)
        return eps / self.rate

    @property
    def mean(self):
        return jnp.broadcast_to(1 / self.rate, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.rate**-2, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(1 - jnp.log(self.rate), self.batch_shape)

    def cdf(self, x):
        return -jnp.expm1(-self.rate * jnp.maximum(x, 0))

    def icdf(self, q):
        return -jnp.log1p(-jnp.asarray(q)) / self.rate
