r"""Calibration of classifiers: the reliability curve and the expected calibration error (ECE).

A classifier is calibrated when, among the points it gives confidence ``c``, a fraction ``c`` is
right. Both functions bin the points by their confidence into ``num_bins`` equal-width bins on
[0, 1], right-closed like scikit-learn's ``calibration_curve``: bin ``b`` holds confidences in
:math:`\big((b-1)/B,\ b/B\big]` and the first bin also holds 0. What "confidence" and "right"
mean depends on the layout of ``probs``:

- ``(n, K)``: top-label calibration (Guo et al. 2017): the confidence is :math:`\max_k p_{ik}`
  and a point is right when that class is its label;
- ``(n,)`` (binary): the confidence is the probability of class 1 and the outcome is the label,
  so a bin compares the mean predicted probability with the fraction of positives (as
  scikit-learn's ``calibration_curve``).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from bayeskit.metrics import _checks

__all__ = ["expected_calibration_error", "reliability_curve"]


def _binned(y: jax.Array, probs: jax.Array, num_bins: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-bin sums of confidence and outcome, and counts, over equal-width bins."""
    if probs.ndim == 1:
        confidence, outcome = probs, y.astype(probs.dtype)
    else:
        confidence = jnp.max(probs, axis=1)
        outcome = (jnp.argmax(probs, axis=1) == y).astype(probs.dtype)
    inner_edges = jnp.linspace(0.0, 1.0, num_bins + 1, dtype=probs.dtype)[1:-1]
    # side="left" puts a confidence equal to an edge in the lower bin: bins are right-closed.
    bins = jnp.searchsorted(inner_edges, confidence, side="left")
    total = jax.ops.segment_sum
    counts = total(jnp.ones_like(confidence), bins, num_segments=num_bins)
    return (
        total(confidence, bins, num_segments=num_bins),
        total(outcome, bins, num_segments=num_bins),
        counts,
    )


@partial(jax.jit, static_argnames="num_bins")
def _reliability_curve(y: jax.Array, probs: jax.Array, num_bins: int):
    confidence_sum, outcome_sum, counts = _binned(y, probs, num_bins)
    safe = jnp.where(counts > 0, counts, 1.0)
    empty = counts == 0
    return (
        jnp.where(empty, jnp.nan, confidence_sum / safe),
        jnp.where(empty, jnp.nan, outcome_sum / safe),
        counts,
    )


@partial(jax.jit, static_argnames="num_bins")
def _expected_calibration_error(y: jax.Array, probs: jax.Array, num_bins: int) -> jax.Array:
    confidence_sum, outcome_sum, counts = _binned(y, probs, num_bins)
    # |B_b| / n * |freq_b - conf_b| = |sum of outcomes - sum of confidences| / n.
    return jnp.sum(jnp.abs(outcome_sum - confidence_sum)) / jnp.sum(counts)


def reliability_curve(y, probs, num_bins: int = 15) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Return the reliability diagram of a classifier: confidence vs frequency, per bin.

    For each equal-width confidence bin :math:`B_b` (see the module docstring):

    .. math::
        \mathrm{conf}_b = \frac{1}{|B_b|} \sum_{i \in B_b} c_i, \qquad
        \mathrm{freq}_b = \frac{1}{|B_b|} \sum_{i \in B_b} o_i,

    with confidence :math:`c_i` and outcome :math:`o_i` (right or wrong for ``(n, K)``
    probabilities; the label for binary ones). A calibrated classifier has
    :math:`\mathrm{freq}_b \approx \mathrm{conf}_b`; an over-confident one puts its top-label
    points below the diagonal (and its binary points below it on the right, above it on the left).

    Args:
        y: integer class labels, shape ``(n,)``.
        probs: predicted probabilities, ``(n, K)`` or ``(n,)`` (binary).
        num_bins: the number of equal-width bins (at least 1; static under ``jit``). 15 by
            default, as in Guo et al. (2017).

    Returns:
        ``(confidence, frequency, counts)``, each of shape ``(num_bins,)``: the mean confidence
        and the observed frequency in each bin (NaN for an empty bin) and the number of points in
        it. Dropping the empty bins gives scikit-learn's ``calibration_curve`` (reversed order of
        the pair) for binary ``probs``.

    Raises:
        ValueError: on mismatched shapes, probabilities outside [0, 1] or rows not summing to 1,
            labels that are not classes, ``num_bins < 1``, or NaN/inf in any input.

    Example:
        >>> probs = jnp.array([0.1, 0.3, 0.8, 0.9])
        >>> conf, freq, counts = reliability_curve(jnp.array([0, 1, 1, 1]), probs, num_bins=2)
        >>> [round(c, 4) for c in conf.tolist()], freq.tolist(), counts.tolist()
        ([0.2, 0.85], [0.5, 1.0], [2.0, 2.0])
    """
    fn = "reliability_curve"
    num_bins = _checks.count(fn, "num_bins", num_bins)
    return _reliability_curve(*_checks.class_probabilities(fn, y, probs), num_bins)


def expected_calibration_error(y, probs, num_bins: int = 15) -> jax.Array:
    r"""Return the expected calibration error: the count-weighted L1 gap of the reliability curve.

    .. math::
        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|B_b|}{n}\,
            \big|\mathrm{freq}_b - \mathrm{conf}_b\big|

    over ``B = num_bins`` equal-width bins (Naeini et al. 2015; Guo et al. 2017), empty bins
    contributing nothing. The value depends on the bin count (more bins, more noise and a larger
    value for the same model), so compare ECEs only at the same ``num_bins``; the default is 15.

    Args:
        y: integer class labels, shape ``(n,)``.
        probs: predicted probabilities, ``(n, K)`` (top-label ECE) or ``(n,)`` (binary: the
            probability of class 1).
        num_bins: the number of equal-width bins on [0, 1] (at least 1; static under ``jit``).

    Returns:
        A scalar in [0, 1] (lower is better).

    Raises:
        ValueError: as :func:`reliability_curve`.

    Example:
        >>> probs = jnp.array([0.1, 0.3, 0.8, 0.9])
        >>> round(float(expected_calibration_error(jnp.array([0, 1, 1, 1]), probs, num_bins=2)), 4)
        0.225
    """
    fn = "expected_calibration_error"
    num_bins = _checks.count(fn, "num_bins", num_bins)
    return _expected_calibration_error(*_checks.class_probabilities(fn, y, probs), num_bins)
