"""Optimisation-based inference: maximum likelihood, MAP and the Laplace approximation."""

from bayeskit.optimize.laplace import LaplaceApproximation, laplace
from bayeskit.optimize.point import OptimizeResult, map, mle

__all__ = ["LaplaceApproximation", "OptimizeResult", "laplace", "map", "mle"]
