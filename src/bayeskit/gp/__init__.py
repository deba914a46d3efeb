"""Gaussian processes: kernels with algebra, exact regression with marginal-likelihood learning.

``GPR(kernel, mean, noise).fit(X, y)`` learns hyperparameters by L-BFGS on the exact log
marginal likelihood, whose gradient costs about one extra Cholesky-sized inverse
(:mod:`bayeskit.gp.marginal_likelihood`); :mod:`bayeskit.gp.kernels` has the covariance
functions. ``GPC`` classifies (Laplace approximation); ``latent_gp``, ``gp_marginal`` and
``conditional`` put GPs inside models for NUTS (:mod:`bayeskit.gp.latent`).
"""

from bayeskit.gp import kernels
from bayeskit.gp._fit import FitInfo
from bayeskit.gp._sparse_inducing import select_inducing
from bayeskit.gp.cholesky import NotPositiveDefiniteError, jittered_cholesky
from bayeskit.gp.classification import GPC
from bayeskit.gp.gpr import GPR
from bayeskit.gp.latent import conditional, gp_marginal, latent_gp
from bayeskit.gp.marginal_likelihood import gaussian_log_marginal
from bayeskit.gp.means import ConstantMean, LinearMean, MeanFunction, ZeroMean
from bayeskit.gp.prediction import GPPrediction
from bayeskit.gp.sgpr import SGPR
from bayeskit.gp.svgp import SVGP

__all__ = [
    "ConstantMean",
    "FitInfo",
    "GPC",
    "GPPrediction",
    "GPR",
    "LinearMean",
    "MeanFunction",
    "NotPositiveDefiniteError",
    "SGPR",
    "SVGP",
    "ZeroMean",
    "conditional",
    "gaussian_log_marginal",
    "gp_marginal",
    "jittered_cholesky",
    "kernels",
    "latent_gp",
    "select_inducing",
]
