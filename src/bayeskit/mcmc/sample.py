"""The MCMC driver: many chains, Stan-style warmup, chunked compiled loops, a ``Posterior``."""

from __future__ import annotations

import functools
import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._background_compile import BackgroundCompile
from bayeskit._checks import as_real_scalar, check_int
from bayeskit._compilation_cache import use_compilation_cache
from bayeskit._key import check_key
from bayeskit._progress import ProgressBar
from bayeskit._stacklevel import user_stacklevel
from bayeskit._xla_options import run_once_compile_options, sampler_compile_options
from bayeskit.mcmc._custom_kernel import (
    check_kernel,
    check_record,
    custom_chunk_body,
    custom_start,
    default_record,
)
from bayeskit.mcmc._kernel import nonfinite_detail
from bayeskit.mcmc.adaptation import (
    default_term_buffer,
    dual_averaging_init,
    dual_averaging_update,
    initial_inverse_mass,
    pool_inverse_mass,
    step_size_correction,
    warmup_schedule,
    welford_covariance,
    welford_init,
    welford_update,
)
from bayeskit.posterior import (
    MIN_DRAWS_FOR_DIAGNOSTICS,
    MIN_ESS_PER_CHAIN,
    RHAT_MAX,
    Posterior,
    SamplingWarning,
)
from bayeskit.ppl.target import Target

__all__ = ["sample", "KERNELS"]

KERNELS = ("nuts", "hmc", "rwmh")
_FINAL_STEP_SIZES = ("averaged", "fitted", "auto")
_DEFAULT_ACCEPT = {"nuts": 0.8, "hmc": 0.8}
HMC_JITTER = 0.2  # kernel="hmc": each proposal takes 80% to 120% of num_integration_steps
# Names of kernel info fields in the Posterior's sample statistics (ArviZ's where it has one).
_STAT_NAMES = {
    "is_divergent": "diverging",
    "num_integration_steps": "num_steps",
    "tree_depth": "tree_depth",
    "acceptance_rate": "acceptance_rate",
    "energy": "energy",
}


def _kernel_factory(kernel: str, max_tree_depth: int, num_integration_steps: int) -> Callable:
    """``make(logdensity_fn, step_size, inverse_mass_matrix) -> Kernel`` for a named kernel."""
    if kernel == "nuts":
        from bayeskit.mcmc.nuts import nuts

        return lambda ld, eps, imm: nuts(ld, eps, imm, max_tree_depth=max_tree_depth)
    if kernel == "hmc":
        from bayeskit.mcmc.hmc import hmc

        # The trajectory length is jittered by +-20% so that it cannot resonate with the
        # posterior (the hmc docstring shows the failure a fixed length gives).
        return lambda ld, eps, imm: hmc(ld, eps, imm, num_integration_steps, jitter=HMC_JITTER)
    if kernel == "rwmh":
        from bayeskit.mcmc.rwmh import rwmh

        # The adapted "inverse mass matrix" is the posterior covariance estimate: the proposal
        # covariance of adaptive Metropolis (Haario et al. 2001), scaled by the adapted step size.
        return lambda ld, eps, imm: rwmh(ld, eps, imm if imm.ndim == 2 else jnp.diag(imm))
    raise ValueError(f"sample: unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}.")


def _check_positive_int(name: str, value, minimum: int = 1) -> int:
    return check_int("sample", name, value, minimum)


def trajectory_settings(owner: str, kernel, max_tree_depth, num_integration_steps) -> tuple[int, int]:
    """``(max_tree_depth, num_integration_steps)`` with their defaults (10 for NUTS, 32 for HMC).

    Each applies to one kernel; given for another (``kernel="rwmh", max_tree_depth=12``, or a
    kernel object) it would be ignored, so it is a ``ValueError`` naming the kernel it is for.
    """
    for name, value, owner_kernel in (
        ("max_tree_depth", max_tree_depth, "nuts"),
        ("num_integration_steps", num_integration_steps, "hmc"),
    ):
        if value is not None and kernel != owner_kernel:
            used = (
                f"kernel={kernel!r}"
                if isinstance(kernel, str)
                else "a kernel object (built with its own settings)"
            )
            raise ValueError(
                f"{owner}: `{name}` applies to kernel={owner_kernel!r} only, and this run uses {used}; "
                f"leave `{name}` out, or choose kernel={owner_kernel!r}."
            )
    return (
        check_int(owner, "max_tree_depth", 10 if max_tree_depth is None else max_tree_depth, 1),
        check_int(
            owner, "num_integration_steps", 32 if num_integration_steps is None else num_integration_steps, 1
        ),
    )


def _check_run_files(num_samples: int, max_samples, checkpoint, resume, callback):
    """``max_samples``, ``checkpoint``, ``resume`` and ``callback`` checked before anything runs:
    a checkpoint folder that does not exist would otherwise fail after the first chunk."""
    if max_samples is None:
        max_samples = 10 * num_samples
    elif _check_positive_int("max_samples", max_samples) < num_samples:
        raise ValueError(
            f"sample: `max_samples` ({max_samples}) is the most draws per chain that until_converged "
            f"may reach, so it must be at least num_samples ({num_samples})."
        )
    if callback is not None and not callable(callback):
        raise TypeError(
            f"sample: `callback` must be a function callback(iterations_done, iterations_total), got "
            f"{type(callback).__name__}."
        )
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if checkpoint.is_dir():
            raise ValueError(
                f"sample: `checkpoint` {checkpoint} is a folder; give a file name such as run.npz."
            )
        if not checkpoint.parent.is_dir():
            raise FileNotFoundError(
                f"sample: `checkpoint`'s folder {checkpoint.parent} does not exist; create it first."
            )
    if resume is not None and not Path(resume).is_file():
        raise FileNotFoundError(
            f"sample: `resume` names {resume}, which is not a file; give a checkpoint written by "
            "sample(..., checkpoint=path)."
        )
    return max_samples, checkpoint


def check_target_accept(owner: str, target_accept) -> float:
    """The acceptance rate warmup adapts the step size towards: a number in (0, 1)."""
    value = as_real_scalar(target_accept)
    if value is None:
        raise ValueError(f"{owner}: `target_accept` must be a number in (0, 1), got {target_accept!r}.")
    if not 0 < value < 1:
        raise ValueError(f"{owner}: `target_accept` must be in (0, 1), got {target_accept}.")
    return value


def check_initial_step_size(owner: str, step_size) -> None:
    """``step_size``: None (the default) or a finite positive number."""
    if step_size is not None and not (
        isinstance(step_size, int | float | np.integer | np.floating)
        and not isinstance(step_size, bool)
        and math.isfinite(step_size)
        and step_size > 0
    ):
        raise ValueError(
            f"{owner}: `step_size` (the initial step size; warmup adapts it) must be a positive number, "
            f"got {step_size!r}. Leave it out for the default."
        )


