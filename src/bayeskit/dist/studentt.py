"""Student's t distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import betainc, digamma, ndtr

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter
from bayeskit.dist._gamma_sampler import log_gamma_sample
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

    def _sample(self, key, sample_shape):
        shape = self._extended_shape(sample_shape)
        dtype = jnp.result_type(self.df, self.loc, self.scale)
        key_normal, key_gamma = jax.random.split(key)
        eps = jax.random.normal(key_normal, shape, dtype=dtype)
        # T = Z / sqrt(V / df) with V / df = Gamma(df/2, 1) / (df/2), drawn in log space so that
        # small df cannot underflow V to 0; the gamma sampler is differentiable in df.
        half_df = jnp.broadcast_to(0.5 * self.df, shape).astype(dtype)
        log_v_over_df = log_gamma_sample(key_gamma, half_df, shape, dtype) - jnp.log(half_df)
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
        r"""Return :math:`P(X \le x)`; differentiable in ``x``, ``loc`` and ``scale``.

        From the regularised incomplete beta function, :math:`P(T < -|t|) = \tfrac12
        I_{\nu/(\nu+t^2)}(\nu/2, 1/2)`, except where ``df`` is large: there JAX's ``betainc``
        raises :math:`\nu / (\nu + t^2)`, rounded near 1, to the power :math:`\nu/2`, and loses
        digits in proportion to ``df`` (relative error 2e-11 at ``df = 1e4`` and 1e-6 at ``1e8`` in
        float64; 1e-3 at ``1e3`` in float32). For large ``df`` (see :func:`_normal_deviate`) it is
        the normal cdf of Hill's (1970) normalising transform of ``t``, accurate to rounding.
        JAX's ``betainc`` has no derivative in ``df``.

        Example:
            >>> round(float(StudentT(1e6).cdf(-1.0)), 6)
            0.158655
        """
        nu = jnp.asarray(self.df)
        z = jnp.asarray((x - self.loc) / self.scale)
        dtype = jnp.result_type(nu, z)
        nu_min, h_max, nu_any = _HILL_RANGE[bool(jnp.finfo(dtype).eps < 1e-10)]
        u = z**2 / nu
        use_normal = (nu >= nu_min) & ((jnp.log1p(u) <= h_max) | (nu >= nu_any)) & (u < jnp.inf)
        # Each branch gets inputs it is finite and differentiable at, so that the branches not
        # taken add zero derivatives (not 0 * inf).
        normal = ndtr(_normal_deviate(jnp.where(use_normal, z, 0.0), jnp.where(use_normal, nu, nu_any)))
        # Near t = 0 nu / (nu + t^2) rounds to 1, where betainc's derivative in it is infinite:
        # there P = 1/2 + p(0) t, exact to rounding.
        near_zero = ~use_normal & (nu / (nu + z**2) == 1)
        z_near = jnp.where(near_zero, z, 0.0)
        linear = 0.5 + jnp.exp(-betaln(0.5, 0.5 * nu) - 0.5 * jnp.log(nu)) * z_near
        infinite = jnp.isinf(z)
        z_beta = jnp.where(use_normal | near_zero | infinite, 1.0, z)
        tail = 0.5 * betainc(0.5 * nu, 0.5, nu / (nu + z_beta**2))  # P(T < -|t|)
        beta = jnp.where(infinite, jnp.where(z > 0, 1.0, 0.0), jnp.where(z_beta < 0, tail, 1.0 - tail))
        return jnp.where(use_normal, normal, jnp.where(near_zero, linear, beta))


# Where the normal deviate is used, by float64 (True) and float32: (df at least, and for
# log1p(t^2 / df) at most, or for any t once df is at least). Hill's series is cut after its
# 1 / b^2 terms; measured against mpmath, its relative error grows like 1e-7 h^6 with
# h = log1p(t^2 / df) for large df, plus terms in 1 / df^6: below 1e-16 for h <= 0.03 and
# df >= 200, below 2e-9 for h <= 0.5 and df >= 10. Beyond those h, betainc serves, but for
# df >= 1e4 (float64) or 200 (float32) the deviate is better everywhere the cdf does not
# underflow (its worst, 1e-12 at df = 1e4 and t = -37 with the cdf near 1e-280, is no worse than
# betainc's there; betainc errs by 2e-11 near t = -1.7 at that df).
_HILL_RANGE = {True: (200.0, 0.03, 1e4), False: (10.0, 0.5, 200.0)}


def _normal_deviate(t, nu):
    r"""Return ``w`` with :math:`\Phi(w) = P(T_\nu \le t)` by Hill's normalising transform.

    G. W. Hill (1970), "Algorithm 395: Student's t-distribution", Comm. ACM 13(10), 617-619:
    with :math:`a = \nu - 1/2`, :math:`b = 48 a^2` and :math:`y = a \log(1 + t^2/\nu)`, the
    deviate is :math:`\sqrt{y}\,[1 + (y + 3 + (((-0.4 y - 3.3) y - 24) y - 85.5) /
    (0.8 y^2 + 100 + b)) / b]` with the sign of ``t``. The square root is taken as
    :math:`t \sqrt{(a/\nu) \log(1 + u) / u}`, ``u = t^2 / nu``, which is smooth through
    ``t = 0`` (``sqrt(y)`` has an infinite derivative there).
    """
    u = t**2 / nu
    u_pos = jnp.where(u > 0, u, 1.0)
    log_ratio = jnp.where(u > 0, jnp.log1p(u_pos) / u_pos, 1.0)  # log(1 + u) / u
    w = t * jnp.sqrt((1 - 0.5 / nu) * log_ratio)
    y = w**2
    b = 48 * (nu - 0.5) ** 2
    return w * (1 + (y + 3 + (((-0.4 * y - 3.3) * y - 24) * y - 85.5) / (0.8 * y**2 + 100 + b)) / b)
