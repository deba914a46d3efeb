"""Rank-normalised split R-hat (potential scale reduction)."""

from __future__ import annotations

import numpy as np

from bayeskit.diagnostics._draws import as_draws, has_nan, pool, split_chains
from bayeskit.diagnostics._rank_normal import rank_normalize, split_normal_scores

__all__ = ["rhat"]


def potential_scale_reduction(chains: np.ndarray) -> np.ndarray:
    r"""Return the (non-split) R-hat of chains [chain, draw, P], one value per column.

    .. math::
        \hat R = \sqrt{\frac{\frac{N-1}{N} W + \frac{1}{N} B}{W}},

    with :math:`W` the mean within-chain variance and :math:`B/N` the variance of the chain means
    (both with the :math:`N-1`, resp. :math:`M-1`, divisor). Zero within-chain variance gives NaN.
    """
    num_draws = chains.shape[1]
    within = chains.var(axis=1, ddof=1).mean(axis=0)
    between_over_n = chains.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(((num_draws - 1) / num_draws * within + between_over_n) / within)


def rank_rhat(draws: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
    """Return rank-normalised split R-hat of validated draws [chain, draw, P]; see :func:`rhat`.

    ``scores``: the draws' :func:`split_normal_scores`, when the caller has them already.
    """
    num_params = draws.shape[2]
    if draws.shape[0] < 2:
        return np.full(num_params, np.nan)
    split = split_chains(draws)
    bulk = potential_scale_reduction(split_normal_scores(draws) if scores is None else scores)
    folded = np.abs(split - np.median(pool(split), axis=0))
    tail = potential_scale_reduction(rank_normalize(folded))
    result = np.fmax(bulk, tail)
    result[has_nan(draws)] = np.nan
    return result


def rhat(x) -> np.ndarray:
    r"""Compute the rank-normalised split R-hat of MCMC draws.

    Each chain is split into halves; R-hat is computed on the rank-normalised split chains
    (*bulk*) and on the rank-normalised split chains folded about the pooled median,
    :math:`|\theta - \mathrm{median}(\theta)|` (*tail*), and the larger is returned:

    .. math::
        \hat R = \max\bigl(\hat R_{\text{bulk}}, \hat R_{\text{tail}}\bigr), \qquad
        \hat R_\bullet = \sqrt{\frac{\frac{N-1}{N} W + \frac{1}{N} B}{W}},

    where :math:`W` is the mean within-chain variance and :math:`B / N` the variance of the chain
    means of :math:`M` split chains of :math:`N` draws. Values above 1.01 suggest the chains have
    not mixed. Matches ``arviz.rhat(..., method="rank")``: a single chain, a constant quantity or
    any NaN draw gives NaN.

    Reference:
        Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
        localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
        16(2), 667-718.

    Args:
        x: draws shaped [chain, draw] or [chain, draw, *param_shape], at least 4 draws.

    Returns:
        R-hat, shaped ``param_shape`` (a 0-d array for a scalar quantity).

    Raises:
        ValueError: ``x`` is not shaped [chain, draw, ...] or has fewer than 4 draws.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(4, 1000))
        >>> bool(rhat(x) < 1.01)
        True
    """
    draws, param_shape = as_draws("rhat", "x", x)
    return rank_rhat(draws).reshape(param_shape)
