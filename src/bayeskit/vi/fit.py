"""The SVI driver: fit a guide by stochastic optimisation of the ELBO, in compiled chunks.

Each step draws ``num_particles`` from the guide (and, for subsampled plates, a minibatch), takes
the gradient of the ELBO estimator's surrogate loss, and applies one optax update. Steps run in
chunks of ``chunk_size`` inside one compiled ``lax.scan``; between chunks the host updates the
progress bar, applies the stopping rule and honours Ctrl-C (keeping the guide fitted so far).
Step ``i`` uses the key ``fold_in(key, i)``, so the result does not depend on the chunking.

Choices (documented here because users see their effects):

- Optimiser: Adam (Kingma & Ba 2015) with learning rate 0.01 (``learning_rate``) decayed along a
  cosine to a tenth of it at ``num_steps``. A constant rate leaves the final iterate jittering
  around the optimum by about the rate; the decay lets the last steps settle, so posterior means
  and variances are accurate to Monte Carlo error rather than to step size.
- Stopping rule: every chunk is a window; the run stops when the mean ELBO of a window changes
  by less than ``tol`` relative to the previous window's, |m_k - m_k-1| / max(|m_k|, 1), in two
  windows in a row. Averaging over a window smooths the per-step noise of the estimates; the
  noise floor of a window mean still keeps a noisy run (one particle, minibatches) going, so
  ``num_steps`` caps every run.
- Non-finite steps (a draw far in a tail overflows) are skipped: the guide keeps its values, the
  step is counted in ``info["num_nonfinite_steps"]`` and a warning is raised if any occurred. A
  non-finite ELBO at the very first step is an error naming the sites responsible.
- Start of the automatic guides (``init="laplace"``, the default): the Laplace approximation
  (L-BFGS to the mode of the unconstrained density, the Hessian there), and the guide is fitted in
  coordinates whitened by it (:mod:`bayeskit.vi._precondition`), so that Adam's steps are
  fractions of a posterior sd in every direction: without this, posteriors with sds of 1e-3 or
  correlations of 0.99 do not converge in 10 000 steps. Each guide starts at its member nearest
  the Laplace Gaussian (the low-rank guide with the Laplace correlations along its ``rank``
  directions). It costs one L-BFGS run. If there is no finite mode or the Hessian is not
  negative definite there, or with ``init="zero"``: z = 0
  (Stan's ``init=0``: real sites at 0, positive sites at 1, interval sites at their midpoint) with
  standard deviation ``init_scale``, and if the ELBO is not finite there, the first of 20 draws
  uniform on (-2, 2) where the log density and its gradient are finite, as MCMC starts.
"""

from __future__ import annotations

import math
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bayeskit._checks import check_int, check_positive_number
from bayeskit._compilation_cache import use_compilation_cache
from bayeskit._compiled import compile_lowered
from bayeskit._key import check_key
from bayeskit._progress import ProgressBar
from bayeskit._stacklevel import user_stacklevel
from bayeskit.posterior import SamplingWarning
from bayeskit.vi._precondition import Preconditioner, laplace_start
from bayeskit.vi._program import program
from bayeskit.vi.custom_guide import CustomGuide, custom_guide, invalid_guide_site
from bayeskit.vi.elbo import ESTIMATORS, build_estimator
from bayeskit.vi.guides import GUIDES, Guide, PointMassGuide, make_guide
from bayeskit.vi.result import VIResult

__all__ = ["fit", "default_optimizer"]


def default_optimizer(num_steps: int, learning_rate: float = 1e-2) -> optax.GradientTransformation:
    """Adam, ``learning_rate`` (default 0.01) decayed along a cosine to a tenth of it over ``num_steps``.

    Example:
        >>> fit(key, t, optimizer=default_optimizer(5000, learning_rate=0.003), num_steps=5000)
    """
    num_steps = check_int("default_optimizer", "num_steps", num_steps)
    learning_rate = check_positive_number("default_optimizer", "learning_rate", learning_rate)
    return optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.1))


def _positive_int(name: str, value, minimum: int = 1) -> int:
    return check_int("fit", name, value, minimum)


