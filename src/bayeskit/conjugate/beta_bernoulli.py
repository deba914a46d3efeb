"""Beta prior on the success probability of Bernoulli (or binomial) observations."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from bayeskit.conjugate._data import check_binary, check_counts, observations
from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float, check_parameter, is_concrete
from bayeskit.dist._special import betaln
from bayeskit.dist.bernoulli import Bernoulli
from bayeskit.dist.beta import Beta

__all__ = ["BetaBernoulli"]


class BetaBernoulli(eqx.Module):
    r"""Beta-Bernoulli model: exact updating of a success probability.

    .. math::
        p \sim \mathrm{Beta}(\alpha, \beta), \qquad x_i \mid p \sim \mathrm{Bernoulli}(p).

    After :math:`s` successes and :math:`f` failures the posterior is
    :math:`\mathrm{Beta}(\alpha + s, \beta + f)`. Binomial data (``successes`` out of
    ``trials`` per experiment) update the same way, with :math:`s = \sum k_j` and
    :math:`f = \sum (n_j - k_j)`.

    The attributes hold the current belief: after :meth:`update` they are the posterior's
    parameters, which serve as the prior for the next batch, so updating in pieces gives the
    same object as updating once with all the data.

    Data have observations along the leading axis; any trailing axes broadcast against the
    shape of ``alpha`` and ``beta`` (independent problems side by side). A scalar is one
    observation.

    Args:
        alpha: prior pseudo-count of successes, positive.
        beta: prior pseudo-count of failures, positive. ``alpha = beta = 1`` is uniform.

    Example:
        >>> model = BetaBernoulli(1.0, 1.0).update([1, 0, 1, 1])
        >>> float(model.alpha), float(model.beta)
        (4.0, 2.0)
        >>> float(model.predictive().probs)  # doctest: +ELLIPSIS
        0.666...
        >>> model = BetaBernoulli().update(successes=[3, 5], trials=[4, 10])  # two experiments
    """

    alpha: jax.Array
    beta: jax.Array

    def __init__(self, alpha=1.0, beta=1.0):
        self.alpha = as_float(alpha)
        self.beta = as_float(beta)

    def __check_init__(self):
        hint = "It is a prior pseudo-count: pass a positive number (alpha = beta = 1 is a uniform prior)."
        check_parameter("BetaBernoulli", "alpha", self.alpha, C.positive, hint)
        check_parameter("BetaBernoulli", "beta", self.beta, C.positive, hint)

    def _tally(self, owner: str, data, successes, trials):
        """Return (number of successes, number of failures, log binomial coefficients)."""
        if data is not None and (successes is not None or trials is not None):
            raise ValueError(
                f"{owner}: pass either `data` (0/1 outcomes) or `successes` with `trials` "
                "(binomial counts), not both."
            )
        if data is not None:
            x = observations(owner, "data", data)
            check_binary(owner, "data", x)
            s = jnp.sum(x, axis=0)
            return s, x.shape[0] - s, jnp.zeros_like(s)
        if successes is None or trials is None:
            missing = (
                "data"
                if successes is None and trials is None
                else ("trials" if trials is None else "successes")
            )
            raise ValueError(
                f"{owner}: `{missing}` is missing. Pass `data` (an array of 0/1 outcomes), or both "
                "`successes` and `trials` (binomial counts, one entry per experiment)."
            )
        k = observations(owner, "successes", successes)
        n = observations(owner, "trials", trials)
        check_counts(owner, "successes", k)
        check_counts(owner, "trials", n)
        try:
            k, n = jnp.broadcast_arrays(k, n)
        except ValueError:
            raise ValueError(
                f"{owner}: `successes` has shape {k.shape} but `trials` has shape {n.shape}; "
                "give one entry of each per experiment."
            ) from None
        if is_concrete(k) and is_concrete(n) and bool(jnp.any(k > n)):
            raise ValueError(f"{owner}: `successes` must not exceed `trials` in any experiment.")
        log_coef = jnp.sum(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1), axis=0)
        s = jnp.sum(k, axis=0)
        return s, jnp.sum(n, axis=0) - s, log_coef

    def update(self, data=None, *, successes=None, trials=None) -> BetaBernoulli:
        """Condition on observations and return the updated model.

        Args:
            data: 0/1 outcomes (bool or numbers), observations along the leading axis.
            successes: binomial success counts, one per experiment (instead of ``data``).
            trials: the number of trials of each experiment, ``>= successes``.

        Returns:
            A new ``BetaBernoulli`` with ``alpha + successes`` and ``beta + failures``.

        Raises:
            ValueError: if outcomes are not 0/1, counts are negative or fractional,
                ``successes > trials``, data are NaN, or the arguments are mixed up.
        """
        s, f, _ = self._tally("BetaBernoulli.update", data, successes, trials)
        return BetaBernoulli(self.alpha + s, self.beta + f)

    @property
    def posterior(self) -> Beta:
        """The current belief about the success probability, ``Beta(alpha, beta)``."""
        return Beta(self.alpha, self.beta)

    def predictive(self) -> Bernoulli:
        r"""The posterior predictive of the next outcome, ``Bernoulli(alpha / (alpha + beta))``."""
        return Bernoulli(probs=self.alpha / (self.alpha + self.beta))

    def log_marginal_likelihood(self, data=None, *, successes=None, trials=None) -> jax.Array:
        r"""Log evidence of the data under the current belief, with the probability integrated out.

        .. math:: \log p(D) = \log B(\alpha + s, \beta + f) - \log B(\alpha, \beta)
            \;[+ \textstyle\sum_j \log \binom{n_j}{k_j} \text{ for binomial counts}].

        ``data`` is a particular sequence of outcomes; ``successes``/``trials`` are counts, whose
        likelihood includes the binomial coefficients, so for one experiment this is the
        beta-binomial log probability of ``successes``.

        Args:
            data: 0/1 outcomes, as in :meth:`update`.
            successes: binomial success counts (instead of ``data``).
            trials: the number of trials of each experiment.

        Returns:
            The log evidence, of the broadcast shape of the parameters and the data's trailing axes.
        """
        s, f, log_coef = self._tally("BetaBernoulli.log_marginal_likelihood", data, successes, trials)
        return betaln(self.alpha + s, self.beta + f) - betaln(self.alpha, self.beta) + log_coef
