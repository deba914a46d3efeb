"""The inverse-gamma distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaincc, gammaln

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter
from bayeskit.dist._gamma_sampler import log_gamma_sample

__all__ = ["InverseGamma"]


class InverseGamma(Distribution):
    r"""Inverse-gamma distribution: ``1 / X`` for ``X ~ Gamma(concentration, rate)``.

    ``rate`` here is the scale of the inverse-gamma itself (Stan's and scipy's ``beta``/``scale``):
    the mean is ``rate / (concentration - 1)``.

    .. math:: p(x) = \frac{\beta^\alpha}{\Gamma(\alpha)} x^{-\alpha-1} e^{-\beta/x}, \quad x > 0

    The mean is ``inf`` for ``concentration <= 1`` and the variance ``inf`` for
    ``concentration <= 2``.

    Example:
        >>> d = InverseGamma(3.0, rate=4.0)
        >>> float(d.mean)
        2.0
    """

    concentration: jax.Array
    rate: jax.Array

    def __init__(self, concentration, rate=1.0):
        self.concentration = as_float(concentration)
        self.rate = as_float(rate)

    def __check_init__(self):
        check_parameter(
            "InverseGamma",
            "concentration",
            self.concentration,
            C.positive,
            "`concentration` is the shape parameter (alpha): pass a positive number.",
        )
        check_parameter(
            "InverseGamma",
            "rate",
            self.rate,
            C.positive,
            "`rate` is beta in beta^alpha / Gamma(alpha) x^(-alpha-1) exp(-beta/x) "
            "(scipy's `scale`): pass a positive number.",
        )

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.concentration), jnp.shape(self.rate))

    @property
    def support(self):
        return C.positive

    def log_prob(self, x):
        a, b = self.concentration, self.rate
        inside = x > 0
        # Substitute a harmless value off the support so gradients stay finite there.
        x = jnp.where(inside, x, 1.0)
        lp = a * jnp.log(b) - gammaln(a) - (a + 1) * jnp.log(x) - b / x
        return jnp.where(inside, lp, -jnp.inf)

    def _sample(self, key, sample_shape):
        shape = self._extended_shape(sample_shape)
        dtype = jnp.result_type(self.concentration, self.rate)
        # 1 / Gamma(a) overflows where a Gamma(a) draw underflows (small a); exp(-log draw) does not.
        a = jnp.broadcast_to(self.concentration, shape).astype(dtype)
        return self.rate * jnp.exp(-log_gamma_sample(key, a, shape, dtype))

    @property
    def mean(self):
        a = self.concentration
        m = jnp.where(a > 1, self.rate / jnp.where(a > 1, a - 1, 1.0), jnp.inf)
        return jnp.broadcast_to(m, self.batch_shape)

    @property
    def variance(self):
        a = self.concentration
        safe = jnp.where(a > 2, a, 3.0)
        v = jnp.where(a > 2, self.rate**2 / ((safe - 1) ** 2 * (safe - 2)), jnp.inf)
        return jnp.broadcast_to(v, self.batch_shape)

    def entropy(self):
        a = self.concentration
        h = a + jnp.log(self.rate) + gammaln(a) - (1 + a) * digamma(a)
        return jnp.broadcast_to(h, self.batch_shape)

    def cdf(self, x):
        inside = x > 0
        x = jnp.where(inside, x, 1.0)
        return jnp.where(inside, gammaincc(self.concentration, self.rate / x), 0.0)