def _given_loc(t, init) -> jax.Array:
    z = (
        t.unconstrain(init, where="fit: `init`")
        if isinstance(init, dict)
        else jnp.asarray(init, jnp.result_type(float))
    )
    if z.shape != (t.dim,):
        raise ValueError(
            f"fit: `init` gives shape {tuple(z.shape)}; expected ({t.dim},) unconstrained, or a dict "
            "of constrained site values."
        )
    return z


def _search_loc(key, t) -> jax.Array:
    """The first of 20 Stan-style draws, uniform on (-2, 2), with a finite log density and gradient."""

    def candidates(k):
        z = jax.vmap(t.init)(jax.random.split(k, 20))
        values, grads = jax.vmap(jax.value_and_grad(t.logdensity_fn))(z)
        ok = jnp.isfinite(values) & jnp.all(jnp.isfinite(grads), axis=-1)
        return z[jnp.argmax(ok)], jnp.any(ok), z[0]

    z, found, first = jax.jit(candidates)(key)
    if not bool(found):
        sites = t.nonfinite_sites(first)
        raise FloatingPointError(
            f"fit: no finite starting point for model `{t.name}` (z = 0 and 20 tries of uniform(-2, 2) "
            f"on the unconstrained scale). The log density or its gradient is not finite at site(s) "
            f"{sites or '(none found)'}; check their priors, supports and the data, or pass `init`."
        )
    return z


def _build_guide(key, prog, guide, init, init_scale, rank):
    """The initial guide, its display name, its preconditioner (or None) and a note on the start."""
    if not (init is None or isinstance(init, str)) and not isinstance(guide, str):
        raise ValueError(
            "fit: `init` sets where an automatic guide (guide='meanfield', 'fullrank', 'lowrank' or "
            f"'map') starts, but the guide given is {_describe_guide(guide)}, which starts from its own "
            "parameters: drop `init`, or give the starting values as the guide's param inits."
        )
    if rank is not None and not (isinstance(guide, str) and guide == "lowrank"):
        used = f"guide={guide!r}" if isinstance(guide, str) else f"the guide {_describe_guide(guide)}"
        raise ValueError(
            f"fit: `rank` applies to guide='lowrank' only, and this fit uses {used}; leave `rank` "
            "out, or choose guide='lowrank'."
        )
    if isinstance(guide, Guide | CustomGuide):
        return guide, type(guide).__name__, None, "given guide"
    if isinstance(guide, str):
        if guide not in GUIDES:
            raise ValueError(
                f"fit: unknown guide {guide!r}; choose one of {', '.join(map(repr, GUIDES))}, a guide "
                "function written in the model language, or a guide object."
            )
        if prog.target is None:
            raise ValueError(
                f"fit: model `{prog.name}` has discrete latent site(s) "
                f"{[s.name for s in prog.latent if s.is_discrete]}, and the automatic guide "
                f"{guide!r} lives on the continuous unconstrained vector. Write a custom guide."
            )
        t = prog.target
        k_laplace, k_guide = jax.random.split(key)
        note = "z = 0"
        if isinstance(init, str) and init == "laplace":
            try:
                pre, q = laplace_start(k_laplace, t, guide, rank)
                return q, guide, pre, "laplace"
            except FloatingPointError as err:
                note = f"z = 0 (the Laplace start failed: {err})"
            loc = None
        elif init is None or (isinstance(init, str) and init == "zero"):
            loc = None
        elif isinstance(init, str):
            raise ValueError(
                f"fit: unknown init {init!r}; use 'laplace', 'zero', a dict of site values or a vector."
            )
        else:
            loc, note = _given_loc(t, init), "given init"
        if loc is None:
            loc = jnp.zeros((t.dim,), jnp.result_type(float))
        return make_guide(guide, loc, init_scale=init_scale, rank=rank, key=k_guide), guide, None, note
    if callable(guide):
        return (
            custom_guide(key, guide, prog),
            f"custom ({getattr(guide, '__name__', 'guide')})",
            None,
            "guide's init",
        )
    raise TypeError(
        f"fit: `guide` must be a name, a guide function or a guide object, got {_describe_guide(guide)}."
    )


