"""The Bernoulli distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.nn import softplus

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import at_ends, logits_from, logits_zero_at_ends, zero_with_slope
from bayeskit.dist._distribution import Distribution

__all__ = ["Bernoulli"]


class Bernoulli(Distribution):
    r"""Bernoulli distribution: 1 with probability ``probs``, else 0.

    Give exactly one of ``probs`` (in [0, 1]) and ``logits`` (log-odds,
    :math:`\operatorname{logit} p = \log p - \log(1-p)`; ``-inf``/``+inf`` mean 0/1). The
    logits are stored and ``probs`` is computed from them; ``given_probs`` keeps ``probs`` as
    given (``None`` for logits), so that ``log_prob`` has finite derivatives in ``probs`` at 0 and 1.

    .. math:: P(X = x) = p^x (1-p)^{1-x}, \quad x \in \{0, 1\}

    Draws are returned in the parameters' floating dtype (0.0 or 1.0), so they mix with float
    arithmetic; ``log_prob`` accepts bools, integers or floats and is ``-inf`` off {0, 1}.

    Example:
        >>> d = Bernoulli(probs=0.25)
        >>> float(jnp.exp(d.log_prob(1)))  # doctest: +ELLIPSIS
        0.25...
    """

    is_discrete = True
    has_rsample = False

    logits: jax.Array
    given_probs: jax.Array | None

    def __init__(self, probs=None, logits=None):
        self.logits, self.given_probs = logits_from("Bernoulli", probs, logits)

    @property
    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)

    @property
    def batch_shape(self):
        return jnp.shape(self.logits)

    @property
    def support(self):
        return C.boolean

    def log_prob(self, x):
        x = jnp.asarray(x)
        ok = (x == 0) | (x == 1)
        p = self.given_probs
        if p is None:
            return jnp.where(ok, self._from_logits(x, self.logits), -jnp.inf)
        # At p = 0 or 1 the derivative in p is that of x log p + (1 - x) log(1 - p), x / p -
        # (1 - x) / (1 - p), written out (see _discrete_params); the value is the same.
        slope = jnp.where(p == 1, jnp.where(x == 1, 1.0, -jnp.inf), jnp.where(x == 1, jnp.inf, -1.0))
        slope = jnp.where(ok & at_ends(p), slope, 0.0)
        lp = self._from_logits(x, logits_zero_at_ends(p)) + zero_with_slope(p, slope)
        return jnp.where(ok, lp, -jnp.inf)

    @staticmethod
    def _from_logits(x, logits):
        # log p = -softplus(-l) and log(1 - p) = -softplus(l) stay accurate (and finite for
        # finite l) where log(sigmoid(l)) would round to log(0) or log(1).
        # One softplus of the sign-flipped logit: half the work of evaluating both branches.
        return -softplus(jnp.where(x == 1, -logits, logits))

    def _sample(self, key, sample_shape):
        shape = self._extended_shape(sample_shape)
        return jax.random.bernoulli(key, self.probs, shape).astype(self.logits.dtype)

    @property
    def mean(self):
        return self.probs

    @property
    def variance(self):
        return jax.nn.sigmoid(self.logits) * jax.nn.sigmoid(-self.logits)

    def entropy(self):
        p, q = jax.nn.sigmoid(self.logits), jax.nn.sigmoid(-self.logits)
        # 0 * log 0 = 0: the where keeps degenerate p in {0, 1} from giving 0 * inf = NaN.
        h1 = jnp.where(p > 0, p * softplus(-self.logits), 0.0)
        h0 = jnp.where(q > 0, q * softplus(self.logits), 0.0)
        return h1 + h0

    def cdf(self, x):
        x = jnp.asarray(x)
        return jnp.where(x < 0, 0.0, jnp.where(x < 1, jax.nn.sigmoid(-self.logits), 1.0))
