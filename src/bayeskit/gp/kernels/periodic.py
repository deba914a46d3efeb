"""The periodic (exp-sine-squared) kernel."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.gp.kernels._base import Kernel, exp_positive, log_positive, params_repr

__all__ = ["Periodic"]


class Periodic(Kernel):
    r"""Periodic kernel (MacKay 1998): functions that repeat with ``period``.

    .. math:: k(x, x') = \sigma^2 \exp\left(-2 \sum_d \sin^2(\pi |x_d - x'_d| / p_d) / \ell_d^2\right)

    ``lengthscale`` and ``period`` are scalars or one per input column. Multiply by an ``RBF`` for
    a locally periodic kernel.
    """

    log_lengthscale: jax.Array
    log_variance: jax.Array
    log_period: jax.Array

    def __init__(self, lengthscale=1.0, variance=1.0, period=1.0):
        self.log_lengthscale = log_positive("Periodic", "lengthscale", lengthscale)
        self.log_variance = log_positive("Periodic", "variance", variance)
        self.log_period = log_positive("Periodic", "period", period)
        for name, v in (("lengthscale", self.log_lengthscale), ("period", self.log_period)):
            if v.ndim > 1:
                raise ValueError(f"Periodic: `{name}` must be a scalar or 1-D, got shape {tuple(v.shape)}.")
        if self.log_variance.ndim != 0:
            raise ValueError("Periodic: `variance` must be a scalar.")
        self.num_features  # noqa: B018 (raises now, not at first use, when the lengths differ)

    lengthscale = property(lambda self: exp_positive(self.log_lengthscale))
    variance = property(lambda self: exp_positive(self.log_variance))
    period = property(lambda self: exp_positive(self.log_period))

    @property
    def num_features(self):
        sizes = {v.shape[0] for v in (self.log_lengthscale, self.log_period) if v.ndim == 1}
        if len(sizes) > 1:
            raise ValueError(f"Periodic: `lengthscale` and `period` have different lengths {sorted(sizes)}.")
        return sizes.pop() if sizes else None

    def _matrix(self, X1, X2, same):
        diff = X1[:, None, :] - X2[None, :, :]
        s = jnp.sin(jnp.pi * diff / self.period) / self.lengthscale
        return self.variance * jnp.exp(-2.0 * jnp.sum(s * s, axis=-1))

    def _diag(self, X):
        return jnp.full(X.shape[:1], self.variance, dtype=X.dtype)

    def _params_repr(self):
        return params_repr(lengthscale=self.lengthscale, variance=self.variance, period=self.period)
