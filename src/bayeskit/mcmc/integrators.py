"""Symplectic integrators for Hamiltonian dynamics: the velocity-Verlet (leapfrog) step.

Reference: Neal, R. M. (2011). MCMC using Hamiltonian dynamics. Handbook of Markov Chain Monte
Carlo, chapter 5, section 5.2.3; Leimkuhler, B. and Reich, S. (2004). Simulating Hamiltonian
Dynamics, chapter 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax

__all__ = ["IntegratorState", "leapfrog"]


class IntegratorState(NamedTuple):
    """A point in phase space and the log density's value and gradient at its position.

    Attributes:
        position: q, shape ``(dim,)``.
        momentum: p, shape ``(dim,)``.
        logdensity: log pi(q).
        logdensity_grad: grad log pi(q), carried so that each step evaluates it only once.
    """

    position: jax.Array
    momentum: jax.Array
    logdensity: jax.Array
    logdensity_grad: jax.Array


def leapfrog(logdensity_fn: Callable, kinetic_grad_fn: Callable) -> Callable:
    """Build one velocity-Verlet step of the dynamics H(q, p) = -log pi(q) + K(p).

    ``step(state, step_size) -> state`` advances ``state`` by ``step_size`` (negative to go back
    in time)::

        p_half = p + step_size / 2 * grad log pi(q)
        q'     = q + step_size * dK/dp(p_half)
        p'     = p_half + step_size / 2 * grad log pi(q')

    The gradient at q comes from ``state``, so a step costs exactly one evaluation of the log
    density and its gradient (at q'). The map is volume-preserving and time-reversible.

    Args:
        logdensity_fn: log pi, a function of the position.
        kinetic_grad_fn: dK/dp, the velocity (``Metric.velocity``).

    Returns:
        The step function.

    Example:
        >>> metric = gaussian_euclidean(jnp.ones(2))
        >>> step = leapfrog(logdensity_fn, metric.velocity)
        >>> state = step(state, 0.1)
    """
    value_and_grad = jax.value_and_grad(logdensity_fn)

    def step(state: IntegratorState, step_size) -> IntegratorState:
        # Keep the state's dtypes (a float64 step size or metric must not promote a float32
        # chain, whose loops need a fixed carry type).
        half = 0.5 * step_size
        momentum = (state.momentum + half * state.logdensity_grad).astype(state.momentum.dtype)
        position = state.position + step_size * kinetic_grad_fn(momentum)
        position = position.astype(state.position.dtype)
        logdensity, logdensity_grad = value_and_grad(position)
        momentum = (momentum + half * logdensity_grad).astype(state.momentum.dtype)
        return IntegratorState(position, momentum, logdensity, logdensity_grad)

    return step
