"""What every MCMC kernel returns, and the state the gradient-based kernels share.

A kernel factory (``hmc``, ``nuts``, ``rwmh``, ...) takes a log density and tuning values and
returns a :class:`Kernel`: two pure functions that ``jax.jit`` and ``jax.vmap`` transform freely.
Adaptation calls the factory again with new tuning values; diagnostics go in the ``info`` that
``step`` returns, never in the state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bayeskit.dist._distribution import is_concrete

__all__ = ["HMCState", "Kernel"]


class Kernel(NamedTuple):
    """A Markov kernel as two pure functions.

    Attributes:
        init: ``init(position) -> state``, the state at a starting point.
        step: ``step(key, state) -> (state, info)``, one transition.
        sites: for kernels whose state is a dict (Gibbs), the entries that are parameters: what
            :func:`~bayeskit.mcmc.sample` keeps as draws (the others are data or constants).
        max_tree_depth: NUTS's cap on doublings, so that a run can warn when draws reach it.
    """

    init: Callable
    step: Callable
    sites: tuple[str, ...] | None = None
    max_tree_depth: int | None = None


class HMCState(NamedTuple):
    """The state of the gradient-based kernels (HMC, NUTS): a point and what was computed there.

    Carrying the gradient lets the next transition start integrating without evaluating it again.

    Attributes:
        position: the current point, shape ``(dim,)``.
        logdensity: the log density at ``position``.
        logdensity_grad: its gradient at ``position``, shape ``(dim,)``.
    """

    position: jax.Array
    logdensity: jax.Array
    logdensity_grad: jax.Array


def check_step_size(kernel: str, step_size) -> jax.Array:
    """Return ``step_size`` as an array after checking it is a scalar and, when concrete, positive."""
    eps = jnp.asarray(step_size)
    if eps.ndim != 0:
        raise ValueError(f"{kernel}: step_size must be a scalar, got shape {tuple(eps.shape)}.")
    if not jnp.issubdtype(eps.dtype, jnp.floating):
        eps = eps.astype(jnp.result_type(float))
    if is_concrete(eps):
        value = float(eps)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"{kernel}: step_size must be a finite positive number, got {value!r}. "
                "Adaptation (bayeskit.mcmc.sample) picks one for you."
            )
    return eps


def gradient_state(kernel: str, logdensity_fn: Callable, position, dim: int) -> HMCState:
    """Evaluate the log density and its gradient at ``position`` after checking its shape."""
    position = jnp.asarray(position)
    if not jnp.issubdtype(position.dtype, jnp.floating):
        position = position.astype(jnp.result_type(float))
    if position.shape != (dim,):
        raise ValueError(
            f"{kernel}: init expects a position of shape ({dim},), the size of the inverse mass "
            f"matrix, got shape {tuple(position.shape)}. Use jax.vmap to initialise several chains."
        )
    logdensity, logdensity_grad = jax.value_and_grad(logdensity_fn)(position)
    return HMCState(position, logdensity, logdensity_grad)
