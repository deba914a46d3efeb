"""The Cauchy distribution."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter

__all__ = ["Cauchy"]


class Cauchy(Distribution):
    r"""Cauchy distribution with location (median) ``loc`` and half-width ``scale``.

    .. math:: p(x) = \frac{1}{\pi\sigma\left(1 + \left(\frac{x-\mu}{\sigma}\right)^2\right)}

    It has no mean or variance: both are ``nan``.

    Example:
        >>> d = Cauchy(0.0, 1.0)
        >>> float(d.cdf(1.0))
        0.75
    """

    loc: jax.Array
    scale: jax.Array

    def __init__(self, loc=0.0, scale=1.0):
        self.loc = as_float(loc)
        self.scale = as_float(scale)

    def __check_init__(self):
        check_parameter("Cauchy", "loc", self.loc, C.real)
        check_parameter(
            "Cauchy",
            "scale",
            self.scale,
            C.positive,
            "`scale` is the half-width at half-maximum: pass a positive number.",
        )

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.loc), jnp.shape(self.scale))

    @property
    def support(self):
        return C.real

    def log_prob(self, x):
        z = (x - self.loc) / self.scale
        return -math.log(math.pi) - jnp.log(self.scale) - jnp.log1p(z**2)

    def _sample(self, key, sample_shape):
        dtype = jnp.result_type(self.loc, self.scale)
        eps = jax.random.cauchy(key, self._extended_shape(sample_shape), dtype=dtype)
        return self.loc + self.scale * eps

    @property
    def mean(self):
        return jnp.full(self.batch_shape, jnp.nan, dtype=jnp.result_type(self.loc, self.scale))

    @property
    def variance(self):
        return jnp.full(self.batch_shape, jnp.nan, dtype=jnp.result_type(self.loc, self.scale))

    def entropy(self):
        return jnp.broadcast_to(math.log(4 * math.pi) + jnp.log(self.scale), self.batch_shape)

    def cdf(self, x):
        z = (x - self.loc) / self.scale
        # atan2(1, -z) / pi == 1/2 + atan(z) / pi, without cancellation in the left tail.
        return jnp.arctan2(1.0, -z) / math.pi

    def icdf(self, q):
        # tan(pi (q - 1/2)) written as -cot(pi q) / cot(pi (1 - q)): keeps relative accuracy
        # for q near 0 and near 1.
        q = jnp.asarray(q)
        lower = -1.0 / jnp.tan(math.pi * q)
        upper = 1.0 / jnp.tan(math.pi * (1.0 - q))
        return self.loc + self.scale * jnp.where(q < 0.5, lower, upper)
