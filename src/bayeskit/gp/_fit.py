"""Maximise a GP objective over its hyperparameters: L-BFGS from several starts.

The objective is a module-level function ``objective(params, *data) -> scalar`` (to maximise);
its value and gradient are compiled once per model structure and data shape, with the data as
arguments, not constants, so refitting on another split of the same size compiles nothing.
The L-BFGS iterations run on the host (scipy's L-BFGS-B, unbounded): a compiled optimiser loop
around the objective cost about a second of XLA compilation per structure and size on a CPU,
more than a fit of a thousand points spends evaluating, while the host loop adds well under a
millisecond per evaluation.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from bayeskit._allocator import reuse_large_buffers
from bayeskit._checks import check_int, check_positive_number
from bayeskit._key import check_key
from bayeskit._stacklevel import user_stacklevel

__all__ = [
    "FitInfo",
    "check_fit_options",
    "check_log_prior",
    "learnable_filter",
    "maximize",
    "nonfinite_prior_error",
]


@dataclasses.dataclass(frozen=True)
class FitInfo:
    """How the hyperparameters were found.

    Attributes:
        objective: the maximised objective at the best start (log marginal likelihood, plus the
            log prior when one was given; an evidence lower bound for sparse models).
        converged: whether the best start met the gradient tolerance, or stopped because its
            value no longer changed (scipy's relative test, as scikit-learn's fits stop) or not
            even a short step along the gradient lowered it (flat to rounding error).
        grad_norm: infinity norm of the gradient (per data point) at the optimum.
        num_iterations: L-BFGS iterations of the best start.
        num_evaluations: objective-and-gradient evaluations of the best start (line searches
            included).
        start_objectives: the objective reached from every start (a spread means several optima).
    """

    objective: float
    converged: bool
    grad_norm: float
    num_iterations: int
    num_evaluations: int
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


def check_fit_options(owner: str, params, *, key, num_restarts, max_iterations, tol, fixed) -> dict:
    """Check a fit's options before any work starts; return them normalised, as keyword
    arguments for :func:`maximize`.

    A fit checks these first, before it starts compiling anything in the background, so that a
    mistake is an immediate error that names the argument.
    """
    key = None if key is None else check_key(key, owner)
    check_int(owner, "num_restarts", num_restarts)
    check_int(owner, "max_iterations", max_iterations, minimum=0)
    tol = None if tol is None else check_positive_number(owner, "tol", tol)
    fixed = (fixed,) if isinstance(fixed, str) else tuple(fixed)
    learnable_filter(params, fixed, owner)  # raises on a path that is not a hyperparameter
    return {
        "key": key,
        "num_restarts": num_restarts,
        "max_iterations": max_iterations,
        "tol": tol,
        "fixed": fixed,
    }


def check_log_prior(owner: str, log_prior_fn, view) -> None:
    """``log_prior_fn(view)`` must be a real scalar (its shape is checked without running it)."""
    if log_prior_fn is None:
        return
    if not callable(log_prior_fn):
        raise TypeError(
            f"{owner}: `log_prior_fn` must be a function of the hyperparameters, got {log_prior_fn!r}."
        )
    try:
        out = jax.eval_shape(log_prior_fn, view)
    except Exception as err:
        raise ValueError(
            f"{owner}: `log_prior_fn` failed on the starting hyperparameters: {type(err).__name__}: {err}"
        ) from err
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape != () or dtype is None or not np.issubdtype(dtype, np.floating):
        raise ValueError(
            f"{owner}: `log_prior_fn` must return a real scalar (the log prior density), got "
            f"{'shape ' + str(shape) + ' ' + str(dtype) if shape is not None else type(out).__name__}; "
            "sum the log densities of the hyperparameters into one number."
        )


def nonfinite_prior_error(owner: str, log_prior_fn, view) -> ValueError | None:
    """The error to raise when no start was finite because the prior is not finite at the start."""
    if log_prior_fn is None:
        return None
    value = np.asarray(log_prior_fn(view))
    if np.isfinite(value):
        return None
    return ValueError(
        f"{owner}: `log_prior_fn` is {float(value)} at the starting hyperparameters, so the objective "
        "cannot be maximised; start where the prior has positive density, or check the prior."
    )


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
        if not arrays:  # every value fixed
            return jax.tree_util.tree_unflatten(treedef, [])
        parts = np.split(np.asarray(z), bounds)
        # device_put, not jnp.asarray: that compiles a program per new shape.
        leaves = [
            jax.device_put(p.reshape(a.shape).astype(a.dtype)) for p, a in zip(parts, arrays, strict=True)
        ]
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
def _loss_and_grad(z, learned, static, objective, data):
    """``-objective / n`` and its gradient at the flat vector ``z`` (compiled once per structure)."""
    flat, unravel = ravel_pytree(learned)
    n = data[0].shape[0]

    def loss(z):
        return -objective(eqx.combine(unravel(z), static), *data) / n

    return jax.value_and_grad(loss)(z.astype(flat.dtype))


_MAX_LINE_SEARCH_RESTARTS = 3


def _run_lbfgs(z0, learned, static, objective, data, max_iterations, tol):
    """L-BFGS (scipy's L-BFGS-B, unbounded) on ``-objective / n`` from one start ``z0``.

    Stops when the gradient's infinity norm is below ``tol``, when an iteration lowers the value
    by less than scipy's relative ``ftol`` (2.2e-9), or after ``max_iterations``.

    Returns:
        ``(z, objective, grad_norm, num_iterations, num_evaluations, converged)`` at the best
        point evaluated.
    """
    import scipy.optimize  # imported here: 0.13 s that `import bayeskit` need not pay

    n = data[0].shape[0]
    best = {"value": np.inf, "z": np.asarray(z0, dtype=np.float64), "grad": None}
    evaluations = [0]

    def fun(z):
        if best["grad"] is not None and np.array_equal(z, best["z"]):
            return best["value"], best["grad"]  # the start, or a restart's: evaluated already
        evaluations[0] += 1
        value, grad = _loss_and_grad(z, learned, static, objective, data)
        value, grad = float(value), np.asarray(grad, dtype=np.float64)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            # An infinite value makes the line search step back; NaN would end the run.
            return np.inf, np.zeros_like(grad)
        if value < best["value"]:
            best.update(value=value, z=np.array(z, dtype=np.float64), grad=grad)
        return value, grad

    fun(best["z"])
    if best["z"].size == 0:  # every hyperparameter fixed: nothing to optimise
        value = best["value"] if best["grad"] is not None else np.inf
        return best["z"], -value * n, 0.0, 0, evaluations[0], bool(np.isfinite(value))
    iterations, converged = 0, False
    for _ in range(_MAX_LINE_SEARCH_RESTARTS + 1):
        if iterations >= max_iterations or best["grad"] is None:
            break
        value_before = best["value"]
        res = scipy.optimize.minimize(
            fun,
            best["z"],
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iterations - iterations, "gtol": float(tol), "maxls": 20},
        )
        iterations += int(res.nit)
        # Status 0: the gradient tolerance was met, or the value stopped changing (scipy's
        # relative test, 2.2e-9 of max(|value|, 1): what scikit-learn's fits stop on too).
        converged = res.status == 0 or np.max(np.abs(best["grad"]), initial=0.0) < tol
        if res.status != 2 or not best["value"] < value_before:
            # Status 2 is a line search that could not lower a value it knows only to rounding
            # error; starting again from the best point with the curvature memory cleared
            # usually finishes the job, unless even that gains nothing: then it is flat there.
            converged = converged or (res.status == 2 and not best["value"] < value_before)
            break
    if best["grad"] is None:
        return best["z"], -np.inf, np.inf, iterations, evaluations[0], False
    grad_norm = float(np.max(np.abs(best["grad"]), initial=0.0))
    return best["z"], -best["value"] * n, grad_norm, iterations, evaluations[0], converged


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

    ``tol`` bounds the gradient's infinity norm of the per-point objective (default 1e-6 when
    the objective is computed in float64, 1e-3 in float32).

    Returns:
        ``(best_params, FitInfo)``.
    """
    options = check_fit_options(
        owner, params, key=key, num_restarts=num_restarts, max_iterations=max_iterations, tol=tol, fixed=fixed
    )
    key, tol, fixed = options["key"], options["tol"], options["fixed"]
    spec = learnable_filter(params, fixed, owner)
    learned, static = eqx.partition(params, spec)
    z_init, unravel = _ravel_on_host(learned)
    dim = z_init.shape[0]
    if tol is None:
        # By the dtype the objective is computed in: float32 hyperparameters on float64 data
        # give a float64 objective, and a float32 tolerance stopped such fits early (a GPC's
        # probabilities 2e-3 from the float64 fit's).
        dtypes = [z_init.dtype] + [d.dtype for d in jax.tree_util.tree_leaves(data) if hasattr(d, "dtype")]
        tol = 1e-6 if np.finfo(np.result_type(*dtypes)).bits >= 64 else 1e-3
    if num_restarts > 1 and dim > 0:
        if key is None:
            u = _halton(num_restarts - 1, dim)
        else:
            u = np.asarray(jax.random.uniform(key, (num_restarts - 1, dim), dtype=z_init.dtype))
        moves = spread * _log_scale_mask(learned) * (2.0 * u - 1.0)
        starts = [z_init] + [(z_init + m).astype(z_init.dtype) for m in moves]
    else:
        starts = [z_init]
    # Evaluations allocate n x n buffers: keep them mapped from one evaluation to the next.
    with reuse_large_buffers():
        results = [_run_lbfgs(z0, learned, static, objective, data, max_iterations, tol) for z0 in starts]
    values = [r[1] for r in results]
    finite = [i for i, v in enumerate(values) if np.isfinite(v)]
    best = max(finite, key=lambda i: values[i]) if finite else 0
    z, value, grad_norm, iters, evals, converged = results[best]
    info = FitInfo(
        objective=value,
        converged=bool(np.isfinite(value) and (grad_norm < tol or converged)),
        grad_norm=grad_norm,
        num_iterations=iters,
        num_evaluations=evals,
        start_objectives=tuple(values),
    )
    if not info.converged and np.isfinite(value) and max_iterations > 0:
        # As scikit-learn's ConvergenceWarning: a fit short of its optimum should not pass unseen.
        stopped = (
            f"used all {max_iterations} iterations"
            if iters >= max_iterations
            else f"stopped after {iters} iterations (its line search found no better point)"
        )
        warnings.warn(
            f"{owner}: L-BFGS {stopped} without meeting the gradient tolerance (largest gradient "
            f"{grad_norm:.2g} per data point, tolerance {tol:.0e}); the hyperparameters may be short "
            "of the optimum. Raise `max_iterations` or `tol`, or start elsewhere; `fit_info` has "
            "the details.",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )
    return eqx.combine(unravel(z), static), info
