"""The Poisson distribution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.scipy.special import gammaincc, gammaln, xlogy

from bayeskit.dist import constraints as C
from bayeskit.dist._discrete_params import masked, zero_with_slope
from bayeskit.dist._distribution import Distribution, as_float, check_parameter
from bayeskit.dist._poisson_sampler import poisson_sample

__all__ = ["Poisson"]


class Poisson(Distribution):
    r"""Poisson distribution with mean ``rate``: counts of events that occur at a constant rate.

    .. math:: P(X = k) = \frac{\lambda^k e^{-\lambda}}{k!}, \quad k = 0, 1, 2, \dots

    ``rate`` may be 0 (all mass at 0). Draws are returned in the rate's floating dtype (whole
    numbers such as 3.0), so they mix with float arithmetic; ``log_prob`` is ``-inf`` for
    negative or non-integer values.

    Example:
        >>> d = Poisson(2.0)
        >>> float(jnp.exp(d.log_prob(0)))  # doctest: +ELLIPSIS
        0.1353...
    """

    is_discrete = True
    has_rsample = False

    rate: jax.Array

    def __init__(self, rate):
        self.rate = as_float(rate)

    def __check_init__(self):
        check_parameter(
            "Poisson", "rate", self.rate, C.nonnegative, "The rate is the mean count: pass a number >= 0."
        )

    @property
    def batch_shape(self):
        return jnp.shape(self.rate)

    @property
    def support(self):
        return C.nonnegative_integer

    def log_prob(self, x):
        x = as_float(x)
        ok = (x >= 0) & (jnp.floor(x) == x) & (x < jnp.inf)
        k = jnp.where(ok, x, 0.0)
        # At rate 0, log P(X = 0) = -rate has derivative -1, which xlogy's k / rate made 0/0 = NaN:
        # _log_power's derivative is 0 there and zero_with_slope supplies it (see
        # _discrete_params). The slope is written out, k / 0 - 1: arithmetic on the rate, such as
        # k / rate, changed how XLA compiles the interior and so the rounding of its results.
        slope = jnp.where(ok & (self.rate == 0), jnp.where(k == 0, -1.0, jnp.inf), 0.0)
        lp = _log_power(k, self.rate) - gammaln(k + 1) + zero_with_slope(self.rate, slope)
        return jnp.where(ok, lp, -jnp.inf)

    def _sample(self, key, sample_shape):
        shape = self._extended_shape(sample_shape)
        return poisson_sample(key, self.rate, shape)

    @property
    def mean(self):
        return self.rate

    @property
    def variance(self):
        return self.rate

    def cdf(self, x):
        r"""Return :math:`P(X \le x) = Q(\lfloor x \rfloor + 1, \lambda)`, the upper regularised gamma."""
        k = jnp.floor(as_float(x))
        k_safe = jnp.where(k >= 0, k, 0.0)
        return jnp.where(k < 0, 0.0, gammaincc(k_safe + 1, self.rate))


@jax.custom_jvp
def _log_power(k, rate):
    """``k log(rate) - rate`` (0 log 0 = 0), with JAX's derivative except 0 where the rate is 0."""
    return xlogy(k, rate) - rate


def _log_power_jvp(primals, tangents):
    k, rate = primals
    k_dot, rate_dot = tangents
    at_zero = rate == 0
    if isinstance(rate_dot, SymbolicZero):
        rate_dot = jnp.zeros_like(rate)
    # JAX's own derivative, operation for operation, of the same expression, with the rate's
    # tangent masked before (forward mode) and the result after (reverse mode) its 0/0.
    if isinstance(k_dot, SymbolicZero):
        value, tangent = jax.jvp(lambda r: _log_power.fun(k, r), (rate,), (masked(rate_dot, at_zero),))
    else:
        value, tangent = jax.jvp(_log_power.fun, (k, rate), (k_dot, masked(rate_dot, at_zero)))
    return value, masked(tangent, at_zero)


_log_power.defjvp(_log_power_jvp, symbolic_zeros=True)