def _given_init(target: Target, num_chains: int, init) -> jax.Array:
    """User starting points as an array ``(num_chains, 1, dim)`` of candidates."""
    if isinstance(init, dict):
        z = target.unconstrain(init, where="sample: `init`")
    else:
        z = jnp.asarray(init, dtype=jnp.result_type(float))
    if z.shape not in ((target.dim,), (num_chains, target.dim)):
        raise ValueError(
            f"sample: `init` gives shape {tuple(z.shape)}; expected ({target.dim},) or "
            f"({num_chains}, {target.dim}) unconstrained, or a dict of constrained site values."
        )
    z = jnp.broadcast_to(z, (num_chains, target.dim))
    bad = ~np.isfinite(np.asarray(z))
    if bad.any():
        chain, coordinate = np.argwhere(bad)[0].tolist()
        raise ValueError(
            f"sample: `init` has {int(bad.sum())} NaN or infinite entries (first: chain {chain}, "
            f"unconstrained coordinate {coordinate}); give finite starting values, or leave `init` "
            "out for Stan-style random starts."
        )
    return z[:, None, :]


def _make_start_fn(target: Target, num_chains: int, given, init_chain, num_tries: int = 20, refine=None):
    """One compiled function for the whole start of a run (one compilation, not a dozen).

    Draws Stan-style candidates (uniform(-2, 2) unconstrained, ``num_tries`` per chain) unless
    ``given``, builds every candidate's initial state with the kernel's own ``init`` (so the
    model's gradient is compiled once here) and keeps each chain's first candidate whose state is
    finite: its log density, and its gradient where the kernel uses one. The candidates are drawn
    on the host by NumPy, seeded by the key's bits: the same key gives the same candidates, and the
    threefry program that would draw them on the device takes a second to compile, longer than a
    short run samples. ``on_traced(states, keys)``, if given, is called with the shapes of the
    chains' states and keys as soon as the start is traced, before it is compiled.
    ``refine(carry, candidates, states, usable)``, if given, returns the chains' starting carry
    adjusted with what every candidate's state shows (:func:`_metric_from_candidates`).
    """

    def start(key, candidates):
        _, k_chains = jax.random.split(key)
        # Every candidate's initial state (log density and, for gradient kernels, its gradient
        # computed once, by the kernel's own init); a candidate is usable when its state is finite.
        states = jax.vmap(jax.vmap(init_chain))(candidates)
        ok = _finite_rows(states, 2)
        first = jnp.argmax(ok, axis=1)
        carry = jax.tree.map(lambda x: x[jnp.arange(num_chains), first], states)
        if refine is not None:
            carry = refine(carry, candidates, states, ok)
        return carry, jax.random.split(k_chains, num_chains), jnp.any(ok, axis=1), candidates[:, 0]

    # One device computes every chain's start, whatever the run's layout, and the result comes
    # back to the host (the driver spreads it over the devices from there, which compiles
    # nothing). Partitioned over the devices, the start program vectorised its arithmetic over
    # the chains that each device held, so the starting metric of one chain of eight schools
    # differed by a unit in the last place between one device and two, and warmup amplified
    # that into different draws.
    options = run_once_compile_options()  # the start runs once: compile time is all that counts
    compiled = jax.jit(start, compiler_options=options)

    def start_on_host_candidates(key, on_traced: Callable | None = None):
        candidates = given
        shape = (num_chains, num_tries, target.dim)
        if candidates is None and isinstance(key, jax.core.Tracer):  # inside a trace (e.g. SBC's vmap)
            keys = jax.random.split(jax.random.fold_in(key, 0x5EED), num_chains * num_tries)
            candidates = jax.vmap(target.init)(keys).reshape(shape)
        elif candidates is None:
            seed = np.asarray(jax.random.key_data(key), dtype=np.uint64).ravel()
            rng = np.random.default_rng([*seed.tolist(), 0x5EED])
            candidates = rng.uniform(-2.0, 2.0, shape).astype(jnp.result_type(float))
        if isinstance(key, jax.core.Tracer):
            # Inside a caller's trace this is part of their program: no compiler options of its own.
            return start(key, candidates)
        if on_traced is None:
            return jax.device_get(compiled(key, candidates))
        traced = compiled.trace(key, candidates)
        on_traced(traced.out_info[0], traced.out_info[1])  # the chains' state and key shapes
        return jax.device_get(traced.lower().compile()(key, candidates))

    return start_on_host_candidates


def _metric_from_candidates(dense_mass: bool):
    """``refine`` for :func:`_make_start_fn`: the named kernels' starting inverse mass matrix.

    The start evaluates 20 candidate points per chain anyway; for a gradient kernel their spread
    and their gradients give the posterior's scales (:func:`initial_inverse_mass`, per chain), so warmup's
    first window does not crawl along the stiffest direction of a unit metric. The carry is
    ``(state, dual averaging, Welford, step size, inverse mass)``, as the named kernels' chunks use it.
    """

    def refine(carry, candidates, states, usable):
        kernel_states = states[0]
        if not hasattr(kernel_states, "logdensity_grad"):  # random-walk Metropolis: no gradients
            return carry
        # Each chain from its own candidates (the start runs on one device for every layout).
        diagonal = jax.vmap(initial_inverse_mass)(candidates, kernel_states.logdensity_grad, usable)
        inverse_mass = jax.vmap(jnp.diag)(diagonal) if dense_mass else diagonal
        return (*carry[:4], inverse_mass.astype(carry[4].dtype))

    return refine


def _finite_rows(tree, num_batch_dims: int) -> jax.Array:
    """True where every floating-point entry of ``tree`` is finite, per leading batch index."""
    ok = True
    for x in jax.tree.leaves(tree):
        if jnp.issubdtype(x.dtype, jnp.inexact):
            ok = ok & jnp.all(jnp.isfinite(x), axis=tuple(range(num_batch_dims, x.ndim)))
    return ok


def _check_start(target: Target, found, first_candidates, given) -> None:
    """Raise, naming the non-finite sites, if some chain found no finite starting point."""
    found = np.asarray(found)
    if found.all():
        return
    bad_chain = int(np.flatnonzero(~found)[0])
    tries = (
        "the given `init`" if given is not None else "20 tries of uniform(-2, 2) on the unconstrained scale"
    )
    raise FloatingPointError(
        f"sample: no finite starting point for model `{target.name}` (chain {bad_chain}, {tries}). "
        f"{nonfinite_detail(target, first_candidates[bad_chain])}, or "
        f"{'pass `init`' if given is None else 'start elsewhere (change `init`, or leave it out)'}."
    )


def _warmup_windows(num_warmup: int, windows=None) -> tuple[np.ndarray, np.ndarray]:
    """``(is_slow, is_end)`` of :func:`warmup_schedule` for ``windows = (init_buffer, term_buffer,
    window)``, or by default its own windows with :func:`default_term_buffer`."""
    if windows is None:
        return warmup_schedule(num_warmup, term_buffer=default_term_buffer(num_warmup))
    return warmup_schedule(num_warmup, *windows)


