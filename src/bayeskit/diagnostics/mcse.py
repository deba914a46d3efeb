"""Monte Carlo standard errors of the posterior mean and standard deviation."""

from __future__ import annotations

import numpy as np

from bayeskit.diagnostics._draws import as_draws, pool
from bayeskit.diagnostics.ess import ess_of_split

__all__ = ["mcse_mean", "mcse_sd"]


def standard_error_of_mean(draws: np.ndarray) -> np.ndarray:
    """Return the MCSE of the mean of validated draws [chain, draw, P]; see :func:`mcse_mean`."""
    pooled = pool(draws)
    return pooled.std(axis=0, ddof=1) / np.sqrt(ess_of_split(draws))


def standard_error_of_sd(draws: np.ndarray) -> np.ndarray:
    """Return the MCSE of the sd of validated draws [chain, draw, P]; see :func:`mcse_sd`."""
    squared_deviation = (draws - pool(draws).mean(axis=0)) ** 2
    variance = pool(squared_deviation).mean(axis=0)
    fourth_moment = pool(squared_deviation**2).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance_of_variance = (fourth_moment - variance**2) / ess_of_split(squared_deviation)
        return np.sqrt(variance_of_variance / (4.0 * variance))


def mcse_mean(x) -> np.ndarray:
    r"""Compute the Monte Carlo standard error of the posterior mean.

    .. math::
        \mathrm{MCSE}(\hat\mu) = \frac{\hat\sigma}{\sqrt{\hat N_{\text{eff}}}},

    with :math:`\hat\sigma` the standard deviation of the pooled draws (divisor :math:`S - 1`)
    and :math:`\hat N_{\text{eff}}` the split-chain ESS of :func:`ess_mean`. Matches
    ``arviz.mcse(..., method="mean")``.

    Reference:
        Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
        localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
        16(2), section 3.2.

    Args:
        x: draws shaped [chain, draw] or [chain, draw, *param_shape], at least 4 draws.

    Returns:
        MCSE of the mean, shaped ``param_shape``.

    Raises:
        ValueError: ``x`` is not shaped [chain, draw, ...] or has fewer than 4 draws.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(4, 1000))
        >>> bool(abs(mcse_mean(x) - 1 / np.sqrt(4000)) < 0.005)
        True
    """
    draws, param_shape = as_draws("mcse_mean", "x", x)
    return standard_error_of_mean(draws).reshape(param_shape)


def mcse_sd(x) -> np.ndarray:
    r"""Compute the Monte Carlo standard error of the posterior standard deviation.

    The variance estimate :math:`\hat\sigma^2 = \overline{d}` is the mean of the squared deviations
    :math:`d = (\theta - \bar\theta)^2`; its standard error uses the ESS of :math:`d`, and the
    delta method carries it to :math:`\hat\sigma = \sqrt{\hat\sigma^2}`:

    .. math::
        \mathrm{Var}(\hat\sigma^2) \approx \frac{\overline{d^2} - \overline{d}^{\,2}}{\hat N_{\text{eff}}(d)},
        \qquad
        \mathrm{MCSE}(\hat\sigma) = \sqrt{\frac{\mathrm{Var}(\hat\sigma^2)}{4 \hat\sigma^2}},

    with :math:`\hat N_{\text{eff}}` the split-chain ESS of :func:`ess_mean`. Matches
    ``arviz.mcse(..., method="sd")`` (ArviZ 0.23), which uses this estimator rather than the older
    one built from a quantile-based ESS. A constant quantity gives NaN.

    Reference:
        Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding, and
        localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis
        16(2); the delta method as in Casella and Berger (2002), "Statistical Inference", 5.5.4.

    Args:
        x: draws shaped [chain, draw] or [chain, draw, *param_shape], at least 4 draws.

    Returns:
        MCSE of the standard deviation, shaped ``param_shape``.

    Raises:
        ValueError: ``x`` is not shaped [chain, draw, ...] or has fewer than 4 draws.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(4, 1000))
        >>> bool(abs(mcse_sd(x) - 1 / np.sqrt(2 * 4000)) < 0.005)
        True
    """
    draws, param_shape = as_draws("mcse_sd", "x", x)
    return standard_error_of_sd(draws).reshape(param_shape)
