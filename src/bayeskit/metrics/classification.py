"""Scores of probabilistic classifiers: Brier score, accuracy and negative log-likelihood.

Every function takes the labels ``y`` first and the predicted probabilities ``probs`` second, in
one of two layouts:

- ``probs`` of shape ``(n, K)``: one row of class probabilities per point (summing to 1), with
  integer labels ``y`` in ``0..K-1``;
- ``probs`` of shape ``(n,)``: a binary problem, the probability of class 1, with labels 0 or 1.

For a Bayesian classifier pass the predictive probabilities, the average over posterior samples
(or ensemble members) of each sample's class probabilities, not an average of scores.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayeskit.metrics import _checks

__all__ = ["accuracy", "brier_score", "classification_nll"]


@jax.jit
def _brier_score(y: jax.Array, probs: jax.Array) -> jax.Array:
    if probs.ndim == 1:
        return jnp.mean(jnp.square(probs - y))
    one_hot = jax.nn.one_hot(y, probs.shape[1], dtype=probs.dtype)
    return jnp.mean(jnp.sum(jnp.square(probs - one_hot), axis=1))


@jax.jit
def _accuracy(y: jax.Array, probs: jax.Array) -> jax.Array:
    predicted = (probs > 0.5).astype(y.dtype) if probs.ndim == 1 else jnp.argmax(probs, axis=1)
    return jnp.mean((predicted == y).astype(probs.dtype))


@jax.jit
def _classification_nll(y: jax.Array, probs: jax.Array) -> jax.Array:
    if probs.ndim == 1:
        chosen = jnp.where(y == 1, probs, 1.0 - probs)
    else:
        chosen = jnp.take_along_axis(probs, y[:, None], axis=1)[:, 0]
    return -jnp.mean(jnp.log(chosen))


def brier_score(y, probs) -> jax.Array:
    r"""Return the mean Brier score (squared error of the predicted probabilities).

    With ``probs`` of shape ``(n, K)`` the multi-class score of Brier (1950),

    .. math:: \mathrm{BS} = \frac1n \sum_i \sum_{k=1}^K \big(p_{ik} - \mathbf 1\{y_i = k\}\big)^2
        \in [0, 2];

    with ``probs`` of shape ``(n,)`` the binary score :math:`\frac1n\sum_i (p_i - y_i)^2 \in [0, 1]`,
    which is half the multi-class score of the two-column layout. Both match scikit-learn's
    ``brier_score_loss``.

    Args:
        y: integer class labels, shape ``(n,)``.
        probs: predicted probabilities, ``(n, K)`` or ``(n,)`` (see the module docstring).

    Returns:
        A scalar (lower is better).

    Raises:
        ValueError: on mismatched shapes, probabilities outside [0, 1] or rows not summing to 1,
            labels that are not classes, or NaN/inf in any input.

    Example:
        >>> probs = jnp.array([[0.8, 0.2], [0.4, 0.6]])
        >>> round(float(brier_score(jnp.array([0, 0]), probs)), 4)  # (0.08 + 0.72) / 2
        0.4
    """
    return _brier_score(*_checks.class_probabilities("brier_score", y, probs))


def accuracy(y, probs) -> jax.Array:
    r"""Return the fraction of points whose most probable class is the label.

    .. math:: \mathrm{acc} = \frac1n \sum_i \mathbf 1\{\arg\max_k p_{ik} = y_i\}

    Ties go to the lower class index (as ``argmax``); in the binary layout class 1 is predicted
    when :math:`p_i > 0.5`.

    Args:
        y: integer class labels, shape ``(n,)``.
        probs: predicted probabilities, ``(n, K)`` or ``(n,)`` (see the module docstring).

    Returns:
        A scalar in [0, 1] (higher is better).

    Raises:
        ValueError: as :func:`brier_score`.

    Example:
        >>> float(accuracy(jnp.array([0, 0]), jnp.array([[0.8, 0.2], [0.4, 0.6]])))
        0.5
    """
    return _accuracy(*_checks.class_probabilities("accuracy", y, probs))


def classification_nll(y, probs) -> jax.Array:
    r"""Return the mean negative log-likelihood of the labels (the log loss, cross-entropy).

    .. math:: \mathrm{NLL} = -\frac1n \sum_i \log p_{i, y_i}

    in nats; the binary layout uses :math:`p_{i,1} = p_i` and :math:`p_{i,0} = 1 - p_i`. A zero
    probability on an observed label gives ``inf``: the log score punishes certainty that is
    wrong without limit, so the metric says so rather than clipping. (scikit-learn's ``log_loss``
    clips probabilities at machine epsilon; away from 0 and 1 the two agree.)

    Args:
        y: integer class labels, shape ``(n,)``.
        probs: predicted probabilities, ``(n, K)`` or ``(n,)`` (see the module docstring).

    Returns:
        A scalar (lower is better).

    Raises:
        ValueError: as :func:`brier_score`.

    Example:
        >>> probs = jnp.array([[0.5, 0.5], [0.25, 0.75]])
        >>> round(float(classification_nll(jnp.array([0, 1]), probs)), 4)  # (log 2 + log 4/3) / 2
        0.4904
    """
    return _classification_nll(*_checks.class_probabilities("classification_nll", y, probs))
