"""The Bernoulli distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.nn import softplus

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import logits_from
from bayeskit.dist._distribution import Distribution

__all__ = ["Bernoulli"]


class Bernoulli(Distribution):
    r"""Bernoulli distribution: 1 with probability ``probs``, else 0.

    Give exactly one of ``probs`` (in [0, 1]) and ``logits`` (log-odds,
    :math:`\operatorname{logit} p = \log p - \log(1-p)`; ``-inf``/``+inf`` mean 0/1). Only the
    logits are stored; ``probs`` is computed from them.

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

    def __init__(self, probs=None, logits=None):
        self.logits = logits_from("Bernoulli", probs, logits)

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
        # log p = -softplus(-l) and log(1 - p) = -softplus(l) stay accurate (and finite for
        # finite l) where log(sigmoid(l)) would round to log(0) or log(1).
        # One softplus of the sign-flipped logit: half the work of evaluating both branches.
        lp = -softplus(jnp.where(x == 1, -self.logits, self.logits))
        return jnp.where((x == 0) | (x == 1), lp, -jnp.inf)

    def sample(self, key, sample_shape=()):
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
