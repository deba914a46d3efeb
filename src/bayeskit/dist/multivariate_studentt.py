"""The multivariate Student-t distribution, stored through a lower Cholesky scale factor."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from bayeskit.dist import constraints as C
from bayeskit.dist._gamma_sampler import log_gamma_sample
from bayeskit.dist._special import betaln
from bayeskit.dist._distribution import Distribution, as_float, check_event, check_parameter
from bayeskit.dist.multivariate_normal import (
    _check_scale_tril,
    _check_square,
    _half_log_det,
    _loc_with_event,
    _solve_lower,
)

__all__ = ["MultivariateStudentT"]

_LOG_PI = math.log(math.pi)


class MultivariateStudentT(Distribution):
    r"""Multivariate Student-t with ``df`` degrees of freedom, location ``loc`` and scale ``L``.

    ``scale_tril`` is the lower Cholesky factor of the scale (not covariance) matrix
    :math:`\Sigma = L L^T`. A draw is :math:`\mu + L z \sqrt{\nu / g}` with
    :math:`z \sim N(0, I)` and :math:`g \sim \chi^2_\nu`. This is the posterior predictive of a
    Bayesian linear regression with unknown noise variance.

    .. math::
        p(x) = \frac{\Gamma(\frac{\nu+D}{2})}{\Gamma(\frac{\nu}{2})(\nu\pi)^{D/2}|L|}
        \left(1 + \tfrac{1}{\nu}\lVert L^{-1}(x-\mu)\rVert^2\right)^{-\frac{\nu+D}{2}}

    The mean is ``loc`` for ``df > 1`` (NaN otherwise); the covariance is
    :math:`\frac{\nu}{\nu-2}\Sigma` for ``df > 2``, infinite for ``1 < df <= 2`` and NaN for
    ``df <= 1``.

    Example:
        >>> d = MultivariateStudentT(5.0, jnp.zeros(2), jnp.eye(2))
        >>> d.covariance_matrix.tolist()  # doctest: +ELLIPSIS
        [[1.666..., 0.0], [0.0, 1.666...]]
    """

    df: jax.Array
    loc: jax.Array
    scale_tril: jax.Array

    def __init__(self, df, loc, scale_tril):
        tril = as_float(scale_tril)
        _check_square("MultivariateStudentT", "scale_tril", tril)
        self.df = as_float(df)
        self.loc = _loc_with_event("MultivariateStudentT", as_float(loc), tril.shape[-1])
        self.scale_tril = tril

    def __check_init__(self):
        check_parameter(
            "MultivariateStudentT",
            "df",
            self.df,
            C.positive,
            "The degrees of freedom must be a positive number (use a large value for a normal).",
        )
        check_parameter("MultivariateStudentT", "loc", self.loc, C.real_vector)
        _check_scale_tril("MultivariateStudentT", self.scale_tril)

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(self.df.shape, self.loc.shape[:-1], self.scale_tril.shape[:-2])

    @property
    def event_shape(self):
        return tuple(self.loc.shape[-1:])

    @property
    def support(self):
        return C.real_vector

    def log_prob(self, x):
        x = as_float(x)
        check_event("MultivariateStudentT", x, self.event_shape)
        d = self.loc.shape[-1]
        nu = self.df
        z = _solve_lower(self.scale_tril, x - self.loc)
        maha = jnp.sum(z**2, axis=-1)
        # log Gamma((nu + d)/2) - log Gamma(nu/2) = log Gamma(d/2) - log B(d/2, nu/2), without the
        # cancellation of the difference at large nu.
        norm = gammaln(0.5 * d) - betaln(0.5 * d, 0.5 * nu) - 0.5 * d * (jnp.log(nu) + _LOG_PI)
        return norm - _half_log_det(self.scale_tril) - 0.5 * (nu + d) * jnp.log1p(maha / nu)

    def _sample(self, key, sample_shape):
        key_z, key_g = jax.random.split(key)
        shape = tuple(sample_shape) + self.batch_shape
        dtype = self.loc.dtype
        z = jax.random.normal(key_z, shape + self.event_shape, dtype=dtype)
        half_nu = jnp.broadcast_to(0.5 * self.df, shape)
        # sqrt(df / chi2) with chi2 = 2 Gamma(df / 2), in log space: for small df a gamma draw
        # can underflow to zero.
        log_g = log_gamma_sample(key_g, half_nu, half_nu.shape, dtype)
        z = z * jnp.exp(0.5 * (jnp.log(0.5 * self.df) - log_g))[..., None]
        return self.loc + jnp.matmul(self.scale_tril, z[..., None])[..., 0]

    @property
    def mean(self):
        m = jnp.broadcast_to(self.loc, self.batch_shape + self.event_shape)
        df = jnp.broadcast_to(self.df, self.batch_shape)[..., None]
        return jnp.where(df > 1, m, jnp.nan)

    def _moment_factor(self):
        """``df / (df - 2)`` where the covariance exists, ``inf`` or ``nan`` where it does not."""
        df = jnp.broadcast_to(self.df, self.batch_shape)
        safe = jnp.where(df > 2, df, 3.0)
        return jnp.where(df > 2, safe / (safe - 2.0), jnp.where(df > 1, jnp.inf, jnp.nan))

    @property
    def covariance_matrix(self):
        """Return :math:`\\frac{\\nu}{\\nu-2} L L^T` (``df > 2``), of shape ``batch + (D, D)``."""
        scale = jnp.matmul(self.scale_tril, jnp.swapaxes(self.scale_tril, -1, -2))
        return self._moment_factor()[..., None, None] * scale

    @property
    def variance(self):
        var = jnp.sum(self.scale_tril**2, axis=-1)
        return self._moment_factor()[..., None] * var

    def entropy(self):
        d = self.loc.shape[-1]
        nu = self.df
        a = 0.5 * (nu + d)
        h = (
            gammaln(0.5 * nu)
            - gammaln(a)
            + 0.5 * d * (jnp.log(nu) + _LOG_PI)
            + a * (digamma(a) - digamma(0.5 * nu))
            + _half_log_det(self.scale_tril)
        )
        return jnp.broadcast_to(h, self.batch_shape)
