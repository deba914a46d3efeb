r"""Calibration of regression predictions: interval coverage, the calibration curve, its area.

A predictive distribution is calibrated when its stated probabilities match observed
frequencies: a 90% central interval should hold 90% of held-out points, and the probability
integral transform (PIT) values :math:`u_i = F_i(y_i)` should be uniform on (0, 1). An
over-confident model (intervals too narrow) covers less than its level; an under-confident one
more.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri

from bayeskit.metrics import _checks

__all__ = ["calibration_curve", "coverage", "gaussian_coverage", "miscalibration_area"]


def _gaussian(fn: str, y, loc, scale) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Check a Gaussian prediction of ``y``; return ``(y, loc, scale)`` of one shape."""
    y = _checks.observations(fn, y)
    loc = _checks.finite_floats(fn, "loc", loc)
    _checks.same_shape(fn, "y", y, "loc", loc)
    scale = _checks.broadcastable(fn, "scale", _checks.positive(fn, "scale", scale), "y", y.shape)
    return y, loc, scale


def _pit(y: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
    """Gaussian PIT values Phi((y - loc) / scale), flattened."""
    return ndtr((y - loc) / scale).reshape(-1)


@jax.jit
def _coverage(y: jax.Array, lower: jax.Array, upper: jax.Array) -> jax.Array:
    return jnp.mean((lower <= y) & (y <= upper))


@jax.jit
def _gaussian_coverage(y: jax.Array, loc: jax.Array, scale: jax.Array, level: jax.Array) -> jax.Array:
    half_width = ndtri(0.5 + 0.5 * level)  # in units of scale
    distance = jnp.abs(y - loc) / scale
    inside = distance.reshape(-1, 1) <= half_width.reshape(1, -1)
    return jnp.mean(inside, axis=0).reshape(level.shape)


@partial(jax.jit, static_argnames="num_levels")
def _calibration_curve(y: jax.Array, loc: jax.Array, scale: jax.Array, num_levels: int):
    pit = _pit(y, loc, scale)
    expected = (jnp.arange(num_levels, dtype=pit.dtype) + 0.5) / num_levels
    observed = jnp.mean(pit.reshape(-1, 1) <= expected.reshape(1, -1), axis=0).astype(pit.dtype)
    return expected, observed


@jax.jit
def _miscalibration_area(y: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
    pit = jnp.sort(_pit(y, loc, scale))
    n = pit.shape[0]
    # On [start_k, end_k] (consecutive sorted PIT values, with 0 and 1 at the ends) G = k / n.
    start = jnp.concatenate([jnp.zeros(1, pit.dtype), pit])
    end = jnp.concatenate([pit, jnp.ones(1, pit.dtype)])
    height = jnp.arange(n + 1, dtype=pit.dtype) / n

    def antiderivative(t):  # of |p - height| in p, zero at p = height
        d = t - height
        return 0.5 * jnp.sign(d) * d * d

    return jnp.sum(antiderivative(end) - antiderivative(start))


def coverage(y, lower, upper) -> jax.Array:
    r"""Return the fraction of observations inside their prediction intervals.

    .. math:: \mathrm{coverage} = \frac1n \sum_i \mathbf 1\{l_i \le y_i \le u_i\}

    Use it for intervals of any origin (quantiles of samples, conformal intervals); for Gaussian
    predictions :func:`gaussian_coverage` builds the central intervals itself.

    Args:
        y: observed values, any shape.
        lower: lower interval ends, the same shape as ``y`` (or broadcastable to it).
        upper: upper interval ends, the same shape as ``y`` (or broadcastable to it); at least
            ``lower`` everywhere.

    Returns:
        A scalar in [0, 1]: the fraction covered (ends included).

    Raises:
        ValueError: on mismatched shapes, ``lower > upper`` anywhere, or NaN/inf in any input.

    Example:
        >>> y = jnp.array([0.0, 1.0, 5.0])
        >>> round(float(coverage(y, jnp.zeros(3) - 1.0, jnp.ones(3) * 2.0)), 4)
        0.6667
    """
    fn = "coverage"
    y = _checks.observations(fn, y)
    lower = _checks.broadcastable(fn, "lower", _checks.finite_floats(fn, "lower", lower), "y", y.shape)
    upper = _checks.broadcastable(fn, "upper", _checks.finite_floats(fn, "upper", upper), "y", y.shape)
    _checks.not_above(fn, "lower", lower, "upper", upper)
    return _coverage(y, lower, upper)


def gaussian_coverage(y, loc, scale, level=0.95) -> jax.Array:
    r"""Return the coverage of central Gaussian prediction intervals at one or more levels.

    The central interval at level :math:`\alpha` is :math:`\mu_i \pm z\,\sigma_i` with
    :math:`z = \Phi^{-1}\big((1 + \alpha)/2\big)` (1.96 for 95%). A calibrated model covers a
    fraction close to :math:`\alpha`, within about :math:`\sqrt{\alpha(1-\alpha)/n}`. Passing an
    array of levels gives the interval form of the calibration curve.

    Args:
        y: observed values, any shape.
        loc: predictive means, the same shape as ``y``.
        scale: predictive standard deviations (> 0), a scalar or broadcastable to ``y``'s shape.
        level: the interval's probability mass, strictly between 0 and 1; a number or an array.

    Returns:
        The fraction of points inside the interval, with ``level``'s shape (a scalar for one
        level).

    Raises:
        ValueError: on mismatched shapes, a non-positive ``scale``, a level outside (0, 1), or
            NaN/inf in any input.

    Example:
        >>> y = jnp.array([0.0, 1.0, 3.0])
        >>> covered = gaussian_coverage(y, jnp.zeros(3), 1.0, jnp.array([0.5, 0.95]))
        >>> [round(c, 4) for c in covered.tolist()]  # |z| = 0, 1, 3 against 0.67 and 1.96
        [0.3333, 0.6667]
    """
    fn = "gaussian_coverage"
    y, loc, scale = _gaussian(fn, y, loc, scale)
    return _gaussian_coverage(y, loc, scale, _checks.levels(fn, "level", level))


def calibration_curve(y, loc, scale, num_levels: int = 100) -> tuple[jax.Array, jax.Array]:
    r"""Return the regression calibration curve of Gaussian predictions: expected vs observed.

    For each expected level :math:`p_j` the observed frequency is the fraction of points that fall
    below their predictive :math:`p_j`-quantile (Kuleshov et al. 2018),

    .. math::
        \hat p_j = \frac1n \sum_i \mathbf 1\{F_i(y_i) \le p_j\},
        \qquad F_i(y) = \Phi\Big(\frac{y - \mu_i}{\sigma_i}\Big),

    i.e. the empirical CDF of the PIT values. The levels are the midpoints
    :math:`p_j = (j - \tfrac12)/J`, ``j = 1..J``. A calibrated model lies on the diagonal. An
    over-confident one puts too many PIT values near 0 and 1, so its curve rises steeply at both
    ends and lies above the diagonal below 0.5 and under it above 0.5; an under-confident one
    the reverse; a biased one lies on one side throughout.

    Args:
        y: observed values, any shape.
        loc: predictive means, the same shape as ``y``.
        scale: predictive standard deviations (> 0), a scalar or broadcastable to ``y``'s shape.
        num_levels: the number of levels ``J`` (at least 1; static under ``jit``).

    Returns:
        ``(expected, observed)``, two arrays of shape ``(num_levels,)``, ready to plot.

    Raises:
        ValueError: on mismatched shapes, a non-positive ``scale``, ``num_levels < 1``, or NaN/inf
            in any input.

    Example:
        >>> expected, observed = calibration_curve(jnp.array([0.0]), jnp.array([0.0]), 1.0, 4)
        >>> expected.tolist(), observed.tolist()  # the PIT value is 0.5
        ([0.125, 0.375, 0.625, 0.875], [0.0, 0.0, 1.0, 1.0])
    """
    fn = "calibration_curve"
    num_levels = _checks.count(fn, "num_levels", num_levels)
    return _calibration_curve(*_gaussian(fn, y, loc, scale), num_levels)


def miscalibration_area(y, loc, scale) -> jax.Array:
    r"""Return the area between the calibration curve of Gaussian predictions and the diagonal.

    .. math::
        \mathrm{area} = \int_0^1 \big|\hat G(p) - p\big|\,dp,
        \qquad \hat G(p) = \frac1n \sum_i \mathbf 1\{F_i(y_i) \le p\},

    where :math:`\hat G` is the curve of :func:`calibration_curve` taken at every level. It is
    computed exactly (no grid): :math:`\hat G` is a step function of the sorted PIT values, so the
    integral is a sum of closed-form pieces, in O(n log n). It equals the Wasserstein-1 distance
    between the PIT values and the uniform distribution; 0 is perfect calibration, 0.5 the worst
    (every point at the same extreme of its predictive, all above or all below; half at each
    extreme gives 0.25). Averaging ``|observed - expected|`` over
    :func:`calibration_curve`'s levels approximates it (the midpoint rule).

    Args:
        y: observed values, any shape.
        loc: predictive means, the same shape as ``y``.
        scale: predictive standard deviations (> 0), a scalar or broadcastable to ``y``'s shape.

    Returns:
        A scalar in [0, 0.5] (lower is better).

    Raises:
        ValueError: on mismatched shapes, a non-positive ``scale``, or NaN/inf in any input.

    Example:
        >>> round(float(miscalibration_area(jnp.array([0.0]), jnp.array([0.0]), 1.0)), 4)
        0.25
    """
    return _miscalibration_area(*_gaussian("miscalibration_area", y, loc, scale))
