"""Minimise a smooth function of one vector with L-BFGS (optax), from several starts at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from bayeskit._compiled import compiled

__all__ = ["LBFGSResult", "minimize_lbfgs"]


class LBFGSResult(NamedTuple):
    """Per-start results: the minimiser, the value there, gradient norm and iteration count."""

    z: jax.Array
    value: jax.Array
    grad_norm: jax.Array
    num_iterations: jax.Array


def minimize_lbfgs(
    fun: Callable, z0: jax.Array, max_iterations: int = 500, tol: float = 1e-6, *, maximize: bool = False
) -> LBFGSResult:
    """Minimise ``fun`` (maximise it with ``maximize=True``) from each row of ``z0`` (``(num_starts, dim)``).

    Stops a start when the gradient's infinity norm falls below ``tol * max(1, |fun|)`` or after
    ``max_iterations``. Uses optax's L-BFGS with its zoom line search (strong Wolfe conditions).
    The tolerance is relative to the value because rounding error in a gradient grows with the
    sum it differentiates: in float32, a log likelihood of 2,000 points has gradients of rounding
    noise near 1e-4 at its optimum, which no absolute tolerance of 1e-6 can meet.
    ``value`` in the result is that of the function minimised (``-fun`` with ``maximize``).
    """
    run = compiled(
        "lbfgs", fun, lambda f: _vectorised_lbfgs(f, max_iterations, maximize), max_iterations, maximize
    )
    return run(z0, jnp.asarray(tol, z0.dtype))


def _vectorised_lbfgs(fun: Callable, max_iterations: int, maximize: bool):
    objective = (lambda z: -fun(z)) if maximize else fun
    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(objective)

    def one(z_init, tol):
        # The lowest point with a finite value so far is kept: on a function that decreases
        # without bound (a scale free to shrink to 0 at a data point) the iterates run on until
        # the value is -inf or NaN, and the last finite point says where they were going.
        def step(carry):
            z, state, i, best_z, best_value = carry
            value, grad = value_and_grad(z, state=state)
            better = jnp.isfinite(value) & ~(value >= best_value)
            best_z = jnp.where(better, z, best_z)
            best_value = jnp.where(better, value, best_value)
            updates, state = solver.update(grad, state, z, value=value, grad=grad, value_fn=objective)
            return optax.apply_updates(z, updates), state, i + 1, best_z, best_value

        def keep_going(carry):
            _, state, i, _, _ = carry
            grad = optax.tree.get(state, "grad")
            value = optax.tree.get(state, "value")
            err = jnp.max(jnp.abs(grad))
            return (i == 0) | (
                (i < max_iterations) & (err >= tol * jnp.maximum(1.0, jnp.abs(value))) & jnp.isfinite(value)
            )

        start = (z_init, solver.init(z_init), 0, z_init, jnp.asarray(jnp.inf, z_init.dtype))
        z, _, n, best_z, _ = jax.lax.while_loop(keep_going, step, start)
        value, grad = jax.value_and_grad(objective)(z)
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(z))
        z = jnp.where(finite, z, best_z)
        value, grad = jax.lax.cond(
            finite, lambda: (value, grad), lambda: jax.value_and_grad(objective)(best_z)
        )
        return LBFGSResult(z, value, jnp.max(jnp.abs(grad)), n)

    return jax.vmap(one, in_axes=(0, None))
