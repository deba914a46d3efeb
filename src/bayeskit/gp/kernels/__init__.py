"""Covariance functions for Gaussian processes, with algebra: ``k1 + k2``, ``k1 * k2``, ``c * k``, ``k + c``.

Every positive hyperparameter is stored on the log scale (``log_lengthscale``) and read as
itself (``lengthscale``); a non-positive value given by hand is a ``ValueError`` naming it.
"""

from bayeskit.gp.kernels._base import Kernel, Product, Sum
from bayeskit.gp.kernels.constant import Constant, White
from bayeskit.gp.kernels.dot_product import Linear, Polynomial
from bayeskit.gp.kernels.matern import Matern12, Matern32, Matern52
from bayeskit.gp.kernels.periodic import Periodic
from bayeskit.gp.kernels.rbf import RBF, RationalQuadratic

__all__ = [
    "Constant",
    "Kernel",
    "Linear",
    "Matern12",
    "Matern32",
    "Matern52",
    "Periodic",
    "Polynomial",
    "Product",
    "RBF",
    "RationalQuadratic",
    "Sum",
    "White",
]
