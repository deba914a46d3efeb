"""The continuous uniform distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_parameter, is_concrete

__all__ = ["Uniform"]


class Uniform(Distribution):
    r"""Uniform distribution on the interval ``[low, high]``.

    .. math:: p(x) = \frac{1}{b - a}, \quad a \le x \le b

    Example:
        >>> d = Uniform(-1.0, 3.0)
        >>> float(d.mean)
        1.0
    """

    low: jax.Array
    high: jax.Array

    def __init__(self, low=0.0, high=1.0):
        self.low = as_float(low)
        self.high = as_float(high)

    def __check_init__(self):
        check_parameter("Uniform", "low", self.low, C.real, "Pass a finite lower bound.")
        check_parameter("Uniform", "high", self.high, C.real, "Pass a finite upper bound.")
        if is_concrete(self.low) and is_concrete(self.high):
            low, high = np.broadcast_arrays(np.asarray(self.low), np.asarray(self.high))
            bad = ~(low < high)
            if bad.any():
                where = "" if low.ndim == 0 else f" at index {np.argwhere(bad)[0].tolist()}"
                raise ValueError(
                    f"Uniform: parameter `low` must be less than parameter `high`, but got "
                    f"low={float(low[bad][0]):g} and high={float(high[bad][0]):g}{where}. "
                    "Swap them if they are reversed; the interval must have positive width."
                )

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.low), jnp.shape(self.high))

    @property
    def support(self):
        return C.interval(self.low, self.high)

    def log_prob(self, x):
        inside = (x >= self.low) & (x <= self.high)
        return jnp.where(inside, -jnp.log(self.high - self.low), -jnp.inf)

    def _sample(self, key, sample_shape):
        dtype = jnp.result_type(self.low, self.high)
        u = jax.random.uniform(key, self._extended_shape(sample_shape), dtype=dtype)
        return self.low + (self.high - self.low) * u

    @property
    def mean(self):
        return jnp.broadcast_to(0.5 * (self.low + self.high), self.batch_shape)

    @property
    def variance(self):
        return jnp.broadcast_to((self.high - self.low) ** 2 / 12, self.batch_shape)

    def entropy(self):
        return jnp.broadcast_to(jnp.log(self.high - self.low), self.batch_shape)

    def cdf(self, x):
        return jnp.clip((x - self.low) / (self.high - self.low), 0, 1)

    def icdf(self, q):
        return self.low + (self.high - self.low) * jnp.asarray(q)
