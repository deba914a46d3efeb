"""Normal prior on the mean of normal observations with a known noise standard deviation."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from bayeskit.conjugate._data import observations
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter
from bayeskit.dist.normal import Normal

__all__ = ["NormalNormal"]

_LOG_2PI = math.log(2 * math.pi)


class NormalNormal(eqx.Module):
    r"""Normal-normal model: exact updating of a mean when the noise is known.

    .. math::
        \mu \sim \mathcal{N}(m, s^2), \qquad x_i \mid \mu \sim \mathcal{N}(\mu, \sigma^2).

    After :math:`n` observations with sum :math:`S`,

    .. math::
        s_n^2 = \frac{s^2 \sigma^2}{\sigma^2 + n s^2}, \qquad
        m_n = \frac{\sigma^2 m + s^2 S}{\sigma^2 + n s^2},

    i.e. precisions add (:math:`1/s_n^2 = 1/s^2 + n/\sigma^2`) and the mean is the
    precision-weighted average of the prior mean and the data.

    The attributes hold the current belief: after :meth:`update`, ``loc`` and ``scale`` are the
    posterior's, which act as the prior for the next batch. Data have observations along the
    leading axis; trailing axes broadcast against the parameters' shape. A scalar is one
    observation.

    Args:
        prior_loc: prior mean :math:`m` of the unknown mean. Stored as ``loc``.
        prior_scale: prior standard deviation :math:`s`, positive. Stored as ``scale``.
        noise_scale: the known standard deviation :math:`\sigma` of each observation, positive.

    Example:
        >>> model = NormalNormal(0.0, 1.0, noise_scale=1.0).update([1.0, 2.0, 3.0])
        >>> float(model.loc), float(model.scale) ** 2
        (1.5, 0.25)
        >>> model.predictive()  # Normal(1.5, sqrt(0.25 + 1))
        Normal(loc=1.5, scale=1.118)
    """

    loc: jax.Array
    scale: jax.Array
    noise_scale: jax.Array

    def __init__(self, prior_loc, prior_scale, noise_scale):
        self.loc = as_float(prior_loc)
        self.scale = as_float(prior_scale)
        self.noise_scale = as_float(noise_scale)

    def __check_init__(self):
        check_parameter("NormalNormal", "prior_loc", self.loc, C.real)
        check_parameter(
            "NormalNormal",
            "prior_scale",
            self.scale,
            C.positive,
            "It is a standard deviation: pass a positive number.",
        )
        check_parameter(
            "NormalNormal",
            "noise_scale",
            self.noise_scale,
            C.positive,
            "It is the known standard deviation of each observation: pass a positive number.",
        )

    def update(self, data) -> NormalNormal:
        """Condition on observations and return the updated model.

        Args:
            data: real observations along the leading axis.

        Returns:
            A new ``NormalNormal`` whose ``loc`` and ``scale`` are the posterior's.

        Raises:
            ValueError: if ``data`` holds NaN or infinite values.
        """
        x = observations("NormalNormal.update", "data", data)
        n = x.shape[0]
        prior_var, noise_var = self.scale**2, self.noise_scale**2
        denom = noise_var + n * prior_var
        loc = (noise_var * self.loc + prior_var * jnp.sum(x, axis=0)) / denom
        scale = jnp.sqrt(prior_var * noise_var / denom)
        return NormalNormal(loc, scale, jnp.broadcast_to(self.noise_scale, jnp.shape(scale)))

    @property
    def posterior(self) -> Normal:
        """The current belief about the mean, ``Normal(loc, scale)``."""
        return Normal(self.loc, self.scale)

    def predictive(self) -> Normal:
        r"""The posterior predictive of a new observation, ``Normal(loc, sqrt(scale^2 + noise_scale^2))``."""
        return Normal(self.loc, jnp.sqrt(self.scale**2 + self.noise_scale**2))

    def log_marginal_likelihood(self, data) -> jax.Array:
        r"""Log evidence of the data under the current belief, with the mean integrated out.

        With :math:`\bar x` the sample mean and :math:`SS = \sum (x_i - \bar x)^2`,

        .. math::
            \log p(x) = -\tfrac{n-1}{2}\log(2\pi\sigma^2) - \tfrac12 \log n - \frac{SS}{2\sigma^2}
            + \log \mathcal{N}(\bar x \mid m, s^2 + \sigma^2/n),

        which is the log density of
        :math:`\mathcal{N}(m\mathbf 1, \sigma^2 I + s^2 \mathbf{1}\mathbf{1}^\top)` at :math:`x`,
        written in centred form to avoid cancellation.

        Args:
            data: real observations along the leading axis.

        Returns:
            The log evidence, of the broadcast shape of the parameters and the data's trailing axes.
        """
        x = observations("NormalNormal.log_marginal_likelihood", "data", data)
        n = x.shape[0]
        shape = jnp.broadcast_shapes(
            jnp.shape(self.loc), jnp.shape(self.scale), jnp.shape(self.noise_scale), x.shape[1:]
        )
        if n == 0:
            return jnp.zeros(shape, dtype=x.dtype)
        noise_var = self.noise_scale**2
        xbar = jnp.mean(x, axis=0)
        ss = jnp.sum((x - xbar) ** 2, axis=0)
        var_mean = self.scale**2 + noise_var / n
        log_mean_term = -0.5 * ((xbar - self.loc) ** 2 / var_mean + jnp.log(var_mean) + _LOG_2PI)
        out = -0.5 * (n - 1) * (_LOG_2PI + jnp.log(noise_var)) - 0.5 * math.log(n) - ss / (2 * noise_var)
        return jnp.broadcast_to(out + log_mean_term, shape)
