"""Reinterpret batch dimensions of a distribution as event dimensions."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution

__all__ = ["Independent"]


class Independent(Distribution):
    """Treat the rightmost ``reinterpreted_batch_ndims`` batch dimensions of ``base`` as one event.

    ``log_prob`` sums the base log density over those dimensions, so a vector of independent
    normals becomes one multivariate site. Usually made with ``d.to_event(n)``.
    """

    base: Distribution
    reinterpreted_batch_ndims: int = eqx.field(static=True)

    def __init__(self, base: Distribution, reinterpreted_batch_ndims: int):
        if reinterpreted_batch_ndims > len(base.batch_shape):
            raise ValueError(
                f"Independent: reinterpreted_batch_ndims={reinterpreted_batch_ndims} exceeds the "
                f"number of batch dimensions of {type(base).__name__} (batch shape {base.batch_shape})."
            )
        self.base = base
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def batch_shape(self):
        n = self.reinterpreted_batch_ndims
        return tuple(self.base.batch_shape)[: len(self.base.batch_shape) - n]

    @property
    def event_shape(self):
        n = self.reinterpreted_batch_ndims
        b = tuple(self.base.batch_shape)
        return b[len(b) - n :] + tuple(self.base.event_shape)

    @property
    def support(self) -> C.Constraint:
        return _IndependentConstraint(self.base.support, self.reinterpreted_batch_ndims)

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base.is_discrete

    def log_prob(self, x) -> jax.Array:
        lp = self.base.log_prob(x)
        n = self.reinterpreted_batch_ndims
        return jnp.sum(lp, axis=tuple(range(lp.ndim - n, lp.ndim)))

    def _sample(self, key, sample_shape):
        return self.base.sample(key, sample_shape)

    @property
    def mean(self):
        return self.base.mean

    @property
    def variance(self):
        return self.base.variance

    def entropy(self):
        h = self.base.entropy()
        n = self.reinterpreted_batch_ndims
        return jnp.sum(h, axis=tuple(range(h.ndim - n, h.ndim)))


class _IndependentConstraint(C.Constraint):
    """``base`` applied elementwise over ``extra`` more event dimensions."""

    def __init__(self, base: C.Constraint, extra: int):
        self.base = base
        self.extra = extra
        self.event_dim = base.event_dim + extra
        self.is_discrete = base.is_discrete

    def check(self, x):
        ok = self.base.check(x)
        xp = np if isinstance(ok, np.ndarray | np.generic) else jnp
        return xp.all(ok, axis=tuple(range(ok.ndim - self.extra, ok.ndim))) if self.extra else ok

    def __repr__(self) -> str:
        return f"independent({self.base!r}, {self.extra})"
