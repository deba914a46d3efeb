r"""Rank statistics and tests of their uniformity.

If the posterior draws :math:`\theta^{(1)}, \dots, \theta^{(L)}` are exact and independent given
data simulated from a prior draw :math:`\tilde\theta`, the rank
:math:`r = \#\{l : \theta^{(l)} < \tilde\theta\}` is uniform on :math:`\{0, \dots, L\}` (Talts et
al. 2018, theorem 1). Ties (a discrete quantity, or a chain that did not move) are broken at
random, which keeps the rank uniform.

The test bins the ranks of all simulations into ``num_bins`` bins of consecutive rank values and
compares the counts with their expectation by Pearson's chi-square statistic; its p-value is the
chi-square survival function, :math:`Q(k/2, x/2)` with :math:`Q` the regularised upper incomplete
gamma function (``jax.scipy.special.gammaincc``, so scipy is not needed at run time).

References:
    Talts, Betancourt, Simpson, Vehtari & Gelman (2018), "Validating Bayesian inference algorithms
    with simulation-based calibration", arXiv:1804.06788.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._key import check_key

__all__ = [
    "binned_counts",
    "binomial_band",
    "chi2_sf",
    "default_num_bins",
    "rank_statistics",
    "uniformity_test",
]


def rank_statistics(key: jax.Array, draws, truth) -> jax.Array:
    r"""Rank each true value among posterior draws, breaking ties uniformly at random.

    .. math:: r = \#\{l : \theta^{(l)} < \tilde\theta\} + U, \quad
        U \sim \mathrm{Uniform}\{0, \dots, \#\{l : \theta^{(l)} = \tilde\theta\}\}

    Args:
        key: a ``jax.random`` key (for the ties).
        draws: posterior draws ``(L, ...)``.
        truth: the values that generated the data, shaped like one draw.

    Returns:
        Integer ranks in ``[0, L]``, shaped like ``truth``.

    Example:
        >>> rank_statistics(jax.random.key(0), jnp.array([0.1, 0.5, 0.9]), jnp.array(0.6))
        Array(2, dtype=int32)
    """
    key = check_key(key, "rank_statistics")
    draws = jnp.asarray(draws)
    truth = jnp.asarray(truth)
    below = jnp.sum(draws < truth, axis=0)
    ties = jnp.sum(draws == truth, axis=0)
    u = jax.random.uniform(key, jnp.shape(truth), dtype=jnp.result_type(float))
    extra = jnp.minimum(jnp.floor(u * (ties + 1)), ties).astype(below.dtype)
    return (below + extra).astype(jnp.int32)


def default_num_bins(num_simulations: int, num_draws: int) -> int:
    """About ten expected simulations per bin, between 2 and 20 bins, at most one per rank value."""
    return int(max(2, min(20, num_simulations // 10, num_draws + 1)))


def binned_counts(ranks, num_draws: int, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Count ranks ``(num_simulations, ...)`` in ``num_bins`` bins of consecutive rank values.

    Rank value ``r`` in ``0..num_draws`` goes to bin ``floor(r * num_bins / (num_draws + 1))``, so
    the bins hold equal numbers of rank values when ``num_bins`` divides ``num_draws + 1`` and
    differ by one value otherwise.

    Returns:
        ``counts`` ``(num_bins, ...)`` and ``probs`` ``(num_bins,)``, each bin's probability under
        uniformity.
    """
    ranks = np.asarray(ranks)
    values = np.arange(num_draws + 1)
    probs = np.bincount(values * num_bins // (num_draws + 1), minlength=num_bins) / (num_draws + 1)
    bins = ranks * num_bins // (num_draws + 1)
    counts = (bins[None, ...] == np.arange(num_bins).reshape((num_bins,) + (1,) * ranks.ndim)).sum(axis=1)
    return counts, probs


def chi2_sf(x, dof) -> np.ndarray:
    r"""The chi-square survival function :math:`P(X > x)` with ``dof`` degrees of freedom.

    :math:`P(X > x) = Q(\tfrac{k}{2}, \tfrac{x}{2})`, the regularised upper incomplete gamma
    function; computed in float64 when JAX has x64 enabled, otherwise float32 (p-values below
    about 1e-38 then read 0).
    """
    x = jnp.asarray(x, dtype=jnp.result_type(float))
    dof = jnp.asarray(dof, dtype=x.dtype)
    return np.asarray(jax.scipy.special.gammaincc(0.5 * dof, 0.5 * jnp.maximum(x, 0.0)))


def uniformity_test(ranks, num_draws: int, num_bins: int | None = None) -> dict[str, np.ndarray]:
    r"""Pearson's chi-square test that ranks are uniform on ``{0, ..., num_draws}``.

    .. math:: X^2 = \sum_{b=1}^{B} \frac{(O_b - N p_b)^2}{N p_b}, \qquad
        p = P(\chi^2_{B-1} > X^2)

    Args:
        ranks: integer ranks ``(num_simulations, ...)``, one column per quantity.
        num_draws: :math:`L`, the number of posterior draws each rank was taken among.
        num_bins: :math:`B`; default about ten expected ranks per bin, at most 20.

    Returns:
        ``{"chi2", "dof", "p_value", "mean_rank"}``, each shaped like one row of ``ranks``
        (``dof`` a scalar).

    Raises:
        ValueError: ranks outside ``[0, num_draws]``, fewer than two ranks, or a bad ``num_bins``.

    Example:
        >>> uniformity_test(result.ranks, result.num_draws)["p_value"]
    """
    ranks = np.asarray(ranks)
    if ranks.ndim < 1 or ranks.shape[0] < 2:
        raise ValueError(f"uniformity_test: need at least two ranks, got shape {ranks.shape}.")
    if isinstance(num_draws, bool) or not isinstance(num_draws, int | np.integer) or num_draws < 1:
        raise ValueError(f"uniformity_test: `num_draws` must be a positive integer, got {num_draws!r}.")
    if ranks.size and (ranks.min() < 0 or ranks.max() > num_draws):
        raise ValueError(
            f"uniformity_test: ranks must lie in [0, num_draws={num_draws}], got [{ranks.min()}, {ranks.max()}]."
        )
    if num_bins is None:
        num_bins = default_num_bins(ranks.shape[0], int(num_draws))
    if (
        isinstance(num_bins, bool)
        or not isinstance(num_bins, int | np.integer)
        or not 2 <= num_bins <= num_draws + 1
    ):
        raise ValueError(
            f"uniformity_test: `num_bins` must be an integer in [2, num_draws + 1 = {num_draws + 1}], "
            f"got {num_bins!r}."
        )
    counts, probs = binned_counts(ranks, int(num_draws), int(num_bins))
    expected = ranks.shape[0] * probs.reshape((-1,) + (1,) * (ranks.ndim - 1))
    stat = np.sum((counts - expected) ** 2 / expected, axis=0)
    dof = int(num_bins) - 1
    return {
        "chi2": stat,
        "dof": np.asarray(dof),
        "p_value": chi2_sf(stat, dof),
        "mean_rank": ranks.mean(axis=0),
    }


def _binomial_cdf(n: int, p: float) -> np.ndarray:
    k = np.arange(n + 1)
    if p <= 0.0 or p >= 1.0:
        return (k >= (0 if p <= 0.0 else n)).astype(float)
    log_pmf = (
        np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in k])
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    return np.cumsum(np.exp(log_pmf))


def binomial_band(num_simulations: int, probs, level: float = 0.99) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval of each bin count under uniformity (``Binomial(N, p_b)``).

    Returns:
        ``lower`` and ``upper`` counts per bin: a histogram of calibrated ranks leaves this band
        in about ``1 - level`` of its bins.
    """
    lower, upper = [], []
    tail = 0.5 * (1.0 - level)
    for p in np.asarray(probs, dtype=float):
        cdf = _binomial_cdf(int(num_simulations), float(p))
        lower.append(int(np.searchsorted(cdf, tail)))
        upper.append(int(np.searchsorted(cdf, 1.0 - tail)))
    return np.asarray(lower), np.asarray(upper)
