"""Convergence diagnostics and posterior summaries for MCMC draws.

Every function takes NumPy-convertible draws shaped ``[chain, draw]`` or
``[chain, draw, *param_shape]`` (at least 4 draws per chain), vectorises over the parameter
axes, and returns results shaped ``param_shape``. They follow Vehtari et al. (2021) and match
ArviZ's ``rhat``, ``ess``, ``mcse``, ``hdi``, ``bfmi`` and ``summary``.

==================  =============================================================
``rhat``            rank-normalised split R-hat, max of bulk and folded (tail)
``ess_bulk``        ESS of rank-normalised split chains
``ess_tail``        ESS of the 5% and 95% quantile indicators (the smaller)
``ess_mean``        ESS of the split chains themselves (for the mean)
``mcse_mean``       Monte Carlo standard error of the mean
``mcse_sd``         Monte Carlo standard error of the standard deviation
``hdi``             highest density interval of the pooled draws
``ebfmi``           energy Bayesian fraction of missing information, per chain
``summary``         a pandas table of all of the above, one row per scalar quantity
==================  =============================================================
"""

from bayeskit.diagnostics.ebfmi import ebfmi
from bayeskit.diagnostics.ess import ess_bulk, ess_mean, ess_tail
from bayeskit.diagnostics.hdi import hdi
from bayeskit.diagnostics.mcse import mcse_mean, mcse_sd
from bayeskit.diagnostics.rhat import rhat
from bayeskit.diagnostics.summary import summary

__all__ = ["ebfmi", "ess_bulk", "ess_mean", "ess_tail", "hdi", "mcse_mean", "mcse_sd", "rhat", "summary"]
