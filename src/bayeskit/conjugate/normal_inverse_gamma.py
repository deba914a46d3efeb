"""Normal-inverse-gamma prior on the unknown mean and variance of normal observations."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from bayeskit._key import check_key
from bayeskit.conjugate._data import observations
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter, check_sample_shape
from bayeskit.dist._gamma_sampler import log_gamma_sample
from bayeskit.dist.inversegamma import InverseGamma
from bayeskit.dist.studentt import StudentT

__all__ = ["NormalInverseGamma"]

_LOG_2PI = math.log(2 * math.pi)


class NormalInverseGamma(eqx.Module):
    r"""Normal-inverse-gamma model: exact updating of a normal's mean and variance.

    .. math::
        \sigma^2 \sim \mathrm{InvGamma}(a, b), \qquad
        \mu \mid \sigma^2 \sim \mathcal{N}(m, \sigma^2/\kappa), \qquad
        x_i \mid \mu, \sigma^2 \sim \mathcal{N}(\mu, \sigma^2).

    After :math:`n` observations with mean :math:`\bar x` and :math:`SS = \sum (x_i - \bar x)^2`,

    .. math::
        \kappa_n = \kappa + n, \quad
        m_n = \frac{\kappa m + n \bar x}{\kappa_n}, \quad
        a_n = a + \frac n2, \quad
        b_n = b + \frac{SS}{2} + \frac{\kappa n (\bar x - m)^2}{2 \kappa_n}.

    ``precision_scale`` (:math:`\kappa`) is the prior's worth in observations: the prior mean
    counts as :math:`\kappa` data points.

    The attributes hold the current belief: after :meth:`update` they are the posterior's
    parameters, the prior for the next batch. Data have observations along the leading axis;
    trailing axes broadcast against the parameters' shape. A scalar is one observation.

    Args:
        loc: prior mean :math:`m` of the unknown mean.
        precision_scale: :math:`\kappa > 0`, dividing the variance in the prior of the mean.
        concentration: :math:`a > 0`, the inverse-gamma shape of the variance's prior.
        rate: :math:`b > 0`, the inverse-gamma scale (rate of the precision) of that prior.

    Example:
        >>> model = NormalInverseGamma(0.0, 1.0, 2.0, 2.0).update([1.2, 0.8, 1.9, 1.4])
        >>> post = model.posterior  # {"loc": StudentT, "variance": InverseGamma}
        >>> float(post["loc"].mean)  # doctest: +ELLIPSIS
        1.06...
        >>> model.predictive()  # StudentT of the next observation
        StudentT(df=8, loc=1.06, scale=0.9512)
    """

    loc: jax.Array
    precision_scale: jax.Array
    concentration: jax.Array
    rate: jax.Array

    def __init__(self, loc, precision_scale, concentration, rate):
        self.loc = as_float(loc)
        self.precision_scale = as_float(precision_scale)
        self.concentration = as_float(concentration)
        self.rate = as_float(rate)

    def __check_init__(self):
        name = "NormalInverseGamma"
        check_parameter(name, "loc", self.loc, C.real)
        check_parameter(
            name,
            "precision_scale",
            self.precision_scale,
            C.positive,
            "It is the prior's weight in observations: pass a positive number (small is vague).",
        )
        check_parameter(name, "concentration", self.concentration, C.positive)
        check_parameter(name, "rate", self.rate, C.positive)

    def update(self, data) -> NormalInverseGamma:
        """Condition on observations and return the updated model.

        Args:
            data: real observations along the leading axis.

        Returns:
            A new ``NormalInverseGamma`` holding the posterior's parameters.

        Raises:
            ValueError: if ``data`` holds NaN or infinite values.
        """
        x = observations("NormalInverseGamma.update", "data", data)
        n = x.shape[0]
        if n == 0:
            return self
        xbar = jnp.mean(x, axis=0)
        ss = jnp.sum((x - xbar) ** 2, axis=0)
        kappa_n = self.precision_scale + n
        loc = (self.precision_scale * self.loc + n * xbar) / kappa_n
        rate = self.rate + 0.5 * ss + 0.5 * self.precision_scale * n * (xbar - self.loc) ** 2 / kappa_n
        return NormalInverseGamma(loc, kappa_n, self.concentration + 0.5 * n, rate)

    @property
    def posterior(self) -> dict:
        r"""The current marginal beliefs, ``{"loc": StudentT, "variance": InverseGamma}``.

        ``"loc"`` is the mean's marginal,
        :math:`t_{2a}(m, \sqrt{b / (a\kappa)})`, and ``"variance"`` is
        :math:`\mathrm{InvGamma}(a, b)`. They are not independent: use :meth:`sample_posterior`
        for joint draws.
        """
        a, b, k = self.concentration, self.rate, self.precision_scale
        return {
            "loc": StudentT(2 * a, self.loc, jnp.sqrt(b / (a * k))),
            "variance": InverseGamma(a, b),
        }

    def predictive(self) -> StudentT:
        r"""The posterior predictive of a new observation, :math:`t_{2a}(m, \sqrt{b(\kappa+1)/(a\kappa)})`."""
        a, b, k = self.concentration, self.rate, self.precision_scale
        return StudentT(2 * a, self.loc, jnp.sqrt(b * (k + 1) / (a * k)))

    def sample_posterior(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> dict:
        """Draw ``(loc, variance)`` jointly from the current belief.

        Args:
            key: a ``jax.random`` key.
            sample_shape: leading shape of the draws.

        Returns:
            ``{"loc": array, "variance": array}``, each of shape ``sample_shape + batch shape``.
        """
        key = check_key(key, "NormalInverseGamma.sample_posterior")
        sample_shape = check_sample_shape(sample_shape, "NormalInverseGamma.sample_posterior")
        key_var, key_loc = jax.random.split(key)
        shape = tuple(sample_shape) + jnp.broadcast_shapes(
            jnp.shape(self.loc),
            jnp.shape(self.precision_scale),
            jnp.shape(self.concentration),
            jnp.shape(self.rate),
        )
        dtype = jnp.result_type(self.loc, self.rate)
        variance = self.rate * jnp.exp(-log_gamma_sample(key_var, self.concentration, shape, dtype))
        loc = self.loc + jnp.sqrt(variance / self.precision_scale) * jax.random.normal(
            key_loc, shape, dtype=dtype
        )
        return {"loc": loc, "variance": variance}

    def log_marginal_likelihood(self, data) -> jax.Array:
        r"""Log evidence of the data under the current belief, with mean and variance integrated out.

        .. math::
            \log p(x) = \log\Gamma(a_n) - \log\Gamma(a) + a \log b - a_n \log b_n
            + \tfrac12 \log\frac{\kappa}{\kappa_n} - \tfrac n2 \log(2\pi).

        Args:
            data: real observations along the leading axis.

        Returns:
            The log evidence, of the broadcast shape of the parameters and the data's trailing axes.
        """
        x = observations("NormalInverseGamma.log_marginal_likelihood", "data", data)
        n = x.shape[0]
        post = self.update(x)
        a, b, k = self.concentration, self.rate, self.precision_scale
        a_n, b_n, k_n = post.concentration, post.rate, post.precision_scale
        out = (
            gammaln(a_n)
            - gammaln(a)
            + a * jnp.log(b)
            - a_n * jnp.log(b_n)
            + 0.5 * jnp.log(k / k_n)
            - 0.5 * n * _LOG_2PI
        )
        shape = jnp.broadcast_shapes(
            jnp.shape(self.loc), jnp.shape(k), jnp.shape(a), jnp.shape(b), x.shape[1:]
        )
        return jnp.broadcast_to(out, shape)
