"""Energy Bayesian fraction of missing information (E-BFMI) of Hamiltonian Monte Carlo."""

from __future__ import annotations

import numpy as np

from bayeskit.diagnostics._draws import as_draws

__all__ = ["ebfmi"]


def ebfmi(energy) -> np.ndarray:
    r"""Compute the energy Bayesian fraction of missing information of each HMC chain.

    .. math::
        \widehat{\text{E-BFMI}} = \frac{\sum_{n=2}^{N} (E_n - E_{n-1})^2}{\sum_{n=1}^{N} (E_n - \bar E)^2},

    the variance of the energy change per momentum resample over the variance of the marginal
    energy. Values below about 0.3 mean the momentum resampling explores the energy levels slowly
    (often a heavy-tailed or badly scaled posterior). Matches ``arviz.bfmi`` and Stan; a NaN
    energy gives NaN for its chain.

    Reference:
        Betancourt (2016), "Diagnosing suboptimal cotangent disintegrations in Hamiltonian Monte
        Carlo", arXiv:1604.00695.

    Args:
        energy: Hamiltonian (total energy) at each draw, shaped [chain, draw], at least 4 draws.

    Returns:
        E-BFMI, shaped [chain].

    Raises:
        ValueError: ``energy`` is not shaped [chain, draw] or has fewer than 4 draws.

    Example:
        >>> import numpy as np
        >>> energy = np.random.default_rng(0).normal(size=(4, 1000))
        >>> bool(np.all(ebfmi(energy) > 1.5))  # independent energies: E-BFMI near 2
        True
    """
    draws, param_shape = as_draws("ebfmi", "energy", energy)
    if param_shape != ():
        raise ValueError(
            f"ebfmi: `energy` must have shape [chain, draw]; got shape {np.shape(energy)}. Pass the "
            "sampler's energy statistic, one number per draw."
        )
    energy = draws[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        centred = energy - energy.mean(axis=1, keepdims=True)
        return np.sum(np.diff(energy, axis=1) ** 2, axis=1) / np.sum(centred**2, axis=1)
