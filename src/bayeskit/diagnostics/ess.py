"""Effective sample size: bulk, tail, and of the mean."""

from __future__ import annotations

import numpy as np

from bayeskit.diagnostics._draws import as_draws, has_nan, pool, split_chains
from bayeskit.diagnostics._rank_normal import split_normal_scores

__all__ = ["ess_bulk", "ess_mean", "ess_tail"]

_TAIL_PROBS = (0.05, 0.95)


def autocovariance(chains: np.ndarray) -> np.ndarray:
    r"""Return the biased autocovariance of each chain of [chain, draw, P] at every lag, via FFT.

    .. math::
        \hat\gamma_{t} = \frac{1}{N} \sum_{n=1}^{N-t} (\theta_n - \bar\theta)(\theta_{n+t} - \bar\theta),

    computed as the inverse transform of the power spectrum of the centred chain, zero-padded to
    at least :math:`2N` so that the circular correlation does not wrap around.
    """
    num_draws = chains.shape[1]
    centred = chains - chains.mean(axis=1, keepdims=True)
    num_fft = 1 << (2 * num_draws - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=num_fft, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    return np.fft.irfft(power, n=num_fft, axis=1)[:, :num_draws] / num_draws


def effective_sample_size(chains: np.ndarray) -> np.ndarray:
    r"""Return the effective sample size of chains [chain, draw, P], one value per column.

    The autocorrelation at lag :math:`t` combines all :math:`M` chains of :math:`N` draws,

    .. math::
        \hat\rho_t = 1 - \frac{W - \frac{1}{M}\sum_m \hat\gamma_{t,m}}{\widehat{\mathrm{var}}^+},
        \qquad \widehat{\mathrm{var}}^+ = \tfrac{N-1}{N} W + \tfrac{1}{N} B,

    and the integrated autocorrelation time sums the pairs
    :math:`\hat P_k = \hat\rho_{2k} + \hat\rho_{2k+1}` for :math:`k < K`, where :math:`K` is the
    first pair with :math:`\hat P_K \le 0` (Geyer's initial positive sequence; or the last pair
    whose odd lag is below :math:`N - 2`), made non-increasing (Geyer's initial monotone
    sequence), plus :math:`\hat\rho_{2K}` when positive (Stan's improvement for antithetic
    chains):

    .. math::
        \hat\tau = -1 + 2 \sum_{k < K} \hat P_k + \hat\rho_{2K}, \qquad
        \hat N_{\text{eff}} = \frac{MN}{\max(\hat\tau, 1 / \log_{10}(MN))}.

    A column whose draws are all equal (range below float resolution) gets :math:`MN`, like ArviZ.

    References:
        Geyer (1992), "Practical Markov chain Monte Carlo", Statistical Science 7(4).
        Vehtari et al. (2021), Bayesian Analysis 16(2), section 3.2; Stan Reference Manual,
        "Effective sample size".
    """
    num_chains, num_draws, num_params = chains.shape
    total = num_chains * num_draws
    mean_autocov = autocovariance(chains).mean(axis=0)  # [lag, P]
    within = mean_autocov[0] * num_draws / (num_draws - 1)
    var_plus = mean_autocov[0].copy()
    if num_chains > 1:
        var_plus += chains.mean(axis=1).var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (within - mean_autocov) / var_plus
    rho[0] = 1.0

    # Pairs are examined while their odd lag stays below N - 2: the bound ArviZ uses.
    last_pair = max(0, (num_draws - 3) // 2)
    pair_sums = rho[0 : 2 * last_pair + 1 : 2] + rho[1 : 2 * last_pair + 2 : 2]  # [K + 1, P]
    is_stop = ~(pair_sums > 0)
    stop = np.where(is_stop.any(axis=0), is_stop.argmax(axis=0), last_pair)
    monotone = np.minimum.accumulate(pair_sums, axis=0)
    partial_sums = np.concatenate([np.zeros((1, num_params)), np.cumsum(monotone, axis=0)])
    columns = np.arange(num_params)
    rho_even = rho[2 * stop, columns]
    # The stopping pair's even lag counts when positive, or when the pair sum is exactly zero
    # (then the pair was kept); a negative pair otherwise contributes nothing.
    last_term = np.where(pair_sums[stop, columns] >= 0, rho_even, np.maximum(rho_even, 0.0))
    tau = -1.0 + 2.0 * partial_sums[stop, columns] + last_term
    tau = np.maximum(tau, 1.0 / np.log10(total))
    ess = total / tau

    is_constant = np.ptp(chains, axis=(0, 1)) < np.finfo(np.float64).resolution
    ess[is_constant] = total
    ess[has_nan(chains)] = np.nan
    return ess


def ess_of_split(draws: np.ndarray) -> np.ndarray:
    """Return the split-chain ESS of validated draws [chain, draw, P]; see :func:`ess_mean`."""
    return effective_sample_size(split_chains(draws))


def bulk_ess(draws: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
    """Return the bulk ESS of validated draws [chain, draw, P]; see :func:`ess_bulk`.

    ``scores``: the draws' :func:`split_normal_scores`, when the caller has them already.
    """
    ess = effective_sample_size(split_normal_scores(draws) if scores is None else scores)
    ess[has_nan(draws)] = np.nan
    return ess


def tail_ess(draws: np.ndarray) -> np.ndarray:
    """Return the tail ESS of validated draws [chain, draw, P]; see :func:`ess_tail`."""
    nan_columns = has_nan(draws)
    pooled = pool(np.where(nan_columns, 0.0, draws))
    quantiles = np.quantile(pooled, _TAIL_PROBS, axis=0)  # [2, P]
    ess_low, ess_high = (
        effective_sample_size(split_chains((draws <= q).astype(np.float64))) for q in quantiles
    )
    ess = np.minimum(ess_low, ess_high)
    ess[nan_columns] = np.nan
    return ess


def ess_mean(x) -> np.ndarray:
    r"""Compute the effective sample size for the mean, on split chains without rank normalisation.

    .. math::
        \hat N_{\text{eff}} = \frac{MN}{\hat\tau}, \qquad
        \hat\tau = -1 + 2 \sum_{k < K} \hat P_k + \hat\rho_{2K},

    with :math:`M` split chains of :math:`N` draws, the autocorrelations :math:`\hat\rho_t`
    estimated by FFT and combined across chains, and the pair sums
    :math:`\hat P_k = \hat\rho_{2k} + \hat\rho_{2k+1}` truncated and made monotone by Geyer's
    initial monotone sequence. This is the ESS behind the Monte Carlo standard error of the mean
    (:func:`bayeskit.diagnostics.mcse_mean`); it assumes a finite variance. Matches
    ``arviz.ess(..., method="mean")``: a constant quantity gives the number of draws, a NaN gives NaN.

    Reference:
        Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
        localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
        16(2), section 3.2; Geyer (1992), Statistical Science 7(4).

    Args:
        x: draws shaped [chain, draw] or [chain, draw, *param_shape], at least 4 draws.

    Returns:
        ESS, shaped ``param_shape``.

    Raises:
        ValueError: ``x`` is not shaped [chain, draw, ...] or has fewer than 4 draws.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(4, 1000))
        >>> bool(3000 < ess_mean(x) < 5000)
        True
    """
    draws, param_shape = as_draws("ess_mean", "x", x)
    return ess_of_split(draws).reshape(param_shape)


def ess_bulk(x) -> np.ndarray:
    r"""Compute the bulk effective sample size: the ESS of rank-normalised split chains.

    .. math::
        \hat N_{\text{bulk}} = \hat N_{\text{eff}}\bigl(z\bigr), \qquad
        z = \Phi^{-1}\!\left(\frac{r - 3/8}{S + 1/4}\right),

    where :math:`r` are the ranks of the :math:`S` pooled draws and :math:`\hat N_{\text{eff}}`
    is the split-chain ESS of :func:`ess_mean`. It measures how well the centre of the
    distribution is sampled and is defined even without a finite mean; aim for at least 100 per
    chain. Matches ``arviz.ess(..., method="bulk")``.

    Reference:
        Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
        localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
        16(2), section 4.

    Args:
        x: draws shaped [chain, draw] or [chain, draw, *param_shape], at least 4 draws.

    Returns:
        bulk ESS, shaped ``param_shape``.

    Raises:
        ValueError: ``x`` is not shaped [chain, draw, ...] or has fewer than 4 draws.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).standard_cauchy(size=(4, 1000))
        >>> bool(3000 < ess_bulk(x) < 5000)
        True
    """
    draws, param_shape = as_draws("ess_bulk", "x", x)
    return bulk_ess(draws).reshape(param_shape)


def ess_tail(x) -> np.ndarray:
    r"""Compute the tail effective sample size: the worse ESS of the 5% and 95% quantile indicators.

    .. math::
        \hat N_{\text{tail}} = \min\Bigl(\hat N_{\text{eff}}\bigl(I(\theta \le \hat q_{0.05})\bigr),\;
        \hat N_{\text{eff}}\bigl(I(\theta \le \hat q_{0.95})\bigr)\Bigr),

    where :math:`\hat q_p` are the pooled empirical quantiles (linear interpolation) and
    :math:`\hat N_{\text{eff}}` is the split-chain ESS of :func:`ess_mean`. It measures how well
    the 90% central interval is sampled. Matches ``arviz.ess(..., method="tail")``.

    Reference:
        Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
        localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
        16(2), section 4.3.

    Args:
        x: draws shaped [chain, draw] or [chain, draw, *param_shape], at least 4 draws.

    Returns:
        tail ESS, shaped ``param_shape``.

    Raises:
        ValueError: ``x`` is not shaped [chain, draw, ...] or has fewer than 4 draws.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(4, 1000))
        >>> bool(ess_tail(x) > 2000)
        True
    """
    draws, param_shape = as_draws("ess_tail", "x", x)
    return tail_ess(draws).reshape(param_shape)
