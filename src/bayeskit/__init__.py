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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the names below resolve to, for type checkers and editors
    from bayeskit import conjugate, datasets, diagnostics, dist, gp, mcmc, metrics, nn, optimize, ppl, sbc, vi
    from bayeskit._compilation_cache import use_compilation_cache
    from bayeskit._cpu_cores import use_cpu_cores
    from bayeskit.posterior import Posterior, SamplingWarning

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

# Subpackages and names load on first use (PEP 562), so that `import bayeskit` and the command's
# `--help` do not import JAX, equinox, optax and every subpackage (1.1 s -> 0.03 s): a process
# pays only for what it touches.
_NAMES = {
    "Posterior": "bayeskit.posterior",
    "SamplingWarning": "bayeskit.posterior",
    "use_compilation_cache": "bayeskit._compilation_cache",
    "use_cpu_cores": "bayeskit._cpu_cores",
}
_SUBPACKAGES = frozenset(__all__) - set(_NAMES) - {"__version__"}


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bayeskit")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        value = importlib.import_module(f"bayeskit.{name}")
    elif name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name == "__version__":
        value = _installed_version()
    else:
        raise AttributeError(f"module 'bayeskit' has no attribute {name!r}")
    globals()[name] = value  # resolved once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
