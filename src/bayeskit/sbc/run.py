"""``sbc.run``: simulate from the prior, fit, rank the truth among the draws — compiled once."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._key import check_key
from bayeskit._progress import ProgressBar
from bayeskit._stacklevel import user_stacklevel
from bayeskit.mcmc.sample import check_initial_step_size, check_target_accept, trajectory_settings
from bayeskit.posterior import SamplingWarning
from bayeskit.ppl.interpreters import model_name, sample_prior
from bayeskit.ppl.target import target
from bayeskit.sbc.fit import gradient_fit, kernel_fit
from bayeskit.sbc.result import SBCResult
from bayeskit.sbc.simulate import check_observed, quantity_names, simulating, with_data
from bayeskit.sbc.uniformity import rank_statistics

__all__ = ["run", "NAMED_KERNELS"]

NAMED_KERNELS = ("nuts", "hmc", "rwmh")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"sbc.run: `{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def run(
    key: jax.Array,
    model: Callable,
    *args,
    observed="y",
    num_simulations: int = 200,
    kernel: str | Callable = "nuts",
    num_chains: int = 1,
    num_warmup: int = 500,
    num_samples: int = 1000,
    thin: int | None = None,
    batch_size: int | None = None,
    target_accept: float | None = None,
    max_tree_depth: int | None = None,
    dense_mass: bool = False,
    num_integration_steps: int | None = None,
    step_size: float | None = None,
    progress_bar: bool = True,
    **kwargs,
) -> SBCResult:
    r"""Run simulation-based calibration of an MCMC kernel on ``model``.

    For each of ``num_simulations`` simulations: draw every latent site
    :math:`\tilde\theta \sim p(\theta)` and the ``observed`` data
    :math:`\tilde y \sim p(y \mid \tilde\theta)` from the prior predictive, run the kernel on
    :math:`p(\theta \mid \tilde y)` (warmup, then ``num_samples`` draws per chain kept every
    ``thin``-th), and rank every scalar latent quantity and deterministic of :math:`\tilde\theta`
    among the ``num_draws`` kept draws. When the kernel samples the posterior correctly the ranks
    are uniform on ``{0, ..., num_draws}`` (Talts et al. 2018); :class:`SBCResult` tests this.

    Speed: the data are an argument of the log density rather than constants in it, so the model
    is traced once and one program — simulation, warmup with adaptation, sampling and ranking,
    ``vmap``-ed over a batch of simulations — is compiled once for the whole run.

    Args:
        key: a ``jax.random`` key.
        model: the model; ``*args`` and ``**kwargs`` are its arguments (covariates, sizes). Data
            passed for the ``observed`` sites are ignored (they are simulated), but may be given
            if the model needs them for shapes.
        observed: the name(s) of the sample site(s) to simulate and condition on.
        num_simulations: how many simulated data sets (at least 1; 200 or more for a verdict).
        kernel: ``"nuts"`` (default), ``"hmc"`` or ``"rwmh"``, run with
            :func:`bayeskit.mcmc.sample`'s start-up and windowed warmup; or a builder
            ``make_kernel(data) -> Kernel`` taking ``{site: simulated value}`` and returning a
            kernel whose state is a dict of the model's latent site values (constrained), such as
            ``lambda data: gibbs(linear_regression_blocks(X, data["y"], ...))``. Its chains start
            at independent prior draws and burn in for ``num_warmup`` steps.
        num_chains: chains per simulation (the draws of all chains are pooled for the rank).
        num_warmup, num_samples: iterations per chain.
        thin: keep every ``thin``-th draw, so the kept draws are nearly independent (correlated
            draws make rank histograms look over-dispersed); default so that about 100 draws are
            kept in all.
        batch_size: simulations per compiled call (default all, at most 200); the last batch is
            padded, so the program is compiled once. With several devices (e.g. CPU cores exposed
            by :func:`bayeskit.use_cpu_cores`) a batch that divides evenly is split across them.
        target_accept, max_tree_depth, dense_mass, num_integration_steps, step_size: as in
            :func:`bayeskit.mcmc.sample`.
        progress_bar: show a progress bar over batches.
        **kwargs: the model's keyword arguments.

    Returns:
        An :class:`SBCResult` with the ranks ``(num_simulations, num_quantities)``, ``summary()``,
        ``passes(alpha)`` and ``plot()``.

    Raises:
        ValueError: a count below its minimum, an unknown ``kernel``, or ``observed`` naming no
            sample site of the model (the message lists the sites).

    Example:
        >>> def model(m, n, y=None):
        ...     mu = m.sample("mu", dist.Normal(0.0, 1.0))
        ...     with m.plate("data", n):
        ...         m.sample("y", dist.Normal(mu, 1.0), obs=y)
        >>> result = sbc.run(jax.random.key(0), model, 10, observed="y", num_simulations=200)
        >>> result.summary(), result.passes(0.01)

    References:
        Talts, Betancourt, Simpson, Vehtari & Gelman (2018), "Validating Bayesian inference
        algorithms with simulation-based calibration", arXiv:1804.06788.
    """
    key = check_key(key, "sbc.run")
    t_start = time.perf_counter()
    num_simulations = _check_int("num_simulations", num_simulations, 1)
    if isinstance(kernel, str):
        if kernel not in NAMED_KERNELS:
            raise ValueError(
                f"sbc.run: unknown `kernel` {kernel!r}; choose one of {', '.join(NAMED_KERNELS)}, or pass "
                "a builder make_kernel(data) -> Kernel (e.g. a Gibbs kernel)."
            )
    elif not callable(kernel):
        raise ValueError(
            f"sbc.run: `kernel` must be a kernel name ({', '.join(NAMED_KERNELS)}) or a callable "
            f"make_kernel(data) -> Kernel, got {type(kernel).__name__}."
        )
    num_chains = _check_int("num_chains", num_chains, 1)
    num_warmup = _check_int("num_warmup", num_warmup, 0)
    num_samples = _check_int("num_samples", num_samples, 1)
    if thin is None:
        thin = max(1, num_samples * num_chains // 100)
    thin = _check_int("thin", thin, 1)
    num_devices = len(jax.devices())
    if batch_size is None:
        # Every device gets the same share of a batch (the last batch is padded).
        batch_size = num_devices * -(-min(num_simulations, 200) // num_devices)
    batch_size = _check_int("batch_size", batch_size, 1)
    max_tree_depth, num_integration_steps = trajectory_settings(
        "sbc.run", kernel, max_tree_depth, num_integration_steps
    )
    if target_accept is not None:
        target_accept = check_target_accept("sbc.run", target_accept)
    check_initial_step_size("sbc.run", step_size)

    observed, prior_trace = check_observed(model, observed, args, kwargs)
    sim_model = simulating(model, observed)
    fit_model = with_data(model, observed)
    latent = tuple(
        n for n, s in prior_trace.items() if s.kind == "sample" and not s.is_observed and n not in observed
    )
    deterministics = tuple(n for n, s in prior_trace.items() if s.kind == "deterministic")
    values = {n: prior_trace[n].value for n in latent + deterministics}
    quantities = quantity_names(values, latent + deterministics)
    num_kept = -(-num_samples // thin)
    num_draws = num_chains * num_kept

    if isinstance(kernel, str):
        data0 = {n: jnp.zeros(prior_trace[n].value.shape, prior_trace[n].value.dtype) for n in observed}
        base = target(fit_model, data0, *args, **kwargs)
        fit = gradient_fit(
            base,
            kernel,
            num_warmup=num_warmup,
            num_samples=num_samples,
            thin=thin,
            target_accept=target_accept,
            max_tree_depth=max_tree_depth,
            dense_mass=dense_mass,
            num_integration_steps=num_integration_steps,
            step_size=step_size,
        )
        kernel_name = kernel
    else:
        fit = kernel_fit(
            kernel, fit_model, sim_model, args, kwargs, latent, deterministics,
            num_warmup=num_warmup, num_samples=num_samples, thin=thin,
        )  # fmt: skip
        kernel_name = getattr(kernel, "__name__", type(kernel).__name__)
    names = latent + deterministics
    sizes = [(n, int(np.prod(values[n].shape, dtype=int))) for n in names]
    dtype = jnp.result_type(float)

    def simulate(sim_key):
        k_sim, k_fit, k_rank = jax.random.split(sim_key, 3)
        prior = sample_prior(k_sim, sim_model, *args, **kwargs)
        truth = jnp.concatenate([jnp.reshape(prior[n], (-1,)).astype(dtype) for n in names])
        return {n: prior[n] for n in observed}, truth, jax.random.split(k_fit, num_chains), k_rank

    def batch(sim_keys):
        data, truth, chain_keys, rank_keys = jax.vmap(simulate)(sim_keys)
        # Simulations x chains along one vmapped axis (nested vmaps compile far more slowly).
        lanes = sim_keys.shape[0] * num_chains
        data = jax.tree.map(lambda x: jnp.repeat(x, num_chains, axis=0), data)
        draws, stats = jax.vmap(fit)(chain_keys.reshape((lanes,) + chain_keys.shape[2:]), data)
        kept = jnp.concatenate(
            [jnp.reshape(draws[n], (-1, num_chains, num_kept, size)).astype(dtype) for n, size in sizes],
            axis=-1,
        )
        stats = {
            k: (jnp.sum if k.startswith("num_") else jnp.mean)(v.reshape(-1, num_chains), axis=1)
            for k, v in stats.items()
        }
        flat = kept.reshape(kept.shape[0], num_draws, -1)
        ranks = jax.vmap(rank_statistics)(rank_keys, flat, truth)
        return ranks, truth, kept, stats

    batch_fn = batch
    sharding = None
    if num_devices > 1 and batch_size % num_devices == 0:
        # Each device runs its own vmapped loop over its share of the simulations, so NUTS's
        # while loops on one device do not wait for those on another.
        mesh = jax.sharding.Mesh(np.array(jax.devices()), ("simulation",))
        spec = jax.sharding.PartitionSpec("simulation")
        batch_fn = jax.shard_map(batch_fn, mesh=mesh, in_specs=(spec,), out_specs=spec, check_vma=False)
        sharding = jax.sharding.NamedSharding(mesh, spec)
    batch_fn = jax.jit(batch_fn)
    keys = jax.random.split(key, num_simulations)
    num_batches = -(-num_simulations // batch_size)
    pad = num_batches * batch_size - num_simulations
    keys = jnp.concatenate([keys, jnp.broadcast_to(keys[:1], (pad,) + keys.shape[1:])]) if pad else keys

    def batch_keys(b):
        part = keys[b * batch_size : (b + 1) * batch_size]
        return part if sharding is None else jax.device_put(part, sharding)

    t0 = time.perf_counter()
    compiled = batch_fn.lower(batch_keys(0)).compile()
    compile_time = time.perf_counter() - t0
    outputs = []
    with _Progress(progress_bar, num_simulations) as progress:
        for b in range(num_batches):
            out = jax.device_get(compiled(batch_keys(b)))
            outputs.append(out)
            progress.update(min((b + 1) * batch_size, num_simulations))
    run_time = time.perf_counter() - t0 - compile_time
    ranks, truth, kept, stats = jax.tree.map(lambda *xs: np.concatenate(xs)[:num_simulations], *outputs)

    failed = int(np.sum(stats.get("num_failed_chains", 0)))
    if failed:
        warnings.warn(
            f"sbc.run: {failed} chain(s) found no finite starting point (20 tries of uniform(-2, 2) "
            f"unconstrained) for model `{model_name(model)}`; their draws are not posterior draws and "
            "their simulations' ranks are meaningless. Check the priors' supports.",
            SamplingWarning,
            stacklevel=user_stacklevel(),
        )
    ess = None
    if num_kept >= 4:
        from bayeskit.diagnostics import ess_bulk

        # [chain, draw, simulation, quantity]: one ESS per simulation and quantity.
        ess = np.asarray(ess_bulk(np.transpose(kept, (1, 2, 0, 3))))
    pooled = kept.reshape(num_simulations, num_draws, -1)
    info = {
        "kernel": kernel_name,
        "model": model_name(model),
        "observed": list(observed),
        "num_simulations": num_simulations,
        "num_chains": num_chains,
        "num_warmup": num_warmup,
        "num_samples": num_samples,
        "thin": thin,
        "num_draws": num_draws,
        "batch_size": batch_size,
        "num_devices": 1 if sharding is None else num_devices,
        "compile_time": compile_time,
        "run_time": run_time,
        "wall_time": time.perf_counter() - t_start,
    }
    return SBCResult(
        ranks,
        num_draws,
        quantities,
        truth=truth,
        posterior_mean=pooled.mean(axis=1),
        posterior_sd=pooled.std(axis=1, ddof=1) if num_draws > 1 else None,
        ess=ess,
        stats=stats,
        info=info,
    )


class _Progress(ProgressBar):
    """SBC's bar over simulations."""

    def __init__(self, enabled: bool, total: int):
        super().__init__(enabled, total, "sbc")

    def update(self, done: int) -> None:
        self.show(done)