def _describe_guide(guide) -> str:
    if isinstance(guide, Guide | CustomGuide):
        return f"a {type(guide).__name__} object"
    if isinstance(getattr(guide, "guide", None), Guide | CustomGuide):
        return f"a {type(guide).__name__} (to continue a fit, pass its fitted guide, `result.guide`)"
    if callable(guide):
        return f"the guide function `{getattr(guide, '__name__', guide)}`"
    return f"a {type(guide).__name__}"


def _make_chunk_fn(make_estimator, optimizer, chunk_size: int):
    """``run_chunk(carry, start, run_key, num_steps, pre)``: ``chunk_size`` steps from ``start``.

    The key, the step budget and the preconditioner's arrays (``(shift, factor)`` or None) are
    arguments, not constants of the program, so that fits that differ only in them (another
    seed, whose Laplace start differs in the last digits) run the same program: see ``_compile``.
    ``make_estimator(preconditioner)`` builds the ELBO estimator inside the trace.
    """

    def body(carry, i, run_key, num_steps, est):
        guide, opt_state, baseline, count = carry
        (loss, terms), grads = jax.value_and_grad(est.loss_fn, argnums=1, has_aux=True)(
            jax.random.fold_in(run_key, i), guide, baseline
        )
        updates, new_state = optimizer.update(grads, opt_state, guide)
        new_guide = optax.apply_updates(guide, updates)
        finite = jnp.isfinite(loss) & jnp.all(
            jnp.array([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
        )
        ok = finite & (i < num_steps)
        pick = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)
        # Running mean of past ELBOs: the score-function baseline when there is one particle.
        new_baseline = jnp.where(count == 0, terms.elbo, 0.9 * baseline + 0.1 * terms.elbo)
        carry = (pick(new_guide, guide), pick(new_state, opt_state), pick(new_baseline, baseline), count + ok)
        return carry, (terms, finite)

    def run_chunk(carry, start, run_key, num_steps, pre):
        est = make_estimator(None if pre is None else Preconditioner(*pre))
        step = lambda c, i: body(c, i, run_key, num_steps, est)  # noqa: E731
        return jax.lax.scan(step, carry, start + jnp.arange(chunk_size))

    return jax.jit(run_chunk)


def _compile(prog, chunk_fn, *args):
    """Compile the chunk loop, or reuse the program of an earlier fit of the same target.

    Each fit builds its estimator and optimiser afresh, so ``jax.jit`` sees a new function every
    time; the lowered program's text is the same whenever the model, guide, estimator, optimiser
    and chunk are (the key and step budget are arguments), and the target keeps the compiled
    program under that text (:func:`bayeskit._compiled.compile_lowered`).
    """
    return compile_lowered(prog.target, chunk_fn.lower(*args))  # no target (discrete sites): no reuse


def fit(
    key: jax.Array,
    target,
    guide="meanfield",
    *,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float | None = None,
    num_steps: int = 10_000,
    num_particles: int = 1,
    estimator: str = "stl",
    minibatch: bool = True,
    tol: float | None = 1e-4,
    init="laplace",
    init_scale: float = 0.1,
    rank: int | None = None,
    chunk_size: int | None = None,
    progress_bar: bool = True,
    warn: bool = True,
    compilation_cache: bool = True,
) -> VIResult:
    """Fit a variational approximation to the posterior of ``target`` by maximising the ELBO.

    Args:
        key: a ``jax.random`` key.
        target: a :class:`~bayeskit.ppl.Target`, or a model function ``model(m)`` with its data
            bound (for models with discrete latent sites, with a custom guide).
        guide: ``"meanfield"`` (ADVI), ``"fullrank"``, ``"lowrank"``, ``"map"`` (point mass), a
            guide function in the model language (``guide(m)``: ``m.param`` for its parameters,
            ``m.sample`` at every latent site of the model), or a guide object to continue from
            (e.g. ``result.guide``).
        optimizer: an optax optimiser; default :func:`default_optimizer` (Adam, 0.01 -> 0.001).
        learning_rate: the default optimiser's initial step size (default 0.01; it decays along a
            cosine to a tenth of it); not together with ``optimizer``.
        num_steps: the most optimisation steps.
        num_particles: draws from the guide per step (more: less noisy gradients, more work).
        estimator: ``"stl"`` (default: reparameterised, "sticking the landing" gradients,
            which vanish at an exact fit), ``"reparam"``, ``"closed_form_kl"`` (exact KL terms
            where they exist: smoother ``kl`` histories) or ``"score_function"`` (see
            :mod:`bayeskit.vi.elbo`). Discrete sites of custom guides always use the score function.
        minibatch: for models with ``m.plate(..., subsample_size=B)``, score a fresh minibatch at
            every step (likelihood scaled by N / B); False uses all the data every step.
        tol: stop when the windowed mean ELBO changes by less than this, relatively, twice in a
            row; None runs all ``num_steps``.
        init: how the automatic guides start: ``"laplace"`` (default: at the Laplace
            approximation, fitted in coordinates it whitens), ``"zero"`` (z = 0, sd
            ``init_scale``; no L-BFGS run, so quicker for small, well-scaled models), or the
            initial mean as a dict of constrained site values or an unconstrained vector.
        init_scale: the initial standard deviation per coordinate (not with ``"laplace"``).
        rank: the rank of ``"lowrank"`` (default ``min(dim, 10)``).
        chunk_size: steps per compiled chunk and per stopping-rule window (default: 1/50 of
            ``num_steps``, at least 50).
        progress_bar: show a progress bar with the ELBO.
        warn: raise warnings (skipped non-finite steps) as :class:`~bayeskit.SamplingWarning`.
        compilation_cache: keep the compiled programs on disk (:func:`bayeskit.use_compilation_cache`,
            as :func:`bayeskit.mcmc.sample` does) so that a later fit of the same model, in this
            process or another, skips most of its compiling.

    Returns:
        A :class:`VIResult`: the fitted ``guide``, the per-step ``elbo``,
        ``expected_log_likelihood`` and ``kl``, and ``sample(key, n)`` giving a Posterior.

    Raises:
        ValueError: an unknown guide or estimator; ``num_steps`` or ``num_particles`` below 1; a
            ``learning_rate`` or ``init_scale`` that is not a positive number; an ``init`` point
            with a guide that is not automatic; a model without latent sites; an empty data set; a
            custom guide that misses a latent site, draws an extra one, or gives one another
            support (naming the sites).
        FloatingPointError: the ELBO is not finite at the start (naming the sites).

    Example:
        >>> result = fit(jax.random.key(0), target(model, x, y=y), guide="fullrank", num_steps=3000)
        >>> result.elbo[-100:].mean(), result.guide.covariance
        >>> result.sample(jax.random.key(1), 1000).summary()
    """
    key = check_key(key, "vi.fit")
    if compilation_cache:
        use_compilation_cache()
    num_steps = _positive_int("num_steps", num_steps)
    num_particles = _positive_int("num_particles", num_particles)
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"fit: unknown estimator {estimator!r}; choose one of {', '.join(map(repr, ESTIMATORS))}."
        )
    if tol is not None and not (isinstance(tol, int | float) and tol >= 0):
        raise ValueError(f"fit: `tol` must be a non-negative number or None, got {tol!r}.")
    init_scale = check_positive_number("fit", "init_scale", init_scale)
    if learning_rate is not None:
        if optimizer is not None:
            raise ValueError(
                "fit: give either `learning_rate` (for the default Adam optimiser) or `optimizer`, not "
                "both; for your own optimiser, set its learning rate when you build it."
            )
        learning_rate = check_positive_number("fit", "learning_rate", learning_rate)
    if chunk_size is None:
        chunk_size = max(50, math.ceil(num_steps / 50))
    chunk_size = min(_positive_int("chunk_size", chunk_size), num_steps)
    prog = program("fit", target)
    if not prog.latent:
        raise ValueError(
            f"fit: model `{prog.name}` has no latent sites (every m.sample site is observed), so there "
            "is no posterior to approximate: its log evidence is its log likelihood, which "
            "`target.logdensity_fn(jnp.zeros(0))` gives exactly. Add a latent site (m.sample "
            "without obs=) to fit one."
        )
    k_guide, k_run, k_search = jax.random.split(key, 3)
    q, guide_name, pre, start_note = _build_guide(k_guide, prog, guide, init, init_scale, rank)

    def make_estimator(precondition):
        return build_estimator("fit", prog, q, num_particles, estimator, minibatch, precondition)

    est = make_estimator(pre)  # here, so that a bad guide or estimator is an error before compiling
    custom_optimizer = optimizer is not None
    if optimizer is None:
        optimizer = default_optimizer(num_steps, 1e-2 if learning_rate is None else learning_rate)
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(
            f"fit: `optimizer` must be an optax GradientTransformation, got {type(optimizer).__name__}."
        )

    dtype = jnp.result_type(float)
    start = lambda q: (q, optimizer.init(q), jnp.zeros((), dtype), jnp.zeros((), jnp.int32))
    carry = start(q)
    chunk_fn = _make_chunk_fn(make_estimator, optimizer, chunk_size)
    budget = np.int32(num_steps)
    fixed = (k_run, budget, None if pre is None else (pre.shift, pre.factor))
    t0 = time.perf_counter()
    compiled = _compile(prog, chunk_fn, carry, np.int32(0), *fixed)
    compile_time = time.perf_counter() - t0

    history: list[np.ndarray] = []
    finite_steps: list[np.ndarray] = []
    done, converged, interrupted, calm, previous = 0, False, False, 0, None
    progress = _Progress(progress_bar, num_steps)
    t_run = time.perf_counter()
    try:
        with progress:
            while done < num_steps:
                carry, (terms, finite) = compiled(carry, np.int32(done), *fixed)
                n = min(chunk_size, num_steps - done)
                terms, finite = jax.device_get((terms, finite))
                history.append(np.stack([np.asarray(x)[:n] for x in terms], axis=1))
                finite_steps.append(np.asarray(finite)[:n])
                if done == 0 and not finite_steps[0][0] and start_note.startswith("z = 0"):
                    # z = 0 did not work: search as MCMC does, and start over from there.
                    q = make_guide(guide, _search_loc(k_search, prog.target), init_scale=init_scale,
                                   rank=rank, key=k_guide)  # fmt: skip
                    carry, (terms, finite) = compiled(start(q), np.int32(0), *fixed)
                    terms, finite = jax.device_get((terms, finite))
                    history[-1] = np.stack([np.asarray(x)[:n] for x in terms], axis=1)
                    finite_steps[-1] = np.asarray(finite)[:n]
                if done == 0 and not finite_steps[0][0]:
                    sites = est.nonfinite_sites(jax.random.fold_in(k_run, 0), q)
                    raise FloatingPointError(
                        f"fit: the ELBO of model `{prog.name}` is not finite at the start (guide "
                        f"{guide_name}): the log density is not finite at site(s) {sites or '(none found)'}. "
                        "Check their priors, supports and the data (e.g. observations outside the "
                        "likelihood's support), or pass `init`."
                    )
                done += n
                window = history[-1][finite_steps[-1], 0]
                mean = float(window.mean()) if window.size else float("nan")
                rel = None
                if previous is not None and np.isfinite(mean):
                    rel = abs(mean - previous) / max(abs(mean), 1.0)
                previous = mean
                progress.update(done, mean, rel)
                if tol is not None and rel is not None:
                    calm = calm + 1 if rel < tol else 0
                    if calm >= 2:
                        converged = True
                        break
    except KeyboardInterrupt:
        interrupted = True
        if not history:
            raise KeyboardInterrupt("fit: interrupted before the first chunk finished.") from None
    run_time = time.perf_counter() - t_run

    steps = np.concatenate(history, axis=0) if history else np.zeros((0, 3))
    finite_all = np.concatenate(finite_steps) if finite_steps else np.zeros((0,), bool)
    num_bad = int((~finite_all).sum())
    messages = []
    minus_inf = int(np.sum(steps[:, 0] == -np.inf))
    if num_bad and minus_inf <= 0.01 * finite_all.size:
        messages.append(
            f"{num_bad} of {finite_all.size} steps had a non-finite ELBO or gradient and were skipped; "
            "if many, lower the learning rate or init_scale, or check the model's supports."
        )
    elif num_bad:
        messages.append(
            f"{minus_inf} of {finite_all.size} steps drew a point where the model's log density is "
            "-inf: the guide puts mass where the posterior has none, so its ELBO is -inf "
            "(and final_elbo is -inf when this held in the last chunk). This happens when a parameter's support depends on the data "
            "(y ~ Uniform(0, a) needs a > max(y)); reparameterise so that every unconstrained "
            "value is allowed, or use MCMC."
        )
    if num_bad and isinstance(carry[0], CustomGuide):
        # Steps are skipped once a guide param has left its distribution's domain (an
        # unconstrained scale gone negative), and every later step is skipped too: name the site.
        fitted = carry[0]
        detail = invalid_guide_site(fitted, prog, k_run, fitted.constrained_params(), "fitted")
        if detail is not None:
            messages.append(detail)
    _check_not_collapsed(carry[0], done, num_bad, learning_rate, custom_optimizer=custom_optimizer)
    if "Laplace start failed" in start_note:
        messages.append(f"fit: started at {start_note}; the guide was fitted without preconditioning.")
    if interrupted:
        messages.append(f"interrupted: kept the guide after {done} steps.")
    info = {
        "guide": guide_name,
        "estimator": estimator,
        "num_particles": num_particles,
        "num_steps": int(done),
        "max_steps": num_steps,
        "chunk_size": chunk_size,
        "minibatch": bool(minibatch and prog.is_subsampled),
        "tol": tol,
        "converged": converged,
        "interrupted": interrupted,
        "num_nonfinite_steps": num_bad,
        "compile_time": compile_time,
        "run_time": run_time,
        "model": prog.name,
        "start": start_note,
    }
    if warn:
        for m in messages:
            warnings.warn(m, SamplingWarning, stacklevel=user_stacklevel())
    return VIResult(
        guide=carry[0] if pre is None else pre.to_z_guide(carry[0]),
        elbo=steps[:, 0],
        expected_log_likelihood=steps[:, 1],
        kl=steps[:, 2],
        info=info,
        warnings=messages,
        _program=prog,
    )


