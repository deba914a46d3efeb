"""Highest density interval from posterior draws."""

from __future__ import annotations

import math

import numpy as np

from bayeskit.diagnostics._draws import as_draws, has_nan, pool

__all__ = ["hdi"]


def check_prob(owner: str, prob) -> float:
    """Return ``prob`` as a float strictly between 0 and 1, or raise a ValueError naming it."""
    try:
        value = float(prob)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{owner}: `prob` must be a number in (0, 1); got {prob!r}.") from error
    if not 0.0 < value < 1.0:
        raise ValueError(
            f"{owner}: `prob` is the probability mass inside the interval and must lie strictly "
            f"between 0 and 1; got {prob!r}. For a 94% interval pass prob=0.94."
        )
    return value


def highest_density_interval(draws: np.ndarray, prob: float) -> np.ndarray:
    """Return the HDI [P, 2] of validated draws [chain, draw, P]; see :func:`hdi`."""
    num_params = draws.shape[2]
    ordered = np.sort(pool(draws), axis=0)
    total = ordered.shape[0]
    span = math.floor(prob * total)  # the interval holds draws i .. i + span
    if span >= total:
        raise ValueError(
            f"hdi: `prob`={prob} leaves no room to choose among {total} draws; lower `prob` or "
            "pass more draws."
        )
    widths = ordered[span:] - ordered[: total - span]
    start = widths.argmin(axis=0)
    columns = np.arange(num_params)
    interval = np.stack([ordered[start, columns], ordered[start + span, columns]], axis=-1)
    interval[has_nan(draws)] = np.nan
    return interval


def hdi(x, prob: float = 0.94) -> np.ndarray:
    r"""Compute the highest density interval of the pooled draws.

    Among the intervals :math:`[\theta_{(i)}, \theta_{(i + k)}]` between order statistics of the
    :math:`S` pooled draws, with :math:`k = \lfloor p S \rfloor`, return the narrowest:

    .. math::
        \hat\imath = \arg\min_{i} \bigl(\theta_{(i + k)} - \theta_{(i)}\bigr).

    For a unimodal posterior this estimates the shortest interval holding probability
    :math:`p`. Matches ``arviz.hdi(..., hdi_prob=prob)``; any NaN draw gives NaN.

    Reference:
        Chen and Shao (1999), "Monte Carlo estimation of Bayesian credible and HPD intervals",
        Journal of Computational and Graphical Statistics 8(1), 69-92.

    Args:
        x: draws shaped [chain, draw] or [chain, draw, *param_shape], at least 4 draws; chains
            are pooled.
        prob: probability mass inside the interval, strictly between 0 and 1.

    Returns:
        lower and upper bounds, shaped ``param_shape + (2,)``.

    Raises:
        ValueError: ``x`` is not shaped [chain, draw, ...] or has fewer than 4 draws, or
            ``prob`` is not in (0, 1).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(4, 1000))
        >>> lower, upper = hdi(x, prob=0.9)
        >>> bool(abs(lower + 1.645) < 0.1 and abs(upper - 1.645) < 0.1)
        True
    """
    prob = check_prob("hdi", prob)
    draws, param_shape = as_draws("hdi", "x", x)
    return highest_density_interval(draws, prob).reshape(*param_shape, 2)
