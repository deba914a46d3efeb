"""The Dirichlet-multinomial distribution: multinomial counts with Dirichlet-distributed probabilities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import check_count
from bayeskit.dist._distribution import Distribution, as_float, check_event, check_parameter
from bayeskit.dist._gamma_sampler import log_gamma_sample
from bayeskit.dist.multinomial import CountVector, is_count_vector, sample_counts

__all__ = ["DirichletMultinomial"]


class DirichletMultinomial(Distribution):
    r"""Dirichlet-multinomial distribution: ``Multinomial(total_count, p)`` with ``p ~ Dirichlet(alpha)``.

    The compound (Pólya) distribution of category counts: overdispersed relative to the
    multinomial with ``p = alpha / sum(alpha)``. The last axis of ``concentration`` indexes the
    ``K`` categories, so the event shape is ``(K,)``; ``total_count`` broadcasts with the leading
    axes to give the batch shape.

    .. math::
        P(X = x) = \frac{n!\,\Gamma(\alpha_0)}{\Gamma(n + \alpha_0)}
        \prod_k \frac{\Gamma(x_k + \alpha_k)}{x_k!\,\Gamma(\alpha_k)},
        \quad \alpha_0 = \sum_k \alpha_k, \ \sum_k x_k = n

    Draws are returned in the concentration's floating dtype (whole numbers): a Dirichlet draw,
    then multinomial counts by a chain of binomial draws. ``log_prob`` is ``-inf`` for vectors
    with negative or non-integer entries or the wrong total.

    Example:
        >>> d = DirichletMultinomial(jnp.array([1.0, 1.0]), total_count=3)
        >>> round(float(jnp.exp(d.log_prob(jnp.array([1.0, 2.0])))), 4)
        0.25
    """

    is_discrete = True
    has_rsample = False

    concentration: jax.Array
    total_count: jax.Array

    def __init__(self, concentration, total_count):
        self.concentration = as_float(concentration)
        self.total_count = as_float(total_count)

    def __check_init__(self):
        if jnp.ndim(self.concentration) == 0:
            raise ValueError(
                "DirichletMultinomial: parameter `concentration` must have at least one dimension, "
                "the last indexing the categories, but got a scalar. Pass e.g. concentration=[1.0, 2.0]."
            )
        check_parameter(
            "DirichletMultinomial",
            "concentration",
            self.concentration,
            C.positive,
            "Every entry must be > 0; larger values mean less overdispersion.",
        )
        check_count("DirichletMultinomial", "total_count", self.total_count, "It is the number of trials.")

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.total_count), jnp.shape(self.concentration)[:-1])

    @property
    def event_shape(self):
        return jnp.shape(self.concentration)[-1:]

    @property
    def support(self):
        return CountVector(self.total_count)

    def log_prob(self, x):
        x = as_float(x)
        check_event("DirichletMultinomial", x, self.event_shape)
        n, alpha = self.total_count, self.concentration
        ok = is_count_vector(x, n)
        x = jnp.where((x >= 0) & (jnp.floor(x) == x), x, 0.0)
        alpha0 = jnp.sum(alpha, axis=-1)
        per_category = gammaln(x + alpha) - gammaln(x + 1) - gammaln(alpha)
        lp = gammaln(n + 1) + gammaln(alpha0) - gammaln(n + alpha0) + jnp.sum(per_category, axis=-1)
        return jnp.where(ok, lp, -jnp.inf)

    def _sample(self, key, sample_shape):
        shape = tuple(sample_shape) + tuple(self.batch_shape)
        key_probs, key_counts = jax.random.split(key)
        a = jnp.broadcast_to(self.concentration, shape + tuple(self.event_shape))
        probs = jax.nn.softmax(log_gamma_sample(key_probs, a, a.shape, a.dtype), axis=-1)
        return sample_counts(key_counts, self.total_count, probs, shape)

    def _shares(self):
        return self.concentration / jnp.sum(self.concentration, axis=-1, keepdims=True)

    @property
    def mean(self):
        mean = self.total_count[..., None] * self._shares()
        return jnp.broadcast_to(mean, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        """Per-category variances, ``n s_k (1 - s_k) (n + a_0) / (1 + a_0)`` with ``s_k = a_k / a_0``.

        These are the diagonal of the covariance.
        """
        n = self.total_count[..., None]
        alpha0 = jnp.sum(self.concentration, axis=-1, keepdims=True)
        s = self._shares()
        var = n * s * (1 - s) * (n + alpha0) / (1 + alpha0)
        return jnp.broadcast_to(var, self.batch_shape + self.event_shape)
