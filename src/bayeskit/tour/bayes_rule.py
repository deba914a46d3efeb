"""Tour chapter: Bayes' rule on a coin — a Beta prior, Bernoulli flips, exact posteriors and evidence."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from rich.table import Table

from bayeskit.conjugate import BetaBernoulli
from bayeskit.dist import Beta
from bayeskit.tour._figures import pyplot, save
from bayeskit.tour._quantiles import quantile

TITLE = "Bayes' rule: a coin, a Beta prior and exact posteriors"

TRUE_BIAS = 0.7
CHECKPOINTS = (0, 1, 5, 20, 100, 500)
FAIR = 50.0  # Beta(50, 50): "surely close to fair", sd 0.05 around 1/2
PRIOR_NAMES = ("uniform", "fair")
GRID_CHECKS = (20, 500)
GRID_SIZE = 2000
DECISIVE = np.log(100.0)  # |log Bayes factor| beyond this is decisive (Jeffreys)
NEGLIGIBLE = np.log(3.0)  # and below this not worth more than a bare mention


def _exact(flips, grid) -> dict:
    """Everything closed-form, for two priors side by side (a batched model); jit-compiled once."""
    priors = BetaBernoulli(jnp.array([1.0, FAIR]), jnp.array([1.0, FAIR]))

    def one_flip(model, x):  # yesterday's posterior is today's prior
        log_predictive = model.log_marginal_likelihood(x)  # p(x_i | x_1..x_{i-1})
        model = model.update(x)
        return model, (model.alpha, model.beta, log_predictive)

    final, (alpha, beta, log_predictive) = jax.lax.scan(one_flip, priors, flips)
    alpha = jnp.concatenate([priors.alpha[None], alpha])  # row n: the belief after n flips
    beta = jnp.concatenate([priors.beta[None], beta])
    at = jnp.array(CHECKPOINTS)
    uniform = Beta(alpha[at, 0], beta[at, 0])  # the uniform prior's posteriors at the checkpoints
    batch = priors.update(flips)
    # Every density the chapter needs on the grid in one batched Beta (one compiled log_prob):
    # both priors, both posteriors after each grid-check size, the uniform prior's checkpoints.
    on_grid = [priors] + [priors.update(flips[:n]) for n in GRID_CHECKS]
    stacked_alpha = jnp.concatenate([m.alpha for m in on_grid] + [uniform.concentration1])
    stacked_beta = jnp.concatenate([m.beta for m in on_grid] + [uniform.concentration0])
    log_densities = Beta(stacked_alpha[:, None], stacked_beta[:, None]).log_prob(grid)
    return {
        "alpha": alpha,
        "beta": beta,
        # The chain rule: log p(x_1..x_n) = sum_i log p(x_i | x_1..x_{i-1}).
        "log_evidence": jnp.concatenate([jnp.zeros((1, 2)), jnp.cumsum(log_predictive, axis=0)]),
        "mean": uniform.mean,
        "sd": uniform.stddev,
        "interval": quantile(uniform, jnp.array([[0.025], [0.975]]), 0.0, 1.0),
        "update_gap": jnp.maximum(jnp.abs(final.alpha - batch.alpha), jnp.abs(final.beta - batch.beta)),
        # The closed form, log B(a + s, b + f) - log B(a, b), for all the flips and the grid checks.
        "batch_log_evidence": {
            n: priors.log_marginal_likelihood(flips[:n]) for n in {*GRID_CHECKS, flips.shape[0]}
        },
        "log_prior_on_grid": log_densities[:2],
        "log_posterior_on_grid": {n: log_densities[2 + 2 * i : 4 + 2 * i] for i, n in enumerate(GRID_CHECKS)},
        "densities": jnp.exp(log_densities[2 + 2 * len(GRID_CHECKS) :]),
    }


def _verdict(log_bf: float) -> str:
    if abs(log_bf) < NEGLIGIBLE:
        return "neither"
    winner = PRIOR_NAMES[0] if log_bf > 0 else PRIOR_NAMES[1]
    return f"{winner}, decisively" if abs(log_bf) > DECISIVE else winner


def _posterior_table(r: dict, heads: np.ndarray) -> Table:
    table = Table(show_header=True, header_style="bold")
    for col in ("flips", "heads", "posterior", "mean", "sd", "95% interval", "log p(D)"):
        table.add_column(col, justify="right")
    lower, upper = r["interval"]
    for i, n in enumerate(CHECKPOINTS):
        style = "" if lower[i] <= TRUE_BIAS <= upper[i] else "[red]"
        table.add_row(
            str(n),
            str(heads[n]),
            f"Beta({r['alpha'][n, 0]:g}, {r['beta'][n, 0]:g})",
            f"{r['mean'][i]:.3f}",
            f"{r['sd'][i]:.3f}",
            f"{style}{lower[i]:.3f} - {upper[i]:.3f}",
            f"{r['log_evidence'][n, 0]:.3f}",
        )
    return table


def _bayes_factor_table(r: dict, heads: np.ndarray) -> Table:
    table = Table(show_header=True, header_style="bold")
    for col in ("flips", "heads", "log p(D | uniform)", "log p(D | fair)", "log Bayes factor", "favours"):
        table.add_column(col, justify="right")
    for n in CHECKPOINTS[1:]:
        log_uniform, log_fair = r["log_evidence"][n]
        table.add_row(
            str(n),
            str(heads[n]),
            f"{log_uniform:.3f}",
            f"{log_fair:.3f}",
            f"{log_uniform - log_fair:+.3f}",
            _verdict(log_uniform - log_fair),
        )
    return table


def _grid_table(r: dict, heads: np.ndarray, grid: np.ndarray) -> Table:
    """Bayes' rule by brute force in numpy: prior x likelihood on a grid, normalised by its sum."""
    table = Table(show_header=True, header_style="bold")
    for col in ("prior", "flips", "max |grid - exact|", "peak density", "log Z on grid", "exact log p(D)"):
        table.add_column(col, justify="right")
    dx = grid[1] - grid[0]
    for n in GRID_CHECKS:
        log_likelihood = heads[n] * np.log(grid) + (n - heads[n]) * np.log1p(-grid)
        log_unnormalised = r["log_prior_on_grid"].T + log_likelihood[:, None]
        top = log_unnormalised.max(axis=0)
        log_z = top + np.log(np.sum(np.exp(log_unnormalised - top), axis=0) * dx)
        on_grid = np.exp(log_unnormalised - log_z)
        exact = np.exp(r["log_posterior_on_grid"][n]).T
        for j, name in enumerate(PRIOR_NAMES):
            peak = exact[:, j].max()
            gap = np.max(np.abs(on_grid[:, j] - exact[:, j]))
            shown = f"{gap:.1e}" if gap > 1e-15 * peak else "< 1e-15"  # equal to the last bit
            table.add_row(
                name, str(n), shown, f"{peak:.2f}", f"{log_z[j]:.6f}", f"{r['batch_log_evidence'][n][j]:.6f}"
            )
    return table


