r"""The continuous ranked probability score (CRPS) of Gaussian and sample-based predictions.

The CRPS compares a predictive CDF ``F`` with an observation ``y``:

.. math::
    \mathrm{CRPS}(F, y) = \int_{-\infty}^{\infty} \big(F(x) - \mathbf 1\{x \ge y\}\big)^2\,dx
        = \mathbb E|X - y| - \tfrac12 \mathbb E|X - X'|,

with ``X, X'`` independent draws from ``F`` (Gneiting & Raftery 2007). It is in the units of ``y``,
reduces to the absolute error for a point prediction, and is a proper scoring rule (lower is
better). Both functions return the mean over points.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

from bayeskit.metrics import _checks

__all__ = ["crps_gaussian", "crps_samples"]

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@jax.jit
def _crps_gaussian(y: jax.Array, loc: jax.Array, scale: jax.Array) -> jax.Array:
    z = (y - loc) / scale
    pdf = _INV_SQRT_2PI * jnp.exp(-0.5 * z * z)
    return jnp.mean(scale * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * pdf - _INV_SQRT_PI))


@partial(jax.jit, static_argnames="fair")
def _crps_samples(y: jax.Array, samples: jax.Array, fair: bool) -> jax.Array:
    num_samples = samples.shape[0]
    accuracy = jnp.mean(jnp.abs(samples - y), axis=0)
    ordered = jnp.sort(samples, axis=0)
    rank_weight = 2.0 * jnp.arange(1, num_samples + 1, dtype=samples.dtype) - num_samples - 1
    rank_weight = rank_weight.reshape((num_samples,) + (1,) * y.ndim)
    # Half the mean absolute pairwise difference: sum_{s,t} |x_s - x_t| / (2 * pairs).
    pairs = num_samples * (num_samples - 1) if fair else num_samples * num_samples
    spread = jnp.sum(rank_weight * ordered, axis=0) / pairs
    return jnp.mean(accuracy - spread)


def crps_gaussian(y, loc, scale) -> jax.Array:
    r"""Return the mean CRPS of Gaussian predictions, in closed form.

    .. math::
        \mathrm{CRPS}\big(\mathcal N(\mu, \sigma^2), y\big)
            = \sigma \Big[ z\,\big(2\Phi(z) - 1\big) + 2\varphi(z) - \tfrac{1}{\sqrt\pi} \Big],
        \qquad z = \frac{y - \mu}{\sigma}

    (Gneiting et al. 2005), averaged over points.

    Args:
        y: observed values, any shape.
        loc: predictive means, the same shape as ``y``.
        scale: predictive standard deviations (> 0), a scalar or broadcastable to ``y``'s shape.

    Returns:
        A scalar: the mean CRPS (lower is better), in the units of ``y``.

    Raises:
        ValueError: on mismatched shapes, a non-positive ``scale``, or NaN/inf in any input.

    Example:
        >>> round(float(crps_gaussian(jnp.array([0.0]), jnp.array([0.0]), 1.0)), 4)  # (sqrt 2 - 1) / sqrt pi
        0.2337
    """
    fn = "crps_gaussian"
    y = _checks.observations(fn, y)
    loc = _checks.finite_floats(fn, "loc", loc)
    _checks.same_shape(fn, "y", y, "loc", loc)
    scale = _checks.broadcastable(fn, "scale", _checks.positive(fn, "scale", scale), "y", y.shape)
    return _crps_gaussian(y, loc, scale)


def crps_samples(y, samples, fair: bool = False) -> jax.Array:
    r"""Return the mean CRPS of predictions given by samples, in O(S log S) per point.

    With the ``S`` samples ``x_1, ..., x_S`` of a point's prediction,

    .. math::
        \mathrm{CRPS} = \frac1S \sum_s |x_s - y| - \frac{1}{2 S^2} \sum_{s,t} |x_s - x_t|,

    which is exactly the CRPS of the samples' empirical CDF (the ``crps_ensemble`` convention of
    the ``properscoring`` package). The double sum is not formed: with the samples sorted,
    :math:`\sum_{s,t} |x_s - x_t| = 2 \sum_{i=1}^{S} (2i - S - 1)\, x_{(i)}`.

    With ``fair=True`` the second term is divided by ``2 S (S - 1)`` instead of ``2 S^2``: the
    "fair" CRPS (Ferro 2014), an unbiased estimate of the CRPS of the distribution the samples were
    drawn from (it needs ``S >= 2``). The default, plain form is biased upwards by
    :math:`\tfrac{1}{2S}\mathbb E|X - X'|`.

    Args:
        y: observed values, shape ``(n,)`` (or any shape ``s``).
        samples: predictive samples, shape ``(S, n)`` (``(S,) + s``).
        fair: use the unbiased ``S (S - 1)`` normalisation of the spread term.

    Returns:
        A scalar: the mean CRPS (lower is better), in the units of ``y``.

    Raises:
        ValueError: on mismatched shapes, ``fair=True`` with one sample, or NaN/inf in any input.

    Example:
        >>> samples = jnp.array([[-1.0], [1.0]])
        >>> float(crps_samples(jnp.array([0.0]), samples))  # 1 - (2 + 2) / (2 * 4)
        0.5
    """
    fn = "crps_samples"
    y = _checks.observations(fn, y)
    samples = _checks.finite_floats(fn, "samples", samples)
    if samples.ndim != y.ndim + 1 or samples.shape[1:] != y.shape:
        raise ValueError(
            f"{fn}: `samples` must have shape ({', '.join(['S', *map(str, y.shape)])}) with one row "
            f"per sample, got `samples` {tuple(samples.shape)} and `y` {tuple(y.shape)}."
        )
    _checks.nonempty(fn, "samples", samples, "sample per point")
    num_samples = samples.shape[0]
    if fair and num_samples < 2:
        raise ValueError(
            f"{fn}: `fair=True` needs at least 2 samples, got `samples` of shape {samples.shape}."
        )
    return _crps_samples(y, samples, bool(fair))
