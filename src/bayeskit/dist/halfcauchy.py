"""The half-Cauchy distribution."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter

__all__ = ["HalfCauchy"]


class HalfCauchy(Distribution):
    r"""Half-Cauchy distribution: the absolute value of a ``Cauchy(0, scale)`` draw.

    A common weakly informative prior for scale parameters (Gelman, 2006).

    .. math:: p(x) = \frac{2}{\pi\sigma\left(1 + (x/\sigma)^2\right)}, \quad x \ge 0

    Mean and variance are infinite.

    Example:
        >>> d = HalfCauchy(5.0)
        >>> float(d.icdf(0.5))  # the median is the scale
        5.0
    """

    scale: jax.Array

    def __init__(self, scale=1.0):
        self.scale = as_float(scale)

    def __check_init__(self):
        check_parameter(
            "HalfCauchy",
            "scale",
            self.scale,
            C.positive,
            "`scale` is the median of the distribution: pass a positive number.",
        )

    @property
    def batch_shape(self):
        return jnp.shape(self.scale)

    @property
    def support(self):
        return C.positive

    def log_prob(self, x):
        z = x / self.scale
        lp = math.log(2 / math.pi) - jnp.log(self.scale) - jnp.log1p(z**2)
        return jnp.where(x >= 0, lp, -jnp.inf)

    def _sample(self, key, sample_shape):
        eps = jax.random.cauchy(key, self._extended_shape(sample_shape), dtype=self.scale.dtype)
        return self.scale * jnp.abs(eps)

    @property
    def mean(self):
        return jnp.full(self.batch_shape, jnp.inf, dtype=self.scale.dtype)

    @property
    def variance(self):
        return jnp.full(self.batch_shape, jnp.inf, dtype=self.scale.dtype)

    def entropy(self):
        return jnp.broadcast_to(math.log(2 * math.pi) + jnp.log(self.scale), self.batch_shape)

    def cdf(self, x):
        return (2 / math.pi) * jnp.arctan(jnp.maximum(x, 0) / self.scale)

    def icdf(self, q):
        # tan(pi q / 2) == 1 / tan(pi (1 - q) / 2); the second keeps accuracy for q near 1.
        q = jnp.asarray(q)
        lower = jnp.tan(0.5 * math.pi * q)
        upper = 1.0 / jnp.tan(0.5 * math.pi * (1.0 - q))
        return self.scale * jnp.where(q < 0.5, lower, upper)
