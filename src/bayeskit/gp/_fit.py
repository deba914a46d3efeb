"""Maximise a GP objective over its hyperparameters: L-BFGS from several starts, compiled once.

The objective is a module-level function ``objective(params, *data) -> scalar`` (to maximise);
the data are arguments, not constants, so refitting the same model structure on new data of the
same shape (another cross-validation split) reuses the compiled optimiser.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

__all__ = ["FitInfo", "maximize", "learnable_filter"]


@dataclasses.dataclass(frozen=True)
class FitInfo:
    """How the hyperparameters were found.

    Attributes:
        objective: the maximised objective at the best start (log marginal likelihood, plus the
            log prior when one was given; an evidence lower bound for sparse models).
        converged: whether the best start met the gradient tolerance.
        grad_norm: infinity norm of the gradient (per data point) at the optimum.
        num_iterations: L-BFGS iterations of the best start.
        start_objectives: the objective reached from every start (a spread means several optima).
    """

    objective: float
    converged: bool
    grad_norm: float
    num_iterations: int
    start_objectives: tuple[float, ...]


def learnable_filter(params, fixed: tuple[str, ...], owner: str):
    """A boolean pytree over ``params`` (a module): True for learned arrays, False for ``fixed`` ones.

    ``fixed`` names attributes by dotted path from ``params``, using the constrained name of a
    log-stored hyperparameter (``"noise"``, ``"kernel.k2.period"``).
    """
    spec = jax.tree_util.tree_map(eqx.is_inexact_array, params)
    for path in fixed:
        node, parts = params, path.split(".")
        try:
            for part in parts[:-1]:
                node = getattr(node, part)
            leaf = parts[-1]
            fields = getattr(type(node), "__dataclass_fields__", {})
            attr = f"log_{leaf}" if f"log_{leaf}" in fields else leaf
            if attr not in fields or not eqx.is_inexact_array(getattr(node, attr)):
                raise AttributeError(attr)
        except AttributeError:
            raise ValueError(
                f"{owner}: `fixed` names {path!r}, which is not a hyperparameter of the model; "
                f"use dotted paths such as 'noise', 'kernel.lengthscale' or 'kernel.k1.period'."
            ) from None

        def get(p, parts=parts, attr=attr):
            for part in parts[:-1]:
                p = getattr(p, part)
            return getattr(p, attr)

        spec = eqx.tree_at(get, spec, replace=False)
    return spec


def _log_scale_mask(learned) -> np.ndarray:
    """1 for entries of log-stored hyperparameters (fields named ``log_*``), 0 elsewhere.

    Restarts move scale parameters by factors; values in the units of the data (inducing
    inputs, mean-function weights) stay where they were given.
    """
    leaves = jax.tree_util.tree_flatten_with_path(learned)[0]
    parts = []
    for path, leaf in leaves:
        last = path[-1] if path else None
        name = getattr(last, "name", "")
        parts.append(np.full(np.size(leaf), 1.0 if name.startswith("log_") else 0.0))
    return np.concatenate(parts) if parts else np.zeros(0)


def _ravel_on_host(learned) -> tuple[np.ndarray, Callable]:
    """``jax.flatten_util.ravel_pytree`` in NumPy, for the concrete arrays of a fit's start.

    Eager jnp concatenation and splitting would compile small programs for every new model
    structure; the traced optimiser does its own ravelling inside ``jit``.
    """
    leaves, treedef = jax.tree_util.tree_flatten(learned)
    arrays = [np.asarray(leaf) for leaf in leaves]
    dtype = np.result_type(*arrays) if arrays else np.float64
    flat = np.concatenate([a.ravel() for a in arrays]).astype(dtype) if arrays else np.zeros(0, dtype)
    bounds = np.cumsum([a.size for a in arrays])[:-1]

    def unravel(z):
        parts = np.split(np.asarray(z), bounds)
        leaves = [jnp.asarray(p.reshape(a.shape), dtype=a.dtype) for p, a in zip(parts, arrays, strict=True)]
        return jax.tree_util.tree_unflatten(treedef, leaves)

    return flat, unravel


def _halton(num: int, dim: int) -> np.ndarray:
    """The first ``num`` points of the Halton sequence in [0, 1]^dim (deterministic restarts)."""
    primes, k = [], 2
    while len(primes) < dim:
        if all(k % p for p in primes):
            primes.append(k)
        k += 1
    out = np.zeros((num, dim))
    for j, base in enumerate(primes):
        for i in range(num):
            f, r, m = 1.0, 0.0, i + 1
            while m > 0:
                f /= base
                r += f * (m % base)
                m //= base
            out[i, j] = r
    return out


@eqx.filter_jit
def _run_lbfgs(z0, learned, static, objective, data, max_iterations, tol):
    """L-BFGS on ``-objective / n`` from one start ``z0``; returns the optimum and statistics."""
    _, unravel = ravel_pytree(learned)
    n = data[0].shape[0]

    def loss(z):
        params = eqx.combine(unravel(z), static)
        return -objective(params, *data) / n

    solver = optax.lbfgs()

    def step(carry):
        z, state, i = carry
        # The line search leaves the value and gradient at the point it accepted in the state;
        # reading them there (not optax.value_and_grad_from_state, nor a final evaluation after
        # the loop) keeps two of the objective's copies out of the compiled program.
        value, grad = optax.tree.get(state, "value"), optax.tree.get(state, "grad")
        updates, state = solver.update(grad, state, z, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(z, updates), state, i + 1

    def keep_going(carry):
        _, state, i = carry
        err = jnp.max(jnp.abs(optax.tree.get(state, "grad")))
        value = optax.tree.get(state, "value")
        return (i < max_iterations) & (err >= tol) & jnp.isfinite(value)

    value0, grad0 = jax.value_and_grad(loss)(z0)
    state0 = optax.tree.set(solver.init(z0), value=value0, grad=grad0)
    z, state, num_iterations = jax.lax.while_loop(keep_going, step, (z0, state0, 0))
    value, grad = optax.tree.get(state, "value"), optax.tree.get(state, "grad")
    return z, -value * n, jnp.max(jnp.abs(grad)), num_iterations


def maximize(
    objective: Callable,
    params,
    data: tuple,
    *,
    owner: str,
    key: jax.Array | None = None,
    num_restarts: int = 3,
    max_iterations: int = 200,
    tol: float | None = None,
    fixed: tuple[str, ...] = (),
    spread: float = 2.0,
):
    """Maximise ``objective(params, *data)`` over the learned arrays of ``params``.

    The first start is ``params`` as given; the others move every learned log-scale value by up
    to ``spread`` in either direction: on a Halton design when ``key`` is None (so a fit is
    reproducible without a key), uniformly at random when a key is given.

    ``tol`` bounds the gradient's infinity norm of the per-point objective (default 1e-6 in
    float64, 1e-3 in float32).

    Returns:
        ``(best_params, FitInfo)``.
    """
    if isinstance(num_restarts, bool) or not isinstance(num_restarts, int) or num_restarts < 1:
        raise ValueError(f"{owner}: `num_restarts` must be an integer >= 1, got {num_restarts!r}.")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, int) or max_iterations < 0:
        raise ValueError(f"{owner}: `max_iterations` must be an integer >= 0, got {max_iterations!r}.")
    fixed = (fixed,) if isinstance(fixed, str) else tuple(fixed)
    spec = learnable_filter(params, fixed, owner)
    learned, static = eqx.partition(params, spec)
    z_init, unravel = _ravel_on_host(learned)
    dim = z_init.shape[0]
    if tol is None:
        tol = 1e-6 if np.finfo(z_init.dtype).bits >= 64 else 1e-3
    if num_restarts > 1 and dim > 0:
        if key is None:
            u = _halton(num_restarts - 1, dim)
        else:
            u = np.asarray(jax.random.uniform(key, (num_restarts - 1, dim), dtype=z_init.dtype))
        moves = spread * _log_scale_mask(learned) * (2.0 * u - 1.0)
        starts = [z_init] + [(z_init + m).astype(z_init.dtype) for m in moves]
    else:
        starts = [z_init]
    results = []
    for z0 in starts:
        # Iteration budget and tolerance are traced, so changing them does not recompile.
        z, value, grad_norm, iters = _run_lbfgs(
            jnp.asarray(z0),
            learned,
            static,
            objective,
            data,
            jnp.asarray(max_iterations),
            jnp.asarray(tol, z_init.dtype),
        )
        results.append((float(value), z, float(grad_norm), int(iters)))
    values = [r[0] for r in results]
    finite = [i for i, v in enumerate(values) if np.isfinite(v)]
    best = max(finite, key=lambda i: values[i]) if finite else 0
    value, z, grad_norm, iters = results[best]
    info = FitInfo(
        objective=value,
        converged=bool(np.isfinite(value) and grad_norm < tol),
        grad_norm=grad_norm,
        num_iterations=iters,
        start_objectives=tuple(values),
    )
    return eqx.combine(unravel(z), static), info
