"""The negative binomial distribution, in its (count, probability) and (mean, dispersion) forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.nn import softplus
from jax.scipy.special import betainc

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import (
    at_ends,
    half_open_unit_interval,
    logit_below_inf,
    logits_from,
    logits_zero_at_ends,
    masked,
    zero_with_slope,
)
from bayeskit.dist._distribution import Distribution, as_float, check_parameter, is_concrete
from bayeskit.dist._gamma_sampler import gamma_sample
from bayeskit.dist._special import betaln
from bayeskit.dist._poisson_sampler import poisson_sample

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

    Give exactly one of ``probs`` (in [0, 1)) and ``logits`` (log-odds, below ``+inf``). The
    logits are stored; ``given_probs`` keeps ``probs`` as given (``None`` for logits), so that
    ``log_prob`` has finite derivatives in ``probs`` at 0. Draws are returned in the parameters'
    floating dtype (whole numbers such as 3.0); ``log_prob`` is ``-inf`` for negative or
    non-integer values.

    Example:
        >>> d = NegativeBinomial(3.0, probs=0.25)
        >>> round(float(d.mean), 4)
        1.0
    """

    is_discrete = True
    has_rsample = False

    total_count: jax.Array
    logits: jax.Array
    given_probs: jax.Array | None

    def __init__(self, total_count, probs=None, logits=None):
        self.total_count = as_float(total_count)
        self.logits, self.given_probs = logits_from(
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
        r = self.total_count
        # Logits first: for the same order of operations, and so the same rounding of summed
        # derivatives, as when they were computed at construction.
        logits = self.logits if self._given() is None else self._logits_zero_at_boundary()
        ok = (x >= 0) & (jnp.floor(x) == x) & (x < jnp.inf)
        k = jnp.where(ok, x, 0.0)
        # log[Gamma(k + r) / (k! Gamma(r))] = -log k - log B(k, r) for k >= 1 (0 at k = 0): the
        # log-gamma difference cancelled at large r (NegativeBinomial2 near its Poisson limit).
        k_pos = jnp.maximum(k, 1.0)
        log_coef = jnp.where(k > 0, -jnp.log(k_pos) - betaln(k_pos, r), 0.0)
        lp = self._from_logits(log_coef, r, k, logits)
        if self._given() is not None:
            lp = lp + self._boundary_derivative(r, k, ok)
        return jnp.where(ok, lp, -jnp.inf)

    def _given(self):
        """The parameter the logits were made from, or ``None`` when logits were given."""
        return self.given_probs

    def _logits_zero_at_boundary(self):
        return logits_zero_at_ends(self.given_probs)

    def _boundary_derivative(self, r, k, ok):
        # At p = 0 the derivative in p is that of k log p + r log(1 - p), written out (see
        # _discrete_params): -r at k = 0, else +inf (where the value is -inf).
        p = self.given_probs
        slope = jnp.where(ok & at_ends(p), jnp.where(k == 0, -r, jnp.inf), 0.0)
        return zero_with_slope(p, slope)

    @staticmethod
    def _from_logits(log_coef, r, k, l):
        # k log p with 0 * log 0 = 0 at p = 0 (logits = -inf); log(1 - p) = -softplus(l).
        successes = jnp.where(k > 0, -k * softplus(-l), 0.0)
        return log_coef + successes - r * softplus(l)

    def _sample(self, key, sample_shape):
        shape = self._extended_shape(sample_shape)
        dtype = jnp.result_type(self.total_count, self.logits)
        key_gamma, key_poisson = jax.random.split(key)
        # Gamma(r, rate=(1-p)/p) has scale p/(1-p) = exp(logits).
        lam = gamma_sample(key_gamma, self.total_count, shape, dtype) * jnp.exp(self.logits)
        return poisson_sample(key_poisson, lam, shape)

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
    ``NegativeBinomial(total_count=phi, probs=mu / (mu + phi))``, and is stored that way, with
    the mean kept as given (``given_mean``) for finite derivatives of ``log_prob`` at mean 0.

    .. math::
        P(X = k) = \frac{\Gamma(k + \phi)}{k!\,\Gamma(\phi)}
        \left(\frac{\mu}{\mu + \phi}\right)^k \left(\frac{\phi}{\mu + \phi}\right)^\phi

    Example:
        >>> d = NegativeBinomial2(mean=4.0, concentration=2.0)
        >>> round(float(d.variance), 4)
        12.0
    """

    given_mean: jax.Array

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
        self.logits = _logits(mean, concentration)
        self.given_probs = None
        self.given_mean = mean

    def _given(self):
        return self.given_mean

    def _logits_zero_at_boundary(self):
        return _logits_zero_at_zero(self.given_mean, self.total_count)

    def _boundary_derivative(self, r, k, ok):
        # At mean 0 the derivative in the mean is that of k log mu - (k + r) log(mu + r), written
        # out: -1 at k = 0, else +inf (where the value is -inf).
        mu = self.given_mean
        slope = jnp.where(ok & (mu == 0), jnp.where(k == 0, -1.0, jnp.inf), 0.0)
        return zero_with_slope(mu, slope)

    @property
    def concentration(self) -> jax.Array:
        return self.total_count

    def __repr__(self) -> str:
        def show(v):
            if is_concrete(v) and v.size == 1:
                return f"{float(v):.4g}"
            return f"<{v.dtype}{list(v.shape)}>"

        return f"NegativeBinomial2(mean={show(self.mean)}, concentration={show(self.concentration)})"


def _logits(mean, concentration):
    # log(p / (1 - p)) for p = mean / (mean + concentration); one formula, so that log_prob
    # recomputes the stored logits bit for bit.
    return jnp.log(mean) - jnp.log(concentration)


@jax.custom_jvp
def _logits_zero_at_zero(mean, concentration):
    """:func:`_logits` with a zero derivative in the mean at mean 0 (not 1/0); see
    ``logits_zero_at_ends`` in ``_discrete_params``."""
    return _logits(mean, concentration)


def _logits_zero_at_zero_jvp(primals, tangents):
    mean, concentration = primals
    mean_dot, concentration_dot = tangents
    # JAX's derivative, operation for operation, of log(mean) - log(concentration).
    logits = _logits(mean, concentration)
    tangent = jnp.zeros_like(logits)
    if not isinstance(mean_dot, SymbolicZero):
        # Masked before the division by 0 (forward mode) and after it (reverse mode).
        tangent = masked(masked(mean_dot, mean == 0) / mean, mean == 0)
        if not isinstance(concentration_dot, SymbolicZero):
            tangent = tangent - concentration_dot / concentration
    elif not isinstance(concentration_dot, SymbolicZero):
        tangent = -(concentration_dot / concentration)
    return logits, jnp.broadcast_to(tangent, logits.shape)


_logits_zero_at_zero.defjvp(_logits_zero_at_zero_jvp, symbolic_zeros=True)
