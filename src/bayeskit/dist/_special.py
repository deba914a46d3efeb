"""Special functions that ``jax.scipy.special`` lacks or computes too inaccurately in float64."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax.scipy.special import gammaln

__all__ = ["betaln"]

# Stirling-series coefficients B_2k / (2k (2k - 1)): for x >= 8 the remainder
# del(x) = log Gamma(x) - [(x - 1/2) log x - x + log(2 pi) / 2] is sum_k C_k x^-(2k-1) to ~1e-16.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
_ASYMPTOTIC_FROM = 8.0
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _stirling_remainder(x):
    """``del(x)`` for ``x >= 8``."""
    t = x**-2
    total = jnp.zeros_like(t)
    for coefficient in reversed(_STIRLING):
        total = total * t + coefficient
    return total / x


def _stirling_remainder_difference(a, b):
    """``del(b) - del(a + b)`` for ``b >= 8``, without cancellation when ``a << b``."""
    h = a / b
    y = 1 / (1 + h)  # b / (a + b)
    c = h / (1 + h)  # a / (a + b) = 1 - y
    # b^-n - (a + b)^-n = b^-n c (1 + y + ... + y^(n-1)); accumulate those geometric sums.
    t = b**-2
    geometric = jnp.ones_like(y)
    t_power = jnp.ones_like(t)
    total = jnp.zeros_like(y)
    for coefficient in _STIRLING:
        total = total + coefficient * t_power * geometric
        geometric = 1 + y * (1 + y * geometric)
        t_power = t_power * t
    return total * c / b


def betaln(a, b):
    r"""Return :math:`\log B(a, b) = \log\Gamma(a) + \log\Gamma(b) - \log\Gamma(a+b)` for ``a, b > 0``.

    ``jax.scipy.special.betaln`` (JAX 0.10) loses about six digits once ``max(a, b) >= 8``: its
    asymptotic branch builds the Stirling-series difference from ``h / (1 + h)`` where
    ``1 / (1 + h)`` belongs (``h = min / max``). This version splits like DiDonato & Morris
    (1992, ACM TOMS 18:360): the direct sum when both arguments are below 8, a Stirling-remainder
    difference when only the larger is, and Stirling's series with the large terms combined in
    ratio form when both are; relative error stays near 1e-13 in float64.

    Example:
        >>> float(betaln(3.0, 10.0))  # doctest: +ELLIPSIS
        -6.49223...
    """
    a, b = jnp.minimum(a, b), jnp.maximum(a, b)
    direct = gammaln(a) + gammaln(b) - gammaln(a + b)
    # Every branch is evaluated under jnp.where, so feed each one arguments it is finite on.
    b_big = jnp.maximum(b, _ASYMPTOTIC_FROM)
    a_big = jnp.maximum(a, _ASYMPTOTIC_FROM)
    h = a / b_big
    # log Gamma(b) - log Gamma(a + b) = del(b) - del(a + b) - u - v for b >= 8. When a / b
    # underflows, log1p(h) flushes to 0 and d * h -> a * (d / b) is the limit.
    d = b_big + (a - 0.5)
    u = jnp.where(h > 0, d * jnp.log1p(h), a * (d / b_big))
    v = a * (jnp.log(b_big) - 1)
    one_big = gammaln(a) + (_stirling_remainder_difference(a, b_big) - u - v)
    # Both >= 8: Stirling's formula for all three log-gammas, the x log x terms regrouped as
    # (a - 1/2) log(a / (a + b)) - (b - 1/2) log1p(a / b) so that nothing large cancels.
    h_big = a_big / b_big
    both_big = (
        _HALF_LOG_2PI
        - 0.5 * jnp.log(a_big + b_big)
        + (a_big - 0.5) * jnp.log(h_big / (1 + h_big))
        - (b_big - 0.5) * jnp.log1p(h_big)
        + _stirling_remainder(a_big)
        + _stirling_remainder_difference(a_big, b_big)
    )
    return jnp.where(b < _ASYMPTOTIC_FROM, direct, jnp.where(a < _ASYMPTOTIC_FROM, one_big, both_big))
