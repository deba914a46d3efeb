"""The categorical distribution over ``{0, ..., K-1}``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import log_zero_in_rows, logits_from, rows_with_zero, zero_with_slope
from bayeskit.dist._distribution import Distribution

__all__ = ["Categorical"]


class Categorical(Distribution):
    r"""Categorical distribution: one draw of a category index ``0, ..., K-1``.

    Give exactly one of ``probs`` (probability vectors on the last axis; each nonnegative and
    summing to 1) and ``logits`` (unnormalised log probabilities; ``-inf`` marks an impossible
    category). The last axis indexes the ``K`` categories; the leading axes are the batch shape.
    The logits are stored and ``probs`` is their softmax; ``given_probs`` keeps ``probs`` as given
    (``None`` for logits), so that ``log_prob`` has finite derivatives in ``probs`` where some
    category's probability is 0.

    .. math:: P(X = k) = p_k = \frac{e^{\ell_k}}{\sum_j e^{\ell_j}}, \quad k = 0, \dots, K-1

    Draws are the indices as floats in the parameters' dtype (e.g. 2.0), so they mix with float
    arithmetic and can be used as indices after ``.astype(int)``. ``log_prob`` is ``-inf`` for
    values that are not integers in ``0, ..., K-1``. ``mean`` and ``variance`` are those of the
    index as a number.

    Example:
        >>> d = Categorical(probs=[0.2, 0.3, 0.5])
        >>> float(jnp.exp(d.log_prob(2)))  # doctest: +ELLIPSIS
        0.5...
    """

    is_discrete = True
    has_rsample = False

    logits: jax.Array
    given_probs: jax.Array | None

    def __init__(self, probs=None, logits=None):
        self.logits, self.given_probs = logits_from(
            "Categorical",
            probs,
            logits,
            vector=True,
            probs_hint="Each row (last axis) must be nonnegative and sum to 1 (within 1e-5).",
        )

    @property
    def probs(self) -> jax.Array:
        return jax.nn.softmax(self.logits, axis=-1)

    @property
    def num_categories(self) -> int:
        return self.logits.shape[-1]

    @property
    def batch_shape(self):
        return jnp.shape(self.logits)[:-1]

    @property
    def support(self):
        return C.integer_interval(0, self.num_categories - 1)

    def log_prob(self, x):
        x = jnp.asarray(x)
        ok = (x >= 0) & (x <= self.num_categories - 1) & (jnp.floor(x) == x)
        index = jnp.where(ok, x, 0).astype(jnp.int32)
        shape = jnp.broadcast_shapes(index.shape, self.batch_shape)
        index = jnp.broadcast_to(index, shape)[..., None]

        def pick(v):
            v = jnp.broadcast_to(v, shape + (v.shape[-1],))
            return jnp.take_along_axis(v, index, axis=-1)[..., 0]

        p = self.given_probs
        if p is None:
            return jnp.where(ok, pick(jax.nn.log_softmax(self.logits, axis=-1)), -jnp.inf)
        # In a row with a zero probability the derivative in p comes from log p_x - log sum_k p_k
        # (see _discrete_params); the value is the same.
        is_x = jnp.arange(self.num_categories) == index
        slope = jnp.where(is_x, 1 / p, 0.0) - 1 / jnp.sum(p, axis=-1, keepdims=True)
        slope = jnp.where(ok[..., None] & rows_with_zero(p), slope, 0.0)
        picked = pick(jax.nn.log_softmax(log_zero_in_rows(p), axis=-1))
        return jnp.where(ok, picked + jnp.sum(zero_with_slope(p, slope), axis=-1), -jnp.inf)

    def _sample(self, key, sample_shape):
        shape = self._extended_shape(sample_shape)
        draws = jax.random.categorical(key, self.logits, axis=-1, shape=shape)
        return draws.astype(self.logits.dtype)

    def _values(self):
        return jnp.arange(self.num_categories, dtype=self.logits.dtype)

    @property
    def mean(self):
        return jnp.sum(self.probs * self._values(), axis=-1)

    @property
    def variance(self):
        centred = self._values() - self.mean[..., None]
        return jnp.sum(self.probs * centred**2, axis=-1)

    def entropy(self):
        log_p = jax.nn.log_softmax(self.logits, axis=-1)
        # 0 * log 0 = 0 for impossible categories.
        terms = jnp.where(log_p > -jnp.inf, jnp.exp(log_p) * log_p, 0.0)
        return -jnp.sum(terms, axis=-1)
