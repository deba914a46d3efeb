r"""Uncertainty of a Bayesian classifier from samples of its class probabilities.

Given ``S`` samples :math:`p^{(s)}` of a point's class probabilities (posterior draws, MC dropout
passes, ensemble members), the entropy of the predictive (the average) splits into two parts:

.. math::
    \underbrace{H\Big[\frac1S \sum_s p^{(s)}\Big]}_{\text{predictive entropy (total)}}
    = \underbrace{\frac1S \sum_s H\big[p^{(s)}\big]}_{\text{expected entropy (aleatoric)}}
    + \underbrace{I}_{\text{mutual information (epistemic)}},

where :math:`H[p] = -\sum_k p_k \log p_k` in nats (with :math:`0 \log 0 = 0`). The mutual
information between the label and the model parameters is the BALD acquisition score (Houlsby et
al. 2011): large where the samples disagree, zero where they all agree.

These are uncertainty *scores*, one per point (for ranking points, flagging out-of-distribution
inputs, choosing what to label), so unlike the other metrics they are not averaged over points:
take ``.mean()`` for a summary. Each takes ``probs`` of shape ``(S, n, K)`` (or ``(S, K)`` for one
point, or ``(S, ..., K)``), every ``probs[s, i]`` summing to 1, and returns shape ``(n,)``
(``probs.shape[1:-1]``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy

from bayeskit.metrics import _checks

__all__ = ["expected_entropy", "mutual_information", "predictive_entropy"]


def _sampled_probs(fn: str, probs) -> jax.Array:
    shape = jnp.shape(probs)
    if len(shape) < 2:
        raise ValueError(
            f"{fn}: `probs` must have shape (S, n, K): S samples of class probabilities over K "
            f"classes for each of n points (or (S, K) for one point), got shape {tuple(shape)}."
        )
    probs = _checks.probabilities(fn, "probs", probs, axis=-1)
    return _checks.nonempty(fn, "probs", probs, "sample of class probabilities per point")


def _entropy(p: jax.Array) -> jax.Array:
    # Every p log p is <= 0, so |sum| is the exact negation, and gives +0.0 rather than -0.0.
    return jnp.abs(jnp.sum(xlogy(p, p), axis=-1))


@jax.jit
def _predictive_entropy(probs: jax.Array) -> jax.Array:
    return _entropy(jnp.mean(probs, axis=0))


@jax.jit
def _expected_entropy(probs: jax.Array) -> jax.Array:
    return jnp.mean(_entropy(probs), axis=0)


@jax.jit
def _mutual_information(probs: jax.Array) -> jax.Array:
    return jnp.maximum(_predictive_entropy(probs) - _expected_entropy(probs), 0.0)


def predictive_entropy(probs) -> jax.Array:
    r"""Return the entropy of the predictive class probabilities: total uncertainty, per point.

    .. math:: H\Big[\bar p\Big] = -\sum_k \bar p_k \log \bar p_k, \qquad
        \bar p = \frac1S \sum_s p^{(s)}

    Args:
        probs: class-probability samples, shape ``(S, n, K)`` (see the module docstring).

    Returns:
        Shape ``probs.shape[1:-1]``, in nats: between 0 and :math:`\log K`.

    Raises:
        ValueError: if ``probs`` has fewer than 2 dimensions, holds values outside [0, 1] or NaN,
            or a row does not sum to 1.

    Example:
        >>> probs = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # two confident samples disagree
        >>> round(float(predictive_entropy(probs)[0]), 4)  # log 2
        0.6931
    """
    return _predictive_entropy(_sampled_probs("predictive_entropy", probs))


def expected_entropy(probs) -> jax.Array:
    r"""Return the mean entropy of the sampled class probabilities: aleatoric uncertainty.

    .. math:: \frac1S \sum_s H\big[p^{(s)}\big]

    Args:
        probs: class-probability samples, shape ``(S, n, K)`` (see the module docstring).

    Returns:
        Shape ``probs.shape[1:-1]``, in nats: between 0 and :math:`\log K`.

    Raises:
        ValueError: as :func:`predictive_entropy`.

    Example:
        >>> probs = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # each sample is certain
        >>> float(expected_entropy(probs)[0])
        0.0
    """
    return _expected_entropy(_sampled_probs("expected_entropy", probs))


def mutual_information(probs) -> jax.Array:
    r"""Return the mutual information between label and parameters (BALD): epistemic uncertainty.

    .. math:: I = H\Big[\frac1S \sum_s p^{(s)}\Big] - \frac1S \sum_s H\big[p^{(s)}\big] \ge 0

    It is zero when every sample gives the same probabilities, and at most
    :math:`\min(\log K, \log S)`. The difference is clipped at 0, so rounding never makes it
    negative.

    Args:
        probs: class-probability samples, shape ``(S, n, K)`` (see the module docstring).

    Returns:
        Shape ``probs.shape[1:-1]``, in nats.

    Raises:
        ValueError: as :func:`predictive_entropy`.

    Example:
        >>> probs = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # certain samples that disagree
        >>> round(float(mutual_information(probs)[0]), 4)
        0.6931
    """
    return _mutual_information(_sampled_probs("mutual_information", probs))