def run(key, console, out):
    flips = np.asarray(jax.random.bernoulli(key, TRUE_BIAS, (CHECKPOINTS[-1],)), dtype=np.int64)
    grid = (np.arange(GRID_SIZE) + 0.5) / GRID_SIZE
    heads = np.concatenate([[0], np.cumsum(flips)])  # heads[n]: heads among the first n flips
    r = jax.tree_util.tree_map(np.asarray, jax.jit(_exact)(jnp.asarray(flips), jnp.asarray(grid)))
    batch_log_evidence = r["batch_log_evidence"][flips.size]
    console.print(
        f"A coin with bias p = {TRUE_BIAS} is flipped {flips.size} times. From a uniform prior, Beta(1, 1), "
        "Bayes' rule turns s heads and f tails into the posterior Beta(1 + s, 1 + f). log p(D) is the log "
        "evidence: the probability of the flips so far with p integrated out."
    )
    console.print(_posterior_table(r, heads))
    console.print(
        "The sd and the interval shrink like 1/sqrt(n) around the truth; log p(D) falls with every flip."
    )
    console.print(
        f"Flip by flip or all at once: {flips.size} single-flip updates (one compiled lax.scan) end at "
        f"Beta({r['alpha'][-1, 0]:g}, {r['beta'][-1, 0]:g}), the same as one batch update (largest "
        f"parameter difference {r['update_gap'].max():.1e}). The one-step-ahead log predictives sum to "
        f"log p(D) = {r['log_evidence'][-1, 0]:.6f}; the batch formula gives {batch_log_evidence[0]:.6f} "
        f"(largest difference {np.abs(r['log_evidence'][-1] - batch_log_evidence).max():.1e})."
    )

    console.print(
        f"\nWhich prior explains the flips better: uniform Beta(1, 1) or a confident 'the coin is fair', "
        f"Beta({FAIR:g}, {FAIR:g})? The difference of their log evidences is the log Bayes factor."
    )
    console.print(_bayes_factor_table(r, heads))
    console.print(
        "A confident prior predicts well while the flips look fair and pays for every flip that does not: "
        f"the evidence rewards the prior that predicted the data (|log BF| > log 100 = {DECISIVE:.1f} is "
        "decisive)."
    )

    console.print(
        f"\nBrute force: prior x likelihood on {GRID_SIZE} midpoints of (0, 1), divided by its sum x spacing "
        "(the grid's estimate of the evidence Z), against the closed-form posterior density."
    )
    console.print(_grid_table(r, heads, grid))
    console.print(
        "The midpoint rule is this accurate because the densities vanish smoothly at 0 and 1; the closed "
        "form needs no grid at all, in any number of dimensions."
    )

    if out is not None:
        plt = pyplot()
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
        for i, n in enumerate(CHECKPOINTS):
            label = "prior Beta(1, 1)" if n == 0 else f"after {n} flip{'s' if n > 1 else ''}"
            left.plot(grid, r["densities"][i], color=plt.cm.viridis(i / (len(CHECKPOINTS) - 1)), label=label)
        left.axvline(TRUE_BIAS, color="k", ls="--", lw=1, label=f"true bias {TRUE_BIAS}")
        left.set_xlabel("bias p")
        left.set_ylabel("density")
        left.set_title("Posterior of the bias from a uniform prior")
        left.legend(fontsize=8)
        right.plot(np.arange(flips.size + 1), r["log_evidence"][:, 0] - r["log_evidence"][:, 1], color="C0")
        right.axhline(0.0, color="grey", lw=0.5)
        for level in (DECISIVE, -DECISIVE):
            right.axhline(level, color="grey", ls=":", lw=1)
        right.set_xlabel("number of flips")
        right.set_ylabel("log Bayes factor, uniform : fair")
        right.set_title(f"Evidence for Beta(1, 1) over Beta({FAIR:g}, {FAIR:g}); dotted: decisive")
        save(fig, out, "bayes_rule", console)
