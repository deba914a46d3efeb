"""Rank normalisation: replace draws by normal scores of their pooled ranks."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from bayeskit.diagnostics._draws import split_chains


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Return the 1-based ranks along the last axis of ``values``, ties sharing their mean rank."""
    num_values = values.shape[-1]
    # Tied values share their mean rank, so the order among them does not matter and the sort
    # need not be stable (NumPy's default sort is about twice as fast as its stable one).
    order = np.argsort(values, axis=-1)
    ordered = np.take_along_axis(values, order, axis=-1)
    differs = ordered[..., 1:] != ordered[..., :-1]
    ranks = np.empty(ordered.shape, dtype=np.float64)
    if differs.all():  # no ties (continuous draws): the ranks are the inverse permutation
        np.put_along_axis(ranks, order, np.arange(1.0, num_values + 1.0), axis=-1)
        return ranks
    position = np.broadcast_to(np.arange(num_values), ordered.shape)
    # A run of tied values occupies positions first..last of the sorted row; each member gets
    # rank (first + last) / 2 + 1.
    opens_run = np.ones(ordered.shape, dtype=bool)
    opens_run[..., 1:] = differs
    closes_run = np.ones(ordered.shape, dtype=bool)
    closes_run[..., :-1] = opens_run[..., 1:]
    first = np.maximum.accumulate(np.where(opens_run, position, 0), axis=-1)
    last = np.flip(np.minimum.accumulate(np.flip(np.where(closes_run, position, num_values - 1), -1), -1), -1)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=-1)
    return ranks


def rank_normalize(draws: np.ndarray) -> np.ndarray:
    r"""Rank-normalise draws [chain, draw, P], pooling chains, column by column.

    .. math::
        z^{(nm)} = \Phi^{-1}\!\left(\frac{r^{(nm)} - 3/8}{S + 1/4}\right),

    where :math:`r^{(nm)}` is the rank of draw :math:`n` of chain :math:`m` among all
    :math:`S` draws (ties get their average rank) and :math:`\Phi^{-1}` is the standard normal
    quantile function (Blom's offset 3/8).

    Reference:
        Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
        localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
        16(2), eq. (14).
    """
    num_chains, num_draws, num_params = draws.shape
    total = num_chains * num_draws
    # Sorting is fastest along contiguous rows, so rank the transposed [P, S] array.
    ranks = average_ranks(np.ascontiguousarray(draws.reshape(total, num_params).T))
    # Average ranks are multiples of 1/2, so twice the rank indexes a table of scores shared by
    # every column: the quantile function runs once per possible rank.
    twice_rank = np.rint(2.0 * ranks).astype(np.int64)
    scores = normal_quantiles((np.arange(2 * total + 1) / 2.0 - 0.375) / (total + 0.25))
    return scores[twice_rank].T.reshape(draws.shape)


# Above this many probabilities SciPy's vectorised quantile function is faster than the standard
# library's, and its 0.15-0.25 s import is small beside the run that made that many draws.
_STDLIB_QUANTILES_UP_TO = 200_000


def normal_quantiles(probabilities: np.ndarray) -> np.ndarray:
    """The standard normal quantile function of each of ``probabilities`` (in [0, 1]), as float64.

    Every run's convergence check needs one table of these, so a short run should not pay for
    importing ``scipy.special`` (0.15-0.25 s, more than the rest of the check on 100 quantities x
    4,000 draws). Python's :class:`statistics.NormalDist` evaluates Wichura's algorithm AS 241
    (accurate to about 1e-16) at about 0.1 us a value, so it serves up to
    ``_STDLIB_QUANTILES_UP_TO`` values; longer tables use SciPy's ``ndtri``. The two agree to
    within a few units in the last place.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.size > _STDLIB_QUANTILES_UP_TO:
        from scipy.special import ndtri

        return ndtri(p)
    # inv_cdf accepts only 0 < p < 1; as for ndtri, 0 and 1 give -inf and inf, and a p outside
    # [0, 1] (the score table's unused first entry) gives NaN.
    inner = (p > 0.0) & (p < 1.0)
    out = np.full(p.shape, np.nan)
    out[p == 0.0] = -np.inf
    out[p == 1.0] = np.inf
    out[inner] = _INV_CDF(p[inner]).astype(np.float64)
    return out


_INV_CDF = np.frompyfunc(NormalDist().inv_cdf, 1, 1)


def split_normal_scores(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split chains of draws [chain, draw, P]: what bulk R-hat and bulk ESS share."""
    return rank_normalize(split_chains(draws))
