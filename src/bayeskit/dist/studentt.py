"""Student's t distribution."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, digamma, gammaln

from bayeskit.dist import constraints as C
from bayeskit.dist._special import betaln
from bayeskit.dist._distribution import Distribution, as_float, check_parameter
from bayeskit.dist._special import betaln

__all__ = ["StudentT"]


class StudentT(Distribution):
    r"""Student's t distribution with ``df`` degrees of freedom, location ``loc`` and scale ``scale``.

    Heavier-tailed than the normal; ``df=1`` is the Cauchy distribution and ``df -> inf`` the
    normal. With :math:`z = (x-\mu)/\sigma` and :math:`\nu` = ``df``:

    .. math:: p(x) = \frac{\Gamma(\frac{\nu+1}{2})}{\Gamma(\frac{\nu}{2})\sqrt{\nu\pi}\,\sigma}
        \left(1 + \frac{z^2}{\nu}\right)^{-\frac{\nu+1}{2}}

    The mean is ``nan`` for ``df <= 1`` (undefined); the variance is ``inf`` for
    ``1 < df <= 2`` and ``nan`` for ``df <= 1``.

    Example:
        >>> d = StudentT(3.0, loc=1.0, scale=2.0)
        >>> float(d.variance)
        12.0
    """

    df: jax.Array
    loc: jax.Array
    scale: jax.Array

    def __init__(self, df, loc=0.0, scale=1.0):
        self.df = as_float(df)
        self.loc = as_float(loc)
        self.scale = as_float(scale)

    def __check_init__(self):
        check_parameter(
            "StudentT",
            "df",
            self.df,
            C.positive,
            "`df` is the degrees of freedom: pass a positive number (df=1 is the Cauchy distribution).",
        )
        check_parameter("StudentT", "loc", self.loc, C.real)
        check_parameter(
            "StudentT",
            "scale",
            self.scale,
            C.positive,
            "`scale` is a scale, not a variance or a standard deviation: pass a positive number.",
        )

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.df), jnp.shape(self.loc), jnp.shape(self.scale))

    @property
    def support(self):
        return C.real

    def log_prob(self, x):
        nu = self.df
        z = (x - self.loc) / self.scale
        # Gamma((nu + 1) / 2) / (Gamma(nu / 2) sqrt(nu pi)) = 1 / (sqrt(nu) B(1/2, nu/2)): the
        # log-gamma difference cancelled catastrophically at large nu (df = 1e8: -9.78 at 0).
        log_norm = -betaln(0.5, 0.5 * nu) - 0.5 * jnp.log(nu)
        return log_norm - jnp.log(self.scale) - 0.5 * (nu + 1) * jnp.log1p(z**2 / nu)

    def sample(self, key, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        dtype = jnp.result_type(self.df, self.loc, self.scale)
        key_normal, key_gamma = jax.random.split(key)
        eps = jax.random.normal(key_normal, shape, dtype=dtype)
        # T = Z / sqrt(V / df) with V / df = Gamma(df/2, 1) / (df/2), drawn in log space so that
        # small df cannot underflow V to 0; the gamma sampler is differentiable in df.
        half_df = jnp.broadcast_to(0.5 * self.df, shape).astype(dtype)
        log_v_over_df = jax.random.loggamma(key_gamma, half_df, shape, dtype=dtype) - jnp.log(half_df)
        return self.loc + self.scale * eps * jnp.exp(-0.5 * log_v_over_df)

    @property
    def mean(self):
        m = jnp.where(self.df > 1, self.loc, jnp.nan)
        return jnp.broadcast_to(m, self.batch_shape)

    @property
    def variance(self):
        nu = self.df
        finite = self.scale**2 * nu / jnp.where(nu > 2, nu - 2, 1.0)
        v = jnp.where(nu > 2, finite, jnp.where(nu > 1, jnp.inf, jnp.nan))
        return jnp.broadcast_to(v, self.batch_shape)

    def entropy(self):
        nu = self.df
        h = (
            0.5 * (nu + 1) * (digamma(0.5 * (nu + 1)) - digamma(0.5 * nu))
            + 0.5 * jnp.log(nu)
            + betaln(0.5 * nu, 0.5)
            + jnp.log(self.scale)
        )
        return jnp.broadcast_to(h, self.batch_shape)

    def cdf(self, x):
        """Return P(X <= x); differentiable in ``x``, ``loc`` and ``scale`` (JAX's ``betainc`` has no
        gradient with respect to ``df``)."""
        nu = self.df
        z = (x - self.loc) / self.scale
        # One tail, P(T < -|z|), via the regularised incomplete beta function.
        tail = 0.5 * betainc(0.5 * nu, 0.5, nu / (nu + z**2))
        return jnp.where(z < 0, tail, 1.0 - tail)
