"""The Matérn kernels with smoothness 1/2, 3/2 and 5/2 (closed forms)."""

from __future__ import annotations

import math

import jax.numpy as jnp

from bayeskit.gp.kernels._distance import distance
from bayeskit.gp.kernels._stationary import Stationary

__all__ = ["Matern12", "Matern32", "Matern52"]

_SQRT3 = math.sqrt(3.0)
_SQRT5 = math.sqrt(5.0)


class Matern12(Stationary):
    r"""Matérn 1/2 (exponential, Ornstein–Uhlenbeck) kernel: continuous, nowhere differentiable paths.

    .. math:: k(r) = \sigma^2 e^{-r}, \quad r = \sqrt{\textstyle\sum_d (x_d - x'_d)^2 / \ell_d^2}
    """

    def _profile(self, r2):
        return jnp.exp(-distance(r2))


class Matern32(Stationary):
    r"""Matérn 3/2 kernel: once-differentiable paths.

    .. math:: k(r) = \sigma^2 (1 + \sqrt3 r) e^{-\sqrt3 r}
    """

    def _profile(self, r2):
        s = _SQRT3 * distance(r2)
        return (1.0 + s) * jnp.exp(-s)


class Matern52(Stationary):
    r"""Matérn 5/2 kernel: twice-differentiable paths, a common default for real data.

    .. math:: k(r) = \sigma^2 (1 + \sqrt5 r + \tfrac53 r^2) e^{-\sqrt5 r}
    """

    def _profile(self, r2):
        s = _SQRT5 * distance(r2)
        return (1.0 + s + (5.0 / 3.0) * r2) * jnp.exp(-s)
