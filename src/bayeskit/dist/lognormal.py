"""The log-normal distribution."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter

__all__ = ["LogNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class LogNormal(Distribution):
    r"""Log-normal distribution: ``exp`` of a ``Normal(loc, scale)`` draw.

    ``loc`` and ``scale`` are the mean and standard deviation of ``log(x)``, not of ``x``.

    .. math:: p(x) = \frac{1}{x\sigma\sqrt{2\pi}}
        \exp\!\left(-\frac{(\log x-\mu)^2}{2\sigma^2}\right), \quad x > 0

    Example:
        >>> d = LogNormal(0.0, 1.0)
        >>> float(d.icdf(0.5))  # the median is exp(loc)
        1.0
    """

    loc: jax.Array
    scale: jax.Array

    def __init__(self, loc=0.0, scale=1.0):
        self.loc = as_float(loc)
        self.scale = as_float(scale)

    def __check_init__(self):
        check_parameter(
            "LogNormal", "loc", self.loc, C.real, "`loc` is the mean of log(x): pass a finite number."
        )
        check_parameter(
            "LogNormal",
            "scale",
            self.scale,
            C.positive,
            "`scale` is the standard deviation of log(x): pass a positive number.",
        )

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.loc), jnp.shape(self.scale))

    @property
    def support(self):
        return C.positive

    def log_prob(self, x):
        inside = x > 0
        # Substitute a harmless value off the support so gradients stay finite there.
        log_x = jnp.log(jnp.where(inside, x, 1.0))
        z = (log_x - self.loc) / self.scale
        lp = -0.5 * z**2 - jnp.log(self.scale) - _HALF_LOG_2PI - log_x
        return jnp.where(inside, lp, -jnp.inf)

    def _sample(self, key, sample_shape):
        dtype = jnp.result_type(self.loc, self.scale)
        eps = jax.random.normal(key, self._extended_shape(sample_shape), dtype=dtype)
        return jnp.exp(self.loc + self.scale * eps)

    @property
    def mean(self):
        return jnp.broadcast_to(jnp.exp(self.loc + 0.5 * self.scale**2), self.batch_shape)

    @property
    def variance(self):
        s2 = self.scale**2
        return jnp.broadcast_to(jnp.expm1(s2) * jnp.exp(2 * self.loc + s2), self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(self.loc + 0.5 + _HALF_LOG_2PI + jnp.log(self.scale), self.batch_shape)

    def cdf(self, x):
        inside = x > 0
        z = (jnp.log(jnp.where(inside, x, 1.0)) - self.loc) / self.scale
        return jnp.where(inside, ndtr(z), 0.0)

    def icdf(self, q):
        return jnp.exp(self.loc + self.scale * ndtri(q))
