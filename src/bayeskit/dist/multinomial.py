"""The multinomial distribution: category counts of ``total_count`` independent categorical draws."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import (
    check_count,
    log_zero_in_rows,
    logits_from,
    rows_with_zero,
    xdivy,
    zero_with_slope,
)
from bayeskit.dist._distribution import Distribution, as_float, check_event

__all__ = ["Multinomial"]


class CountVector(C.Constraint):
    """Vectors of nonnegative integers that sum to ``total_count``."""

    event_dim = 1
    is_discrete = True

    def __init__(self, total_count):
        self.total_count = total_count

    def check(self, x):
        return is_count_vector(x, self.total_count)

    def __repr__(self) -> str:
        return f"count vectors summing to {self.total_count}"


def is_count_vector(x, total_count):
    """True where the last axis of ``x`` holds nonnegative integers summing to ``total_count``.

    Data on the host are checked with NumPy (no compile, works while a model is traced); JAX arrays
    and tracers with jax.numpy.
    """
    xp = C._xp(x)
    n = C._bound(xp, total_count)
    entries = (x >= 0) & (xp.floor(x) == x)
    return xp.all(entries, axis=-1) & (xp.sum(x, axis=-1) == n)


def sample_counts(key, total_count, probs, shape):
    """Draw multinomial counts of shape ``shape + (K,)`` by a chain of binomial draws.

    Category ``k`` takes ``Binomial(remaining, p_k / sum_{j >= k} p_j)`` of the trials not yet
    assigned and the last category takes the rest, so the counts always sum to ``total_count``.
    This costs ``K - 1`` binomial draws whatever the total count, and works for a batched or traced
    ``total_count`` (no Python integer needed).

    Args:
        key: a PRNG key.
        total_count: trials, broadcastable to ``shape``.
        probs: probability vectors on the last axis, broadcastable to ``shape + (K,)``.
        shape: the sample shape followed by the batch shape.
    """
    shape = tuple(shape)
    k = probs.shape[-1]
    dtype = jnp.result_type(total_count, probs)
    n = jnp.broadcast_to(total_count, shape).astype(dtype)
    if k == 1:
        return n[..., None]
    # The conditional probabilities come from the parameters' own shape, then are broadcast: on
    # the broadcast a constant `probs` under jit made XLA constant-fold the tail sums of every
    # draw (18 s to compile a million draws of four categories). Broadcast before the jitted
    # core so that eager calls with the same output shape share one compiled scan.
    conditional = jnp.broadcast_to(_conditional(jnp.asarray(probs, dtype)), shape + (k - 1,))
    return _binomial_chain(key, n, conditional)


def _conditional(probs):
    """``p_k / sum_{j >= k} p_j`` for the first ``K - 1`` categories (0 where the tail is empty)."""
    # Tail sums taken from the right are exact where the tail is all zeros, so a category whose
    # tail has no mass gets conditional probability 0 rather than 0/0.
    tail = jnp.flip(jnp.cumsum(jnp.flip(probs, axis=-1), axis=-1), axis=-1)
    safe_tail = jnp.where(tail > 0, tail, 1.0)
    return jnp.clip(jnp.where(tail > 0, probs / safe_tail, 0.0), 0.0, 1.0)[..., :-1]


@jax.jit
def _binomial_chain(key, n, conditional):
    def step(remaining, inputs):
        key_k, q = inputs
        c = jax.random.binomial(key_k, remaining, q, n.shape, dtype=n.dtype)
        return remaining - c, c

    keys = jax.random.split(key, conditional.shape[-1])
    rest, counts = jax.lax.scan(step, n, (keys, jnp.moveaxis(conditional, -1, 0)))
    return jnp.concatenate([jnp.moveaxis(counts, 0, -1), rest[..., None]], axis=-1)


class Multinomial(Distribution):
    r"""Multinomial distribution: how many of ``total_count`` categorical draws fall in each category.

    Give exactly one of ``probs`` (probability vectors on the last axis) and ``logits``
    (unnormalised log probabilities). The last axis indexes the ``K`` categories, so the event
    shape is ``(K,)``; ``total_count`` (a nonnegative integer, or an array of them) broadcasts
    with the leading axes to give the batch shape. The logits are stored; ``given_probs`` keeps
    ``probs`` as given (``None`` for logits), so that ``log_prob`` has finite derivatives in
    ``probs`` where some category's probability is 0.

    .. math:: P(X = x) = \frac{n!}{\prod_k x_k!} \prod_k p_k^{x_k}, \quad \sum_k x_k = n

    Draws are returned in the parameters' floating dtype (whole numbers) and are made by a chain
    of ``K - 1`` binomial draws, so ``total_count`` may be batched or traced. ``log_prob`` is
    ``-inf`` for vectors with negative or non-integer entries or the wrong total.

    Example:
        >>> d = Multinomial(4, probs=[0.5, 0.5])
        >>> float(jnp.exp(d.log_prob(jnp.array([2.0, 2.0]))))  # doctest: +ELLIPSIS
        0.375...
    """

    is_discrete = True
    has_rsample = False

    total_count: jax.Array
    logits: jax.Array
    given_probs: jax.Array | None

    def __init__(self, total_count, probs=None, logits=None):
        self.total_count = as_float(total_count)
        self.logits, self.given_probs = logits_from(
            "Multinomial",
            probs,
            logits,
            vector=True,
            probs_hint="Each row (last axis) must be nonnegative and sum to 1 (within 1e-5).",
        )

    def __check_init__(self):
        check_count("Multinomial", "total_count", self.total_count, "It is the number of trials.")

    @property
    def probs(self) -> jax.Array:
        return jax.nn.softmax(self.logits, axis=-1)

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.total_count), jnp.shape(self.logits)[:-1])

    @property
    def event_shape(self):
        return jnp.shape(self.logits)[-1:]

    @property
    def support(self):
        return CountVector(self.total_count)

    def log_prob(self, x):
        x = as_float(x)
        check_event("Multinomial", x, self.event_shape)
        n = self.total_count
        ok = is_count_vector(x, n)
        x = jnp.where((x >= 0) & (jnp.floor(x) == x), x, 0.0)
        p = self.given_probs
        if p is None:
            return jnp.where(ok, self._from_logits(n, x, self.logits), -jnp.inf)
        # In a row with a zero probability the derivative in p comes from
        # sum_k x_k log p_k - n log sum_k p_k (see _discrete_params); the value is the same.
        slope = xdivy(x, p) - (n / jnp.sum(p, axis=-1))[..., None]
        slope = jnp.where(ok[..., None] & rows_with_zero(p), slope, 0.0)
        lp = self._from_logits(n, x, log_zero_in_rows(p)) + jnp.sum(zero_with_slope(p, slope), axis=-1)
        return jnp.where(ok, lp, -jnp.inf)

    @staticmethod
    def _from_logits(n, x, logits):
        log_p = jax.nn.log_softmax(logits, axis=-1)
        # 0 * log 0 = 0: a category with probability 0 and count 0 contributes nothing.
        terms = jnp.where(x > 0, x * log_p, 0.0)
        return gammaln(n + 1) - jnp.sum(gammaln(x + 1), axis=-1) + jnp.sum(terms, axis=-1)

    def _sample(self, key, sample_shape):
        shape = tuple(sample_shape) + tuple(self.batch_shape)
        return sample_counts(key, self.total_count, self.probs, shape)

    @property
    def mean(self):
        mean = self.total_count[..., None] * self.probs
        return jnp.broadcast_to(mean, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        """Per-category variances ``n p_k (1 - p_k)`` (the diagonal of the covariance)."""
        p = self.probs
        var = self.total_count[..., None] * p * (1 - p)
        return jnp.broadcast_to(var, self.batch_shape + self.event_shape)
