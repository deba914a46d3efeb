"""Tour chapter: Gibbs sampling of a 1-D Gaussian mixture, discrete assignments included."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from rich.table import Table

from bayeskit.mcmc import gaussian_mixture_blocks, gibbs, sample
from bayeskit.tour._figures import pyplot, save

TITLE = "Gibbs sampling: a Gaussian mixture with discrete labels"

TRUE_WEIGHTS = np.array([0.3, 0.5, 0.2])
TRUE_MEANS = np.array([-3.0, 0.5, 4.0])
TRUE_SDS = np.array([1.0, 0.8, 1.2])
NUM_POINTS = 300
K = 3
NUM_CHAINS, NUM_BURN_IN, NUM_DRAWS = 4, 500, 5000
# Priors: means ~ N(m_k, 2^2) with m_k at the data's 1/6, 1/2 and 5/6 quantiles (distinct centres
# discourage the chains from swapping labels); variances ~ InvGamma(2, 1); weights ~ Dirichlet(1, 1, 1).
MEANS_PRIOR_SD = 2.0
VARIANCES_PRIOR = (2.0, 1.0)
CONCENTRATION = 1.0
NUM_GRID = 400


def _data(key):
    """Labels and points from the true mixture (call it jitted: one compilation)."""
    k_z, k_y = jax.random.split(key)
    z = jax.random.choice(k_z, K, (NUM_POINTS,), p=jnp.asarray(TRUE_WEIGHTS))
    return z, jnp.asarray(TRUE_MEANS)[z] + jnp.asarray(TRUE_SDS)[z] * jax.random.normal(k_y, (NUM_POINTS,))


def _run(key, y, prior_means, console):
    """``NUM_CHAINS`` Gibbs chains through :func:`bayeskit.mcmc.sample`: burn-in, draws, diagnostics."""
    kernel = gibbs(
        gaussian_mixture_blocks(y, K, (prior_means, MEANS_PRIOR_SD), VARIANCES_PRIOR, CONCENTRATION)
    )
    k_start, k_chains = jax.random.split(key)
    # Overdispersed starts: the prior centres, jittered by the prior sd.
    starts = prior_means + MEANS_PRIOR_SD * jax.random.normal(k_start, (NUM_CHAINS, K))
    init = [
        {
            "z": jnp.zeros(y.shape[0], jnp.int32),  # drawn first, so its start is ignored
            "weights": jnp.full(K, 1.0 / K),
            "means": start,
            "variances": jnp.full(K, jnp.var(y) / K),
        }
        for start in starts
    ]
    return sample(
        k_chains,
        None,
        kernel,
        init=init,
        num_chains=NUM_CHAINS,
        num_warmup=NUM_BURN_IN,
        num_samples=NUM_DRAWS,
        record=_relabel,  # keep each draw with its components named in the order of their means
        progress_bar=False,
        warn=False,
    )


def _relabel(state: dict) -> dict:
    """Name the components in the order of their means (the chain itself runs on unchanged).

    The likelihood is the same under any permutation of the labels, so two chains (or one chain at
    two times) may call the same component by different names; ordering the means in every draw
    is an identifiability constraint that makes the names comparable.
    """
    order = jnp.argsort(state["means"])
    new_label = jnp.argsort(order)  # old label k is now called new_label[k]
    return {
        "weights": state["weights"][order],
        "means": state["means"][order],
        "sd": jnp.sqrt(state["variances"][order]),
        "is_relabelled": jnp.any(order != jnp.arange(K)).astype(jnp.int32),
        "z": new_label[state["z"]],
    }


def _mixture_density(grid, weights, means, sds):
    """Mixture densities on ``grid`` for each row of parameters: [rows, len(grid)]."""
    z = (grid[None, :, None] - means[:, None, :]) / sds[:, None, :]
    return np.sum(weights[:, None, :] * np.exp(-0.5 * z**2) / (np.sqrt(2 * np.pi) * sds[:, None, :]), axis=-1)


def run(key, console, out):
    k_data, k_mcmc = jax.random.split(key)
    z_true, y = (np.asarray(v) for v in jax.jit(_data)(k_data))
    prior_means = np.quantile(y, [1 / 6, 1 / 2, 5 / 6])
    post = _run(k_mcmc, jnp.asarray(y), jnp.asarray(prior_means), console)
    # Integer draws (labels, the renaming flag) are kept out of the diagnostics and the table.
    relabelled = post.draws.pop("is_relabelled").mean(axis=1)  # per chain: share of draws renamed
    z = post.draws.pop("z")  # [chain, draw, n] labels, named in the order of the means
    counts = np.stack([np.sum(z == k, axis=(0, 1)) for k in range(K)], axis=1)  # [n, K], pooled
    draws = post.draws
    summary = post.summary()

    console.print(
        f"{NUM_POINTS} points from a mixture of {K} Gaussians. Each point has a discrete label z_i saying "
        "which component drew it; Gibbs sampling draws every unknown in turn from its distribution given all "
        "the others: the labels (categorical), the weights (Dirichlet), the means (normal) and the variances "
        "(inverse-gamma), all exact, so no proposal is ever rejected."
    )
    console.print(
        f"Priors: means ~ N(m_k, {MEANS_PRIOR_SD:g}^2) with m = {np.round(prior_means, 2).tolist()} (the data's "
        f"1/6, 1/2 and 5/6 quantiles), variances ~ InvGamma{VARIANCES_PRIOR}, weights ~ Dirichlet(1, 1, 1). "
        f"{NUM_CHAINS} chains, {NUM_BURN_IN} sweeps of burn-in and {NUM_DRAWS} draws each, run by "
        "bayeskit.mcmc.sample(key, None, gibbs(blocks), init=...) like any other kernel."
    )
    renamed = int(np.sum(relabelled > 0))
    console.print(
        "Labels: swapping two components' names leaves the likelihood unchanged, so each chain settles on "
        "some naming of its own, and may change it. The table names the components in the order of their "
        "means, in every draw, which makes all draws comparable. "
        + (
            f"Here {renamed} of the {NUM_CHAINS} chains used other names (in "
            f"{', '.join(f'{r:.0%}' for r in relabelled)} of their draws): averaged as they came, components "
            "would have blurred together."
            if renamed
            else "Here every chain kept the order of the prior centres, so the names agreed anyway."
        )
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("parameter", no_wrap=True)
    for col in ("truth", "mean", "sd", "94% HDI", "ESS bulk", "R-hat"):
        table.add_column(col, justify="right", no_wrap=True)
    truth = {"weights": TRUE_WEIGHTS, "means": TRUE_MEANS, "sd": TRUE_SDS}
    for name in ("weights", "means", "sd"):
        for k in range(K):
            row = summary.loc[f"{name}[{k}]"]
            inside = row["hdi_3%"] <= truth[name][k] <= row["hdi_97%"]
            table.add_row(
                f"{name}[{k}]",
                f"{truth[name][k]:.3f}",
                f"{row['mean']:.3f}",
                f"{row['sd']:.3f}",
                f"{'' if inside else '[red]'}{row['hdi_3%']:.2f} to {row['hdi_97%']:.2f}",
                f"{row['ess_bulk']:.0f}",
                f"{'[red]' if row['r_hat'] > 1.01 else ''}{row['r_hat']:.3f}",
            )
    console.print(table)
    for message in post.check():
        console.print(f"  [yellow]warning:[/yellow] {message}")
    shares = np.bincount(z_true, minlength=K) / NUM_POINTS
    console.print(
        f"The weights follow the components' shares of this sample, {np.round(shares, 3).tolist()}, rather "
        f"than the generating {TRUE_WEIGHTS.tolist()}: {NUM_POINTS} points cannot tell the two apart."
    )

    # Each point's label: the component it was assigned to most often. The oracle knows the true
    # parameters and assigns each point to the component most likely to have drawn it; where
    # components overlap even it errs, so it bounds what any method can reach.
    assigned = counts.argmax(axis=1)
    accuracy = np.mean(assigned == z_true)
    log_joint = np.log(TRUE_WEIGHTS) - np.log(TRUE_SDS) - 0.5 * ((y[:, None] - TRUE_MEANS) / TRUE_SDS) ** 2
    oracle = np.mean(log_joint.argmax(axis=1) == z_true)
    certainty = counts.max(axis=1) / counts.sum(axis=1)
    confusion = np.zeros((K, K), dtype=int)
    np.add.at(confusion, (z_true, assigned), 1)
    table = Table(show_header=True, header_style="bold")
    table.add_column("true component", no_wrap=True)
    for k in range(K):
        table.add_column(f"assigned {k}", justify="right")
    for k in range(K):
        table.add_row(f"{k} (mean {TRUE_MEANS[k]:+g})", *(str(c) for c in confusion[k]))
    console.print(table)
    console.print(
        f"Assignment accuracy: {accuracy:.1%} of the points get their true component (each labelled by the "
        f"component it was assigned to most often); an oracle that knows the true parameters gets "
        f"{oracle:.1%}. The errors sit where components overlap: {np.mean(certainty < 0.9):.0%} of the points "
        "are assigned to one component in fewer than 90% of the draws."
    )

    if out is not None:
        _figure(y, draws, out, console)


def _figure(y, draws, out, console) -> None:
    plt = pyplot()
    grid = np.linspace(y.min() - 1.0, y.max() + 1.0, NUM_GRID)
    flat = {k: v.reshape(-1, K) for k, v in draws.items()}
    thin = slice(None, None, 10)  # every 10th draw is plenty for bands
    densities = _mixture_density(grid, flat["weights"][thin], flat["means"][thin], flat["sd"][thin])
    lo, mid, hi = np.quantile(densities, [0.03, 0.5, 0.97], axis=0)
    truth = _mixture_density(grid, TRUE_WEIGHTS[None], TRUE_MEANS[None], TRUE_SDS[None])[0]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.hist(y, bins=40, density=True, color="C7", alpha=0.5, label=f"data ({y.size} points)")
    ax.fill_between(grid, lo, hi, color="C0", alpha=0.3, label="posterior 94% band")
    ax.plot(grid, mid, color="C0", lw=2, label="posterior median density")
    ax.plot(grid, truth, color="k", ls="--", lw=1.2, label="true density")
    means = {k: v.mean(axis=0) for k, v in flat.items()}
    for k in range(K):
        component = means["weights"][k] * np.exp(-0.5 * ((grid - means["means"][k]) / means["sd"][k]) ** 2)
        ax.plot(
            grid,
            component / (np.sqrt(2 * np.pi) * means["sd"][k]),
            color=f"C{k + 1}",
            lw=1,
            ls=":",
            label=f"component {k}",
        )
    ax.set_xlabel("y")
    ax.set_ylabel("density")
    ax.set_title("Gibbs-sampled Gaussian mixture: fitted density against the data and the truth")
    ax.legend(fontsize=8)
    save(fig, out, "gibbs_mixture", console)