def _check_not_collapsed(q, done: int, num_bad: int, learning_rate, custom_optimizer: bool) -> None:
    """Raise a ``FloatingPointError`` when a built-in guide ended with a zero or non-finite scale.

    One step too large (a learning rate of 1e6) can send a log scale to -1e6, after which every
    step is non-finite and skipped: the guide left is a point at best, and mapping it back from
    the preconditioned space failed with "`scale` must be positive". Say what happened instead.
    """
    if not isinstance(q, Guide) or isinstance(q, PointMassGuide):
        return
    variance = np.asarray(q.variance)
    bad = ~(np.isfinite(variance) & (variance > 0)) | ~np.isfinite(np.asarray(q.loc))
    if not bad.any():
        return
    if custom_optimizer:
        lower = "your optimizer's learning rate"
    else:
        lower = f"`learning_rate` (it was {'0.01, the default' if learning_rate is None else f'{learning_rate:g}'})"
    raise FloatingPointError(
        f"fit: the guide collapsed: after {done} steps ({num_bad} skipped as non-finite) its scale "
        f"is 0 or its parameters are not finite in {int(bad.sum())} of {bad.size} coordinates "
        f"(first: {int(np.argmax(bad))}). The steps were too large for this model: lower {lower} "
        "or `init_scale`."
    )


class _Progress(ProgressBar):
    """VI's bar: the windowed ELBO and its relative change."""

    def __init__(self, enabled: bool, total: int):
        super().__init__(enabled, total, "VI")

    def update(self, done: int, elbo: float, rel: float | None) -> None:
        self.show(done, f"ELBO {elbo:.6g}" + ("" if rel is None else f"  rel. change {rel:.1e}"))
