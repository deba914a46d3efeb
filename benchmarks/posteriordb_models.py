"""The posteriordb DEV-set posteriors in bayeskit's model language, and how a run is judged.

One model function per posterior, written from its ``model.stan`` (``~`` statements drop
constants in Stan; here the full densities are used, which changes nothing), one data function
per posterior that applies the Stan ``transformed data`` block to ``data.json``, and the check a
run must pass: every reference quantity's mean within 0.3 reference sd, its sd within 20% of the
reference sd, and R-hat below 1.01.

Stan parameters with no prior (improper flat densities) and constrained parameters whose prior is
written on another scale (``ordered``/``positive_ordered`` vectors with normal priors,
``beta1 ∈ (0, 1 - alpha1)`` in GARCH) are latent sites of :class:`_Flat`, a density that is 0 on
the log scale on its support; their priors, where any, are added with ``m.factor``. The target
then adds the transform's log-Jacobian exactly as Stan does.

Used by ``benchmarks/posteriordb.py`` and by ``tests/mcmc/test_posteriordb_fast.py``; the data
directory (one folder per posterior with ``data.json`` and ``reference.json``, format in the
posteriordb README) is an argument, defaulting to ``../shared/data/posteriordb``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

import bayeskit.dist as dist
from bayeskit.diagnostics import ess_bulk, rhat
from bayeskit.dist import constraints as C
from bayeskit.ppl import target

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "posteriordb"

# A run passes when every reference quantity meets all three.
MEAN_TOL = 0.3  # |mean - ref mean| / ref sd
SD_TOL = 0.2  # |sd / ref sd - 1|
RHAT_MAX = 1.01


# ---------------------------------------------------------------------- improper flat density
class _Flat(dist.Distribution):
    """An improper flat density, ``log p(x) = 0`` on its support: Stan's parameter without a prior.

    ``kind`` is ``"real"``, ``"positive"`` or ``"interval"`` (elementwise, over ``shape``), or
    ``"ordered"`` / ``"positive_ordered"`` (one vector, the last axis of ``shape``). Interval
    bounds may depend on other parameters. ``sample`` exists only so that a target can discover
    the site's shape and supply starting points: it maps Stan's uniform(-2, 2) initialisation on the
    unconstrained scale onto the support.
    """

    lower: jax.Array
    upper: jax.Array
    kind: str = eqx.field(static=True)
    shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, kind: str, shape: tuple[int, ...] = (), lower=0.0, upper=1.0):
        if kind not in ("real", "positive", "interval", "ordered", "positive_ordered"):
            raise ValueError(f"_Flat: unknown kind {kind!r}.")
        self.kind = kind
        self.shape = tuple(shape)
        self.lower = jnp.asarray(lower, dtype=jnp.result_type(float))
        self.upper = jnp.asarray(upper, dtype=jnp.result_type(float))

    @property
    def _is_vector(self) -> bool:
        return self.kind in ("ordered", "positive_ordered")

    @property
    def batch_shape(self):
        return self.shape[:-1] if self._is_vector else self.shape

    @property
    def event_shape(self):
        return self.shape[-1:] if self._is_vector else ()

    @property
    def support(self):
        return {
            "real": C.real,
            "positive": C.positive,
            "interval": C.interval(self.lower, self.upper),
            "ordered": C.ordered,
            "positive_ordered": C.positive_ordered,
        }[self.kind]

    def log_prob(self, x):
        x = jnp.asarray(x)
        return jnp.zeros(x.shape[: x.ndim - len(self.event_shape)], x.dtype)

    def sample(self, key, sample_shape=()):
        z = jax.random.uniform(key, self._extended_shape(sample_shape), minval=-2.0, maxval=2.0)
        return dist.biject_to(self.support)(z)


def _vector(d: dist.Distribution, n: int) -> dist.Distribution:
    """``n`` independent copies of ``d`` as one vector-valued site."""
    return d.expand((n,)).to_event(1)


# ---------------------------------------------------------------------- models
def ark(m, y_lags, y_next):
    """AR(K): ``y[t] ~ normal(alpha + sum_k beta[k] y[t-k], sigma)`` for ``t > K``."""
    alpha = m.sample("alpha", dist.Normal(0.0, 10.0))
    beta = m.sample("beta", _vector(dist.Normal(0.0, 10.0), y_lags.shape[1]))
    sigma = m.sample("sigma", dist.HalfCauchy(2.5))
    m.sample("y", dist.Normal(alpha + y_lags @ beta, sigma), obs=y_next)


def ark_data(d: dict) -> dict:
    y, K = np.asarray(d["y"], float), int(d["K"])
    T = len(y)
    # Row t (0-based, t >= K) holds y[t-1], ..., y[t-K]: Stan's y[t-k] for k = 1..K.
    lags = np.stack([y[K - k : T - k] for k in range(1, K + 1)], axis=1)
    return {"y_lags": lags, "y_next": y[K:]}


def hmm_drive(m, u, v, alpha):
    """Two-state HMM with exponential emissions, the hidden states summed out (forward algorithm)."""
    K = alpha.shape[0]
    theta1 = m.sample("theta1", dist.Dirichlet(alpha[0]))
    theta2 = m.sample("theta2", dist.Dirichlet(alpha[1]))
    phi = m.sample("phi", _Flat("positive_ordered", (K,)))
    lam = m.sample("lambda", _Flat("positive_ordered", (K,)))
    prior_loc = jnp.array([0.0, 3.0])
    m.factor("phi_prior", dist.Normal(prior_loc, 1.0).log_prob(phi))
    m.factor("lambda_prior", dist.Normal(prior_loc, 1.0).log_prob(lam))
    log_theta = jnp.log(jnp.stack([theta1, theta2]))  # [from state j, to state k]
    log_emit = dist.Exponential(phi).log_prob(u[:, None]) + dist.Exponential(lam).log_prob(v[:, None])

    def forward(log_gamma, log_emit_t):
        return logsumexp(log_gamma[:, None] + log_theta, axis=0) + log_emit_t, None

    log_gamma, _ = jax.lax.scan(forward, log_emit[0], log_emit[1:])
    m.factor("hmm", logsumexp(log_gamma))


def hmm_drive_data(d: dict) -> dict:
    return {
        "u": np.asarray(d["u"], float),
        "v": np.asarray(d["v"], float),
        "alpha": np.asarray(d["alpha"], float),
    }


def diamonds(m, Xc, Y):
    """brms linear regression on centred predictors; half-Student-t prior on sigma."""
    b = m.sample("b", _vector(dist.Normal(0.0, 1.0), Xc.shape[1]))
    intercept = m.sample("Intercept", dist.StudentT(3.0, 8.0, 10.0))
    sigma = m.sample("sigma", _Flat("positive"))
    # student_t_lpdf(sigma | 3, 0, 10) - student_t_lccdf(0 | 3, 0, 10): the second term is a constant.
    m.factor("sigma_prior", dist.StudentT(3.0, 0.0, 10.0).log_prob(sigma))
    m.sample("Y", dist.Normal(intercept + Xc @ b, sigma), obs=Y)


def diamonds_data(d: dict) -> dict:
    X = np.asarray(d["X"], float)
    if int(d["prior_only"]):
        raise ValueError("diamonds: prior_only = 1 is not supported (the reference conditions on Y).")
    return {"Xc": X[:, 1:] - X[:, 1:].mean(axis=0), "Y": np.asarray(d["Y"], float)}


def eight_schools_noncentered(m, sigma, y):
    """Eight schools, non-centred: ``theta = mu + tau * theta_trans``."""
    theta_trans = m.sample("theta_trans", _vector(dist.Normal(0.0, 1.0), sigma.shape[0]))
    mu = m.sample("mu", dist.Normal(0.0, 5.0))
    tau = m.sample("tau", dist.HalfCauchy(5.0))
    theta = m.deterministic("theta", theta_trans * tau + mu)
    m.sample("y", dist.Normal(theta, sigma), obs=y)


def eight_schools_data(d: dict) -> dict:
    return {"sigma": np.asarray(d["sigma"], float), "y": np.asarray(d["y"], float)}


def garch11(m, y, sigma1):
    """GARCH(1,1) with flat priors; ``(alpha1, beta1)`` flat on the triangle ``alpha1 + beta1 < 1``."""
    mu = m.sample("mu", _Flat("real"))
    alpha0 = m.sample("alpha0", _Flat("positive"))
    alpha1 = m.sample("alpha1", _Flat("interval", lower=0.0, upper=1.0))
    # A flat density on (0, 1 - alpha1): the interval transform's Jacobian carries log(1 - alpha1),
    # as in Stan, and no normalising -log(1 - alpha1) enters (a Uniform site would add one).
    beta1 = m.sample("beta1", _Flat("interval", lower=0.0, upper=1.0 - alpha1))

    def recursion(sigma_prev, y_prev):
        sigma_t = jnp.sqrt(alpha0 + alpha1 * (y_prev - mu) ** 2 + beta1 * sigma_prev**2)
        return sigma_t, sigma_t

    _, sigma_rest = jax.lax.scan(recursion, jnp.asarray(sigma1, y.dtype), y[:-1])
    sigma = jnp.concatenate([jnp.reshape(jnp.asarray(sigma1, y.dtype), (1,)), sigma_rest])
    m.sample("y", dist.Normal(mu, sigma), obs=y)


def garch11_data(d: dict) -> dict:
    return {"y": np.asarray(d["y"], float), "sigma1": float(d["sigma1"])}


def gp_pois_regr(m, x, k):
    """Latent squared-exponential GP with a Poisson log link, non-centred: ``f = L f_tilde``."""
    n = x.shape[0]
    rho = m.sample("rho", dist.Gamma(25.0, 4.0))
    alpha = m.sample("alpha", dist.HalfNormal(2.0))
    f_tilde = m.sample("f_tilde", _vector(dist.Normal(0.0, 1.0), n))
    sq_dist = (x[:, None] - x[None, :]) ** 2
    cov = alpha**2 * jnp.exp(-0.5 * sq_dist / rho**2) + 1e-10 * jnp.eye(n)
    f = m.deterministic("f", jnp.linalg.cholesky(cov) @ f_tilde)
    m.sample("k", dist.Poisson(jnp.exp(f)), obs=k)


def gp_pois_regr_data(d: dict) -> dict:
    return {"x": np.asarray(d["x"], float), "k": np.asarray(d["k"], float)}


def kidscore_interaction(m, kid_score, mom_hs, mom_iq, inter):
    """Linear regression with an interaction; flat prior on beta."""
    beta = m.sample("beta", _Flat("real", (4,)))
    sigma = m.sample("sigma", dist.HalfCauchy(2.5))
    mu = beta[0] + beta[1] * mom_hs + beta[2] * mom_iq + beta[3] * inter
    m.sample("kid_score", dist.Normal(mu, sigma), obs=kid_score)


def kidscore_interaction_data(d: dict) -> dict:
    hs, iq = np.asarray(d["mom_hs"], float), np.asarray(d["mom_iq"], float)
    return {"kid_score": np.asarray(d["kid_score"], float), "mom_hs": hs, "mom_iq": iq, "inter": hs * iq}


def low_dim_gauss_mix(m, y):
    """Two-component normal mixture with ordered means (``log_mix``)."""
    mu = m.sample("mu", _Flat("ordered", (2,)))
    m.factor("mu_prior", dist.Normal(0.0, 2.0).log_prob(mu))
    sigma = m.sample("sigma", _vector(dist.HalfNormal(2.0), 2))
    theta = m.sample("theta", dist.Beta(5.0, 5.0))
    weights = dist.Categorical(logits=jnp.stack([jnp.log(theta), jnp.log1p(-theta)]))
    m.sample("y", dist.MixtureSameFamily(weights, dist.Normal(mu, sigma)), obs=y)


def low_dim_gauss_mix_data(d: dict) -> dict:
    return {"y": np.asarray(d["y"], float)}


def logmesquite(m, X, log_weight):
    """Log-log linear regression with flat priors on beta and sigma > 0."""
    beta = m.sample("beta", _Flat("real", (X.shape[1],)))
    sigma = m.sample("sigma", _Flat("positive"))
    m.sample("log_weight", dist.Normal(X @ beta, sigma), obs=log_weight)


def logmesquite_data(d: dict) -> dict:
    col = lambda name: np.asarray(d[name], float)
    logs = [np.log(col(n)) for n in ("diam1", "diam2", "canopy_height", "total_height", "density")]
    X = np.stack([np.ones_like(col("weight")), *logs, col("group")], axis=1)
    return {"X": X, "log_weight": np.log(col("weight"))}


def blr(m, X, y):
    """Bayesian linear regression without an intercept."""
    beta = m.sample("beta", _vector(dist.Normal(0.0, 10.0), X.shape[1]))
    sigma = m.sample("sigma", dist.HalfNormal(10.0))
    m.sample("y", dist.Normal(X @ beta, sigma), obs=y)


def blr_data(d: dict) -> dict:
    return {"X": np.asarray(d["X"], float), "y": np.asarray(d["y"], float)}


# ---------------------------------------------------------------------- registry
@dataclasses.dataclass(frozen=True)
class Spec:
    """One posterior: its model, its data step, and the NUTS settings to run it with.

    ``target_accept`` and ``max_tree_depth`` depart from the driver's defaults only where the
    posteriordb README says the Stan reference needed them.
    """

    model: Callable
    data: Callable[[dict], dict]
    target_accept: float | None = None
    max_tree_depth: int = 10


POSTERIORS: dict[str, Spec] = {
    "arK-arK": Spec(ark, ark_data),
    "bball_drive_event_0-hmm_drive_0": Spec(hmm_drive, hmm_drive_data, target_accept=0.9, max_tree_depth=15),
    "diamonds-diamonds": Spec(diamonds, diamonds_data, target_accept=0.99, max_tree_depth=20),
    "eight_schools-eight_schools_noncentered": Spec(eight_schools_noncentered, eight_schools_data),
    "garch-garch11": Spec(garch11, garch11_data),
    "gp_pois_regr-gp_pois_regr": Spec(gp_pois_regr, gp_pois_regr_data),
    "kidiq-kidscore_interaction": Spec(kidscore_interaction, kidscore_interaction_data),
    "low_dim_gauss_mix-low_dim_gauss_mix": Spec(low_dim_gauss_mix, low_dim_gauss_mix_data),
    "mesquite-logmesquite": Spec(logmesquite, logmesquite_data),
    "sblrc-blr": Spec(blr, blr_data),
}


def load_target(name: str, root: Path = DATA_ROOT):
    """The bayeskit target of posterior ``name``, conditioned on its transformed data."""
    spec = POSTERIORS[name]
    raw = json.loads((Path(root) / name / "data.json").read_text())
    data = {k: jnp.asarray(v) for k, v in spec.data(raw).items()}
    return target(spec.model, **data)


def load_reference(name: str, root: Path = DATA_ROOT) -> dict:
    """The reference summary: ``parameters`` (Stan names, in order) and per-quantity ``summary``."""
    return json.loads((Path(root) / name / "reference.json").read_text())


_INDEXED = re.compile(r"^(?P<base>[^\[]+)\[(?P<idx>[0-9, ]+)\]$")


def quantity(draws: dict, name: str) -> np.ndarray:
    """Draws ``[chain, draw]`` of one Stan-named scalar quantity, e.g. ``theta[3]`` (1-based)."""
    match = _INDEXED.match(name)
    if match is None:
        return np.asarray(draws[name])
    idx = tuple(int(i) - 1 for i in match["idx"].split(","))
    return np.asarray(draws[match["base"]])[(slice(None), slice(None)) + idx]


def compare(draws: dict, reference: dict) -> dict:
    """Judge draws ``{site: [chain, draw, ...]}`` against a posteriordb reference summary.

    Returns per-quantity errors (``mean_err`` = |mean - ref mean| / ref sd, ``sd_ratio`` = sd / ref
    sd, ``rhat``, ``ess_bulk``), the worst of each, and ``passed``.
    """
    rows = {}
    for name in reference["parameters"]:
        ref = reference["summary"][name]
        x = quantity(draws, name)
        flat = x.reshape(-1)
        rows[name] = {
            "mean": float(flat.mean()),
            "sd": float(flat.std(ddof=1)),
            "ref_mean": ref["mean"],
            "ref_sd": ref["sd"],
            "mean_err": float(abs(flat.mean() - ref["mean"]) / ref["sd"]),
            "sd_ratio": float(flat.std(ddof=1) / ref["sd"]),
            "rhat": float(rhat(x)),
            "ess_bulk": float(ess_bulk(x)),
        }
    worst_mean = max(r["mean_err"] for r in rows.values())
    worst_sd = max(rows.values(), key=lambda r: abs(r["sd_ratio"] - 1.0))["sd_ratio"]
    max_rhat = max(r["rhat"] for r in rows.values())
    return {
        "passed": bool(worst_mean < MEAN_TOL and abs(worst_sd - 1.0) < SD_TOL and max_rhat < RHAT_MAX),
        "worst_mean_err": worst_mean,
        "worst_sd_ratio": worst_sd,
        "max_rhat": max_rhat,
        "min_ess_bulk": min(r["ess_bulk"] for r in rows.values()),
        "quantities": rows,
    }
