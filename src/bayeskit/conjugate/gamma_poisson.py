"""Gamma prior on the rate of Poisson counts."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln, xlogy

from bayeskit.conjugate._data import check_counts, check_positive, observations
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter
from bayeskit.dist.gamma import Gamma
from bayeskit.dist.negativebinomial import NegativeBinomial

__all__ = ["GammaPoisson"]


class GammaPoisson(eqx.Module):
    r"""Gamma-Poisson model: exact updating of a Poisson rate.

    .. math::
        \lambda \sim \mathrm{Gamma}(a, b), \qquad x_i \mid \lambda \sim \mathrm{Poisson}(\lambda t_i),

    with exposures :math:`t_i` (time at risk, area, population; 1 when not given). After counts
    :math:`x_i`, the posterior is :math:`\mathrm{Gamma}(a + \sum x_i, b + \sum t_i)`.

    The attributes hold the current belief: after :meth:`update` they are the posterior's
    parameters, the prior for the next batch. Data have observations along the leading axis;
    trailing axes broadcast against the parameters' shape. A scalar is one observation.

    Args:
        concentration: the gamma shape :math:`a > 0` (a prior pseudo-count of events).
        rate: the gamma rate :math:`b > 0` (a prior pseudo-exposure).

    Example:
        >>> model = GammaPoisson(2.0, 1.0).update([3, 1, 4])
        >>> float(model.concentration), float(model.rate)
        (10.0, 4.0)
        >>> float(model.predictive().mean)  # negative binomial, mean a / b
        2.5
    """

    concentration: jax.Array
    rate: jax.Array

    def __init__(self, concentration, rate):
        self.concentration = as_float(concentration)
        self.rate = as_float(rate)

    def __check_init__(self):
        check_parameter(
            "GammaPoisson", "concentration", self.concentration, C.positive, "It is the gamma prior's shape."
        )
        check_parameter(
            "GammaPoisson", "rate", self.rate, C.positive, "It is the gamma prior's rate (1 / scale)."
        )

    def _counts_and_exposure(self, owner: str, counts, exposure):
        x = observations(owner, "counts", counts)
        check_counts(owner, "counts", x, "Poisson data are event counts.")
        if exposure is None:
            return x, None
        t = observations(owner, "exposure", exposure)
        check_positive(owner, "exposure", t, "It is the time or size over which each count was made.")
        try:
            x, t = jnp.broadcast_arrays(x, t)
        except ValueError:
            raise ValueError(
                f"{owner}: `counts` has shape {x.shape} but `exposure` has shape {t.shape}; give one "
                "exposure per count."
            ) from None
        return x, t

    def update(self, counts, exposure=None) -> GammaPoisson:
        """Condition on counts and return the updated model.

        Args:
            counts: non-negative whole numbers, observations along the leading axis.
            exposure: optional positive exposure of each count (default 1).

        Returns:
            A new ``GammaPoisson`` with ``concentration + sum(counts)`` and ``rate + sum(exposure)``.

        Raises:
            ValueError: if counts are negative, fractional or NaN, or exposures are not positive.
        """
        x, t = self._counts_and_exposure("GammaPoisson.update", counts, exposure)
        total_exposure = x.shape[0] if t is None else jnp.sum(t, axis=0)
        return GammaPoisson(self.concentration + jnp.sum(x, axis=0), self.rate + total_exposure)

    @property
    def posterior(self) -> Gamma:
        """The current belief about the rate, ``Gamma(concentration, rate)``."""
        return Gamma(self.concentration, self.rate)

    def predictive(self, exposure=1.0) -> NegativeBinomial:
        r"""The posterior predictive of a new count over ``exposure``: a negative binomial.

        .. math:: x \sim \mathrm{NegativeBinomial}\big(a, p = t / (b + t)\big),
            \qquad \mathbb E[x] = t a / b,

        in NumPyro's parameterisation (``mean = total_count * probs / (1 - probs)``).
        """
        t = as_float(exposure)
        check_positive("GammaPoisson.predictive", "exposure", t)
        return NegativeBinomial(self.concentration, logits=jnp.log(t) - jnp.log(self.rate))

    def log_marginal_likelihood(self, counts, exposure=None) -> jax.Array:
        r"""Log evidence of the counts under the current belief, with the rate integrated out.

        .. math::
            \log p(x) = \log\Gamma(a + S) - \log\Gamma(a) + a\log b - (a + S)\log(b + T)
            + \sum_i \big(x_i \log t_i - \log x_i!\big),

        with :math:`S = \sum x_i` and :math:`T = \sum t_i`.

        Args:
            counts: non-negative whole numbers, observations along the leading axis.
            exposure: optional positive exposure of each count (default 1).

        Returns:
            The log evidence, of the broadcast shape of the parameters and the data's trailing axes.
        """
        x, t = self._counts_and_exposure("GammaPoisson.log_marginal_likelihood", counts, exposure)
        a, b = self.concentration, self.rate
        s = jnp.sum(x, axis=0)
        total_exposure = x.shape[0] if t is None else jnp.sum(t, axis=0)
        log_exposure = 0.0 if t is None else jnp.sum(xlogy(x, t), axis=0)
        return (
            gammaln(a + s)
            - gammaln(a)
            + a * jnp.log(b)
            - (a + s) * jnp.log(b + total_exposure)
            + log_exposure
            - jnp.sum(gammaln(x + 1), axis=0)
        )
