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
import numpy as np

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
    if is_concrete(position) and is_concrete(logdensity) and is_concrete(logdensity_grad):
        check_finite_start(kernel, logdensity_fn, position, logdensity, logdensity_grad)
    return HMCState(position, logdensity, logdensity_grad)


def nonfinite_detail(target, position) -> str:
    """Say where the log density or its gradient is not finite at ``position``: the sites of
    ``target`` (a :class:`~bayeskit.ppl.Target`) that cause it, with what to check.

    Shared by every report of a starting point that a chain cannot move from: a named kernel's
    failed start in :func:`~bayeskit.mcmc.sample` and a hand-built kernel's ``init``.
    """
    sites = target.nonfinite_sites(position)
    return (
        f"The log density or its gradient is not finite at site(s) {sites or '(none found)'}; check "
        "their priors, supports and the data"
    )


def check_finite_start(kernel: str, logdensity_fn: Callable, position, logdensity, logdensity_grad) -> None:
    """Raise ``FloatingPointError`` if the log density or its gradient at a concrete starting point
    is NaN or infinite: every leapfrog trajectory from there is NaN, every proposal is rejected,
    and the chain would stay at that point for ever without another sign than divergences.

    When ``logdensity_fn`` is a :class:`~bayeskit.ppl.Target`'s ``logdensity_fn``, the message
    names the model's offending sites (as :func:`~bayeskit.mcmc.sample` does for a failed start);
    otherwise it names the offending coordinates of the gradient.
    """
    value = np.asarray(logdensity)
    grad = np.asarray(logdensity_grad)
    bad_grad = ~np.isfinite(grad)
    if np.isfinite(value).all() and not bad_grad.any():
        return
    facts = f"log density {float(value.ravel()[0]) if value.size == 1 else value}"
    if bad_grad.any():
        coords = np.flatnonzero(bad_grad).tolist()
        shown = ", ".join(map(str, coords[:5])) + (", ..." if len(coords) > 5 else "")
        facts += f", gradient not finite in {len(coords)} coordinate(s): {shown}"
    target = getattr(logdensity_fn, "__self__", None)
    if callable(getattr(target, "nonfinite_sites", None)):
        facts += f", model `{target.name}`"
        where = nonfinite_detail(target, position)
    else:
        where = "The log density or its gradient is not finite there; check the log density's domain"
    raise FloatingPointError(
        f"{kernel}: the starting position given to init is one the chain cannot move from ({facts}): "
        f"every trajectory from it is NaN and every proposal would be rejected. {where}; then start "
        "where both are finite (e.g. target.init(key), uniform(-2, 2) on the unconstrained scale), or "
        "let bayeskit.mcmc.sample find a start."
    )
