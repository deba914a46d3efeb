"""Tour chapter: eight schools — no, partial and complete pooling, and why non-centring matters."""

from __future__ import annotations

import jax
import numpy as np
from rich.table import Table

import bayeskit.dist as dist
from bayeskit.datasets import eight_schools
from bayeskit.mcmc import sample
from bayeskit.ppl import target
from bayeskit.tour._figures import pyplot, save

TITLE = "Hierarchical models: eight schools, pooling and the funnel"

MU_PRIOR_SD, TAU_PRIOR_SCALE = 5.0, 5.0
NUM_CHAINS, NUM_WARMUP, NUM_SAMPLES = 4, 500, 1000
Z94 = 1.8807936081512509  # the standard normal's 97th percentile: central 94% intervals


def non_centred(m, sigma, y=None):
    """theta_j = mu + tau * theta_raw_j: the sampler sees independent N(0, 1) school effects."""
    mu = m.sample("mu", dist.Normal(0.0, MU_PRIOR_SD))
    tau = m.sample("tau", dist.HalfCauchy(TAU_PRIOR_SCALE))
    with m.plate("school", sigma.shape[0]):
        theta_raw = m.sample("theta_raw", dist.Normal(0.0, 1.0))
        theta = m.deterministic("theta", mu + tau * theta_raw)
        m.sample("y", dist.Normal(theta, sigma), obs=y)


def centred(m, sigma, y=None):
    """theta_j ~ N(mu, tau): the same model, but the sampler must follow theta's funnel in tau."""
    mu = m.sample("mu", dist.Normal(0.0, MU_PRIOR_SD))
    tau = m.sample("tau", dist.HalfCauchy(TAU_PRIOR_SCALE))
    with m.plate("school", sigma.shape[0]):
        theta = m.sample("theta", dist.Normal(mu, tau))
        m.sample("y", dist.Normal(theta, sigma), obs=y)


