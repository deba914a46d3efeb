"""bayeskit NUTS against its peers: NumPyro, BlackJAX and nutpie (PyMC), in one run on one machine.

Four models, each written once per library from that library's documented API, all sampling the
same density over the same unconstrained parameters (positive parameters on the log scale):

1. ``eight_schools``: eight schools, non-centred (dim 10).
2. ``logistic``: logistic regression, n = 5,000, d = 25; N(0, 1) weights, N(0, 5) intercept (dim 26).
3. ``hierarchical``: radon-like varying-intercept regression, 85 groups, n = 919, one (binary,
   floor-like) covariate, simulated with a fixed seed; non-centred intercepts (dim 89).
4. ``gaussian_100d``: a 100-dimensional Gaussian with condition number 1e4: diagonal, with
   standard deviations log-spaced from 1e-2 to 1 (covariance eigenvalues from 1e-4 to 1). It is
   diagonal on purpose, so that diagonal mass-matrix adaptation can undo the scaling.

Every library runs 4 chains x (num_warmup + num_samples) NUTS iterations in float64 with its
defaults (target acceptance 0.8, maximum tree depth 10, diagonal mass matrix adapted in warmup):

- bayeskit: ``bayeskit.mcmc.sample`` (chains sharded over the 2 host devices; on a CPU each device
  runs its chains one after another with ``lax.map``).
- NumPyro: ``MCMC(NUTS(model), chain_method="vectorized")`` (chains vmapped, one device).
- BlackJAX: ``blackjax.window_adaptation`` run for each chain, then ``blackjax.nuts`` steps in a
  ``lax.scan``; adaptation and sampling vmapped over chains in one jitted function (one device).
- nutpie: ``nutpie.compile_pymc_model`` (numba backend) on a PyMC model, ``nutpie.sample`` with 4
  chains on 2 cores (threads). Its warmup adapts the mass matrix from draw and gradient variances.
  PyTensor's on-disk compilation cache is pointed at a fresh temporary directory in every
  process, so that its compile time is a cold one, as JAX's are (JAX keeps no persistent cache by
  default).

Measured per library and model (one run each, same seed, libraries interleaved per model and
their order rotated from one model to the next), each run in a new Python process of its own
(with its own empty PyTensor cache folder) that has only started JAX's backend before it: as a
user's script fitting one model would. Runs in one shared process reuse what earlier runs
compiled (numba's and PyTensor's pieces for nutpie: the 100-d Gaussian compiled in 1.4 s after
eight schools, in 3.9 s in a new process); ``--in-process`` measures that way, as results before
2026-11-30 did.

- wall time: from the data at hand to draws in NumPy arrays, including building the model,
  initialisation, compilation, warmup and sampling.
- compile time: for the JAX libraries, the union of the time spans that ``jax.monitoring``
  reports for tracing, lowering to MLIR and XLA compilation during the run (the same method for
  all three; bayeskit's own ``info["compile_time"]``, the ahead-of-time compilation of its main
  loop, is reported beside it). For nutpie, the time of ``nutpie.compile_pymc_model``.
- min bulk ESS: ``bayeskit.diagnostics.ess_bulk`` on every library's draws of the latent
  parameters (the same estimator for all; bulk ESS is rank-based, so the constrained or
  unconstrained scale gives the same value), minimum over all scalar parameters.
- gradient evaluations: leapfrog steps of the kept draws (sampling phase, warmup excluded, since
  bayeskit and NumPyro report only those), summed over chains: bayeskit ``num_steps``, NumPyro
  ``num_steps``, BlackJAX ``info.num_integration_steps``, nutpie ``n_steps``.
- ESS/s (wall, compile included), ESS per gradient evaluation, and bayeskit's ESS/s over the best
  peer's.
- for the logistic model, bayeskit's wall time per gradient evaluation inside NUTS (time of the
  chunks after warmup, from the driver's ``callback``, over their gradient evaluations) over the
  time of one bare jitted ``value_and_grad`` of ``target.logdensity_fn`` (goal <= 1.1); the
  same breakdown (compile, warmup, sampling, the rest) for every model.
- a second model in a session (``--no-session`` skips it): every library's run again in a new
  process, right after the same library fit a small unrelated model there
  (:func:`make_session_opener`, untimed), so that what a library compiles once per process
  whatever the model is already built, as in a notebook or a script that fits several models.
- supplementary, not in the ratios: bayeskit once more per model in a child process that sees a
  single host device (``--no-one-device`` skips it), since its driver shards chains over all
  devices it sees and that choice is bayeskit's, not the benchmark's.
- a second run with a persistent compilation cache (``--no-second-run`` skips it), per library
  and model in a child process of its own: an empty cache folder, one run that fills it, then
  ``jax.clear_caches()`` (what a new process starts with) and the same run again. The three JAX
  libraries get JAX's persistent cache set up the same way (``bayeskit.use_compilation_cache``,
  which bayeskit's ``sample`` turns on by default; NumPyro and BlackJAX users can turn JAX's cache
  on by hand); nutpie keeps PyTensor's on-disk cache from its first run. Tracing and lowering are
  paid again in the second run; XLA compilation is loaded from disk.

Same density: each library's log density is evaluated at two points and the differences compared
(the densities agree up to a constant), and posterior means are compared at the end.

Run:  python benchmarks/mcmc_peers.py                  (writes results/mcmc_peers.{json,md})
      python benchmarks/mcmc_peers.py --quick          (200 + 200 iterations; writes nothing)
      python benchmarks/mcmc_peers.py --models logistic gaussian_100d   (a subset; overwrites results)
      nice -n 5 python benchmarks/mcmc_peers.py   (how the committed results were made)
      python benchmarks/mcmc_peers.py --seed 1 --tag seed1 --no-second-run --no-one-device
                                                       (another seed; writes results/mcmc_peers_seed1.*)
      python benchmarks/mcmc_peers.py --summary seed1 seed2
                                                       (each library's median ESS/s over the committed run
                                                        and the tagged ones: results/mcmc_peers_seeds.*)
"""

from __future__ import annotations

import os

# Two host devices, so that libraries that can spread chains over both cores do (before jax loads).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
# The main comparison is of first runs: bayeskit's on-disk compilation cache (on by default in
# `sample`) is off here, and measured separately, for every JAX library alike, in child processes.
os.environ["BAYESKIT_COMPILATION_CACHE"] = "off"

import argparse  # noqa: E402
import atexit  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import blackjax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as ndist  # noqa: E402
from _revision import bayeskit_version  # noqa: E402
from jax.scipy.stats import cauchy, norm  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402
from numpyro.infer.util import potential_energy  # noqa: E402

import bayeskit.dist as bdist  # noqa: E402
from bayeskit.datasets import eight_schools, make_classification  # noqa: E402
from bayeskit.diagnostics import ess_bulk  # noqa: E402
from bayeskit.mcmc import sample  # noqa: E402
from bayeskit.ppl import target  # noqa: E402

# PyTensor (under PyMC and nutpie) caches compiled code on disk across processes; JAX does not by
# default. A fresh cache directory per run makes nutpie's compile time a cold one, like the others'.
PYTENSOR_CACHE = tempfile.mkdtemp(prefix="mcmc_peers_pytensor_")
atexit.register(shutil.rmtree, PYTENSOR_CACHE, True)
os.environ.setdefault("PYTENSOR_FLAGS", f"base_compiledir={PYTENSOR_CACHE}")

try:  # nutpie needs PyMC (and numba); skip it gracefully when they are missing.
    import nutpie
    import pymc as pm

    NUTPIE_ERROR = None
except Exception as err:  # pragma: no cover - depends on the environment
    nutpie = pm = None
    NUTPIE_ERROR = f"{type(err).__name__}: {err}"

RESULTS = Path(__file__).parent / "results"
LIBRARIES = ("bayeskit", "numpyro", "blackjax", "nutpie")
PEERS = LIBRARIES[1:]
SEED = 20240611
NUM_CHAINS = 4
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


