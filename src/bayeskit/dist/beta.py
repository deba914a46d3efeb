"""The beta distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, digamma, xlog1py, xlogy

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter
from bayeskit.dist._gamma_sampler import log_gamma_sample
from bayeskit.dist._special import betaln

__all__ = ["Beta"]


class Beta(Distribution):
    r"""Beta distribution on ``[0, 1]`` with concentrations ``concentration1`` and ``concentration0``.

    ``concentration1`` (alpha) counts pseudo-successes and ``concentration0`` (beta)
    pseudo-failures; the mean is ``alpha / (alpha + beta)``.

    .. math:: p(x) = \frac{x^{\alpha-1} (1-x)^{\beta-1}}{B(\alpha, \beta)}, \quad 0 \le x \le 1

    Example:
        >>> d = Beta(2.0, 6.0)
        >>> float(d.mean)
        0.25
    """

    concentration1: jax.Array
    concentration0: jax.Array

    def __init__(self, concentration1, concentration0):
        self.concentration1 = as_float(concentration1)
        self.concentration0 = as_float(concentration0)

    def __check_init__(self):
        check_parameter(
            "Beta",
            "concentration1",
            self.concentration1,
            C.positive,
            "`concentration1` is alpha, the weight on x: pass a positive number.",
        )
        check_parameter(
            "Beta",
            "concentration0",
            self.concentration0,
            C.positive,
            "`concentration0` is beta, the weight on 1 - x: pass a positive number.",
        )

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.concentration1), jnp.shape(self.concentration0))

    @property
    def support(self):
        return C.unit_interval

    def log_prob(self, x):
        a, b = self.concentration1, self.concentration0
        inside = (x >= 0) & (x <= 1)
        # Substitute a harmless value off the support so gradients stay finite there.
        x = jnp.where(inside, x, 0.5)
        lp = xlogy(a - 1, x) + xlog1py(b - 1, -x) - betaln(a, b)
        return jnp.where(inside, lp, -jnp.inf)

    def _sample(self, key, sample_shape):
        shape = self._extended_shape(sample_shape)
        dtype = jnp.result_type(self.concentration1, self.concentration0)
        # X = G1 / (G1 + G0) = sigmoid(log G1 - log G0) for independent Gamma(a, 1) and Gamma(b, 1);
        # log-space draws keep small concentrations from underflowing to 0 / 0.
        # Both gammas in one call: one rejection loop to compile.
        ab = jnp.stack([jnp.broadcast_to(self.concentration1, shape), jnp.broadcast_to(self.concentration0, shape)])
        log_g = log_gamma_sample(key, ab, ab.shape, dtype)
        return jax.nn.sigmoid(log_g[0] - log_g[1])

    @property
    def mean(self):
        a, b = self.concentration1, self.concentration0
        return jnp.broadcast_to(a / (a + b), self.batch_shape)

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return jnp.broadcast_to(a * b / (total**2 * (total + 1)), self.batch_shape)

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        h = betaln(a, b) - (a - 1) * digamma(a) - (b - 1) * digamma(b) + (a + b - 2) * digamma(a + b)
        return jnp.broadcast_to(h, self.batch_shape)

    def cdf(self, x):
        """Return P(X <= x); differentiable in ``x`` only (JAX's ``betainc`` has no gradient with
        respect to the concentrations)."""
        return betainc(self.concentration1, self.concentration0, jnp.clip(x, 0, 1))