def run(key, console, out):
    k_non, k_cen = jax.random.split(key)
    data = eight_schools()
    y, sigma, schools = data.y, data.extra["sigma"], data.extra["schools"]
    # Complete pooling: one common effect; with a flat prior its posterior is the precision-weighted
    # mean of the schools' estimates, with sd 1 / sqrt(sum 1 / sigma_j^2).
    pooled_sd = 1.0 / np.sqrt(np.sum(1.0 / sigma**2))
    pooled = pooled_sd**2 * np.sum(y / sigma**2)
    console.print(
        "Eight schools (Rubin 1981): each school's estimated coaching effect y_j on SAT scores, with its "
        "standard error sigma_j. No pooling takes each school on its own (y_j ± 1.88 sigma_j); complete "
        "pooling assumes one common effect (the precision-weighted mean); partial pooling lets the effects "
        f"differ by a spread tau that the data estimate: theta_j ~ N(mu, tau), mu ~ N(0, {MU_PRIOR_SD:g}^2), "
        f"tau ~ HalfCauchy({TAU_PRIOR_SCALE:g}), y_j ~ N(theta_j, sigma_j)."
    )
    runs = {}
    for name, model, k in (("non-centred", non_centred, k_non), ("centred", centred, k_cen)):
        runs[name] = sample(
            k,
            target(model, sigma, y=y),
            num_chains=NUM_CHAINS,
            num_warmup=NUM_WARMUP,
            num_samples=NUM_SAMPLES,
            progress_bar=False,
            warn=False,
        )
    post = runs["non-centred"]
    summary = post.summary(var_names=["mu", "tau", "theta"])

    table = Table(show_header=True, header_style="bold")
    for col in ("school", "sigma", "no pooling", "partial pooling", "complete pooling"):
        table.add_column(col, justify="right", no_wrap=True)
    for j, school in enumerate(schools):
        row = summary.loc[f"theta[{j}]"]
        table.add_row(
            school,
            f"{sigma[j]:.0f}",
            f"{y[j]:+.1f} ± {Z94 * sigma[j]:.1f}",
            f"{row['mean']:+.1f} ({row['hdi_3%']:+.1f}, {row['hdi_97%']:+.1f})",
            f"{pooled:+.1f} ± {Z94 * pooled_sd:.1f}",
        )
    console.print(
        "\nEstimated effect per school with its 94% interval: no pooling is y_j, partial pooling the posterior "
        "mean of theta_j and its HDI (NUTS, non-centred), complete pooling the common effect:"
    )
    console.print(table)
    mu_row, tau_row = summary.loc["mu"], summary.loc["tau"]
    spread_none = np.ptp(y)
    spread_partial = np.ptp(summary.loc[[f"theta[{j}]" for j in range(len(y))], "mean"].to_numpy())
    console.print(
        f"Partial pooling shrinks each school towards mu = {mu_row['mean']:.1f} (94% HDI "
        f"{mu_row['hdi_3%']:+.1f} to {mu_row['hdi_97%']:+.1f}): the estimates span {spread_partial:.1f} points "
        f"instead of {spread_none:.0f}. The data cannot rule out tau = 0 (posterior mean "
        f"{tau_row['mean']:.1f}, 94% HDI {tau_row['hdi_3%']:.1f} to {tau_row['hdi_97%']:.1f}), so the "
        "schools borrow strength from each other; school A's 28 points, measured with sd 15, is mostly noise."
    )

    table = Table(show_header=True, header_style="bold")
    table.add_column("parameterisation", no_wrap=True)
    for col in ("divergent draws", "tau mean", "tau ESS", "tau R-hat", "step size", "tree depth"):
        table.add_column(col, justify="right", no_wrap=col == "divergent draws")
    for name, p in runs.items():
        divergent = p.sample_stats["diverging"]
        tau = p.summary(var_names=["tau"]).loc["tau"]
        table.add_row(
            name,
            f"{int(divergent.sum())} ({divergent.mean():.1%})",
            f"{tau['mean']:.2f}",
            f"{tau['ess_bulk']:.0f}",
            f"{'[red]' if tau['r_hat'] > 1.01 else ''}{tau['r_hat']:.3f}",
            f"{np.median(p.info['step_size']):.3f}",
            f"{p.sample_stats['tree_depth'].mean():.1f}",
        )
    console.print(
        f"\nThe same model, two ways to write it ({NUM_CHAINS} chains x {NUM_WARMUP} warmup + {NUM_SAMPLES} "
        "draws each). Centred: theta_j ~ N(mu, tau). Non-centred: theta_raw_j ~ N(0, 1), theta_j = mu + "
        "tau * theta_raw_j."
    )
    console.print(table)
    for name, p in runs.items():
        for message in p.warnings:
            console.print(f"  [yellow]warning ({name}):[/yellow] {message}")
        if not p.warnings:
            console.print(f"  {name}: no warnings.")
    tau_means = {name: float(np.mean(p["tau"])) for name, p in runs.items()}
    biased = tau_means["centred"] > tau_means["non-centred"]
    console.print(
        "In the centred form, theta and tau make a funnel: as tau shrinks, the thetas must crowd together, "
        "and no single step size fits both the wide mouth and the narrow neck. Trajectories heading into "
        "the neck diverge, so the chains rarely get there"
        + (
            f" and over-estimate tau ({tau_means['centred']:.2f} against {tau_means['non-centred']:.2f}). "
            if biased
            else ". "
        )
        + "The non-centred form samples independent N(0, 1) effects and scales them by tau afterwards: the "
        "geometry the sampler sees is nearly Gaussian."
    )

    if out is not None:
        _figure(y, sigma, schools, pooled, summary, runs, out, console)


def _figure(y, sigma, schools, pooled, summary, runs, out, console) -> None:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1, 1.2]})
    partial = summary.loc[[f"theta[{j}]" for j in range(len(y))], "mean"].to_numpy()
    for j, school in enumerate(schools):
        left.plot([0, 1], [y[j], partial[j]], color=f"C{j}", marker="o")
        left.annotate(
            f"{school}  {y[j]:+.0f}",
            (0, y[j]),
            xytext=(-8, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=8,
        )
    left.axhline(pooled, color="k", ls="--", lw=1, label=f"complete pooling: {pooled:.1f}")
    left.set_xticks([0, 1], ["no pooling (y_j)", "partial pooling (posterior mean)"])
    left.set_xlim(-0.45, 1.15)
    left.set_ylabel("estimated effect")
    left.set_title("Shrinkage: each school's estimate moves toward the common mean")
    left.legend(fontsize=8, loc="lower right")

    for name, color in (("non-centred", "C0"), ("centred", "C1")):
        p = runs[name]
        theta0 = p.flat("theta")[:, 0]
        log_tau = np.log(p.flat("tau"))
        right.scatter(theta0, log_tau, s=4, alpha=0.35, color=color, label=f"{name}")
    centred = runs["centred"]
    divergent = centred.sample_stats["diverging"].reshape(-1)
    right.scatter(
        centred.flat("theta")[divergent, 0],
        np.log(centred.flat("tau")[divergent]),
        s=18,
        color="C3",
        label=f"centred: divergent ({int(divergent.sum())})",
    )
    right.set_xlabel("theta[0] (school A)")
    right.set_ylabel("log tau")
    right.set_title(
        "The funnel: centred draws stop short of its neck\n(red: draws whose transition diverged)"
    )
    right.legend(fontsize=8, markerscale=2)
    save(fig, out, "hierarchical", console)
