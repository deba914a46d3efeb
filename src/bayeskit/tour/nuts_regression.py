"""Tour chapter: Bayesian linear regression with NUTS, checked against the truth and the closed form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln
from rich.table import Table

import bayeskit.dist as dist
from bayeskit.conjugate import BayesianLinearRegression
from bayeskit.datasets import make_regression
from bayeskit.dist import StudentT
from bayeskit.mcmc import sample
from bayeskit.ppl import target
from bayeskit.tour._figures import pyplot, save
from bayeskit.tour._tables import posterior_table, print_warnings

TITLE = "NUTS on a regression: diagnostics and the exact posterior"

NUM_ROWS, NUM_FEATURES = 40, 3
NOISE_SD, INTERCEPT = 0.8, 1.5
# The normal-inverse-gamma prior: s^2 ~ InvGamma(2, 1), and given s^2 the intercept and weights are
# N(0, s^2 / 0.1) (about 3 noise sds). Written as a model for NUTS; in closed form it is conjugate.
PRIOR_PRECISION, CONCENTRATION, RATE = 0.1, 2.0, 1.0
NUM_CHAINS, NUM_WARMUP, NUM_SAMPLES = 4, 500, 500
NUM_GRID = 200
ROWS = ("intercept", "w[0]", "w[1]", "w[2]", "sigma")  # sigma stands for the sampled noise_variance


def regression(m, X, y=None):
    noise_variance = m.sample("noise_variance", dist.InverseGamma(CONCENTRATION, RATE))
    prior_sd = jnp.sqrt(noise_variance / PRIOR_PRECISION)
    intercept = m.sample("intercept", dist.Normal(0.0, prior_sd))
    w = m.sample("w", dist.Normal(0.0, prior_sd).expand((X.shape[1],)).to_event(1))
    sigma = m.deterministic("sigma", jnp.sqrt(noise_variance))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Normal(intercept + X @ w, sigma), obs=y)


def _exact(design, y, grids) -> dict:
    """The closed-form posterior: means, sds and marginal densities on ``grids``, in the order of ``ROWS``.

    Jit-compiled once: op by op, every small step of the update would compile on its own.
    """
    prior = BayesianLinearRegression(jnp.zeros(design.shape[1]), PRIOR_PRECISION, CONCENTRATION, RATE)
    posterior = prior.update(design, y).posterior
    weights, noise_variance = posterior["weights"], posterior["noise_variance"]
    a, b = noise_variance.concentration, noise_variance.rate
    # sigma = sqrt(s^2) with s^2 ~ InvGamma(a, b): E[sigma] = sqrt(b) Gamma(a - 1/2) / Gamma(a).
    sigma_mean = jnp.sqrt(b) * jnp.exp(gammaln(a - 0.5) - gammaln(a))
    sigma_sd = jnp.sqrt(b / (a - 1) - sigma_mean**2)
    # Each coefficient's marginal is a Student-t with the multivariate t's df and mean, and the
    # norm of its row of the scale factor as its scale.
    marginal = StudentT(weights.df, weights.mean, jnp.sqrt(jnp.sum(weights.scale_tril**2, axis=-1)))
    s = grids[-1]
    return {
        "mean": jnp.concatenate([weights.mean, sigma_mean[None]]),
        "sd": jnp.concatenate([jnp.sqrt(weights.variance), sigma_sd[None]]),
        # sigma's density from s^2's: p(sigma) = p_{s^2}(sigma^2) * 2 sigma.
        "density": jnp.vstack(
            [jnp.exp(marginal.log_prob(grids[:-1].T)).T, jnp.exp(noise_variance.log_prob(s**2)) * 2 * s]
        ),
    }


def _exact_table(summary, exact) -> tuple[Table, np.ndarray, np.ndarray]:
    table = Table(show_header=True, header_style="bold")
    table.add_column("parameter", no_wrap=True)
    for col in ("exact mean", "NUTS mean", "exact sd", "NUTS sd", "|mean gap| / sd", "MCSE / sd"):
        table.add_column(col, justify="right")
    gaps, mcses = [], []
    for i, name in enumerate(ROWS):
        row = summary.loc[name]
        gap = abs(row["mean"] - exact["mean"][i]) / exact["sd"][i]
        gaps.append(gap)
        mcses.append(row["mcse_mean"] / exact["sd"][i])
        table.add_row(
            name,
            f"{exact['mean'][i]:.4f}",
            f"{row['mean']:.4f}",
            f"{exact['sd'][i]:.4f}",
            f"{row['sd']:.4f}",
            f"{gap:.3f}",
            f"{mcses[-1]:.3f}",
        )
    return table, np.array(gaps), np.array(mcses)


def run(key, console, out):
    k_data, k_mcmc = jax.random.split(key)
    data = make_regression(
        k_data, num_samples=NUM_ROWS, num_features=NUM_FEATURES, noise_scale=NOISE_SD, intercept=INTERCEPT
    )
    truth = np.array([INTERCEPT, *data.extra["weights"], NOISE_SD])
    console.print(
        f"{NUM_ROWS} rows of y = {INTERCEPT:g} + X w + noise with {NUM_FEATURES} standard-normal features, "
        f"true w = {np.round(data.extra['weights'], 3).tolist()} and noise sd {NOISE_SD:g}. Prior: "
        f"s^2 ~ InvGamma({CONCENTRATION:g}, {RATE:g}), and given s^2 the intercept and the weights are "
        f"N(0, s^2 / {PRIOR_PRECISION:g}). NUTS runs {NUM_CHAINS} chains, {NUM_WARMUP} warmup + "
        f"{NUM_SAMPLES} draws each, on the unconstrained scale (log s^2)."
    )
    post = sample(
        k_mcmc,
        target(regression, data.X, y=data.y),
        num_chains=NUM_CHAINS,
        num_warmup=NUM_WARMUP,
        num_samples=NUM_SAMPLES,
        progress_bar=False,
        warn=False,
    )
    summary = post.summary()
    console.print(posterior_table(summary, ROWS, truth))
    stats = post.sample_stats
    console.print(
        f"Sampler: {int(stats['diverging'].sum())} divergences, mean acceptance "
        f"{stats['acceptance_rate'].mean():.2f} (warmup aimed at 0.8), mean tree depth "
        f"{stats['tree_depth'].mean():.1f}, step sizes {', '.join(f'{s:.2f}' for s in post.info['step_size'])}; "
        f"compiled in {post.info['compile_time']:.1f} s, sampled in {post.info['sampling_time']:.2f} s."
    )
    print_warnings(console, post)
    covered = sum(summary.loc[n, "hdi_3%"] <= t <= summary.loc[n, "hdi_97%"] for n, t in zip(ROWS, truth))
    realised = np.sqrt(np.mean((data.y - INTERCEPT - data.X @ data.extra["weights"]) ** 2))
    console.print(
        f"{covered} of {len(ROWS)} true values lie in their 94% highest-density intervals (HDI; red if not). "
        f"The noise actually drawn for these {NUM_ROWS} rows has sd {realised:.3f} against the generating "
        f"{NOISE_SD:g}: the posterior of sigma can only follow the noise that the data contain. ESS is the "
        "number of independent draws that the correlated draws are worth; R-hat compares the chains with "
        "each other."
    )

    values = [post["intercept"], *np.moveaxis(post["w"], -1, 0), post["sigma"]]
    lo, hi = np.array([v.min() for v in values]), np.array([v.max() for v in values])
    grids = np.linspace(lo - 0.15 * (hi - lo), hi + 0.15 * (hi - lo), NUM_GRID, axis=1)
    grids[-1] = np.maximum(grids[-1], 1e-3)  # sigma > 0
    design = np.column_stack([np.ones(NUM_ROWS), data.X])
    exact = jax.tree_util.tree_map(np.asarray, jax.jit(_exact)(design, data.y, grids))
    table, gaps, mcses = _exact_table(summary, exact)
    console.print(
        "\nThe same posterior in closed form (bayeskit.conjugate.BayesianLinearRegression: multivariate "
        "Student-t weights, inverse-gamma noise variance):"
    )
    console.print(table)
    worst = int(gaps.argmax())
    in_mcses = gaps[worst] / mcses[worst]
    console.print(
        f"Largest difference in posterior means: {gaps[worst]:.3f} posterior sds ({ROWS[worst]}), "
        f"{in_mcses:.1f} Monte Carlo standard errors (MCSE); the sds agree to within "
        f"{100 * np.max(np.abs(summary.loc[list(ROWS), 'sd'].to_numpy() / exact['sd'] - 1)):.1f}%. "
        f"{NUM_CHAINS * NUM_SAMPLES} draws resolve a mean only to about MCSE / sd = 1 / sqrt(ESS), so "
        + (
            "NUTS agrees with the exact answer as closely as its sample size allows."
            if in_mcses < 4
            else "a gap of more than 4 MCSE points to a problem with the sampler or the model."
        )
    )

    if out is not None:
        _figure(values, grids, exact["density"], truth, realised, out, console)


def _figure(values, grids, densities, truth, realised, out, console) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(
        len(ROWS), 2, figsize=(12, 2.0 * len(ROWS)), gridspec_kw={"width_ratios": [3, 2]}
    )
    for i, name in enumerate(ROWS):
        trace, density = axes[i]
        for c in range(NUM_CHAINS):
            trace.plot(values[i][c], lw=0.5, alpha=0.8, color=f"C{c}", label=f"chain {c}")
            density.hist(values[i][c], bins=30, density=True, histtype="step", color=f"C{c}", alpha=0.8)
        trace.axhline(truth[i], color="k", ls="--", lw=1)
        trace.set_ylabel(name)
        density.plot(grids[i], densities[i], color="k", lw=1.5, label="exact posterior")
        density.axvline(truth[i], color="k", ls="--", lw=1, label="truth")
    axes[-1, 1].axvline(realised, color="k", ls=":", lw=1, label="sd of the noise drawn")
    axes[-1, 1].legend(fontsize=7)
    axes[0, 0].set_title("trace plots (dashed: truth)")
    axes[0, 1].set_title("posterior densities: chains (steps), closed form (black)")
    axes[0, 0].legend(fontsize=7, ncol=4, loc="upper right")
    axes[0, 1].legend(fontsize=7)
    axes[-1, 0].set_xlabel("draw")
    fig.tight_layout()
    save(fig, out, "nuts_regression", console)
