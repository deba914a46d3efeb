"""Negative log-likelihood of held-out data under Gaussian, mixture and sample-based predictions.

Every function returns the *mean* negative log predictive density per point, in nats (lower is
better). The UCI regression benchmark papers (Hernández-Lobato & Adams 2015; Gal & Ghahramani
2016; Lakshminarayanan et al. 2017) report the *test log-likelihood*, which is ``-nll`` (higher is
better), computed in the target's original units.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from bayeskit.metrics import _checks

__all__ = ["gaussian_nll", "mixture_nll", "sample_nll"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _normal_logpdf(y: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
    z = (y - loc) / scale
    return -0.5 * z * z - jnp.log(scale) - _HALF_LOG_2PI


@jax.jit
def _gaussian_nll(y: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
    return -jnp.mean(_normal_logpdf(y, loc, scale))


@jax.jit
def _mixture_nll_of(y: jax.Array, loc: jax.Array, scale: jax.Array, weights: jax.Array | None) -> jax.Array:
    log_terms = _normal_logpdf(y, loc, scale)  # [M, *y.shape]
    if weights is None:
        log_density = logsumexp(log_terms, axis=0) - math.log(loc.shape[0])
    else:
        # logsumexp's b= keeps a zero weight exact (no log(0) = -inf times 0).
        log_density = logsumexp(log_terms, axis=0, b=weights)
    return -jnp.mean(log_density)


def gaussian_nll(y, loc, scale) -> jax.Array:
    r"""Return the mean negative log-likelihood of ``y`` under Gaussian predictions.

    .. math::
        \mathrm{NLL} = \frac{1}{n} \sum_i \Big[ \tfrac12 \log(2\pi\sigma_i^2)
            + \frac{(y_i - \mu_i)^2}{2\sigma_i^2} \Big]

    UCI papers report the test log-likelihood, ``-gaussian_nll(...)``.

    Args:
        y: observed values, any shape.
        loc: predictive means, the same shape as ``y``.
        scale: predictive standard deviations (> 0), a scalar (homoscedastic) or an array that
            broadcasts to ``y``'s shape. For a predictive variance ``v`` pass ``sqrt(v)``.

    Returns:
        A scalar: the mean NLL per point (lower is better).

    Raises:
        ValueError: on mismatched shapes, a non-positive ``scale``, or NaN/inf in any input.

    Example:
        >>> round(float(gaussian_nll(jnp.array([0.0]), jnp.array([0.0]), 1.0)), 4)  # log(2 pi) / 2
        0.9189
    """
    fn = "gaussian_nll"
    y = _checks.observations(fn, y)
    loc = _checks.finite_floats(fn, "loc", loc)
    _checks.same_shape(fn, "y", y, "loc", loc)
    scale = _checks.broadcastable(fn, "scale", _checks.positive(fn, "scale", scale), "y", y.shape)
    return _gaussian_nll(y, loc, scale)


def _mixture_nll(fn: str, y, loc, scale, weights, components: str, rows: tuple[str, str]) -> jax.Array:
    y = _checks.observations(fn, y)
    loc = _checks.finite_floats(fn, components, loc)
    if loc.ndim != y.ndim + 1 or loc.shape[1:] != y.shape:
        raise ValueError(
            f"{fn}: `{components}` must have shape ({', '.join([rows[0], *map(str, y.shape)])}) "
            f"with one row per {rows[1]}, got `{components}` {tuple(loc.shape)} and "
            f"`y` {tuple(y.shape)}."
        )
    _checks.nonempty(fn, components, loc, rows[1])
    scale = _checks.broadcastable(fn, "scale", _checks.positive(fn, "scale", scale), components, loc.shape)
    num_components = loc.shape[0]
    if weights is not None:
        if jnp.ndim(weights) == 0:
            raise ValueError(
                f"{fn}: `weights` must have shape ({num_components},) or {tuple(loc.shape)}, got a scalar."
            )
        if jnp.shape(weights)[0] != num_components:
            raise ValueError(
                f"{fn}: `weights` must have one entry per component along axis 0, "
                f"{num_components} to match `{components}` {tuple(loc.shape)}, got "
                f"{tuple(jnp.shape(weights))}."
            )
        weights = _checks.probabilities(fn, "weights", weights, axis=0)
        if weights.ndim == 1:
            weights = weights.reshape((num_components,) + (1,) * y.ndim)
        weights = _checks.broadcastable(fn, "weights", weights, components, loc.shape)
    return _mixture_nll_of(y, loc, scale, weights)


def mixture_nll(y, loc, scale, weights=None) -> jax.Array:
    r"""Return the mean negative log-likelihood of ``y`` under a mixture of Gaussians.

    Each point has its own mixture of ``M`` Gaussian components (for example the members of a
    deep ensemble, each predicting a mean and a standard deviation):

    .. math::
        \mathrm{NLL} = -\frac{1}{n} \sum_i \log \sum_{m=1}^{M} w_m\,
            \mathcal N(y_i \mid \mu_{mi}, \sigma_{mi}^2),

    computed with log-sum-exp, so it stays finite where every component's density underflows.
    Without ``weights`` the mixture is uniform, ``w_m = 1/M``.

    Args:
        y: observed values, shape ``(n,)`` (or any shape ``s``).
        loc: component means, shape ``(M, n)`` (``(M,) + s``).
        scale: component standard deviations (> 0), broadcastable to ``loc``'s shape: a scalar,
            ``(M, 1)``, ``(n,)`` or ``(M, n)``.
        weights: mixture weights, shape ``(M,)`` (the same for every point) or ``loc``'s shape;
            each point's weights must be in [0, 1] and sum to 1. ``None`` means ``1/M`` each.

    Returns:
        A scalar: the mean NLL per point (lower is better).

    Raises:
        ValueError: on mismatched shapes, a non-positive ``scale``, weights outside [0, 1] or not
            summing to 1, or NaN/inf in any input.

    Example:
        >>> loc = jnp.array([[-1.0], [1.0]])  # two components, one point
        >>> round(float(mixture_nll(jnp.array([0.0]), loc, 1.0)), 4)  # -log N(0 | 1, 1)
        1.4189
    """
    return _mixture_nll("mixture_nll", y, loc, scale, weights, "loc", ("M", "mixture component"))


def sample_nll(y, samples, scale) -> jax.Array:
    r"""Return the mean negative log-likelihood of ``y`` under predictive samples plus noise.

    The ``S`` samples of each point's prediction (MC dropout passes, posterior draws of the
    regression function, ensemble members) are treated as an equally weighted mixture, each
    sample the centre of a Gaussian with standard deviation ``scale`` (the observation noise):

    .. math::
        \mathrm{NLL} = -\frac{1}{n} \sum_i \Big[ \operatorname{logsumexp}_s
            \log \mathcal N(y_i \mid \hat y_{si}, \sigma^2) - \log S \Big].

    This is exactly the test log-likelihood of Gal & Ghahramani (2016, MC dropout) with
    ``scale = tau ** -0.5`` for model precision ``tau``; it is :func:`mixture_nll` with uniform
    weights. It is *not* a kernel density estimate with a data-chosen bandwidth: ``scale`` is the
    model's noise, and with a per-sample ``scale`` (heteroscedastic heads) it is the exact
    predictive density of that sampled model.

    Args:
        y: observed values, shape ``(n,)`` (or any shape ``s``).
        samples: predictive samples of the mean function, shape ``(S, n)`` (``(S,) + s``).
        scale: noise standard deviation (> 0): a scalar, ``(n,)`` or ``(S, n)``.

    Returns:
        A scalar: the mean NLL per point (lower is better).

    Raises:
        ValueError: on mismatched shapes, a non-positive ``scale``, or NaN/inf in any input.

    Example:
        >>> samples = jnp.zeros((10, 1))  # ten identical samples: a single Gaussian
        >>> round(float(sample_nll(jnp.array([0.0]), samples, 1.0)), 4)
        0.9189
    """
    return _mixture_nll("sample_nll", y, samples, scale, None, "samples", ("S", "sample"))
