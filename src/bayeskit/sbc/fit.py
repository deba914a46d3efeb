"""Fit one simulated data set: pure functions of ``(key, data)`` that ``vmap`` over simulations.

Two kinds of fit:

- ``gradient_fit`` for the named kernels (``"nuts"``, ``"hmc"``, ``"rwmh"``) runs the very
  start-up, warmup and sampling loop that :func:`bayeskit.mcmc.sample` compiles (Stan-style
  initial candidates, windowed step-size and mass-matrix adaptation), so SBC calibrates what users
  run. The target is built once with concrete data; each simulation swaps its data in (the data
  are an argument of the conditioned model, see :mod:`bayeskit.sbc.simulate`), so nothing is
  rebuilt or recompiled per simulation.
- ``kernel_fit`` for a user's kernel builder ``make_kernel(data) -> Kernel`` whose state is a
  dict of constrained site values (a Gibbs kernel from :func:`bayeskit.mcmc.gibbs`): each chain
  starts at an independent prior draw, runs ``num_warmup`` steps of burn-in (nothing adapts) and
  keeps every ``thin``-th of ``num_samples`` steps.

Both fit one chain and return its kept draws ``{name: (num_kept, ...)}`` and statistics; the
caller vmaps them over simulations times chains.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from bayeskit.mcmc.adaptation import dual_averaging_init, welford_init
from bayeskit.mcmc.rwmh_adaptation import optimal_acceptance_rate
from bayeskit.mcmc.sample import _kernel_factory, _make_chunk_fn, _make_start_fn, _metric_from_candidates
from bayeskit.ppl.interpreters import sample_prior, trace
from bayeskit.ppl.target import Target

__all__ = ["gradient_fit", "kernel_fit"]

_DEFAULT_ACCEPT = {"nuts": 0.8, "hmc": 0.8}


def gradient_fit(
    base: Target,
    kernel: str,
    *,
    num_warmup: int,
    num_samples: int,
    thin: int,
    target_accept: float | None,
    max_tree_depth: int,
    dense_mass: bool,
    num_integration_steps: int,
    step_size: float | None,
) -> Callable:
    """Return ``fit_chain(key, data) -> (draws, stats)``: one chain of a named kernel given ``data``.

    ``base`` is a target of the conditioned model ``fit_model(m, data, *args, **kwargs)``; its
    first argument is replaced by ``data`` (traced) for each simulation.
    """
    dim = base.dim
    if target_accept is None:
        target_accept = _DEFAULT_ACCEPT.get(kernel) or optimal_acceptance_rate(dim)
    make_kernel = _kernel_factory(kernel, max_tree_depth, num_integration_steps)
    eps0 = step_size if step_size is not None else (1.0 if kernel != "rwmh" else 2.38 / math.sqrt(dim))
    total = num_warmup + num_samples
    dtype = jnp.result_type(float)

    def fit_chain(key, data):
        t = dataclasses.replace(base, args=(data,) + base.args[1:])
        eps = jnp.asarray(eps0, dtype)
        imm = jnp.eye(dim, dtype=dtype) if dense_mass else jnp.ones(dim, dtype)

        def init_chain(z):
            state = make_kernel(t.logdensity_fn, eps, imm).init(z)
            return state, dual_averaging_init(eps), welford_init(dim, dense_mass, dtype), eps, imm

        # One chain here: the caller vmaps chains and simulations together along one axis, which
        # compiles much faster than nesting a vmap over simulations around one over chains.
        start_fn = _make_start_fn(t, 1, None, init_chain, refine=_metric_from_candidates(dense_mass))
        carry, chain_keys, found, _ = start_fn(key)
        carry = jax.tree.map(lambda x: x[0], carry)
        run_chunk = _make_chunk_fn(t, make_kernel, num_warmup, float(target_accept), dense_mass, total)
        carry, (draws, info) = run_chunk(carry, jnp.int32(0), jnp.int32(total), chain_keys[0])
        draws = {k: v[num_warmup::thin] for k, v in draws.items()}
        sampling = {k: v[num_warmup:] for k, v in info.items()}
        accept = sampling["acceptance_rate"]
        stats = {
            "num_failed_chains": (~found[0]).astype(jnp.int32),
            "acceptance_rate": jnp.mean(jnp.where(jnp.isfinite(accept), accept, 0.0)),
            "step_size": carry[3],
        }
        if "is_divergent" in sampling:
            stats["num_divergent"] = jnp.sum(sampling["is_divergent"])
        if kernel == "nuts":
            stats["num_max_tree_depth"] = jnp.sum(sampling["tree_depth"] >= max_tree_depth)
        if "num_integration_steps" in info:
            stats["num_gradient_evaluations"] = jnp.sum(info["num_integration_steps"])
        return draws, stats

    return fit_chain


def kernel_fit(
    make_kernel: Callable,
    fit_model: Callable,
    sim_model: Callable,
    args: tuple,
    kwargs: dict,
    latent: tuple[str, ...],
    deterministics: tuple[str, ...],
    *,
    num_warmup: int,
    num_samples: int,
    thin: int,
) -> Callable:
    """Return ``fit_chain(key, data) -> (draws, stats)``: one chain of ``make_kernel(data)``.

    The chain starts at an independent prior draw.

    Deterministic sites are recomputed from each kept draw by running the model at those values.
    """
    num_kept = -(-num_samples // thin)

    def chain(kernel, key, init_values):
        state = kernel.init(init_values)
        missing = [n for n in latent if n not in state]
        if missing:
            raise ValueError(
                f"sbc.run: the state of the kernel returned by `kernel` has no value for latent site(s) "
                f"{missing}; a custom kernel's state must be a dict of every latent site's value "
                "(name the Gibbs blocks after the model's sites)."
            )

        def advance(state, i):
            new, _ = kernel.step(jax.random.fold_in(key, i), state)
            return new

        state = jax.lax.fori_loop(0, num_warmup, lambda i, s: advance(s, i), state)

        def keep(state, j):
            start = num_warmup + j * thin
            state = jax.lax.fori_loop(0, thin, lambda i, s: advance(s, start + i), state)
            return state, {n: state[n] for n in latent}

        _, kept = jax.lax.scan(keep, state, jnp.arange(num_kept))
        return kept

    def fit_chain(key, data):
        k_init, k_chain = jax.random.split(key)
        inits = sample_prior(k_init, sim_model, *args, **kwargs)
        draws = chain(make_kernel(data), k_chain, {n: inits[n] for n in latent})
        if deterministics:

            def recompute(values):
                tr = trace(fit_model, data, *args, values=values, **kwargs)
                return {n: tr[n].value for n in deterministics}

            draws.update(jax.vmap(recompute)(draws))
        return draws, {}

    return fit_chain