# --------------------------------------------------------------------------------------- models
@dataclasses.dataclass
class Model:
    """One model in all four libraries, over one parameter layout.

    ``params`` lists ``(name, shape, positive)`` in the order of the flat unconstrained vector;
    positive parameters are on the log scale there (every library's default transform).
    """

    name: str
    description: str
    params: list[tuple[str, tuple[int, ...], bool]]
    bayeskit_target: Callable[[], object]  # () -> bayeskit Target
    numpyro_model: Callable
    numpyro_args: tuple
    logdensity: Callable  # BlackJAX: hand-written JAX log density of the flat vector
    pymc_model: Callable[[], object] | None  # () -> pm.Model

    @property
    def dim(self) -> int:
        return sum(int(np.prod(s, dtype=int)) for _, s, _ in self.params)

    def unflatten(self, z) -> dict:
        """Flat unconstrained vector(s) ``(..., dim)`` -> ``{name: unconstrained value}``."""
        out, i = {}, 0
        for name, shape, _ in self.params:
            size = int(np.prod(shape, dtype=int))
            out[name] = z[..., i : i + size].reshape(z.shape[:-1] + shape)
            i += size
        return out

    def constrain(self, z) -> dict:
        u = self.unflatten(z)
        return {n: (np.exp(u[n]) if pos else u[n]) for n, _, pos in self.params}


def half_normal_logpdf(x, scale):
    return jnp.log(2.0) + norm.logpdf(x, 0.0, scale)


