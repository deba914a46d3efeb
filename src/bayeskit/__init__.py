"""bayeskit: probabilistic machine learning on JAX.

Subpackages: :mod:`bayeskit.dist` (distributions), :mod:`bayeskit.ppl` (the model language),
:mod:`bayeskit.conjugate` (closed-form posteriors), :mod:`bayeskit.optimize` (MLE, MAP, Laplace),
:mod:`bayeskit.datasets`.
"""

from importlib.metadata import PackageNotFoundError, version

from bayeskit import conjugate, datasets, dist, optimize, ppl

try:
    __version__ = version("bayeskit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "conjugate", "datasets", "dist", "optimize", "ppl"]
