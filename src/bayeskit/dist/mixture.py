"""Finite mixtures whose components all come from one distribution family."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.nn import log_softmax, softmax
from jax.scipy.special import logsumexp

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import log_zero_in_rows, rows_with_zero, zero_with_slope
from bayeskit.dist._distribution import Distribution

__all__ = ["MixtureSameFamily"]


def _mixing_logits(mixing) -> jax.Array:
    logits = getattr(mixing, "logits", None)
    if logits is not None:
        return jnp.asarray(logits)
    probs = getattr(mixing, "probs", None)
    if probs is not None:
        return jnp.log(jnp.asarray(probs))
    raise TypeError(
        "MixtureSameFamily: `mixing_distribution` must be a categorical distribution with "
        f"`logits` or `probs` (e.g. Categorical(probs=w)), but got {type(mixing).__name__}."
    )


class MixtureSameFamily(Distribution):
    r"""Mixture of ``K`` components from one family, weighted by a categorical distribution.

    ``mixing_distribution`` is a categorical over ``K`` outcomes (anything with ``logits`` or
    ``probs``, e.g. :class:`~bayeskit.dist.categorical.Categorical`); ``component_distribution``
    is one distribution whose rightmost batch axis, of length ``K``, indexes the components. Its
    event shape may be non-empty (mixtures of multivariate normals).

    .. math::
        p(x) = \sum_{k=1}^{K} w_k\, p_k(x), \qquad
        \log p(x) = \operatorname{logsumexp}_k\left(\log w_k + \log p_k(x)\right)

    The mean is :math:`\sum_k w_k \mu_k` and the variance follows the law of total variance,
    :math:`\sum_k w_k \sigma_k^2 + \sum_k w_k (\mu_k - \mu)^2`. Draws pick a component index
    first, so they are not reparameterised.

    Example:
        >>> from bayeskit.dist.categorical import Categorical
        >>> from bayeskit.dist.normal import Normal
        >>> d = MixtureSameFamily(Categorical(probs=jnp.array([0.3, 0.7])),
        ...                       Normal(jnp.array([-2.0, 2.0]), 1.0))
        >>> round(float(d.mean), 4)
        0.8
    """

    mixing_distribution: object
    component_distribution: Distribution

    has_rsample = False

    def __init__(self, mixing_distribution, component_distribution):
        if not isinstance(component_distribution, Distribution):
            raise TypeError(
                "MixtureSameFamily: `component_distribution` must be a bayeskit Distribution, but "
                f"got {type(component_distribution).__name__}."
            )
        logits = _mixing_logits(mixing_distribution)
        comp_batch = tuple(component_distribution.batch_shape)
        if len(comp_batch) == 0:
            raise ValueError(
                "MixtureSameFamily: `component_distribution` needs a batch axis indexing the "
                "components (batch shape (..., K)), but its batch shape is (). Pass vector "
                "parameters, e.g. Normal(jnp.array([-1.0, 1.0]), 1.0)."
            )
        if logits.ndim < 1 or logits.shape[-1] != comp_batch[-1]:
            raise ValueError(
                f"MixtureSameFamily: `mixing_distribution` has {logits.shape[-1:] or 'no'} "
                f"categories but `component_distribution` has {comp_batch[-1]} components (the "
                f"last axis of its batch shape {comp_batch}); they must be equal."
            )
        try:
            jnp.broadcast_shapes(logits.shape[:-1], comp_batch[:-1])
        except ValueError:
            raise ValueError(
                f"MixtureSameFamily: the batch shape of `mixing_distribution` {logits.shape[:-1]} "
                f"does not broadcast with the component batch shape {comp_batch[:-1]} (its batch "
                "shape without the last, component, axis)."
            ) from None
        self.mixing_distribution = mixing_distribution
        self.component_distribution = component_distribution

    @property
    def _log_weights(self) -> jax.Array:
        return log_softmax(_mixing_logits(self.mixing_distribution), axis=-1)

    @property
    def num_components(self) -> int:
        return self.component_distribution.batch_shape[-1]

    @property
    def batch_shape(self):
        logits = _mixing_logits(self.mixing_distribution)
        return jnp.broadcast_shapes(logits.shape[:-1], tuple(self.component_distribution.batch_shape[:-1]))

    @property
    def event_shape(self):
        return tuple(self.component_distribution.event_shape)

    @property
    def support(self) -> C.Constraint:
        return self.component_distribution.support

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.component_distribution.is_discrete

    def _per_component(self, v: jax.Array) -> jax.Array:
        """Insert the component axis into ``v`` (shape ``(..., *event)``) just before the event."""
        return jnp.expand_dims(v, v.ndim - len(self.event_shape))

    def _weights_like_event(self) -> jax.Array:
        w = softmax(_mixing_logits(self.mixing_distribution), axis=-1)
        return w.reshape(w.shape + (1,) * len(self.event_shape))

    def log_prob(self, x):
        x = jnp.asarray(x)
        comp_lp = self.component_distribution.log_prob(self._per_component(x))
        w = getattr(self.mixing_distribution, "given_probs", None)
        if w is None:
            return logsumexp(comp_lp + self._log_weights, axis=-1)
        # Weights given as probabilities: log w_k = -inf at a zero weight has an infinite
        # derivative in w_k, and through logsumexp 0 * inf = NaN. In a row with a zero weight the
        # derivative comes from log sum_k w_k p_k(x) - log sum_k w_k instead, p_k(x) / p(x) - 1 for
        # normalised weights (see _discrete_params); the value is the same.
        lp = logsumexp(comp_lp + log_softmax(log_zero_in_rows(w), axis=-1), axis=-1)
        total = jnp.sum(w, axis=-1, keepdims=True)
        slope = jnp.exp(comp_lp - lp[..., None] - jnp.log(total)) - 1 / total
        slope = jnp.where(rows_with_zero(w) & jnp.isfinite(slope), slope, 0.0)
        return lp + jnp.sum(zero_with_slope(w, jax.lax.stop_gradient(slope)), axis=-1)

    def _sample(self, key, sample_shape):
        key_idx, key_comp = jax.random.split(key)
        batch, event = tuple(self.batch_shape), self.event_shape
        k = self.num_components
        logits = jnp.broadcast_to(self._log_weights, batch + (k,))
        idx = jax.random.categorical(key_idx, logits, axis=-1, shape=sample_shape + batch)
        # Every component is drawn and one is kept per draw; expanding first keeps draws for
        # different mixture batch members independent.
        comp = self.component_distribution.expand(batch + (k,))
        xs = comp.sample(key_comp, sample_shape)
        idx = idx.reshape(idx.shape + (1,) + (1,) * len(event))
        idx = jnp.broadcast_to(idx, sample_shape + batch + (1,) + event)
        picked = jnp.take_along_axis(xs, idx, axis=len(sample_shape) + len(batch))
        return jnp.squeeze(picked, axis=len(sample_shape) + len(batch))

    @property
    def mean(self):
        w = self._weights_like_event()
        axis = -1 - len(self.event_shape)
        m = jnp.sum(w * self.component_distribution.mean, axis=axis)
        return jnp.broadcast_to(m, tuple(self.batch_shape) + self.event_shape)

    @property
    def variance(self):
        w = self._weights_like_event()
        axis = -1 - len(self.event_shape)
        comp_mean = self.component_distribution.mean
        mean = jnp.sum(w * comp_mean, axis=axis, keepdims=True)
        within = jnp.sum(w * self.component_distribution.variance, axis=axis)
        between = jnp.sum(w * (comp_mean - mean) ** 2, axis=axis)
        return jnp.broadcast_to(within + between, tuple(self.batch_shape) + self.event_shape)

    def cdf(self, x):
        if self.event_shape:
            raise NotImplementedError(
                "MixtureSameFamily: cdf is defined only for univariate components (event shape "
                f"()), but the components have event shape {self.event_shape}."
            )
        comp_cdf = self.component_distribution.cdf(jnp.expand_dims(jnp.asarray(x), -1))
        return jnp.sum(softmax(_mixing_logits(self.mixing_distribution), axis=-1) * comp_cdf, axis=-1)
