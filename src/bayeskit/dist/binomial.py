"""The binomial distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.nn import softplus
from jax.scipy.special import betainc

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import (
    at_ends,
    check_count,
    logits_from,
    logits_zero_at_ends,
    zero_with_slope,
)
from bayeskit.dist._distribution import Distribution, as_float
from bayeskit.dist._special import betaln

__all__ = ["Binomial"]


class Binomial(Distribution):
    r"""Binomial distribution: the number of successes in ``total_count`` independent trials.

    Give exactly one of ``probs`` (the success probability, in [0, 1]) and ``logits`` (its
    log-odds). The logits are stored and ``probs`` is computed from them; ``given_probs`` keeps
    ``probs`` as given (``None`` for logits), so that ``log_prob`` has finite derivatives in
    ``probs`` at 0 and 1.

    .. math:: P(X = k) = \binom{n}{k} p^k (1-p)^{n-k}, \quad k = 0, \dots, n

    Draws are returned in the parameters' floating dtype (whole numbers such as 3.0), so they mix
    with float arithmetic; ``log_prob`` is ``-inf`` for negative, non-integer or too-large values.
    ``total_count`` may be an array (batched); it is stored as a float array.

    Example:
        >>> d = Binomial(10, probs=0.5)
        >>> float(jnp.exp(d.log_prob(5)))  # doctest: +ELLIPSIS
        0.246...
    """

    is_discrete = True
    has_rsample = False

    total_count: jax.Array
    logits: jax.Array
    given_probs: jax.Array | None

    def __init__(self, total_count, probs=None, logits=None):
        self.total_count = as_float(total_count)
        self.logits, self.given_probs = logits_from("Binomial", probs, logits)

    def __check_init__(self):
        check_count("Binomial", "total_count", self.total_count, "It is the number of trials.")

    @property
    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.total_count), jnp.shape(self.logits))

    @property
    def support(self):
        return C.integer_interval(0, self.total_count)

    def log_prob(self, x):
        x = as_float(x)
        n = self.total_count
        ok = (x >= 0) & (x <= n) & (jnp.floor(x) == x)
        k = jnp.where(ok, x, 0.0)
        # log C(n, k) = -log(n + 1) - log B(k + 1, n - k + 1): no difference of large log-gammas.
        log_choose = -jnp.log1p(n) - betaln(k + 1, n - k + 1)
        p = self.given_probs
        if p is None:
            return jnp.where(ok, self._from_logits(log_choose, n, k, self.logits), -jnp.inf)
        # At p = 0 or 1 the derivative in p is that of k log p + (n - k) log(1 - p), written out
        # (see _discrete_params): n at p = 1 and k = n, -n at p = 0 and k = 0, else infinite
        # (where the value is -inf). The value is the same.
        at_one = jnp.where(k == n, n, -jnp.inf)
        at_zero = jnp.where(k == 0, -n, jnp.inf)
        slope = jnp.where(ok & at_ends(p), jnp.where(p == 1, at_one, at_zero), 0.0)
        lp = self._from_logits(log_choose, n, k, logits_zero_at_ends(p)) + zero_with_slope(p, slope)
        return jnp.where(ok, lp, -jnp.inf)

    @staticmethod
    def _from_logits(log_choose, n, k, l):
        """``log C(n, k) + k log p + (n - k) log(1 - p)`` from the logits ``l``."""
        # The wheres make 0 * log 0 = 0 when p is exactly 0 or 1 (logits -inf or +inf).
        successes = jnp.where(k > 0, -k * softplus(-l), 0.0)
        failures = jnp.where(n - k > 0, -(n - k) * softplus(l), 0.0)
        return log_choose + successes + failures

    def _sample(self, key, sample_shape):
        shape = self._extended_shape(sample_shape)
        dtype = jnp.result_type(self.total_count, self.logits)
        return jax.random.binomial(key, self.total_count, self.probs, shape, dtype=dtype)

    @property
    def mean(self):
        return jnp.broadcast_to(self.total_count * self.probs, self.batch_shape)

    @property
    def variance(self):
        pq = jax.nn.sigmoid(self.logits) * jax.nn.sigmoid(-self.logits)
        return jnp.broadcast_to(self.total_count * pq, self.batch_shape)

    def cdf(self, x):
        r"""Return :math:`P(X \le x) = I_{1-p}(n - k, k + 1)` with :math:`k = \lfloor x \rfloor`."""
        n = self.total_count
        k = jnp.floor(as_float(x))
        inside = (k >= 0) & (k < n)
        k_safe = jnp.where(inside, k, 0.0)
        a = jnp.where(inside, n - k_safe, 1.0)
        tail = betainc(a, k_safe + 1, jax.nn.sigmoid(-self.logits))
        return jnp.where(k < 0, 0.0, jnp.where(k >= n, 1.0, tail))
