"""The negative binomial distribution, in its (count, probability) and (mean, dispersion) forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.nn import softplus
from jax.scipy.special import betainc, gammaln

from bayeskit.dist import constraints as C
from bayeskit.dist._special import betaln
from bayeskit.dist._discrete_params import half_open_unit_interval, logit_below_inf, logits_from
from bayeskit.dist._distribution import Distribution, as_float, check_parameter, is_concrete

__all__ = ["NegativeBinomial", "NegativeBinomial2"]


class NegativeBinomial(Distribution):
    r"""Negative binomial distribution: successes before the ``total_count``-th failure.

    Each trial succeeds with probability ``probs``; ``X`` counts the successes seen before
    ``total_count`` failures. This is NumPyro's and TFP's convention, so the mean is
    :math:`r p / (1 - p)`. (``scipy.stats.nbinom(n, p)`` counts failures before ``n`` successes:
    it equals this with ``n = total_count`` and ``p = 1 - probs``.) ``total_count`` need not be an
    integer. Equivalently, ``X ~ Poisson(lambda)`` with ``lambda ~ Gamma(r, rate=(1 - p) / p)``,
    which is how it is sampled.

    .. math::
        P(X = k) = \frac{\Gamma(k + r)}{k!\,\Gamma(r)} \, p^k (1-p)^r, \quad k = 0, 1, 2, \dots

    Give exactly one of ``probs`` (in [0, 1)) and ``logits`` (log-odds, below ``+inf``). Only the
    logits are stored. Draws are returned in the parameters' floating dtype (whole numbers such
    as 3.0); ``log_prob`` is ``-inf`` for negative or non-integer values.

    Example:
        >>> d = NegativeBinomial(3.0, probs=0.25)
        >>> round(float(d.mean), 4)
        1.0
    """

    is_discrete = True
    has_rsample = False

    total_count: jax.Array
    logits: jax.Array

    def __init__(self, total_count, probs=None, logits=None):
        self.total_count = as_float(total_count)
        self.logits = logits_from(
            "NegativeBinomial",
            probs,
            logits,
            probs_constraint=half_open_unit_interval,
            logits_constraint=logit_below_inf,
            probs_hint="With probs = 1 no failure ever comes and the count is infinite.",
        )

    def __check_init__(self):
        check_parameter(
            type(self).__name__,
            "total_count",
            self.total_count,
            C.positive,
            "It is the number of failures to wait for (any positive real).",
        )

    @property
    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.total_count), jnp.shape(self.logits))

    @property
    def support(self):
        return C.nonnegative_integer

    def log_prob(self, x):
        x = as_float(x)
        r, l = self.total_count, self.logits
        ok = (x >= 0) & (jnp.floor(x) == x) & (x < jnp.inf)
        k = jnp.where(ok, x, 0.0)
        # log[Gamma(k + r) / (k! Gamma(r))] = -log k - log B(k, r) for k >= 1 (0 at k = 0): the
        # log-gamma difference cancelled at large r (NegativeBinomial2 near its Poisson limit).
        k_pos = jnp.maximum(k, 1.0)
        log_coef = jnp.where(k > 0, -jnp.log(k_pos) - betaln(k_pos, r), 0.0)
        # k log p with 0 * log 0 = 0 at p = 0 (logits = -inf); log(1 - p) = -softplus(l).
        successes = jnp.where(k > 0, -k * softplus(-l), 0.0)
        return jnp.where(ok, log_coef + successes - r * softplus(l), -jnp.inf)

    def sample(self, key, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        dtype = jnp.result_type(self.total_count, self.logits)
        key_gamma, key_poisson = jax.random.split(key)
        # Gamma(r, rate=(1-p)/p) has scale p/(1-p) = exp(logits).
        lam = jax.random.gamma(key_gamma, self.total_count, shape, dtype=dtype) * jnp.exp(self.logits)
        return jax.random.poisson(key_poisson, lam, shape).astype(dtype)

    @property
    def mean(self):
        return jnp.broadcast_to(self.total_count * jnp.exp(self.logits), self.batch_shape)

    @property
    def variance(self):
        # mean / (1 - p), and 1 / (1 - p) = 1 + exp(logits).
        odds = jnp.exp(self.logits)
        return jnp.broadcast_to(self.total_count * odds * (1 + odds), self.batch_shape)

    def cdf(self, x):
        r"""Return :math:`P(X \le x) = I_{1-p}(r, \lfloor x \rfloor + 1)`, the regularised beta."""
        k = jnp.floor(as_float(x))
        k_safe = jnp.where(k >= 0, k, 0.0)
        inside = betainc(self.total_count, k_safe + 1, jax.nn.sigmoid(-self.logits))
        return jnp.where(k < 0, 0.0, inside)


class NegativeBinomial2(NegativeBinomial):
    r"""Negative binomial distribution by its ``mean`` and ``concentration`` (overdispersion).

    The Gamma-Poisson mixture ``X ~ Poisson(lambda)``, ``lambda ~ Gamma(phi, rate=phi / mu)``:
    mean :math:`\mu`, variance :math:`\mu + \mu^2/\phi`; it tends to ``Poisson(mean)`` as the
    concentration grows. Stan calls it ``neg_binomial_2``. It is the same distribution as
    ``NegativeBinomial(total_count=phi, probs=mu / (mu + phi))``, and is stored that way.

    .. math::
        P(X = k) = \frac{\Gamma(k + \phi)}{k!\,\Gamma(\phi)}
        \left(\frac{\mu}{\mu + \phi}\right)^k \left(\frac{\phi}{\mu + \phi}\right)^\phi

    Example:
        >>> d = NegativeBinomial2(mean=4.0, concentration=2.0)
        >>> round(float(d.variance), 4)
        12.0
    """

    def __init__(self, mean, concentration):
        mean, concentration = as_float(mean), as_float(concentration)
        check_parameter("NegativeBinomial2", "mean", mean, C.nonnegative, "It is the mean count (>= 0).")
        check_parameter(
            "NegativeBinomial2",
            "concentration",
            concentration,
            C.positive,
            "Smaller values mean more overdispersion; the variance is mean + mean**2 / concentration.",
        )
        self.total_count = concentration
        self.logits = jnp.log(mean) - jnp.log(concentration)

    @property
    def concentration(self) -> jax.Array:
        return self.total_count

    def __repr__(self) -> str:
        def show(v):
            if is_concrete(v) and v.size == 1:
                return f"{float(v):.4g}"
            return f"<{v.dtype}{list(v.shape)}>"

        return f"NegativeBinomial2(mean={show(self.mean)}, concentration={show(self.concentration)})"
