"""The Euclidean-Gaussian kinetic energy of HMC and NUTS, from a diagonal or dense inverse mass matrix.

With mass matrix M the momentum is p ~ N(0, M), the kinetic energy is K(p) = p^T M^-1 p / 2 and the
velocity is dK/dp = M^-1 p (Betancourt's "p sharp"). Samplers are given M^-1, the quantity that
adaptation estimates (the posterior covariance), so M itself is never formed.

Reference: Betancourt, M. (2017). A Conceptual Introduction to Hamiltonian Monte Carlo.
arXiv:1701.02434, sections 4.2 and A.4.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from bayeskit.dist._distribution import is_concrete

__all__ = ["Metric", "gaussian_euclidean", "is_turning_velocities"]


class Metric(NamedTuple):
    """The kinetic energy of a Euclidean metric, as pure functions of the momentum.

    Attributes:
        sample_momentum: ``sample_momentum(key, position) -> p``, a draw from N(0, M) shaped and
            typed like ``position``.
        momentum_from_normal: ``momentum_from_normal(z) -> p``, the momentum N(0, M) for a
            standard normal draw ``z`` (for a kernel that draws ``z`` itself).
        kinetic_energy: ``kinetic_energy(p) -> p^T M^-1 p / 2``.
        velocity: ``velocity(p) -> M^-1 p``.
        is_turning: ``is_turning(momentum_left, momentum_right, momentum_sum) -> bool``, the
            generalised No-U-Turn criterion for a trajectory with these end momenta.
    """

    sample_momentum: Callable
    momentum_from_normal: Callable
    kinetic_energy: Callable
    velocity: Callable
    is_turning: Callable


def is_turning_velocities(velocity_left, velocity_right, momentum_sum) -> jax.Array:
    """Return whether a trajectory has turned back, from its end velocities and momentum sum.

    The generalised No-U-Turn criterion (Betancourt 2017, A.4.2; Stan's ``compute_criterion``):
    with rho the sum of the momenta of every point of the trajectory, it keeps going only while
    ``v_left . rho > 0`` and ``v_right . rho > 0``. A non-finite product counts as turning.

    Args:
        velocity_left: M^-1 p at the trajectory's first end.
        velocity_right: M^-1 p at its other end.
        momentum_sum: rho, the sum of the momenta over the trajectory, both ends included.
    """
    keeps_going = (jnp.dot(velocity_left, momentum_sum) > 0) & (jnp.dot(velocity_right, momentum_sum) > 0)
    return ~keeps_going


def _check_inverse_mass_matrix(inverse_mass_matrix) -> jax.Array:
    imm = jnp.asarray(inverse_mass_matrix)
    if not jnp.issubdtype(imm.dtype, jnp.floating):
        imm = imm.astype(jnp.result_type(float))
    if imm.ndim not in (1, 2) or (imm.ndim == 2 and imm.shape[0] != imm.shape[1]):
        raise ValueError(
            "inverse_mass_matrix must be a vector (the diagonal of M^-1) or a square matrix (dense "
            f"M^-1), of the position's size; got shape {tuple(imm.shape)}."
        )
    if is_concrete(imm):
        values = np.asarray(imm)
        diagonal = values if values.ndim == 1 else np.diagonal(values)
        if not (np.all(np.isfinite(values)) and np.all(diagonal > 0)):
            raise ValueError(
                "inverse_mass_matrix must be finite with a positive diagonal (it estimates the "
                "posterior covariance); got one with a non-finite or non-positive entry."
            )
        if values.ndim == 2 and not (
            np.allclose(values, values.T, rtol=1e-6, atol=0.0) and np.all(np.linalg.eigvalsh(values) > 0)
        ):
            # A dense M^-1 that is not symmetric positive definite gives NaN momenta: the chain
            # never moves (HMC) or diverges at every step (NUTS).
            raise ValueError(
                "inverse_mass_matrix must be symmetric positive definite (it estimates the posterior "
                "covariance); the matrix given is not symmetric or has a non-positive eigenvalue."
            )
    return imm


def gaussian_euclidean(inverse_mass_matrix) -> Metric:
    """Build the Euclidean metric whose momentum is N(0, M), from M^-1.

    Args:
        inverse_mass_matrix: M^-1, either a vector of shape ``(dim,)`` (a diagonal metric) or a
            symmetric positive-definite matrix of shape ``(dim, dim)`` (a dense metric). A good
            choice is the posterior covariance (or its diagonal).

    Returns:
        A :class:`Metric`.

    Raises:
        ValueError: the matrix is neither a vector nor square, or (when concrete) has a non-finite
            entry or a non-positive diagonal.

    Example:
        >>> metric = gaussian_euclidean(jnp.array([1.0, 4.0]))
        >>> p = metric.sample_momentum(jax.random.key(0), jnp.zeros(2))
        >>> metric.kinetic_energy(p), metric.velocity(p)
    """
    imm = _check_inverse_mass_matrix(inverse_mass_matrix)

    if imm.ndim == 1:

        def velocity(momentum):
            return (imm * momentum).astype(momentum.dtype)

        def momentum_from_normal(z):
            # p ~ N(0, M) with M = diag(1 / imm).
            return z / jnp.sqrt(imm).astype(z.dtype)

    else:
        # M^-1 = L L^T, so M = L^-T L^-1 and p = L^-T z has covariance M.
        cholesky = jnp.linalg.cholesky(imm)

        def velocity(momentum):
            return (imm @ momentum).astype(momentum.dtype)

        def momentum_from_normal(z):
            return jsl.solve_triangular(cholesky, z, trans="T", lower=True).astype(z.dtype)

    def sample_momentum(key, position):
        return momentum_from_normal(jax.random.normal(key, jnp.shape(position), jnp.result_type(position)))

    def kinetic_energy(momentum):
        return 0.5 * jnp.dot(momentum, velocity(momentum))

    def is_turning(momentum_left, momentum_right, momentum_sum):
        return is_turning_velocities(velocity(momentum_left), velocity(momentum_right), momentum_sum)

    return Metric(sample_momentum, momentum_from_normal, kinetic_energy, velocity, is_turning)
