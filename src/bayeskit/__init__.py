"""bayeskit: probabilistic machine learning on JAX.

Subpackages: :mod:`bayeskit.dist` (distributions), :mod:`bayeskit.ppl` (the model language),
:mod:`bayeskit.conjugate` (closed-form posteriors), :mod:`bayeskit.optimize` (MLE, MAP, Laplace),
:mod:`bayeskit.mcmc` (NUTS, HMC, MH, Gibbs and the ``sample`` driver), :mod:`bayeskit.diagnostics`
(R-hat, ESS, MCSE, HDI), :mod:`bayeskit.metrics` (NLL, CRPS, calibration, ECE, entropy),
:mod:`bayeskit.sbc` (simulation-based calibration), :mod:`bayeskit.gp` (Gaussian processes),
:mod:`bayeskit.nn` (neural networks: the variational autoencoder),
:mod:`bayeskit.vi` (variational inference: ELBO estimators, guides, the ``fit`` driver),
:class:`bayeskit.Posterior`,
:mod:`bayeskit.datasets`, :func:`bayeskit.use_compilation_cache` (compiled programs kept on disk),
:func:`bayeskit.use_cpu_cores` (every CPU core a JAX device, so that chains run in parallel).
"""

from importlib.metadata import PackageNotFoundError, version

from bayeskit import conjugate, datasets, diagnostics, dist, gp, mcmc, metrics, nn, optimize, ppl, sbc, vi
from bayeskit._compilation_cache import use_compilation_cache
from bayeskit._cpu_cores import use_cpu_cores
from bayeskit.posterior import Posterior, SamplingWarning

try:
    __version__ = version("bayeskit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Posterior",
    "SamplingWarning",
    "__version__",
    "conjugate",
    "datasets",
    "diagnostics",
    "dist",
    "gp",
    "mcmc",
    "metrics",
    "nn",
    "optimize",
    "ppl",
    "sbc",
    "use_compilation_cache",
    "use_cpu_cores",
    "vi",
]