def _windows_run(num_warmup: int, windows) -> dict:
    """The warmup windows that actually run: buffers and slow windows ``[start, stop)``."""
    is_slow, is_end = _warmup_windows(num_warmup, windows)
    slow = np.flatnonzero(is_slow)
    if slow.size == 0:  # too short for a mass matrix: step size only
        return {"init_buffer": int(num_warmup), "term_buffer": 0, "slow_windows": []}
    stops = (np.flatnonzero(is_end) + 1).tolist()
    starts = [int(slow[0])] + stops[:-1]
    return {
        "init_buffer": int(slow[0]),
        "term_buffer": int(num_warmup - stops[-1]),
        "slow_windows": [[int(a), int(b)] for a, b in zip(starts, stops, strict=True)],
    }


def _make_chunk_fn(
    target,
    make_kernel,
    num_warmup,
    target_accept,
    dense_mass,
    chunk_size,
    windows=None,
    record_steps=False,
):
    """Build the per-chain function that advances one chain up to ``chunk_size`` iterations.

    Warmup and sampling share one compiled function: adaptation updates are committed only for
    iterations before ``num_warmup``, so one compilation serves the whole run. ``windows`` is
    ``(init_buffer, term_buffer, window)`` for :func:`warmup_schedule` (default: its own, with
    :func:`default_term_buffer`). ``record_steps``: dual averaging also records each transition's
    leapfrog steps and divergence (``final_step_size="auto"`` reads them at the end of warmup, on
    the host: :func:`_end_windows`).
    """
    logdensity_fn = target.logdensity_fn
    dim = target.dim
    is_slow, is_end = _warmup_windows(num_warmup, windows)
    is_slow, is_end = np.append(is_slow, False), np.append(is_end, False)  # constants of the trace
    last_warmup = num_warmup - 1

    def body(carry, xs):
        state, da, wf, eps, imm = carry
        i, chain_key = xs
        new_state, info = make_kernel(logdensity_fn, eps, imm).step(jax.random.fold_in(chain_key, i), state)
        warm = i < num_warmup
        j = jnp.minimum(i, num_warmup)
        da_new = dual_averaging_update(
            da, info.acceptance_rate, target_accept,
            num_steps=info.num_integration_steps if record_steps else None,
            divergent=info.is_divergent if record_steps else None,
        )  # fmt: skip
        # NUTS reports its trajectory's exp(-H)-weighted moments: the metric estimate then
        # averages over every state of every trajectory, not only over the draws.
        if getattr(info, "trajectory_mean", None) is not None and not dense_mass:
            finite = jnp.all(jnp.isfinite(info.trajectory_mean) & jnp.isfinite(info.trajectory_variance))
            mean = jnp.where(finite, info.trajectory_mean, new_state.position)
            updated = welford_update(wf, mean, jnp.where(finite, info.trajectory_variance, 0.0))
        else:
            updated = welford_update(wf, new_state.position)
        wf_new = jax.tree.map(lambda a, b: jnp.where(jnp.asarray(is_slow)[j], a, b), updated, wf)
        end = jnp.asarray(is_end)[j]
        imm_new = jnp.where(end, welford_covariance(wf_new), imm)
        wf_new = jax.tree.map(lambda a, b: jnp.where(end, a, b), welford_init(dim, dense_mass), wf_new)
        eps_new = jnp.where(
            (i == last_warmup) | end, jnp.exp(da_new.log_step_size_avg), jnp.exp(da_new.log_step_size)
        )
        da_new = jax.tree.map(lambda a, b: jnp.where(end, a, b), dual_averaging_init(eps_new), da_new)
        pick = lambda new, old, c: jax.tree.map(lambda a, b: jnp.where(c, a, b), new, old)
        carry = (
            new_state,
            pick(da_new, da, warm),
            pick(wf_new, wf, warm),
            jnp.where(warm, eps_new, eps),
            jnp.where(warm, imm_new, imm),
        )
        out = (
            target.constrain(new_state.position),
            {k: getattr(info, k) for k in info._fields if k in _STAT_NAMES},
        )
        return carry, out

    return _loop_chunk(body, chunk_size)


def _loop_chunk(body, chunk_size):
    """``run_chunk(carry, start, stop, chain_key)``: iterations ``start, ..., stop - 1`` of ``body``.

    ``body(carry, (i, chain_key)) -> (carry, out)``. At most ``chunk_size`` iterations run (``stop``
    is traced, so one compilation serves chunks of any length up to that, such as the pieces of
    warmup between window ends); the outputs are ``[chunk_size, ...]``, of which the first
    ``stop - start`` rows are the iterations'. The body is jitted once and traced once: its output
    shapes come from that trace (``eval_shape``), which the loop then reuses; ``inline`` puts
    it in the loop as if traced there (as a call, the logistic benchmark's gradients were 18%
    slower).
    """
    step = jax.jit(body, inline=True)

    def run_chunk(carry, start, stop, chain_key):
        _, out_shapes = jax.eval_shape(step, carry, (start, chain_key))
        buffers = jax.tree.map(lambda s: jnp.zeros((chunk_size, *s.shape), s.dtype), out_shapes)

        def one(k, loop_carry):
            carry, buffers = loop_carry
            carry, out = step(carry, (start + k, chain_key))
            put = lambda buf, x: jax.lax.dynamic_update_index_in_dim(buf, x, k, 0)  # noqa: E731
            return carry, jax.tree.map(put, buffers, out)

        num = jnp.clip(stop - start, 0, chunk_size)
        return jax.lax.fori_loop(0, num, one, (carry, buffers))

    return run_chunk


# On a CPU a device runs up to this many chains one after another rather than batched.
MAP_CHAINS_UP_TO = 8


def _device_chains(run_chunk, chains_per_device: int):
    """``chains_fn(carry, start, stop, chain_keys)``: one device's chains advanced by one chunk.

    On a CPU, for a few chains, the device runs them one after another (``lax.map``): batching
    gains nothing there once a gradient is more than a few vector operations, every ``while_loop``
    of a batched NUTS runs until its slowest chain is done (and selects on every state array, in
    every iteration), and the batched program takes 20-30% longer to compile, which is most of a
    short run. Accelerators, and a CPU with many small chains per device, batch them (``vmap``).
    Either way each chain's arithmetic is its own, so draws do not depend on the layout. Outputs
    are ``[draw, chain, ...]``.
    """
    if jax.default_backend() == "cpu" and chains_per_device <= MAP_CHAINS_UP_TO:

        def chains_fn(carry, start, stop, chain_keys):
            one = lambda ck: run_chunk(ck[0], start, stop, ck[1])  # noqa: E731
            carry, out = jax.lax.map(one, (carry, chain_keys))
            return carry, jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), out)

        return chains_fn
    return jax.vmap(run_chunk, in_axes=(0, None, None, 0), out_axes=(0, 1))


