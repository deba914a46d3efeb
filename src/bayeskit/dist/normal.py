"""The normal (Gaussian) distribution."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Normal(Distribution):
    r"""Normal distribution with mean ``loc`` and standard deviation ``scale``.

    .. math:: p(x) = \frac{1}{\sigma\sqrt{2\pi}} \exp\!\left(-\frac{(x-\mu)^2}{2\sigma^2}\right)

    Example:
        >>> d = Normal(0.0, 1.0)
        >>> float(d.log_prob(0.0))  # doctest: +ELLIPSIS
        -0.9189...
    """

    loc: jax.Array
    scale: jax.Array

    def __init__(self, loc=0.0, scale=1.0):
        self.loc = as_float(loc)
        self.scale = as_float(scale)

    def __check_init__(self):
        check_parameter("Normal", "loc", self.loc, C.real)
        check_parameter(
            "Normal",
            "scale",
            self.scale,
            C.positive,
            "The scale is a standard deviation: pass a positive number.",
        )

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.loc), jnp.shape(self.scale))

    @property
    def support(self):
        return C.real

    def log_prob(self, x):
        z = (x - self.loc) / self.scale
        return -0.5 * z**2 - jnp.log(self.scale) - _HALF_LOG_2PI

    def _sample(self, key, sample_shape):
        eps = jax.random.normal(key, self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + self.scale * eps

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc, self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to(self.scale**2, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(0.5 + _HALF_LOG_2PI + jnp.log(self.scale), self.batch_shape)

    def cdf(self, x):
        return ndtr((x - self.loc) / self.scale)

    def icdf(self, q):
        return self.loc + self.scale * ndtri(q)