def make_eight_schools() -> Model:
    data = eight_schools()
    y, sigma = np.asarray(data.y), np.asarray(data.extra["sigma"])

    def bk_model(m, sigma, y=None):
        mu = m.sample("mu", bdist.Normal(0.0, 5.0))
        tau = m.sample("tau", bdist.HalfCauchy(5.0))
        with m.plate("school", sigma.shape[0]):
            theta_raw = m.sample("theta_raw", bdist.Normal(0.0, 1.0))
            m.sample("y", bdist.Normal(mu + tau * theta_raw, sigma), obs=y)

    def np_model(sigma, y=None):
        mu = numpyro.sample("mu", ndist.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", ndist.HalfCauchy(5.0))
        with numpyro.plate("school", sigma.shape[0]):
            theta_raw = numpyro.sample("theta_raw", ndist.Normal(0.0, 1.0))
            numpyro.sample("y", ndist.Normal(mu + tau * theta_raw, sigma), obs=y)

    ys, ss = jnp.asarray(y), jnp.asarray(sigma)

    def logdensity(z):
        mu, log_tau, theta_raw = z[0], z[1], z[2:]
        tau = jnp.exp(log_tau)
        lp = norm.logpdf(mu, 0.0, 5.0) + jnp.log(2.0) + cauchy.logpdf(tau, 0.0, 5.0) + log_tau
        lp += jnp.sum(norm.logpdf(theta_raw))
        return lp + jnp.sum(norm.logpdf(ys, mu + tau * theta_raw, ss))

    def pymc_model():
        with pm.Model() as model:
            mu = pm.Normal("mu", 0.0, 5.0)
            tau = pm.HalfCauchy("tau", 5.0)
            theta_raw = pm.Normal("theta_raw", 0.0, 1.0, shape=8)
            pm.Normal("y", mu + tau * theta_raw, sigma=sigma, observed=y)
        return model

    return Model(
        name="eight_schools",
        description="Eight schools, non-centred: mu ~ N(0, 5), tau ~ HalfCauchy(5), theta_raw ~ N(0, 1).",
        params=[("mu", (), False), ("tau", (), True), ("theta_raw", (8,), False)],
        bayeskit_target=lambda: target(bk_model, jnp.asarray(sigma), y=jnp.asarray(y)),
        numpyro_model=np_model,
        numpyro_args=(jnp.asarray(sigma), jnp.asarray(y)),
        logdensity=logdensity,
        pymc_model=pymc_model,
    )


def make_logistic() -> Model:
    data = make_classification(jax.random.key(0), num_samples=5000, num_features=25, weight_scale=0.5)
    X, y = np.asarray(data.X), np.asarray(data.y, dtype=np.float64)
    d = X.shape[1]

    def bk_model(m, X, y):
        w = m.sample("w", bdist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
        b = m.sample("b", bdist.Normal(0.0, 5.0))
        with m.plate("data", X.shape[0]):
            m.sample("y", bdist.Bernoulli(logits=X @ w + b), obs=y)

    def np_model(X, y):
        w = numpyro.sample("w", ndist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
        b = numpyro.sample("b", ndist.Normal(0.0, 5.0))
        with numpyro.plate("data", X.shape[0]):
            numpyro.sample("y", ndist.Bernoulli(logits=X @ w + b), obs=y)

    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def logdensity(z):
        w, b = z[:d], z[d]
        logits = Xj @ w + b
        lp = jnp.sum(norm.logpdf(w)) + norm.logpdf(b, 0.0, 5.0)
        return lp + jnp.sum(yj * logits - jax.nn.softplus(logits))

    def pymc_model():
        with pm.Model() as model:
            w = pm.Normal("w", 0.0, 1.0, shape=d)
            b = pm.Normal("b", 0.0, 5.0)
            pm.Bernoulli("y", logit_p=pm.math.dot(X, w) + b, observed=y)
        return model

    return Model(
        name="logistic",
        description="Logistic regression, n = 5,000, d = 25: w ~ N(0, 1), b ~ N(0, 5), y ~ Bernoulli(logit = Xw + b).",
        params=[("w", (d,), False), ("b", (), False)],
        bayeskit_target=lambda: target(bk_model, jnp.asarray(X), jnp.asarray(y)),
        numpyro_model=np_model,
        numpyro_args=(Xj, yj),
        logdensity=logdensity,
        pymc_model=pymc_model,
    )


def radon_like_data(seed: int = 919, num_groups: int = 85, n: int = 919):
    """Simulated radon-like data: uneven group sizes (1 to ~100), a binary floor-like covariate."""
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(0.0, 1.2, num_groups)
    sizes = 1 + rng.multinomial(n - num_groups, weights / weights.sum())
    group = np.repeat(np.arange(num_groups), sizes)
    x = rng.binomial(1, 0.17, n).astype(np.float64)  # like radon's "first floor" indicator
    mu_a, sigma_a, b, sigma_y = 1.5, 0.35, -0.65, 0.75
    a = mu_a + sigma_a * rng.standard_normal(num_groups)
    y = a[group] + b * x + sigma_y * rng.standard_normal(n)
    return group, x, y, sizes


def make_hierarchical() -> Model:
    group, x, y, sizes = radon_like_data()
    J = int(sizes.shape[0])

    def bk_model(m, group, x, y):
        mu_a = m.sample("mu_a", bdist.Normal(0.0, 10.0))
        sigma_a = m.sample("sigma_a", bdist.HalfNormal(5.0))
        with m.plate("group", J):
            a_raw = m.sample("a_raw", bdist.Normal(0.0, 1.0))
        b = m.sample("b", bdist.Normal(0.0, 10.0))
        sigma_y = m.sample("sigma_y", bdist.HalfNormal(5.0))
        a = mu_a + sigma_a * a_raw
        with m.plate("data", y.shape[0]):
            m.sample("y", bdist.Normal(a[group] + b * x, sigma_y), obs=y)

    def np_model(group, x, y):
        mu_a = numpyro.sample("mu_a", ndist.Normal(0.0, 10.0))
        sigma_a = numpyro.sample("sigma_a", ndist.HalfNormal(5.0))
        with numpyro.plate("group", J):
            a_raw = numpyro.sample("a_raw", ndist.Normal(0.0, 1.0))
        b = numpyro.sample("b", ndist.Normal(0.0, 10.0))
        sigma_y = numpyro.sample("sigma_y", ndist.HalfNormal(5.0))
        a = mu_a + sigma_a * a_raw
        with numpyro.plate("data", y.shape[0]):
            numpyro.sample("y", ndist.Normal(a[group] + b * x, sigma_y), obs=y)

    gj, xj, yj = jnp.asarray(group), jnp.asarray(x), jnp.asarray(y)

    def logdensity(z):
        mu_a, log_sa, a_raw, b, log_sy = z[0], z[1], z[2 : 2 + J], z[2 + J], z[3 + J]
        sigma_a, sigma_y = jnp.exp(log_sa), jnp.exp(log_sy)
        lp = norm.logpdf(mu_a, 0.0, 10.0) + half_normal_logpdf(sigma_a, 5.0) + log_sa
        lp += jnp.sum(norm.logpdf(a_raw)) + norm.logpdf(b, 0.0, 10.0)
        lp += half_normal_logpdf(sigma_y, 5.0) + log_sy
        a = mu_a + sigma_a * a_raw
        return lp + jnp.sum(norm.logpdf(yj, a[gj] + b * xj, sigma_y))

    def pymc_model():
        with pm.Model() as model:
            mu_a = pm.Normal("mu_a", 0.0, 10.0)
            sigma_a = pm.HalfNormal("sigma_a", 5.0)
            a_raw = pm.Normal("a_raw", 0.0, 1.0, shape=J)
            b = pm.Normal("b", 0.0, 10.0)
            sigma_y = pm.HalfNormal("sigma_y", 5.0)
            a = mu_a + sigma_a * a_raw
            pm.Normal("y", a[group] + b * x, sigma=sigma_y, observed=y)
        return model

    return Model(
        name="hierarchical",
        description=(
            f"Radon-like varying intercepts, {J} groups (sizes {sizes.min()} to {sizes.max()}, median "
            f"{int(np.median(sizes))}), n = {y.shape[0]}, one binary covariate; simulated (seed 919). "
            "mu_a ~ N(0, 10), sigma_a ~ HalfNormal(5), a_j = mu_a + sigma_a a_raw_j (non-centred), "
            "b ~ N(0, 10), sigma_y ~ HalfNormal(5)."
        ),
        params=[
            ("mu_a", (), False),
            ("sigma_a", (), True),
            ("a_raw", (J,), False),
            ("b", (), False),
            ("sigma_y", (), True),
        ],
        bayeskit_target=lambda: target(bk_model, gj, xj, yj),
        numpyro_model=np_model,
        numpyro_args=(gj, xj, yj),
        logdensity=logdensity,
        pymc_model=pymc_model,
    )


def make_gaussian() -> Model:
    dim = 100
    sd = np.logspace(-2.0, 0.0, dim)  # covariance eigenvalues from 1e-4 to 1: condition number 1e4
    sdj = jnp.asarray(sd)

    def bk_model(m, sd):
        m.sample("x", bdist.Normal(0.0, sd).to_event(1))

    def np_model(sd):
        numpyro.sample("x", ndist.Normal(0.0, sd).to_event(1))

    def logdensity(z):
        return jnp.sum(norm.logpdf(z, 0.0, sdj))

    def pymc_model():
        with pm.Model() as model:
            pm.Normal("x", 0.0, sigma=sd, shape=dim)
        return model

    return Model(
        name="gaussian_100d",
        description=(
            "100-d Gaussian N(0, diag(sd^2)), sd log-spaced from 1e-2 to 1: condition number 1e4, "
            "diagonal (so diagonal mass-matrix adaptation can remove it)."
        ),
        params=[("x", (dim,), False)],
        bayeskit_target=lambda: target(bk_model, sdj),
        numpyro_model=np_model,
        numpyro_args=(sdj,),
        logdensity=logdensity,
        pymc_model=pymc_model,
    )


def make_session_opener() -> Model:
    """A small unrelated model that a session fits first (the ``--no-session`` measurement)."""

    def bk_model(m):
        m.sample("loc", bdist.Normal(1.0, 2.0))
        m.sample("scale", bdist.HalfNormal(1.0))

    def np_model():
        numpyro.sample("loc", ndist.Normal(1.0, 2.0))
        numpyro.sample("scale", ndist.HalfNormal(1.0))

    def logdensity(z):
        return norm.logpdf(z[0], 1.0, 2.0) + half_normal_logpdf(jnp.exp(z[1]), 1.0) + z[1]

    def pymc_model():
        with pm.Model() as model:
            pm.Normal("loc", 1.0, 2.0)
            pm.HalfNormal("scale", 1.0)
        return model

    return Model(
        name="session_opener",
        description="loc ~ N(1, 2), scale ~ HalfNormal(1): a first fit that warms a session.",
        params=[("loc", (), False), ("scale", (), True)],
        bayeskit_target=lambda: target(bk_model),
        numpyro_model=np_model,
        numpyro_args=(),
        logdensity=logdensity,
        pymc_model=pymc_model,
    )


MODELS = {
    "eight_schools": make_eight_schools,
    "logistic": make_logistic,
    "hierarchical": make_hierarchical,
    "gaussian_100d": make_gaussian,
}


# ------------------------------------------------------------------------------ measurement aids
class CompileTimer:
    """Union of the time spans JAX reports for tracing, lowering and XLA compilation."""

    def __init__(self):
        self.spans: list[tuple[float, float]] = []
        self.by_function: dict[str, float] = {}
        self.active = False
        jax.monitoring.register_event_time_span_listener(self._listen)

    def _listen(self, event, start, end, **kwargs):
        if self.active and event in COMPILE_EVENTS:
            self.spans.append((start, end))
            if event == COMPILE_EVENTS[-1]:  # XLA compilation, by function
                name = str(kwargs.get("fun_name", "?"))
                self.by_function[name] = self.by_function.get(name, 0.0) + (end - start)

    def __enter__(self):
        self.spans, self.by_function, self.active = [], {}, True
        return self

    def __exit__(self, *exc):
        self.active = False

    @property
    def seconds(self) -> float:
        total, last_end = 0.0, -np.inf
        for start, end in sorted(self.spans):
            if end > last_end:
                total += end - max(start, last_end)
                last_end = end
        return total


COMPILE_TIMER = CompileTimer()


def min_bulk_ess(draws: dict) -> tuple[float, str]:
    """Smallest bulk ESS over every scalar of every parameter, and where it is."""
    worst, where = np.inf, ""
    for name, x in draws.items():
        ess = np.atleast_1d(np.asarray(ess_bulk(np.asarray(x))))
        i = int(np.argmin(ess))
        if ess[i] < worst:
            worst, where = float(ess[i]), name if ess.size == 1 else f"{name}[{i}]"
    return worst, where


def time_per_call(fns: dict, x: dict, rounds: int = 5, repeats: int = 7) -> dict[str, float]:
    """Median seconds per call of jitted functions, measured interleaved in several rounds."""
    inner = {}
    for k, f in fns.items():
        jax.block_until_ready(f(x[k]))
        start = time.perf_counter()
        jax.block_until_ready(f(x[k]))
        inner[k] = max(10, int(0.005 / max(time.perf_counter() - start, 1e-7)))  # ~5 ms a repeat
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            for _ in range(repeats):
                start = time.perf_counter()
                for _ in range(inner[k]):
                    out = f(x[k])
                jax.block_until_ready(out)
                times[k].append((time.perf_counter() - start) / inner[k])
    return {k: float(np.median(v)) for k, v in times.items()}


# ------------------------------------------------------------------------------------- runners
def run_bayeskit(model: Model, seed: int, num_warmup: int, num_samples: int) -> dict:
    stamps: list[tuple[int, float]] = []
    with COMPILE_TIMER as timer:
        start = time.perf_counter()
        t = model.bayeskit_target()
        post = sample(
            jax.random.key(seed),
            t,
            num_chains=NUM_CHAINS,
            num_warmup=num_warmup,
            num_samples=num_samples,
            # Set only to measure the options (ess_per_gradient.py's docstring); default "auto".
            final_step_size=os.environ.get("BAYESKIT_FINAL_STEP_SIZE"),
            progress_bar=False,
            warn=False,
            callback=lambda done, total: stamps.append((done, time.perf_counter())),
        )
        draws = {n: np.asarray(post.draws[n]) for n, _, _ in model.params}
        wall = time.perf_counter() - start
    steps = np.asarray(post.sample_stats["num_steps"])  # [chain, draw]
    # Sampling-phase timing: the chunks that hold only post-warmup iterations.
    first = next(i for i, (done, _) in enumerate(stamps) if done >= num_warmup)
    boundary, t_boundary = stamps[first]
    phase = {
        "iterations": stamps[-1][0] - boundary,
        "seconds": stamps[-1][1] - t_boundary,
        "grad_evals": int(steps[:, boundary - num_warmup :].sum()),
        "lockstep_grad_evals": int(NUM_CHAINS * steps[:, boundary - num_warmup :].max(axis=0).sum()),
    }
    phase["warmup_seconds"] = float(post.info["sampling_time"]) - phase["seconds"]
    return {
        "draws": draws,
        "wall_s": wall,
        "compile_s": timer.seconds,
        "compile_own_s": float(post.info["compile_time"]),
        "xla_compile_by_function": dict(sorted(timer.by_function.items(), key=lambda kv: -kv[1])),
        "sampling_s": float(post.info["sampling_time"]),
        "grad_evals": int(steps.sum()),
        "divergences": int(np.sum(post.sample_stats["diverging"])),
        "step_size": [float(s) for s in post.info["step_size"]],
        "mean_tree_depth": float(np.mean(post.sample_stats["tree_depth"])),
        "sampling_phase": phase,
        "steps": steps,
        "target": t,
    }


def run_numpyro(model: Model, seed: int, num_warmup: int, num_samples: int) -> dict:
    with COMPILE_TIMER as timer:
        start = time.perf_counter()
        mcmc = MCMC(
            NUTS(model.numpyro_model),
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=NUM_CHAINS,
            chain_method="vectorized",
            progress_bar=False,
        )
        mcmc.run(jax.random.key(seed), *model.numpyro_args, extra_fields=("num_steps", "diverging"))
        samples = mcmc.get_samples(group_by_chain=True)
        draws = {n: np.asarray(samples[n]) for n, _, _ in model.params}
        extra = mcmc.get_extra_fields(group_by_chain=True)
        steps = np.asarray(extra["num_steps"])
        wall = time.perf_counter() - start
    return {
        "draws": draws,
        "wall_s": wall,
        "compile_s": timer.seconds,
        "grad_evals": int(steps.sum()),
        "divergences": int(np.sum(extra["diverging"])),
        "steps": steps,
    }


def run_blackjax(model: Model, seed: int, num_warmup: int, num_samples: int) -> dict:
    with COMPILE_TIMER as timer:
        start = time.perf_counter()
        logdensity = model.logdensity
        warmup = blackjax.window_adaptation(blackjax.nuts, logdensity, target_acceptance_rate=0.8)

        def one_chain(key, position):
            key_warmup, key_sample = jax.random.split(key)
            (state, parameters), adapt_info = warmup.run(key_warmup, position, num_steps=num_warmup)
            kernel = blackjax.nuts(logdensity, **parameters)

            def step(state, key):
                state, info = kernel.step(key, state)
                return state, (state.position, info.num_integration_steps, info.is_divergent)

            _, out = jax.lax.scan(step, state, jax.random.split(key_sample, num_samples))
            return out + (adapt_info.info.num_integration_steps, parameters["step_size"])

        key_init, key_chains = jax.random.split(jax.random.key(seed))
        # Stan's initialisation, as the others do: uniform(-2, 2) on the unconstrained scale.
        positions = jax.random.uniform(key_init, (NUM_CHAINS, model.dim), minval=-2.0, maxval=2.0)
        out = jax.jit(jax.vmap(one_chain))(jax.random.split(key_chains, NUM_CHAINS), positions)
        z, steps, divergent, warmup_steps, step_size = jax.device_get(out)
        draws = model.constrain(np.asarray(z))
        wall = time.perf_counter() - start
    return {
        "draws": draws,
        "wall_s": wall,
        "compile_s": timer.seconds,
        "grad_evals": int(np.sum(steps)),
        "warmup_grad_evals": int(np.sum(warmup_steps)),
        "divergences": int(np.sum(divergent)),
        "step_size": [float(s) for s in step_size],
        "steps": np.asarray(steps),
    }


def run_nutpie(model: Model, seed: int, num_warmup: int, num_samples: int) -> dict:
    start = time.perf_counter()
    pymc_model = model.pymc_model()
    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(pymc_model)
    compile_s = time.perf_counter() - t0
    trace = nutpie.sample(
        compiled,
        draws=num_samples,
        tune=num_warmup,
        chains=NUM_CHAINS,
        cores=2,
        seed=seed,
        progress_bar=False,
    )
    draws = {n: np.asarray(trace.posterior[n].values) for n, _, _ in model.params}
    wall = time.perf_counter() - start
    steps = np.asarray(trace.sample_stats["n_steps"].values)
    out = {
        "draws": draws,
        "wall_s": wall,
        "compile_s": compile_s,
        "grad_evals": int(steps.sum()),
        "divergences": int(np.sum(trace.sample_stats["diverging"].values)),
        "steps": steps,
    }
    if "warmup_sample_stats" in trace.groups():
        out["warmup_grad_evals"] = int(np.sum(trace.warmup_sample_stats["n_steps"].values))
    if "step_size" in trace.sample_stats:
        out["step_size"] = [float(s) for s in np.asarray(trace.sample_stats["step_size"].values)[:, -1]]
    return out


RUNNERS = {
    "bayeskit": run_bayeskit,
    "numpyro": run_numpyro,
    "blackjax": run_blackjax,
    "nutpie": run_nutpie,
}


# ------------------------------------------------------------------------------- same density
def log_densities(model: Model, z) -> dict[str, float]:
    """Each library's log density (unconstrained, Jacobian included) at the flat vector ``z``."""
    out = {"bayeskit": float(model.bayeskit_target().logdensity_fn(jnp.asarray(z)))}
    params = {k: jnp.asarray(v) for k, v in model.unflatten(np.asarray(z)).items()}
    out["numpyro"] = -float(potential_energy(model.numpyro_model, model.numpyro_args, {}, params))
    out["blackjax"] = float(model.logdensity(jnp.asarray(z)))
    if pm is not None:
        pymc_model = model.pymc_model()
        point = {}
        for name, _, _ in model.params:
            value_var = pymc_model.rvs_to_values[pymc_model[name]]
            point[value_var.name] = np.asarray(params[name])
        logp = pymc_model.compile_logp(jacobian=True)
        out["nutpie"] = float(logp(point))
    return out


def density_check(model: Model, seed: int) -> dict:
    """log p(z1) - log p(z2) in every library (equal when the densities agree up to a constant)."""
    rng = np.random.default_rng(seed)
    z1, z2 = 0.5 * rng.standard_normal((2, model.dim))
    a, b = log_densities(model, z1), log_densities(model, z2)
    diffs = {k: a[k] - b[k] for k in a}
    ref = diffs["bayeskit"]
    return {
        "logp_z1": a,
        "difference_z1_minus_z2": diffs,
        "max_abs_deviation_from_bayeskit": max(abs(v - ref) for v in diffs.values()),
    }


def mean_check(results: dict) -> dict[str, float]:
    """Largest |posterior mean - bayeskit's| over all scalars, in bayeskit posterior sds."""
    ref = results["bayeskit"]["draws"]
    out = {}
    for lib, r in results.items():
        if lib == "bayeskit" or "draws" not in r:
            continue
        worst = 0.0
        for name, x in ref.items():
            x = np.asarray(x)
            y = np.asarray(r["draws"][name])
            sd = x.reshape((-1,) + x.shape[2:]).std(axis=0)
            dev = np.abs(y.mean(axis=(0, 1)) - x.mean(axis=(0, 1))) / sd
            worst = max(worst, float(np.max(dev)))
        out[lib] = worst
    return out


# ------------------------------------------------------------------------ gradient-time overhead
def gradient_overhead(run: dict) -> dict:
    """Where bayeskit's time goes, and its time per gradient evaluation over a bare jitted gradient."""
    t = run["target"]
    phase = run["sampling_phase"]
    z = t.unconstrain({k: v[0, -1] for k, v in run["draws"].items()})  # a point in the posterior
    # The driver shards the chains over the devices when they divide evenly: a batch per device.
    devices = jax.device_count()
    batch = NUM_CHAINS // devices if NUM_CHAINS % devices == 0 else NUM_CHAINS
    value_and_grad = jax.value_and_grad(t.logdensity_fn)
    times = time_per_call(
        {"bare": jax.jit(value_and_grad), "batch": jax.jit(jax.vmap(value_and_grad))},
        {"bare": z, "batch": jnp.stack([z] * batch)},
    )
    per_grad = phase["seconds"] / phase["grad_evals"]
    # Vmapped chains advance in lockstep: each iteration lasts as long as the longest of the 4
    # trajectories. With the devices in parallel, the floor of the sampling phase is that many
    # gradients batched over one device's chains.
    lockstep_floor = phase["lockstep_grad_evals"] / NUM_CHAINS * times["batch"]
    return {
        "bare_value_and_grad_us": times["bare"] * 1e6,
        "devices": devices,
        "batch_per_device": batch,
        "batched_value_and_grad_us": times["batch"] * 1e6,
        "sampling_phase_s": phase["seconds"],
        "sampling_phase_grad_evals": phase["grad_evals"],
        "warmup_loop_s": phase["warmup_seconds"],
        "per_grad_in_nuts_us": per_grad * 1e6,
        "ratio_to_bare": per_grad / times["bare"],
        "lockstep_factor": phase["lockstep_grad_evals"] / phase["grad_evals"],
        "ratio_to_lockstep_floor": phase["seconds"] / lockstep_floor,
        "wall_s": run["wall_s"],
        "compile_s": run["compile_s"],
        "other_s": run["wall_s"] - run["compile_s"] - run["sampling_s"],
        "main_loop_compile_s": run["compile_own_s"],
        "xla_compile_outside_main_loop_s": sum(
            v for k, v in run["xla_compile_by_function"].items() if "run_chunk" not in k
        ),
        "xla_compile_functions_outside_main_loop": sum(
            1 for k in run["xla_compile_by_function"] if "run_chunk" not in k
        ),
    }


# ---------------------------------------------------------------------------------------- main
def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("jax", "jaxlib", "numpyro", "blackjax", "pymc", "pytensor", "nutpie", "numba", "numpy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    out["bayeskit"] = bayeskit_version()  # with the commit the run measured
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def summarise(lib: str, r: dict) -> dict:
    ess, where = min_bulk_ess(r["draws"])
    row = {
        "library": lib,
        "wall_s": r["wall_s"],
        "compile_s": r["compile_s"],
        "min_ess_bulk": ess,
        "min_ess_param": where,
        "ess_per_s": ess / r["wall_s"],
        "grad_evals": r["grad_evals"],
        "ess_per_grad": ess / r["grad_evals"],
        "divergences": r["divergences"],
        "load_before": r["load_before"],
    }
    for k in ("compile_own_s", "sampling_s", "warmup_grad_evals", "step_size", "mean_tree_depth"):
        if k in r:
            row[k] = r[k]
    if "sampling_phase" in r:
        row["sampling_phase"] = r["sampling_phase"]
    if "xla_compile_by_function" in r:  # the ten longest XLA compilations, by function
        row["xla_compile_by_function"] = dict(list(r["xla_compile_by_function"].items())[:10])
    steps = np.asarray(r["steps"])
    row["lockstep_factor"] = float(NUM_CHAINS * steps.max(axis=0).sum() / steps.sum())
    return row


def run_model(
    name: str,
    index: int,
    num_warmup: int,
    num_samples: int,
    libraries: list[str],
    one_device: bool = False,
    quick: bool = False,
    second_run: bool = False,
    in_process: bool = False,
    session: bool = False,
) -> dict:
    model = MODELS[name]()
    print(f"\n== {name} (dim {model.dim}): {model.description}", flush=True)
    check = density_check(model, SEED)
    print(f"   log-density differences agree to {check['max_abs_deviation_from_bayeskit']:.2e}")
    order = libraries[index % len(libraries) :] + libraries[: index % len(libraries)]
    results, rows, skipped = {}, {}, {}
    for lib in order:
        if lib == "nutpie" and nutpie is None:
            skipped[lib] = f"not installed ({NUTPIE_ERROR})"
            continue
        if in_process:
            load = os.getloadavg()[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = RUNNERS[lib](model, SEED, num_warmup, num_samples)
            r["load_before"] = load
        else:
            r = run_fresh(name, lib, quick)
            if r is None:
                skipped[lib] = "its run failed (see the log)"
                continue
            if lib == "bayeskit":  # for the bare-gradient timings of gradient_overhead
                r["target"] = model.bayeskit_target()
        results[lib] = r
        rows[lib] = summarise(lib, r)
        row = rows[lib]
        print(
            f"   {lib:9s} wall {row['wall_s']:7.1f} s  compile {row['compile_s']:5.1f} s  "
            f"min ESS {row['min_ess_bulk']:7.0f} ({row['min_ess_param']})  ESS/s {row['ess_per_s']:7.1f}  "
            f"grads {row['grad_evals']:>9,}  ESS/grad {row['ess_per_grad']:.4f}  div {row['divergences']}  "
            f"load {r['load_before']:.2f}",
            flush=True,
        )
    out = {
        "model": name,
        "dim": model.dim,
        "description": model.description,
        "order": order,
        "density_check": check,
        "rows": [rows[lib] for lib in libraries if lib in rows],
        "skipped": skipped,
        "mean_deviation_sd": mean_check(results) if "bayeskit" in results else {},
    }
    peers = [rows[lib]["ess_per_s"] for lib in PEERS if lib in rows]
    if "bayeskit" in rows and peers:
        best = max((lib for lib in PEERS if lib in rows), key=lambda lib: rows[lib]["ess_per_s"])
        out["best_peer"] = best
        out["ratio_to_best_peer"] = rows["bayeskit"]["ess_per_s"] / rows[best]["ess_per_s"]
        print(f"   bayeskit ESS/s / best peer ({best}) = {out['ratio_to_best_peer']:.2f}")
    if "bayeskit" in results:
        out["gradient_overhead"] = gradient_overhead(results["bayeskit"])
        g = out["gradient_overhead"]
        print(
            f"   per-gradient time in NUTS {g['per_grad_in_nuts_us']:.1f} us vs bare {g['bare_value_and_grad_us']:.1f} us: "
            f"ratio {g['ratio_to_bare']:.2f} (lockstep factor {g['lockstep_factor']:.2f}, "
            f"vs lockstep floor {g['ratio_to_lockstep_floor']:.2f})"
        )
    if session:
        warm_rows = {}
        for lib in order:
            if lib == "nutpie" and nutpie is None:
                continue
            r = run_fresh(name, lib, quick, after_opener=True)
            if r is None:
                continue
            warm_rows[lib] = summarise(f"{lib} (after another model)", r)
            row = warm_rows[lib]
            print(
                f"   {lib:9s} after another model: wall {row['wall_s']:.1f} s  compile {row['compile_s']:.1f} s  "
                f"min ESS {row['min_ess_bulk']:.0f}  ESS/s {row['ess_per_s']:.1f}",
                flush=True,
            )
        out["session"] = {"rows": warm_rows}
        peers_w = [lib for lib in PEERS if lib in warm_rows]
        if "bayeskit" in warm_rows and peers_w:
            best_w = max(peers_w, key=lambda lib: warm_rows[lib]["ess_per_s"])
            out["session"]["best_peer"] = best_w
            out["session"]["ratio"] = warm_rows["bayeskit"]["ess_per_s"] / warm_rows[best_w]["ess_per_s"]
            print(
                f"   after another model: bayeskit ESS/s / best peer ({best_w}) = {out['session']['ratio']:.2f}"
            )
    if second_run:
        second = {}
        for lib in libraries:
            if lib == "nutpie" and nutpie is None:
                continue
            rows2 = run_second(name, lib, quick)
            if rows2 is None:
                continue
            second[lib] = rows2
            print(
                f"   {lib:9s} with a compilation cache: first run wall {rows2['first']['wall_s']:.1f} s, second "
                f"run wall {rows2['second']['wall_s']:.1f} s (compile {rows2['second']['compile_s']:.1f} s), "
                f"ESS/s {rows2['second']['ess_per_s']:.1f}",
                flush=True,
            )
        out["second_run"] = second
        peers2 = [lib for lib in PEERS if lib in second]
        if "bayeskit" in second and peers2:
            best2 = max(peers2, key=lambda lib: second[lib]["second"]["ess_per_s"])
            bk2 = second["bayeskit"]["second"]["ess_per_s"]
            out["second_run_best_peer"] = best2
            out["second_run_ratio"] = bk2 / second[best2]["second"]["ess_per_s"]
            if "best_peer" in out:
                out["second_run_ratio_to_default_peer"] = bk2 / rows[out["best_peer"]]["ess_per_s"]
            print(f"   second runs: bayeskit ESS/s / best peer ({best2}) = {out['second_run_ratio']:.2f}")
    if one_device:
        single = run_one_device(name, quick)
        if single is not None:
            out["one_device"] = single
            row = single["row"]
            best = out.get("best_peer")
            if best is not None:
                single["ratio_to_best_peer"] = row["ess_per_s"] / rows[best]["ess_per_s"]
            print(
                f"   bayeskit on 1 device (supplementary): wall {row['wall_s']:.1f} s  compile "
                f"{row['compile_s']:.1f} s  min ESS {row['min_ess_bulk']:.0f}  ESS/s {row['ess_per_s']:.1f}  "
                f"per-gradient time in NUTS / bare {single['gradient_overhead']['ratio_to_bare']:.2f}",
                flush=True,
            )
    return out


def fmt(x, digits=1):
    return "-" if x is None else f"{x:,.{digits}f}"


def render(meta: dict, models: list[dict]) -> str:
    lines = [
        "# MCMC peers: bayeskit NUTS vs NumPyro, BlackJAX and nutpie (PyMC)",
        "",
        f"{meta['date']} on {meta['cpu']} ({meta['cpu_count']} cores; "
        + (
            f"JAX on {meta['jax_devices']} x {meta['accelerator']}), "
            if meta.get("accelerator")
            else f"{meta['jax_devices']} JAX host devices), "
        )
        + f"{meta['platform']}. {meta['num_chains']} chains x ({meta['num_warmup']:,} warmup + "
        f"{meta['num_samples']:,} draws), float64, seed {meta['seed']}, one run per library and model"
        + (
            ", all in one process (later runs reuse pieces earlier ones compiled). "
            if meta.get("in_process")
            else ", each in a new process of its own (a cold start, as a script that fits one model). "
        )
        + f"Load average (1 min) at start {meta['load_start']:.2f}, at end {meta['load_end']:.2f}; "
        f"total run {meta['total_s'] / 60:.1f} min{' (nice ' + str(meta['nice']) + ')' if meta['nice'] else ''}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v) + ".",
        "",
        (
            "How: every library on the one GPU, chains vmapped (bayeskit `sample`, NumPyro "
            '`chain_method="vectorized"`, BlackJAX `window_adaptation` then `nuts` in `lax.scan`); nutpie, '
            "which runs on the CPU, is not in this run. Defaults"
            if meta.get("accelerator")
            else 'How: bayeskit `sample` (chains sharded over 2 devices, each device running its 2 in turn); NumPyro `chain_method="vectorized"` '
            "and BlackJAX (`window_adaptation` per chain, then `nuts` in `lax.scan`, all vmapped) on one device; "
            "nutpie (numba backend) on 2 threads. Defaults"
        )
        + " everywhere: target acceptance 0.8, max tree depth 10, "
        "diagonal mass matrix. Wall time covers building the model, initialisation, compilation, warmup "
        "and sampling, up to draws in NumPy. Compile time: the JAX libraries' tracing, lowering and XLA "
        'compilation spans from `jax.monitoring` (bayeskit\'s own `info["compile_time"]` of its main loop '
        "in brackets); nutpie's is `compile_pymc_model`. Min bulk ESS: `bayeskit.diagnostics.ess_bulk` on "
        "every library's draws, minimum over all scalar parameters. Gradient evaluations: leapfrog steps "
        "of the kept draws, all chains (warmup excluded: bayeskit and NumPyro do not report it). "
        "Lockstep: 4 x sum over draws of the longest of the 4 chains' trajectories over the total, the "
        "work a vmapped sampler spends waiting for the slowest chain (a cost for NumPyro and BlackJAX; not "
        "for nutpie's threads, nor for bayeskit, whose chains run in turn within a device).",
        "",
    ]
    if meta.get("nutpie_error"):
        lines += [f"nutpie skipped: {meta['nutpie_error']}", ""]
    lines += ["## ESS per second (wall, compile included)", ""]
    header = (
        "| model | dim | "
        + " | ".join(LIBRARIES)
        + " | bayeskit / best peer | bayeskit on 1 device (supplementary) | its ratio |"
    )
    lines += [header, "|---|---|" + "---|" * (len(LIBRARIES) + 3)]
    for m in models:
        rows = {r["library"]: r for r in m["rows"]}
        cells = [fmt(rows[lib]["ess_per_s"]) if lib in rows else "-" for lib in LIBRARIES]
        ratio = f"{m['ratio_to_best_peer']:.2f} ({m['best_peer']})" if "ratio_to_best_peer" in m else "-"
        single = m.get("one_device")
        extra = " - | - |"
        if single is not None:
            extra = f" {fmt(single['row']['ess_per_s'])} | {fmt(single.get('ratio_to_best_peer'), 2)} |"
        lines.append(f"| {m['model']} | {m['dim']} | " + " | ".join(cells) + f" | {ratio} |" + extra)
    lines.append("")
    if any(m.get("session") for m in models):
        lines += [
            "## A second model in a session",
            "",
            "Each library's run again in a new process, this time right after the same library has fit a "
            "small unrelated model there (`make_session_opener`: loc ~ N(1, 2), scale ~ HalfNormal(1), the "
            "same settings; untimed), as in a notebook or a script that fits several models: what each "
            "library compiles once per process whatever the model (numba's and PyTensor's generic pieces "
            "for nutpie; for bayeskit, among others, its diagnostics of 4 x 1,000 draws) is then done. "
            "ESS/s (wall, compile included); in brackets wall and compile time.",
            "",
            "| model | " + " | ".join(LIBRARIES) + " | bayeskit / best peer |",
            "|---|" + "---|" * (len(LIBRARIES) + 1),
        ]
        for m in models:
            rows_w = (m.get("session") or {}).get("rows", {})
            cells = [
                f"{fmt(rows_w[lib]['ess_per_s'])} ({rows_w[lib]['wall_s']:.1f} s, {rows_w[lib]['compile_s']:.1f} s)"
                if lib in rows_w
                else "-"
                for lib in LIBRARIES
            ]
            session = m.get("session") or {}
            ratio = f"{session['ratio']:.2f} ({session['best_peer']})" if "ratio" in session else "-"
            lines.append(f"| {m['model']} | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    if any(m.get("second_run") for m in models):
        lines += [
            "## Second run, with a persistent compilation cache",
            "",
            "Each library in a child process of its own: an empty cache folder, a first run that fills it, "
            "`jax.clear_caches()` (what a new process starts with), the same run again. JAX libraries: JAX's "
            "persistent cache (`bayeskit.use_compilation_cache`, on by default in bayeskit's `sample`; off "
            "by default in NumPyro and BlackJAX, turned on here by hand); nutpie: PyTensor's on-disk cache. "
            "ESS/s of the second run (wall, what compiling is left included); in brackets its wall time.",
            "",
            "| model | " + " | ".join(LIBRARIES) + " | bayeskit / best peer (both second runs) | "
            "bayeskit second run / best peer's default first run |",
            "|---|" + "---|" * (len(LIBRARIES) + 2),
        ]
        for m in models:
            second = m.get("second_run") or {}
            cells = [
                f"{fmt(second[lib]['second']['ess_per_s'])} ({second[lib]['second']['wall_s']:.1f} s)"
                if lib in second
                else "-"
                for lib in LIBRARIES
            ]
            r2 = (
                f"{m['second_run_ratio']:.2f} ({m['second_run_best_peer']})"
                if "second_run_ratio" in m
                else "-"
            )
            r3 = (
                f"{m['second_run_ratio_to_default_peer']:.2f} ({m['best_peer']})"
                if "second_run_ratio_to_default_peer" in m
                else "-"
            )
            lines.append(f"| {m['model']} | " + " | ".join(cells) + f" | {r2} | {r3} |")
        lines.append("")
    for m in models:
        lines += [f"## {m['model']} (dim {m['dim']})", "", m["description"], ""]
        lines += [
            "| library | wall (s) | compile (s) | min bulk ESS (where) | ESS/s | grad evals | ESS/grad | "
            "lockstep | divergences | load |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        table_rows = m["rows"] + ([m["one_device"]["row"]] if "one_device" in m else [])
        for r in table_rows:
            comp = fmt(r["compile_s"])
            if "compile_own_s" in r:
                comp += f" [{r['compile_own_s']:.1f}]"
            lines.append(
                f"| {r['library']} | {fmt(r['wall_s'])} | {comp} | {r['min_ess_bulk']:,.0f} ({r['min_ess_param']}) | "
                f"{fmt(r['ess_per_s'])} | {r['grad_evals']:,} | {r['ess_per_grad']:.4f} | "
                f"{r['lockstep_factor']:.2f} | {r['divergences']} | {r['load_before']:.2f} |"
            )
        check = m["density_check"]
        diffs = ", ".join(f"{k} {v:.6f}" for k, v in check["difference_z1_minus_z2"].items())
        lines += [
            "",
            f"Same density: log p(z1) - log p(z2) = {diffs} (largest deviation "
            f"{check['max_abs_deviation_from_bayeskit']:.1e}). Largest |posterior mean - bayeskit's| in "
            "bayeskit posterior sds: "
            + ", ".join(f"{k} {v:.3f}" for k, v in m["mean_deviation_sd"].items())
            + f". Run order: {', '.join(m['order'])}.",
            "",
        ]
        if m["skipped"]:
            lines += ["Skipped: " + "; ".join(f"{k}: {v}" for k, v in m["skipped"].items()), ""]
        if m["model"] == "logistic" and "gradient_overhead" in m:
            g = m["gradient_overhead"]
            lines += [
                "**bayeskit time per gradient inside NUTS** (post-warmup chunks, timed from the driver's "
                f"callback): {g['sampling_phase_s']:.2f} s for {g['sampling_phase_grad_evals']:,} gradient "
                f"evaluations = {g['per_grad_in_nuts_us']:.1f} us each, vs {g['bare_value_and_grad_us']:.1f} us "
                f"for one bare jitted `value_and_grad(target.logdensity_fn)`: ratio **{g['ratio_to_bare']:.2f}** "
                f"(goal <= 1.1). A vmapped value_and_grad of {g['batch_per_device']} points (one device's chains) "
                f"takes {g['batched_value_and_grad_us']:.1f} us. "
                f"Lockstep factor {g['lockstep_factor']:.2f}; against the lockstep floor (longest trajectory "
                "per iteration x one device's batched gradient, the devices in parallel) the ratio is "
                f"{g['ratio_to_lockstep_floor']:.2f}.",
                "",
            ]
    over = [m for m in models if "gradient_overhead" in m]
    if over:
        lines += [
            "## bayeskit: where the time goes",
            "",
            "Wall = compile (jax.monitoring) + warmup loop + sampling loop + other (building the target, "
            "initial points, moving draws, the Posterior's diagnostics). Per-gradient time in NUTS = "
            "sampling-loop time / its gradient evaluations (all chains); bare = one jitted "
            "`value_and_grad(target.logdensity_fn)`; batched = the same vmapped over one device's chains "
            "(2 points on 2 devices, 4 on 1), what a vmapped driver pays per step. Lockstep floor = sum over "
            "iterations of the longest of the 4 trajectories x the batched time: the floor of a vmapped "
            "driver; bayeskit's chains run in turn within a device, so its own floor is the gradient "
            "evaluations of a device's chains x the bare time. Compile: all of it (the main loop's ahead-of-time compilation "
            "/ XLA compilations of other functions, with their count).",
            "",
            "| model | wall (s) | compile (s) | warmup loop (s) | sampling loop (s) | other (s) | bare grad (us) | "
            "batched grad (us) | per grad in NUTS (us) | / bare | lockstep factor | / lockstep floor |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        entries = [(m["model"], m["gradient_overhead"]) for m in over]
        entries += [
            (m["model"] + " (1 device)", m["one_device"]["gradient_overhead"])
            for m in models
            if "one_device" in m
        ]
        for label, g in entries:
            lines.append(
                f"| {label} | {g['wall_s']:.1f} | {g['compile_s']:.1f} ({g['main_loop_compile_s']:.1f} / "
                f"{g['xla_compile_outside_main_loop_s']:.1f} in {g['xla_compile_functions_outside_main_loop']}) | "
                f"{g['warmup_loop_s']:.1f} | "
                f"{g['sampling_phase_s']:.1f} | {g['other_s']:.1f} | {g['bare_value_and_grad_us']:.1f} | "
                f"{g['batched_value_and_grad_us']:.1f} | {g['per_grad_in_nuts_us']:.1f} | {g['ratio_to_bare']:.2f} | "
                f"{g['lockstep_factor']:.2f} | {g['ratio_to_lockstep_floor']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def warm_up() -> None:
    """Pay JAX's one-time start-up costs (backend, first compilation, PRNG) before any library runs."""
    key = jax.random.split(jax.random.key(1), 3)[0]
    x = jax.random.uniform(key, (3,))
    jax.block_until_ready(jax.jit(jax.grad(lambda x: jnp.sum(jnp.sin(x) ** 2)))(x))


def child_env() -> dict:
    """This process's environment for a child, less the PyTensor cache folder this process made.

    The child then makes its own, empty one when it imports this module.
    """
    env = dict(os.environ)
    if env.get("PYTENSOR_FLAGS") == f"base_compiledir={PYTENSOR_CACHE}":
        del env["PYTENSOR_FLAGS"]
    return env


def run_fresh(name: str, lib: str, quick: bool, after_opener: bool = False) -> dict | None:
    """One run of ``lib`` on ``name`` in a new Python process: the runner's result, ``target`` aside.

    A process that has already run other models keeps compiled pieces they share (numba's and
    PyTensor's for nutpie, JAX's for the others): nutpie compiled the 100-d Gaussian in 1.4 s
    after eight schools in the same process and in 3.9 s in a new one. A user's script that fits
    one model pays the cold cost, so every library's first run is measured in a process of its own.
    ``after_opener``: the process first fits :func:`make_session_opener` with the same library and
    settings (untimed), as a session that fits a second model.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.pkl"
        cmd = [sys.executable, __file__, "--run-worker", str(out), "--seed", str(SEED)]
        cmd += ["--models", name, "--libraries", lib] + (["--quick"] if quick else [])
        cmd += ["--after-opener"] if after_opener else []
        proc = subprocess.run(cmd, env=child_env(), capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            print(f"   {lib} run failed:\n{proc.stderr[-2000:]}")
            return None
        with out.open("rb") as f:
            return pickle.load(f)


def run_worker(
    out: Path, name: str, lib: str, num_warmup: int, num_samples: int, after_opener: bool = False
) -> None:
    warm_up()
    if after_opener:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            RUNNERS[lib](make_session_opener(), SEED + 1, num_warmup, num_samples)
    model = MODELS[name]()
    load = os.getloadavg()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = RUNNERS[lib](model, SEED, num_warmup, num_samples)
    r["load_before"] = load
    r.pop("target", None)  # a bayeskit Target holds closures; the parent rebuilds it
    with out.open("wb") as f:
        pickle.dump(r, f)


def run_second(name: str, lib: str, quick: bool) -> dict | None:
    """First and second run of ``lib`` on ``name`` with a persistent compilation cache, in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "second.json"
        cmd = [
            sys.executable,
            __file__,
            "--second-run-worker",
            str(out),
            "--seed",
            str(SEED),
            "--models",
            name,
            "--libraries",
            lib,
        ]
        proc = subprocess.run(
            cmd + (["--quick"] if quick else []), env=child_env(), capture_output=True, text=True
        )
        if proc.returncode != 0 or not out.exists():
            print(f"   {lib} second run failed:\n{proc.stderr[-2000:]}")
            return None
        return json.loads(out.read_text())


def second_run_worker(out: Path, name: str, lib: str, num_warmup: int, num_samples: int) -> None:
    with tempfile.TemporaryDirectory() as cache:
        if lib != "nutpie":
            import bayeskit

            bayeskit.use_compilation_cache(cache)
        warm_up()
        model = MODELS[name]()
        rows = {}
        for run in ("first", "second"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = RUNNERS[lib](model, SEED, num_warmup, num_samples)
            r["load_before"] = os.getloadavg()[0]
            rows[run] = summarise(f"{lib} ({run} run, cache)", r)
            jax.clear_caches()
    out.write_text(json.dumps(rows, default=_json_default))


def run_one_device(name: str, quick: bool) -> dict | None:
    """bayeskit on a single host device, in a child process (the device count is fixed at start)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "one_device.json"
        cmd = [
            sys.executable,
            __file__,
            "--one-device-worker",
            str(out),
            "--models",
            name,
            "--seed",
            str(SEED),
        ]
        env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1")
        proc = subprocess.run(cmd + (["--quick"] if quick else []), env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            print(f"   bayeskit on 1 device failed:\n{proc.stderr[-2000:]}")
            return None
        return json.loads(out.read_text())


def one_device_worker(out: Path, name: str, num_warmup: int, num_samples: int) -> None:
    warm_up()
    model = MODELS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = run_bayeskit(model, SEED, num_warmup, num_samples)
    r["load_before"] = os.getloadavg()[0]
    row = summarise("bayeskit (1 device)", r)
    result = {"devices": jax.device_count(), "row": row, "gradient_overhead": gradient_overhead(r)}
    out.write_text(json.dumps(result, default=_json_default))


def main():
    global SEED
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 + 200 iterations; write nothing")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--libraries", nargs="+", choices=list(LIBRARIES), default=list(LIBRARIES))
    parser.add_argument(
        "--no-one-device", action="store_true", help="skip the extra bayeskit run on a single device"
    )
    parser.add_argument(
        "--no-second-run", action="store_true", help="skip the runs with a persistent compilation cache"
    )
    parser.add_argument(
        "--tag",
        default="",
        help="write results/mcmc_peers_<tag>.{json,md} (a run on another machine or setting)",
    )
    parser.add_argument(
        "--seed", type=int, default=SEED, help=f"the runs' seed (default {SEED}, the committed results')"
    )
    parser.add_argument(
        "--summary",
        nargs="+",
        metavar="TAG",
        help="run nothing: summarise results/mcmc_peers.json with mcmc_peers_<TAG>.json (runs at other "
        "seeds) into results/mcmc_peers_seeds.{json,md}, by each library's median ESS/s",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every library and model in this one process (later runs then reuse compiled pieces "
        "of earlier ones), instead of each first run in a new process",
    )
    parser.add_argument(
        "--no-session",
        action="store_true",
        help="skip the runs that follow a fit of a small unrelated model in the same process",
    )
    parser.add_argument("--after-opener", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--one-device-worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--second-run-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    SEED = args.seed
    if args.summary:
        print(summarise_seeds(args.summary))
        return
    num_warmup = num_samples = 200 if args.quick else 1000
    if args.one_device_worker is not None:
        one_device_worker(args.one_device_worker, args.models[0], num_warmup, num_samples)
        return
    if args.run_worker is not None:
        run_worker(
            args.run_worker, args.models[0], args.libraries[0], num_warmup, num_samples, args.after_opener
        )
        return
    if args.second_run_worker is not None:
        second_run_worker(args.second_run_worker, args.models[0], args.libraries[0], num_warmup, num_samples)
        return
    libraries = [lib for lib in LIBRARIES if lib in args.libraries]

    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    # Warm JAX's own one-time start-up costs so that no library's first run pays them.
    warm_up()
    one_device = "bayeskit" in libraries and jax.device_count() > 1 and not args.no_one_device
    models = []
    for i, name in enumerate(args.models):
        models.append(
            run_model(
                name,
                i,
                num_warmup,
                num_samples,
                libraries,
                one_device,
                args.quick,
                not args.no_second_run,
                args.in_process,
                not (args.no_session or args.in_process),
            )
        )
        text = report(models, started, load_start, args)  # after every model, so a cut-short run keeps them
    print("\n" + text)
    print(f"Total: {time.perf_counter() - started:.0f} s")


def _median_table(runs: list[dict], part: Callable[[dict], dict], ratio_key: str) -> tuple[dict, list[str]]:
    """Per model, each library's median ESS/s over ``runs`` and bayeskit's ratio to the best peer.

    ``part(model)`` is the piece of a run's model entry that holds the rows (``rows``: a list of
    rows with ``library``, or a dict by library) and, under ``ratio_key``, that run's own ratio.
    Returns the summary by model and the markdown table rows.
    """
    table, lines = {}, []
    for name in MODELS:
        per_lib: dict[str, list[float]] = {}
        per_run = []
        for run in runs:
            for model in run["models"]:
                if model["model"] != name:
                    continue
                piece = part(model)
                rows = piece.get("rows", [])
                rows = rows.values() if isinstance(rows, dict) else rows
                for row in rows:
                    per_lib.setdefault(row["library"].split(" (")[0], []).append(row["ess_per_s"])
                if ratio_key in piece:
                    per_run.append(piece[ratio_key])
        per_lib = {lib: per_lib[lib] for lib in LIBRARIES if lib in per_lib}
        if "bayeskit" not in per_lib:
            continue
        medians = {lib: float(np.median(v)) for lib, v in per_lib.items()}
        peers = {lib: m for lib, m in medians.items() if lib in PEERS}
        best = max(peers, key=peers.get) if peers else None
        ratio = medians["bayeskit"] / peers[best] if best else float("nan")
        table[name] = {
            "ess_per_s": per_lib,
            "median": medians,
            "best_peer": best,
            "ratio": ratio,
            "per_run": per_run,
        }
        cells = [
            f"{medians[lib]:,.0f}; " + ", ".join(f"{v:,.0f}" for v in per_lib[lib]) if lib in per_lib else "-"
            for lib in LIBRARIES
        ]
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | **{ratio:.2f}** ({best}) | "
            + ", ".join(f"{r:.2f}" for r in per_run)
            + " |"
        )
    return table, lines


def summarise_seeds(tags: list[str]) -> str:
    """Each library's median ESS/s over the committed run and the tagged runs at other seeds."""
    stems = ["mcmc_peers"] + [f"mcmc_peers_{tag}" for tag in tags]
    runs = [json.loads((RESULTS / f"{stem}.json").read_text()) for stem in stems]
    seeds = [run["meta"]["seed"] for run in runs]
    if len(set(seeds)) < len(seeds):
        raise SystemExit(f"--summary: the runs must have different seeds, got {seeds}")
    lines = [
        "# MCMC peers over seeds: each library's median ESS per second",
        "",
        f"{len(runs)} runs of `mcmc_peers.py` (seeds {', '.join(map(str, seeds))}; files "
        + ", ".join(f"`{stem}.json`" for stem in stems)
        + "), each as described in `mcmc_peers.md`: one run per library and model, compile included. "
        "One run's minimum bulk ESS is noisy (on the hierarchical model bayeskit's ESS per gradient "
        "ranged over 0.025-0.029 across five seeds, `ess_per_gradient.md`), so the goal is judged here "
        "on each library's median ESS/s over the runs. Runs: "
        + "; ".join(
            f"seed {r['meta']['seed']} at {r['meta']['date']} ({r['meta']['versions']['bayeskit']})"
            for r in runs
        )
        + f". Reproduce: `python benchmarks/mcmc_peers.py --seed S --tag seedS --no-second-run --no-one-device` "
        f"for each extra seed, then `python benchmarks/mcmc_peers.py --summary {' '.join(tags)}`.",
        "",
        "**Goal (issue 3)**: at least 2x the best peer's ESS per second on every model.",
        "",
        "| model | "
        + " | ".join(f"{lib} (median; runs)" for lib in LIBRARIES)
        + " | bayeskit / best peer (medians) | per run |",
        "|---|" + "---|" * (len(LIBRARIES) + 2),
    ]
    table, rows = _median_table(runs, lambda model: model, "ratio_to_best_peer")
    lines += rows
    session_table = {}
    if all(any(model.get("session") for model in run["models"]) for run in runs):
        lines += [
            "",
            "**A second model in a session** (each library's run right after it fit a small unrelated "
            "model in the same process; `mcmc_peers.md` says more): median ESS/s over the same runs.",
            "",
            "| model | "
            + " | ".join(f"{lib} (median; runs)" for lib in LIBRARIES)
            + " | bayeskit / best peer (medians) | per run |",
            "|---|" + "---|" * (len(LIBRARIES) + 2),
        ]
        session_table, rows = _median_table(runs, lambda model: model.get("session") or {}, "ratio")
        lines += rows
    text = "\n".join(lines) + "\n"
    (RESULTS / "mcmc_peers_seeds.md").write_text(text)
    (RESULTS / "mcmc_peers_seeds.json").write_text(
        json.dumps({"seeds": seeds, "files": stems, "models": table, "session": session_table}, indent=1)
    )
    return text


def report(models: list[dict], started: float, load_start: float, args) -> str:
    """Render the models run so far and, unless ``--quick``, write them to results/."""
    total = time.perf_counter() - started
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "jax_devices": jax.device_count(),
        "accelerator": None if jax.default_backend() == "cpu" else jax.devices()[0].device_kind,
        "versions": versions(),
        "pytensor_floatX": str(__import__("pytensor").config.floatX) if pm is not None else None,
        "num_chains": NUM_CHAINS,
        "num_warmup": 200 if args.quick else 1000,
        "num_samples": 200 if args.quick else 1000,
        "seed": SEED,
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "nice": os.nice(0),
        "total_s": total,
        "nutpie_error": NUTPIE_ERROR,
        "in_process": bool(args.in_process),
    }
    text = render(meta, models)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        stem = "mcmc_peers" + (f"_{args.tag}" if args.tag else "")
        payload = {"meta": meta, "models": models}
        (RESULTS / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=_json_default))
        (RESULTS / f"{stem}.md").write_text(text)
    return text


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


if __name__ == "__main__":
    main()