def _chain_sharding(num_chains: int):
    """Spread chains over devices (e.g. CPU cores exposed as host devices) when they divide evenly."""
    devices = jax.devices()
    if len(devices) < 2 or num_chains % len(devices):
        return None
    mesh = jax.sharding.Mesh(np.array(devices), ("chain",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("chain"))


class _ChunkCompilation:
    """The chunk loop over all chains, compiled on a thread of its own while the run starts.

    The loop is the run's largest program (on a CPU, 1-1.5 s of XLA compiling for NUTS); the start
    program that finds each chain's initial point is the second largest. The loop needs only the
    shapes of the chains' state, known once the start is traced, and XLA compiles without holding
    Python's lock: so the loop is traced and lowered then, and compiles on a thread of its own while
    the start program is lowered, compiled and run (on two cores, about 0.3 s off a short run; the
    start traced after the loop, or run before it, left less).

    Within a device the chains run one after another (a CPU with a few chains) or batched
    (``vmap``); across devices ``shard_map`` gives each device its own loop, where plain jit
    sharding of a vmapped loop would synchronise the devices at every iteration of NUTS's loops.
    """

    def __init__(self, run_chunk, num_chains: int):
        self.sharding = _chain_sharding(num_chains)
        num_devices = 1 if self.sharding is None else len(self.sharding.mesh.devices)
        chains_fn = _device_chains(run_chunk, num_chains // num_devices)
        if self.sharding is not None:
            chain, none = jax.sharding.PartitionSpec("chain"), jax.sharding.PartitionSpec()
            chains_fn = jax.shard_map(
                chains_fn,
                mesh=self.sharding.mesh,
                in_specs=(chain, none, none, chain),
                out_specs=(chain, jax.sharding.PartitionSpec(None, "chain")),
                check_vma=False,
            )
        self.chunk_fn = jax.jit(chains_fn)
        self._compilation: BackgroundCompile | None = None

    def begin(self, carry, chain_keys) -> None:
        """Trace and lower the loop for the shapes of ``carry`` and ``chain_keys`` (arrays or shape
        structs) now, and compile it on a background thread."""
        spec = lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=self.sharding)  # noqa: E731
        t0 = time.perf_counter()
        lowered = self.chunk_fn.lower(
            jax.tree.map(spec, carry), _INDEX, _INDEX, jax.tree.map(spec, chain_keys)
        )
        self._compilation = BackgroundCompile(lowered, t0, compiler_options=sampler_compile_options())

    def result(self):
        """``(compiled, seconds)``, waiting for the compilation to finish."""
        return self._compilation.result()


_INDEX = jax.ShapeDtypeStruct((), np.int32)


def sample(
    key: jax.Array,
    target: Target | None,
    kernel="nuts",
    *,
    num_chains: int = 4,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    target_accept: float | None = None,
    max_tree_depth: int | None = None,
    dense_mass: bool = False,
    init_buffer: int | None = None,
    term_buffer: int | None = None,
    window: int | None = None,
    pool_metric: bool | None = None,
    num_integration_steps: int | None = None,
    step_size: float | None = None,
    final_step_size: str | None = None,
    init=None,
    thin: int = 1,
    chunk_size: int | None = None,
    progress_bar: bool = True,
    until_converged: bool = False,
    min_ess: int = 400,
    max_samples: int | None = None,
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    callback: Callable[[int, int], None] | None = None,
    record: Callable | None = None,
    warn: bool = True,
    compilation_cache: bool = True,
) -> Posterior:
    """Run MCMC chains on ``target`` and return a :class:`~bayeskit.Posterior`.

    Each chain runs ``num_warmup`` iterations of Stan's windowed adaptation (dual-averaging step
    size toward ``target_accept``; a diagonal or dense mass matrix from regularised Welford
    estimates in doubling windows, starting from a diagonal metric estimated at the chain's starting
    candidates, :func:`~bayeskit.mcmc.initial_inverse_mass`), then ``num_samples`` draws. The
    windows are Stan's except that the terminal buffer, where only the step size adapts, is by
    default 15% of warmup (150 iterations of 1,000) rather than 50: the final step size is then less
    noisy and less conservative, which buys more ESS per gradient
    (:func:`~bayeskit.mcmc.default_term_buffer`); and at each window end every chain takes the pool
    of the chains' metric estimates, a mean that leaves out a chain far from the median
    (``pool_metric``), so that one chain that wandered into a region of negligible mass does not
    sample on that region's scales; the chains then sample with the median of their final step
    sizes. A chain's final step size is by default the step size that reaches ``target_accept`` by a
    fit over the terminal buffer where that lengthens its trajectories without divergences, else
    Stan's, dual averaging's averaged iterate (whose draws accept about 0.83-0.86 for a target of
    0.8; ``final_step_size``). NUTS's diagonal estimate
    averages the moments of every state of each trajectory, weighted as the draw is chosen
    (``NUTSInfo.trajectory_mean`` and ``trajectory_variance``), rather than the draws alone: a less
    noisy metric for the same warmup (see :mod:`bayeskit.mcmc.adaptation`). Chains are spread over
    the visible devices; within a device they run batched with ``vmap`` (on a CPU with at most 8
    chains per device, one after another, which compiles faster and never waits for a slower chain;
    :func:`bayeskit.use_cpu_cores` shows JAX every core as a device). Every draw uses a key folded
    from its chain and iteration number, and every chain starts from a start computed on one device,
    so the draws are the same bit for bit on any number of CPU devices and for any chunking. The
    compiled loop runs in chunks: between chunks the progress bar updates, draws move to the host,
    Ctrl-C stops with the draws so far, and a checkpoint can be written.

    A kernel built by hand (``kernel=gibbs(blocks)``, or ``rwmh``/``hmc``/``nuts`` with settings of
    your own) runs as it is: ``num_warmup`` iterations of burn-in, nothing adapted, then
    ``num_samples`` draws, with everything else (chains, chunks, checkpoints, diagnostics) the same.

    Args:
        key: a ``jax.random`` key.
        target: the conditioned model, from :func:`bayeskit.ppl.target`; ``None`` for a kernel
            whose state holds its own parameters, such as a Gibbs kernel.
        kernel: ``"nuts"`` (default), ``"hmc"`` or ``"rwmh"``, tuned during warmup; or a kernel
            object (:class:`~bayeskit.mcmc.Kernel`, e.g. :func:`~bayeskit.mcmc.gibbs`), run untuned.
        num_chains, num_warmup, num_samples: the run's size (draws kept per chain: num_samples/thin).
        target_accept: acceptance rate that warmup aims for (0.8 for NUTS/HMC; for RWMH
            0.234 + 0.206/dim, the optimal rate of a Gaussian random walk).
        max_tree_depth: NUTS's cap on doublings (2^depth - 1 gradient evaluations per draw;
            default 10). For ``kernel="nuts"`` only: given with another kernel it is an error.
        dense_mass: adapt a dense mass matrix (correlated posteriors) instead of a diagonal one.
        init_buffer, term_buffer, window: Stan's warmup windows: iterations that adapt only the
            step size at the start (default 75) and at the end, and the first slow window (default
            25; each next one doubles). The default ``term_buffer`` is 15% of ``num_warmup`` and at
            least 50; ``term_buffer=50`` gives Stan's schedule exactly. When they do not fit in
            ``num_warmup``, the initial buffer becomes 15% of it, the terminal buffer 10% and one
            slow window the 75% between, as in Stan. ``info["warmup_windows"]`` reports the
            windows that ran.
        pool_metric: at the end of each slow window, give every chain the same metric, the
            pool of the chains' own estimates (:func:`~bayeskit.mcmc.pool_inverse_mass`: their
            mean, leaving out a chain more than a factor 2 from the median), and
            at the end of warmup the same step size, the median of the chains' own; default on
            with two or more chains. A chain whose window visited a region of negligible mass
            then does not carry that region's scales into sampling (without it, posteriordb's
            ``bball`` model failed at half its seeds), and a chain whose step size came out high
            does not sample with it (``gp_pois_regr`` at seed 0: 160 divergences in that chain
            and R-hat 1.10). ``False`` adapts each chain on its own draws, as Stan does.
        num_integration_steps: leapfrog steps per HMC proposal, on average: each proposal takes
            a number drawn uniformly from 80% to 120% of it, so that a fixed trajectory length
            cannot resonate with the posterior (see :func:`~bayeskit.mcmc.hmc`). Default 32; for
            ``kernel="hmc"`` only.
        step_size: initial step size (default 1.0 for NUTS/HMC, 2.38/sqrt(dim) for RWMH).
        final_step_size: the step size warmup ends with. ``"averaged"``: Stan's, dual averaging's
            averaged iterate, whose draws accept more often than ``target_accept`` (0.83-0.86 for
            0.8). ``"fitted"``: where a quadratic fit of the acceptance statistic against log step
            size over the terminal buffer reaches ``target_accept``
            (:func:`~bayeskit.mcmc.dual_averaging_step_size`), a larger step: more ESS per gradient
            where trajectories keep their number of leapfrog steps (posteriordb, four seeds: 2-17%
            on eight posteriors, equal on the ninth; the 100-d Gaussian of
            ``benchmarks/mcmc_peers.py`` by 17%), but more divergences where the geometry is hard
            (eight schools 4-7 per run instead of 1-2; ``gp_pois_regr`` 82-115 instead of 17-50),
            and on a model whose trajectories then stop between two tree depths less ESS per draw
            (the hierarchical regression: -14% per gradient, -31% per draw). ``"auto"`` (the
            default; ``None`` means it): for NUTS, the fitted step where the terminal buffer shows
            it larger than the averaged iterate, with trajectories (step size x leapfrog steps) no
            shorter, and no divergence at step sizes up to 1.28 times it; else, and for HMC and
            RWMH, the averaged iterate. Measured (ESS per gradient, seeds 0-4, averaged -> auto):
            the Gaussian +18%, the hierarchical regression unchanged, eight schools and logistic
            regression within noise; posteriordb's pass counts unchanged.
        init: starting point: a dict of constrained values, or an unconstrained array of shape
            ``(dim,)`` or ``(num_chains, dim)``; default Stan's uniform(-2, 2), with retries. With a
            kernel object and no target: its starting state (a Gibbs kernel's dict of blocks), or a
            list of ``num_chains`` states (overdispersed starts make R-hat meaningful).
        thin: keep every ``thin``-th draw.
        chunk_size: iterations per compiled chunk (default: about 20 chunks per run).
        progress_bar: show a progress bar (draws, divergences, step size, time left).
        until_converged: after ``num_samples``, keep drawing chunk by chunk until every quantity
            has R-hat <= 1.01, bulk ESS >= ``min_ess`` and bulk and tail ESS >= 100 per chain
            (the thresholds of the Posterior's R-hat and ESS warnings, so a run that stops as
            converged raises none of them), up to ``max_samples`` per chain.
            ``info["converged"]`` says whether it got there; if not, a warning names the
            quantities that fell short.
        min_ess: with ``until_converged``, the bulk ESS every quantity must reach (default 400).
        checkpoint: write the run's state to this ``.npz`` after every chunk (its folder must
            exist; if a write fails, a warning says so and the run goes on without them).
        resume: continue the run saved in this checkpoint (same key, target and arguments);
            the continued run gives the same draws as one that never stopped.
        callback: called as ``callback(iterations_done, iterations_total)`` after every chunk;
            raising ``KeyboardInterrupt`` in it stops the run like Ctrl-C.
        record: with a kernel object, ``record(state) -> {name: array}``, what each state keeps as
            a draw (default: the target's sites; a Gibbs kernel's blocks; every entry of a dict state;
            without a target, an HMC, NUTS or random-walk state's flat ``position``, as ``"position"``).
        warn: raise the run's diagnostics warnings as :class:`~bayeskit.posterior.SamplingWarning`.
        compilation_cache: keep the compiled sampler on disk (:func:`bayeskit.use_compilation_cache`)
            so that a later run of the same model, in this process or another, skips compiling.

    Returns:
        A :class:`~bayeskit.Posterior` with draws ``{site: [chain, draw, ...]}`` for every latent
        site and deterministic, sample statistics, diagnostics and warnings.

    Example:
        >>> post = sample(jax.random.key(0), target(eight_schools, sigma, y=y))
        >>> post.summary()
        >>> kernel = gibbs(linear_regression_blocks(X, y, 0.0, 1.0, a0=2.0, b0=1.0))
        >>> post = sample(jax.random.key(1), None, kernel, init={"weights": jnp.zeros(3), "sigma2": 1.0})
    """
    key = check_key(key, "mcmc.sample")
    if compilation_cache:
        use_compilation_cache()
    custom = not isinstance(kernel, str)
    if custom:
        check_kernel(kernel)
        trajectory_settings("sample", kernel, max_tree_depth, num_integration_steps)
        if target is not None and not isinstance(target, Target):
            raise TypeError(
                "sample: `target` must be a Target (bayeskit.ppl.target(model, ...)) or None for a kernel "
                f"whose state holds its parameters; got {type(target).__name__}."
            )
        tuned = {
            "target_accept": target_accept, "step_size": step_size, "dense_mass": dense_mass or None,
            "init_buffer": init_buffer, "term_buffer": term_buffer, "window": window,
            "pool_metric": pool_metric,
            "final_step_size": final_step_size,
        }  # fmt: skip
        given_tuning = [k for k, v in tuned.items() if v is not None]
        if given_tuning:
            raise ValueError(
                f"sample: {', '.join(f'`{k}`' for k in given_tuning)} tune the kernels named by a string; a "
                "kernel object runs with the settings it was built with. Build it with the values you want."
            )
        return _sample_custom(
            key, target, kernel, num_chains=num_chains, num_warmup=num_warmup, num_samples=num_samples,
            init=init, thin=thin, chunk_size=chunk_size, progress_bar=progress_bar,
            until_converged=until_converged, min_ess=min_ess, max_samples=max_samples,
            checkpoint=checkpoint, resume=resume, callback=callback, record=record, warn=warn,
        )  # fmt: skip
    if not isinstance(target, Target):
        raise TypeError(
            f"sample: expected a Target (bayeskit.ppl.target(model, ...)), got {type(target).__name__}."
        )
    if kernel not in KERNELS:
        raise ValueError(f"sample: unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}.")
    max_tree_depth, num_integration_steps = trajectory_settings(
        "sample", kernel, max_tree_depth, num_integration_steps
    )
    if record is not None:
        raise ValueError(
            "sample: `record` applies to kernel objects; a named kernel keeps the target's sites and "
            "deterministics."
        )
    num_chains = _check_positive_int("num_chains", num_chains)
    num_samples = _check_positive_int("num_samples", num_samples)
    num_warmup = _check_positive_int("num_warmup", num_warmup, minimum=0)
    thin = _check_positive_int("thin", thin)
    windows = (
        _check_positive_int("init_buffer", 75 if init_buffer is None else init_buffer, minimum=0),
        _check_positive_int(
            "term_buffer", default_term_buffer(num_warmup) if term_buffer is None else term_buffer, 0
        ),
        _check_positive_int("window", 25 if window is None else window),
    )
    if pool_metric is not None and not isinstance(pool_metric, bool | np.bool_):
        raise TypeError(f"sample: `pool_metric` must be True or False, got {pool_metric!r}.")
    pool_metric = num_chains > 1 if pool_metric is None else bool(pool_metric) and num_chains > 1
    final_step_size = "auto" if final_step_size is None else final_step_size
    if final_step_size not in _FINAL_STEP_SIZES:
        raise ValueError(
            f"sample: `final_step_size` must be one of {', '.join(map(repr, _FINAL_STEP_SIZES))} (Stan's "
            "averaged iterate, the step size fitted to reach target_accept, or the fitted one where it "
            f"lengthens the trajectories); got {final_step_size!r}."
        )
    if target.dim == 0:
        raise ValueError(f"sample: model `{target.name}` has no latent sites to sample.")
    if target_accept is None:
        from bayeskit.mcmc.rwmh_adaptation import optimal_acceptance_rate

        target_accept = _DEFAULT_ACCEPT.get(kernel) or optimal_acceptance_rate(target.dim)
    target_accept = check_target_accept("sample", target_accept)
    max_samples, checkpoint = _check_run_files(num_samples, max_samples, checkpoint, resume, callback)
    min_ess = _check_positive_int("min_ess", min_ess)
    dim = target.dim
    make_kernel = _kernel_factory(kernel, max_tree_depth, num_integration_steps)
    total = num_warmup + num_samples
    if chunk_size is None:
        chunk_size = max(10, math.ceil(total / 20))
    chunk_size = _check_positive_int("chunk_size", chunk_size)

    check_initial_step_size("sample", step_size)
    eps0 = step_size if step_size is not None else (1.0 if kernel != "rwmh" else 2.38 / math.sqrt(dim))
    dtype = jnp.result_type(float)
    imm0 = np.eye(dim, dtype=dtype) if dense_mass else np.ones(dim, dtype)  # NumPy: no eager compile

    def init_chain(z):
        state = make_kernel(target.logdensity_fn, jnp.asarray(eps0, dtype), imm0).init(z)
        return (state, dual_averaging_init(jnp.asarray(eps0, dtype)), welford_init(dim, dense_mass, dtype),
                jnp.asarray(eps0, dtype), imm0)  # fmt: skip

    given = None if init is None else _given_init(target, num_chains, init)
    # "auto" reads NUTS's trajectory lengths; HMC and RWMH keep the averaged iterate.
    final_rule = {"averaged": None, "fitted": "fitted", "auto": "auto" if kernel == "nuts" else None}[
        final_step_size
    ]
    run_chunk = _make_chunk_fn(
        target, make_kernel, num_warmup, target_accept, dense_mass, chunk_size, windows,
        record_steps=final_rule == "auto",
    )  # fmt: skip
    chunks = _ChunkCompilation(run_chunk, num_chains)
    start_fn = _make_start_fn(
        target, num_chains, given, init_chain, refine=_metric_from_candidates(dense_mass)
    )
    carry, chain_keys, found, first_candidates = start_fn(key, on_traced=chunks.begin)
    _check_start(target, found, first_candidates, given)
    metric_ends = frozenset((np.flatnonzero(_warmup_windows(num_warmup, windows)[1]) + 1).tolist())
    end_windows = functools.partial(
        _end_windows, num_warmup=num_warmup, metric_ends=metric_ends, pool_metric=pool_metric,
        final_rule=final_rule, target_accept=target_accept,
    )  # fmt: skip
    carry, kept, run = _drive(
        carry, chain_keys, chunks, step_size_of=lambda c: c[3], num_chains=num_chains,
        num_warmup=num_warmup, num_samples=num_samples, chunk_size=chunk_size, thin=thin,
        progress_bar=progress_bar, until_converged=until_converged, min_ess=min_ess,
        max_samples=max_samples, checkpoint=checkpoint, resume=resume, callback=callback,
        window_ends=[*(metric_ends if pool_metric else ()), num_warmup],
        pool=end_windows if pool_metric or final_rule else None,
        identity=_run_identity(key, target, kernel, num_chains, num_warmup, thin),
    )  # fmt: skip
    step_sizes = np.asarray(carry[3])
    inv_mass = np.asarray(carry[4])
    info = {
        "kernel": kernel,
        "num_chains": num_chains,
        "num_warmup": num_warmup,
        **run,
        "thin": thin,
        "target_accept": target_accept,
        "max_tree_depth": max_tree_depth if kernel == "nuts" else None,
        "dense_mass": dense_mass,
        "warmup_windows": _windows_run(num_warmup, windows),
        "pool_metric": pool_metric,
        "final_step_size": final_step_size,
        "step_size": step_sizes.tolist(),
        "inverse_mass_matrix_diagonal": (
            np.diagonal(inv_mass, axis1=-2, axis2=-1) if dense_mass else inv_mass
        ).tolist(),
        "model": target.name,
    }
    post = _assemble(kept, thin, info, [])
    post.sample_stats["step_size"] = np.broadcast_to(step_sizes[:, None], (num_chains, post.num_draws)).copy()
    return _finish(post, warn)


def _end_windows(
    carry,
    iteration: int,
    *,
    num_warmup: int,
    metric_ends: frozenset,
    pool_metric: bool,
    final_rule,
    target_accept,
):
    """The chain states after ``iteration`` iterations, as the warmup's host steps leave them.

    With ``pool_metric``, at a slow window's end every chain's inverse mass matrix becomes the
    chains' pool (:func:`~bayeskit.mcmc.pool_inverse_mass`). At the end of warmup each chain's
    step size (the averaged iterate) is corrected by :func:`~bayeskit.mcmc.step_size_correction`
    for ``final_rule`` ("fitted" or "auto"; None keeps it), in NumPy, so that the rule adds nothing
    to the compiled loop; then, with ``pool_metric``, it becomes the median of the chains' step
    sizes: the chains share the metric, so their step sizes estimate one quantity, and a chain
    whose estimate came out high samples with too large a step. On posteriordb's ``gp_pois_regr``
    one chain's 0.037 among 0.031-0.033 gave it 160 divergences and a biased ``alpha`` (R-hat
    1.10).
    """
    state, da, wf, eps, imm = carry
    if pool_metric and iteration in metric_ends:
        imm = jax.device_put(pool_inverse_mass(jax.device_get(imm)), imm.sharding)
    if iteration == num_warmup:
        steps = np.asarray(jax.device_get(eps))
        if final_rule is not None:
            da_host = jax.tree.map(np.asarray, jax.device_get(da))
            correction = step_size_correction(
                da_host, target_accept, keep_trajectory_length=final_rule == "auto"
            )
            steps = (steps * np.exp(correction)).astype(steps.dtype)
        if pool_metric:
            steps = np.full_like(steps, np.median(steps))
        eps = jax.device_put(steps, eps.sharding)
    return (state, da, wf, eps, imm)


def _finish(post: Posterior, warn: bool) -> Posterior:
    post.warnings = post.check()
    if post.info.get("converged") is False and not post.info.get("interrupted"):
        post.warnings.insert(0, _not_converged_message(post))
    if post.info.get("interrupted"):
        post.warnings.insert(0, f"interrupted: kept the {post.num_draws} draws per chain made so far.")
    if warn:
        post.warn()
    return post


def _not_converged_message(post: Posterior) -> str:
    """Why an ``until_converged`` run stopped short: it reached ``max_samples`` first."""
    min_ess = post.info["min_ess"]
    floor = MIN_ESS_PER_CHAIN * post.num_chains
    bad_rhat, low_ess = post._convergence_problems(min_ess)
    failing = "; ".join(
        part
        for part in (
            bad_rhat and "R-hat " + ", ".join(bad_rhat),
            low_ess and "ESS " + ", ".join(low_ess),
        )
        if part
    )
    return (
        f"until_converged: reached max_samples ({post.info['num_samples']} draws per chain) before "
        f"every quantity had R-hat <= {RHAT_MAX}, bulk ESS >= {max(min_ess, floor)} and tail ESS >= "
        f"{floor}: {failing or 'too few draws to tell'}. Raise max_samples, or reparameterise if "
        "R-hat stays high."
    )


def _sample_custom(
    key, target, kernel, *, num_chains, num_warmup, num_samples, init, thin, chunk_size, progress_bar,
    until_converged, min_ess, max_samples, checkpoint, resume, callback, record, warn,
) -> Posterior:  # fmt: skip
    """:func:`sample` with a kernel object: burn-in instead of adaptation, draws from ``record``."""
    num_chains = _check_positive_int("num_chains", num_chains)
    num_samples = _check_positive_int("num_samples", num_samples)
    num_warmup = _check_positive_int("num_warmup", num_warmup, minimum=0)
    thin = _check_positive_int("thin", thin)
    max_samples, checkpoint = _check_run_files(num_samples, max_samples, checkpoint, resume, callback)
    min_ess = _check_positive_int("min_ess", min_ess)
    total = num_warmup + num_samples
    chunk_size = _check_positive_int("chunk_size", chunk_size or max(10, math.ceil(total / 20)))
    if target is not None:
        if target.dim == 0:
            raise ValueError(f"sample: model `{target.name}` has no latent sites to sample.")
        given = None if init is None else _given_init(target, num_chains, init)
        carry, chain_keys, found, first = _make_start_fn(target, num_chains, given, kernel.init)(key)
        _check_start(target, found, first, given)
    else:
        carry, chain_keys = custom_start(key, kernel, num_chains, init)
    one_chain = jax.tree.map(lambda x: x[0], carry)
    if record is None:
        record = default_record(kernel, target, one_chain)
    elif not callable(record):
        raise TypeError(
            f"sample: `record` must be a function of the kernel's state, got {type(record).__name__}."
        )
    check_record(record, one_chain)
    chunks = _ChunkCompilation(
        _loop_chunk(custom_chunk_body(kernel, record, tuple(_STAT_NAMES)), chunk_size), num_chains
    )
    chunks.begin(carry, chain_keys)  # a resumed run's state has these shapes too
    carry, kept, run = _drive(
        carry, chain_keys, chunks, step_size_of=None, num_chains=num_chains, num_warmup=num_warmup,
        num_samples=num_samples, chunk_size=chunk_size, thin=thin, progress_bar=progress_bar,
        until_converged=until_converged, min_ess=min_ess, max_samples=max_samples,
        checkpoint=checkpoint, resume=resume, callback=callback,
        identity=_run_identity(key, target, type(kernel).__name__, num_chains, num_warmup, thin),
    )  # fmt: skip
    info = {
        "kernel": "custom",
        "num_chains": num_chains,
        "num_warmup": num_warmup,
        **run,
        "thin": thin,
        "max_tree_depth": getattr(kernel, "max_tree_depth", None),
        "model": target.name if target is not None else "custom",
    }
    return _finish(_assemble(kept, thin, info, []), warn)


def _drive(
    carry, chain_keys, chunks, *, step_size_of, num_chains, num_warmup, num_samples, chunk_size, thin,
    progress_bar, until_converged, min_ess, max_samples, checkpoint, resume, callback,
    window_ends=(), pool=None, identity=None,
):  # fmt: skip
    """Run the chains chunk by chunk: compile once, stream draws to the host, show progress.

    ``chunks`` is the chunk loop's compilation, already begun by the caller (see
    :class:`_ChunkCompilation`). A chunk also ends at each of ``window_ends`` (iteration counts),
    where ``pool(carry, iteration)`` replaces the chains' state (the warmup's host steps: the
    cross-chain pooling of the metric and, at the end of warmup, the final step size). Returns ``(carry, kept, run)``:
    the final per-chain states, the kept ``(draws, stats)`` chunks and the run's facts for
    ``Posterior.info`` (counts, times, whether it was interrupted).
    """
    window_ends = sorted(window_ends) if pool is not None else []
    total = num_warmup + num_samples
    start = 0
    kept: list[tuple[dict, dict]] = []
    if resume is not None:
        # until_converged may have run past num_warmup + num_samples before the checkpoint.
        carry, start, kept = _load_checkpoint(resume, carry, identity, None if until_converged else total)

    sharding = _chain_sharding(num_chains)
    if sharding is not None:
        carry = jax.device_put(carry, sharding)
        chain_keys = jax.device_put(chain_keys, sharding)
    compiled, compile_time = chunks.result()

    progress = _Progress(progress_bar, total, num_warmup)
    interrupted = False
    converged = None  # with until_converged: whether the run stopped because it converged
    warmup_steps = 0  # gradient evaluations in this call's warmup (all chains), for efficiency reports
    t_run = time.perf_counter()
    try:
        with progress:
            while True:
                while start < total:
                    # Chunks end on multiples of chunk_size, and also at the warmup's window ends.
                    stop = (start // chunk_size + 1) * chunk_size
                    stop = min([stop, total, *(e for e in window_ends if e > start)])
                    carry, (draws, info) = compiled(carry, np.int32(start), np.int32(stop), chain_keys)
                    if stop in window_ends:
                        carry = pool(carry, stop)
                    draws, info = jax.device_get((draws, info))
                    n_new = stop - start
                    lo = max(num_warmup - start, 0)  # first sampling iteration within this chunk
                    if "num_integration_steps" in info:
                        warmup_steps += int(np.sum(info["num_integration_steps"][: min(lo, n_new)]))
                    new_divergences = 0
                    if lo < n_new:
                        sel = slice(lo, n_new)
                        kept.append(
                            ({k: v[sel] for k, v in draws.items()}, {k: v[sel] for k, v in info.items()})
                        )
                        new_divergences = int(np.sum(kept[-1][1].get("is_divergent", 0)))
                    start += n_new
                    progress.update(
                        start, new_divergences, None if step_size_of is None else step_size_of(carry)
                    )
                    if checkpoint is not None:
                        try:
                            _save_checkpoint(checkpoint, carry, start, kept, identity)
                        except OSError as error:  # a full disk: keep sampling, keep the draws
                            warnings.warn(
                                f"sample: could not write the checkpoint {checkpoint} ({error}); the run "
                                "goes on without checkpoints.",
                                SamplingWarning,
                                stacklevel=user_stacklevel(),
                            )
                            checkpoint = None
                    if callback is not None:
                        callback(start, total)
                if not until_converged:
                    break
                converged = _converged(_assemble(kept, thin, {}, []), min_ess)
                if converged or total - num_warmup >= max_samples:
                    break
                total = min(
                    total + chunk_size * max(1, math.ceil(num_samples / chunk_size / 4)),
                    num_warmup + max_samples,
                )
                progress.extend(total)
    except KeyboardInterrupt:
        interrupted = True
    run_time = time.perf_counter() - t_run

    if not kept:
        raise KeyboardInterrupt("sample: interrupted during warmup; no draws were kept.")
    run = {
        "num_samples": int(sum(len(next(iter(d.values()))) for d, _ in kept)),
        "num_warmup_gradient_evaluations": warmup_steps,
        "compile_time": compile_time,
        "sampling_time": run_time,
        "interrupted": interrupted,
    }
    if until_converged:
        run["converged"] = bool(converged) and not interrupted
        run["min_ess"] = int(min_ess)
    return carry, kept, run


def _assemble(kept, thin, info, warnings) -> Posterior:
    """Join the chunks' ``[draw, chain, ...]`` pieces into ``[chain, draw, ...]`` arrays."""
    names = kept[0][0].keys()
    draws = {k: np.swapaxes(np.concatenate([d[k] for d, _ in kept], axis=0), 0, 1)[:, ::thin] for k in names}
    stats = {
        _STAT_NAMES.get(k, k): np.swapaxes(np.concatenate([s[k] for _, s in kept], axis=0), 0, 1)[:, ::thin]
        for k in kept[0][1]
    }
    return Posterior(draws, stats, info, warnings)


def _converged(post: Posterior, min_ess: int) -> bool:
    """Whether ``until_converged`` may stop: no quantity fails the thresholds that the returned
    Posterior warns on (:data:`~bayeskit.posterior.RHAT_MAX`, ESS per chain), and every bulk ESS
    is at least ``min_ess``; the same code decides both, so the two never disagree."""
    if post.num_draws < MIN_DRAWS_FOR_DIAGNOSTICS:
        return False
    bad_rhat, low_ess = post._convergence_problems(min_ess)
    return not bad_rhat and not low_ess


def _run_identity(key, target, kernel_name: str, num_chains: int, num_warmup: int, thin: int) -> dict:
    """What a checkpoint must share with the run that resumes it."""
    return {
        "key": np.asarray(jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key)
        .tobytes()
        .hex(),
        "kernel": kernel_name,
        "model": None if target is None else target.name,
        "latent_sites": None if target is None else [site.name for site in target.sites],
        "num_chains": int(num_chains),
        "num_warmup": int(num_warmup),
        "thin": int(thin),
    }


def _save_checkpoint(path, carry, start, kept, identity=None) -> None:
    leaves = jax.tree.leaves(jax.device_get(carry))
    arrays = {f"carry/{i}": np.asarray(x) for i, x in enumerate(leaves)}
    if identity is not None:
        arrays["identity"] = np.asarray(json.dumps(identity))
    arrays["start"] = np.asarray(start)
    arrays["num_chunks"] = np.asarray(len(kept))
    for c, (d, s) in enumerate(kept):
        arrays.update({f"draws/{c}/{k}": v for k, v in d.items()})
        arrays.update({f"stats/{c}/{k}": v for k, v in s.items()})
    tmp = Path(str(path) + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def _load_checkpoint(path, carry_template, identity=None, total=None):
    not_ours = ValueError(
        f"sample: `resume` file {path} is not a checkpoint written by sample(..., checkpoint=path)"
        " (a Posterior.save file cannot be resumed: it holds draws, not the chains' state)."
    )
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:  # not an .npz: NumPy took it for a pickle, or bad zip
        raise not_ours from error
    if not hasattr(archive, "files") or not {"start", "num_chunks", "carry/0"} <= set(archive.files):
        raise not_ours
    with archive as f:
        if identity is not None and "identity" in f.files:
            saved = json.loads(str(f["identity"]))
            changed = [k for k in identity if saved.get(k) != identity[k]]
            if changed:
                what = "; ".join(
                    f"{k}: {saved.get(k)!r} then, {identity[k]!r} now" for k in changed if k != "key"
                )
                if "key" in changed:
                    what = "the random key differs" + (f"; {what}" if what else "")
                raise ValueError(
                    f"sample: checkpoint {path} was written by another run ({what}); resume with the "
                    "same key, target and arguments, or start afresh without `resume`."
                )
        if total is not None and int(f["start"]) > total:
            raise ValueError(
                f"sample: checkpoint {path} has already run {int(f['start'])} iterations, more than "
                f"the {total} (num_warmup + num_samples) asked for; ask for at least as many."
            )
        treedef = jax.tree.structure(carry_template)
        n = treedef.num_leaves
        saved_leaves = sum(name.startswith("carry/") for name in f.files)
        if saved_leaves != n:
            raise ValueError(
                f"sample: checkpoint {path} does not match this run ({saved_leaves} state arrays, expected "
                f"{n}: written by another version of bayeskit or another kernel); start afresh without `resume`."
            )
        leaves = [jnp.asarray(f[f"carry/{i}"]) for i in range(n)]
        template_leaves = jax.tree.leaves(carry_template)
        for a, b in zip(leaves, template_leaves):
            if a.shape != b.shape:
                raise ValueError(
                    f"sample: checkpoint {path} does not match this run (a state array has shape {a.shape}, "
                    f"expected {b.shape}); resume with the same target, kernel and num_chains."
                )
        kept = []
        for c in range(int(f["num_chunks"])):
            d = {k.split("/", 2)[2]: f[k] for k in f.files if k.startswith(f"draws/{c}/")}
            s = {k.split("/", 2)[2]: f[k] for k in f.files if k.startswith(f"stats/{c}/")}
            kept.append((d, s))
        return jax.tree.unflatten(treedef, leaves), int(f["start"]), kept


class _Progress(ProgressBar):
    """The sampler's bar: phase, median step size and divergences so far."""

    def __init__(self, enabled: bool, total: int, num_warmup: int):
        super().__init__(enabled, total, "warmup")
        self.num_warmup = num_warmup
        self.divergences = 0

    def update(self, done: int, new_divergences: int, step_size) -> None:
        self.divergences += new_divergences
        if self.enabled:
            status = f"divergences {self.divergences}"
            if step_size is not None:
                status = f"step size {np.median(np.asarray(step_size)):.3g}  " + status
            self.show(done, status, "warmup" if done <= self.num_warmup else "sampling")

    def extend(self, total: int) -> None:
        self.set_total(total)
