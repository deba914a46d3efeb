"""Hamiltonian Monte Carlo with a fixed number of leapfrog steps and a Metropolis correction.

Reference: Duane, S., Kennedy, A. D., Pendleton, B. J. and Roweth, D. (1987). Hybrid Monte Carlo.
Physics Letters B 195(2); Neal, R. M. (2011). MCMC using Hamiltonian dynamics. Handbook of Markov
Chain Monte Carlo, chapter 5.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.mcmc._kernel import HMCState, Kernel, check_step_size, gradient_state
from bayeskit.mcmc.integrators import IntegratorState, leapfrog
from bayeskit.mcmc.metrics import gaussian_euclidean

__all__ = ["HMCInfo", "HMCState", "hmc"]


class HMCInfo(NamedTuple):
    """What one HMC transition reports.

    Attributes:
        acceptance_rate: min(1, exp(-dH)), the Metropolis acceptance probability, dH the change
            in total energy along the trajectory (0 when dH is NaN).
        is_accepted: whether the end of the trajectory was accepted.
        is_divergent: dH exceeded ``max_delta_energy`` or was NaN: the integrator went unstable.
        energy: the total energy -log pi(q) + K(p) of the returned point with its momentum.
        num_integration_steps: leapfrog steps taken (= gradient evaluations).
    """

    acceptance_rate: jax.Array
    is_accepted: jax.Array
    is_divergent: jax.Array
    energy: jax.Array
    num_integration_steps: jax.Array


def hmc(
    logdensity_fn: Callable,
    step_size,
    inverse_mass_matrix,
    num_integration_steps,
    max_delta_energy: float = 1000.0,
) -> Kernel:
    """Build the HMC kernel: fresh momentum, ``num_integration_steps`` leapfrog steps, accept/reject.

    Each transition draws p ~ N(0, M), integrates H(q, p) = -log pi(q) + p^T M^-1 p / 2 with the
    leapfrog integrator and accepts the end point with probability min(1, exp(H_0 - H_L)), which
    leaves pi invariant because the leapfrog map is volume-preserving and reversible.

    Args:
        logdensity_fn: log pi over a flat vector (e.g. ``Target.logdensity_fn``).
        step_size: the leapfrog step size (scalar; may be traced, for adaptation).
        inverse_mass_matrix: M^-1, a vector (diagonal) or a matrix (dense), typically the
            posterior covariance (or its diagonal).
        num_integration_steps: leapfrog steps per transition (a positive integer; may be traced,
            e.g. to jitter the trajectory length).
        max_delta_energy: an energy error above this flags the transition as divergent.

    Returns:
        A :class:`~bayeskit.mcmc._kernel.Kernel`: ``init(position) -> HMCState`` and
        ``step(key, state) -> (HMCState, HMCInfo)``.

    Raises:
        ValueError: a non-scalar or non-positive step size, a malformed inverse mass matrix, a
            non-positive number of steps, or (in ``init``) a position of the wrong shape.

    Example:
        >>> kernel = hmc(logdensity_fn, 0.2, jnp.ones(2), num_integration_steps=10)
        >>> state = kernel.init(jnp.zeros(2))
        >>> state, info = jax.jit(kernel.step)(jax.random.key(0), state)
    """
    if not callable(logdensity_fn):
        raise TypeError(f"hmc: `logdensity_fn` must be callable, got {type(logdensity_fn).__name__}.")
    step_size = check_step_size("hmc", step_size)
    metric = gaussian_euclidean(inverse_mass_matrix)
    dim = int(jnp.shape(inverse_mass_matrix)[0])
    if isinstance(num_integration_steps, int | np.integer) and num_integration_steps < 1:
        raise ValueError(f"hmc: num_integration_steps must be >= 1, got {num_integration_steps}.")
    num_steps = jnp.asarray(num_integration_steps, dtype=jnp.int32)
    integrator = leapfrog(logdensity_fn, metric.velocity)

    def init(position) -> HMCState:
        return gradient_state("hmc", logdensity_fn, position, dim)

    def step(key, state: HMCState) -> tuple[HMCState, HMCInfo]:
        key_momentum, key_accept = jax.random.split(key)
        momentum = metric.sample_momentum(key_momentum, state.position)
        start = IntegratorState(state.position, momentum, state.logdensity, state.logdensity_grad)
        end = jax.lax.fori_loop(0, num_steps, lambda _, s: integrator(s, step_size), start)

        energy_start = -state.logdensity + metric.kinetic_energy(momentum)
        energy_end = -end.logdensity + metric.kinetic_energy(end.momentum)
        delta = energy_end - energy_start
        delta = jnp.where(jnp.isnan(delta), jnp.inf, delta)
        is_divergent = delta > max_delta_energy
        acceptance_rate = jnp.exp(jnp.minimum(0.0, -delta))
        is_accepted = jnp.log(jax.random.uniform(key_accept, dtype=delta.dtype)) < -delta

        proposal = HMCState(end.position, end.logdensity, end.logdensity_grad)
        new_state = jax.tree.map(lambda a, b: jnp.where(is_accepted, a, b), proposal, state)
        info = HMCInfo(
            acceptance_rate=acceptance_rate,
            is_accepted=is_accepted,
            is_divergent=is_divergent,
            energy=jnp.where(is_accepted, energy_end, energy_start),
            num_integration_steps=num_steps,
        )
        return new_state, info

    return Kernel(init, step)
