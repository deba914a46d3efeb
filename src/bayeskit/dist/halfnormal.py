"""The half-normal distribution."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import erf, erfinv

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter

__all__ = ["HalfNormal"]

_HALF_LOG_2_OVER_PI = 0.5 * math.log(2 / math.pi)


class HalfNormal(Distribution):
    r"""Half-normal distribution: the absolute value of a ``Normal(0, scale)`` draw.

    .. math:: p(x) = \frac{\sqrt{2}}{\sigma\sqrt{\pi}} \exp\!\left(-\frac{x^2}{2\sigma^2}\right),
        \quad x \ge 0

    Example:
        >>> d = HalfNormal(2.0)
        >>> float(d.mean)  # doctest: +ELLIPSIS
        1.5957...
    """

    scale: jax.Array

    def __init__(self, scale=1.0):
        self.scale = as_float(scale)

    def __check_init__(self):
        check_parameter(
            "HalfNormal",
            "scale",
            self.scale,
            C.positive,
            "The scale is the standard deviation of the normal being folded: pass a positive number.",
        )

    @property
    def batch_shape(self):
        return jnp.shape(self.scale)

    @property
    def support(self):
        return C.positive

    def log_prob(self, x):
        z = x / self.scale
        lp = _HALF_LOG_2_OVER_PI - jnp.log(self.scale) - 0.5 * z**2
        return jnp.where(x >= 0, lp, -jnp.inf)

    def _sample(self, key, sample_shape):
        eps = jax.random.normal(key, self._extended_shape(sample_shape), dtype=self.scale.dtype)
        return self.scale * jnp.abs(eps)

    @property
    def mean(self):
        return jnp.broadcast_to(self.scale * math.sqrt(2 / math.pi), self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.scale**2 * (1 - 2 / math.pi), self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(0.5 * math.log(math.pi / 2) + 0.5 + jnp.log(self.scale), self.batch_shape)

    def cdf(self, x):
        return erf(jnp.maximum(x, 0) / (self.scale * math.sqrt(2)))

    def icdf(self, q):
        return self.scale * math.sqrt(2) * erfinv(q)
