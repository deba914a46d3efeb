"""Tour chapter: random-walk Metropolis on a two-mode target — proposal scale, burn-in and R-hat."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from rich.table import Table

import bayeskit.dist as dist
from bayeskit import Posterior
from bayeskit.diagnostics import ess_bulk, mcse_mean, rhat
from bayeskit.mcmc import optimal_acceptance_rate, rwmh, rwmh_warmup
from bayeskit.ppl import target
from bayeskit.tour._figures import pyplot, save

TITLE = "Metropolis-Hastings: proposal scale, burn-in and two modes"

WEIGHTS = np.array([0.3, 0.7])
MEANS = np.array([[-2.0, -2.0], [2.0, 2.0]])
# Mode A is round, mode B leans along the diagonal: sd 0.6 across, about 0.8 along it.
SCALE_TRILS = np.array([[[0.6, 0.0], [0.0, 0.6]], [[0.7, 0.0], [0.4, 0.57]]])
TRUE_MEAN = WEIGHTS @ MEANS
NUM_CHAINS = 4
NUM_DRAWS = 6000  # per chain; the scale table keeps the second half
NUM_WARMUP = 1000  # rwmh_warmup's steps when it tunes the scale
FIXED_SCALES = (0.05, 0.3, 3.0, 10.0)
TUNED_ROW = 2  # where the tuned scale goes in the table (between the fixed ones)
MIXING_SCALE = 3.0  # the fixed scale that hops between the modes most often
_MIXING_ROW = 1 + FIXED_SCALES.index(MIXING_SCALE)  # its row in the table, after the tuned row
# Dispersed starts, as a careful user would pick: two off the diagonal, one beyond each mode.
STARTS = np.array([[-3.0, 3.0], [3.0, -3.0], [-3.5, -3.5], [3.5, 3.5]])
BAD_START = np.array([30.0, -30.0])  # far out in the tail, as from a badly scaled guess
BURN_IN_DRAWS = 1000
BURN_IN_ROWS = 8  # rows of NUM_CHAINS chains from the bad start: more chains shrink the noise, not the bias
BURN_INS = (0, 25, 100, 500)


def mixture(m):
    """Two Gaussian bumps in the plane: the whole model is one 2-D mixture site."""
    components = dist.MultivariateNormal(jnp.asarray(MEANS), scale_tril=jnp.asarray(SCALE_TRILS))
    m.sample("x", dist.MixtureSameFamily(dist.Categorical(probs=jnp.asarray(WEIGHTS)), components))


def _chains(logdensity_fn, keys, scales, starts):
    """Run random-walk Metropolis for every (row, chain): keys and scales [rows, chains], starts [rows, chains, 2]."""

    def one(key, scale, start):
        kernel = rwmh(logdensity_fn, scale)

        def step(state, k):
            state, info = kernel.step(k, state)
            return state, (state.position, info.acceptance_rate)

        _, (positions, acceptance) = jax.lax.scan(step, kernel.init(start), jax.random.split(key, NUM_DRAWS))
        return positions, acceptance

    return jax.vmap(jax.vmap(one))(keys, scales, starts)


def _tune(logdensity_fn, keys, starts):
    """Tune each chain's scale by dual averaging toward the optimal acceptance rate in 2-D."""
    return jax.vmap(lambda k, z: rwmh_warmup(k, logdensity_fn, z, NUM_WARMUP)[1]["scale"])(keys, starts)


def _log_densities(x: np.ndarray) -> np.ndarray:
    """log(w_k N(x | mu_k, Sigma_k)) for both components, shape [2, *x.shape[:-1]] (numpy, for tables and plots)."""
    out = []
    for w, mu, tril in zip(WEIGHTS, MEANS, SCALE_TRILS):
        u = np.linalg.solve(tril, (x - mu).reshape(-1, 2).T).T.reshape(x.shape)
        out.append(np.log(w) - 0.5 * np.sum(u**2, axis=-1) - np.log(2 * np.pi * np.prod(np.diag(tril))))
    return np.stack(out)


def _in_mode_b(x: np.ndarray) -> np.ndarray:
    """Whether each point is more likely to come from mode B than from mode A (its responsibility)."""
    log_p = _log_densities(x)
    return log_p[1] > log_p[0]


def _mode_switches(x: np.ndarray) -> int:
    """Count moves from deep inside one mode to deep inside the other (responsibility > 99%).

    Points in between keep the last mode visited, so a chain dithering on the border between the
    modes does not count as switching.
    """
    log_p = _log_densities(x)
    gap = log_p[1] - log_p[0]  # log odds of mode B, [chain, draw]
    deep = np.where(gap > np.log(99.0), 1.0, np.where(gap < -np.log(99.0), 0.0, np.nan))
    visited = pd.DataFrame(deep.T).ffill().to_numpy()  # [draw, chain]
    return int(np.nansum(np.abs(np.diff(visited, axis=0))))


def _fmt_pair(v) -> str:
    return f"({v[0]:+.2f}, {v[1]:+.2f})"


def _scale_table(scales, positions, acceptance, console) -> list[str]:
    table = Table(show_header=True, header_style="bold")
    # Explicit line breaks keep the table within 80 columns; the numbers never wrap.
    for col in (
        "scale",
        "accept\nrate",
        "switches\n/ 1000",
        "in\nmode B",
        "estimate of E\\[x]",
        "R-hat",
        "bulk\nESS",
    ):
        table.add_column(col, justify="right", no_wrap=True)
    kept = positions[:, :, NUM_DRAWS // 2 :]
    worst_warnings: list[str] = []
    for i in range(len(scales)):
        x = kept[i]
        in_b = _in_mode_b(x)
        switches = _mode_switches(x) / in_b.size * 1000
        r = float(np.max(rhat(x)))
        e = float(np.min(ess_bulk(x)))
        table.add_row(
            _scale_label(scales[i]),
            f"{acceptance[i].mean():.2f}",
            f"{switches:.1f}",
            f"{in_b.mean():.0%}",
            _fmt_pair(x.reshape(-1, 2).mean(axis=0)),
            f"{'[red]' if r > 1.01 else ''}{r:.3f}",
            f"{e:.0f}",
        )
        if i == 0:
            worst_warnings = Posterior({"x": x}).check()
    console.print(table)
    return worst_warnings


def _burn_in_table(positions, console) -> None:
    table = Table(show_header=True, header_style="bold")
    for col in ("discarded", "kept", "estimate of E\\[x]", "error", "MCSE"):
        table.add_column(col, justify="right")
    draws = positions[:, :BURN_IN_DRAWS]
    for b in BURN_INS:
        estimate = draws[:, b:].reshape(-1, 2).mean(axis=0)
        table.add_row(
            str(b),
            str(BURN_IN_DRAWS - b),
            _fmt_pair(estimate),
            f"{np.linalg.norm(estimate - TRUE_MEAN):.3f}",
            f"{np.linalg.norm(mcse_mean(draws[:, b:])):.3f}",
        )
    console.print(table)


def _scale_label(scales: np.ndarray) -> str:
    lo, hi = scales.min(), scales.max()
    return f"{lo:g}" if lo == hi else f"{np.median(scales):.2f} (tuned)"


def run(key, console, out):
    k_tune, k_run = jax.random.split(key)
    t = target(mixture)
    tune = jax.jit(_tune, static_argnums=0)
    tuned = np.asarray(tune(t.logdensity_fn, jax.random.split(k_tune, NUM_CHAINS), STARTS))
    scales = np.array([np.full(NUM_CHAINS, s) for s in FIXED_SCALES])
    scales = np.insert(scales, TUNED_ROW, tuned, axis=0)
    starts = np.broadcast_to(STARTS, scales.shape + (2,))
    # More rows for the burn-in experiment: the mixing scale from a bad start. All rows run in one
    # compiled call.
    scales = np.concatenate([scales, np.full((BURN_IN_ROWS, NUM_CHAINS), MIXING_SCALE)])
    starts = np.concatenate([starts, np.broadcast_to(BAD_START, (BURN_IN_ROWS, NUM_CHAINS, 2))])
    keys = jax.random.split(k_run, scales.size).reshape(scales.shape)
    chains = jax.jit(_chains, static_argnums=0)
    positions, acceptance = chains(t.logdensity_fn, keys, jnp.asarray(scales), jnp.asarray(starts))
    positions, acceptance = np.asarray(positions), np.asarray(acceptance)

    console.print(
        f"The target: a mixture of two 2-D Gaussians, {WEIGHTS[0]:.0%} of the mass around "
        f"{_fmt_pair(MEANS[0])} (mode A) and {WEIGHTS[1]:.0%} around {_fmt_pair(MEANS[1])} (mode B), with "
        f"sds near 0.6: the modes are about 9 sds apart. Its mean is E\\[x] = {_fmt_pair(TRUE_MEAN)}. "
        "Random-walk Metropolis proposes x' = x + scale * N(0, I) and accepts with probability "
        "min(1, p(x') / p(x)): it needs the log density only, no gradient."
    )
    console.print(
        f"\n{NUM_CHAINS} chains per proposal scale, started at {', '.join(_fmt_pair(s) for s in STARTS)}; "
        f"{NUM_DRAWS} steps each, the first half discarded. The tuned scales come from rwmh_warmup, one per "
        f"chain ({NUM_WARMUP} steps of dual averaging toward acceptance {optimal_acceptance_rate(2):.2f}, "
        f"the optimum for a 2-D Gaussian; they came out {tuned.min():.2f} to {tuned.max():.2f}). A chain "
        f"should spend {WEIGHTS[1]:.0%} of its time in mode B; a switch is a move from deep inside one mode "
        "(99% probability of belonging to it) to deep inside the other."
    )
    rows = slice(0, len(FIXED_SCALES) + 1)
    messages = _scale_table(scales[rows], positions[rows], acceptance[rows], console)
    mixing_rhat = float(np.max(rhat(positions[_MIXING_ROW, :, NUM_DRAWS // 2 :])))
    console.print(
        "Small steps are almost always accepted but crawl: each chain stays near where it started, so "
        "the chains disagree, and R-hat, which compares them, is far above 1.01. The tuned scale explores a "
        "mode efficiently but rarely crosses to the other one: an acceptance rate is a local criterion. Steps "
        "the size of the gap between the modes are mostly rejected, but each accepted one can change the "
        "mode, and only that estimates the weights of the modes, and with them E\\[x]. Far larger steps are "
        f"rejected so often that mixing suffers again. Even scale {MIXING_SCALE:g} reaches R-hat {mixing_rhat:.3f} "
        f"with {NUM_DRAWS // 2} draws per chain"
        + (", just under the 1.01 bar" if mixing_rhat <= 1.01 else ", still above the 1.01 bar")
        + ": separated modes are hard for any random walk (tempering or a mixture-aware sampler help)."
    )
    console.print(f"What bayeskit says about the scale-{FIXED_SCALES[0]:g} chains (Posterior.check()):")
    for message in messages:
        console.print(f"  [yellow]warning:[/yellow] {message}")

    console.print(
        f"\nBurn-in: {BURN_IN_ROWS * NUM_CHAINS} chains at scale {MIXING_SCALE:g} started far out in the tail at "
        f"{_fmt_pair(BAD_START)}, {BURN_IN_DRAWS} steps each. Their first draws walk in towards the modes; "
        "keeping them biases the estimate. MCSE is its Monte Carlo standard error (from the ESS)."
    )
    _burn_in_table(positions[-BURN_IN_ROWS:].reshape(-1, NUM_DRAWS, 2), console)
    console.print(
        "Discarding the walk-in, a few dozen steps here, removes the bias; what is left is Monte Carlo "
        "error. A longer run would only dilute the bias. bayeskit.mcmc.sample runs a warmup that discards "
        "the walk-in for you and tunes the scale meanwhile."
    )

    if out is not None:
        _figure(positions, scales, out, console)


def _figure(positions, scales, out, console) -> None:
    plt = pyplot()
    grid = np.linspace(-5.0, 5.0, 200)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(_log_densities(np.stack([xx, yy], axis=-1))).sum(axis=0)
    levels = density.max() * np.array([0.003, 0.03, 0.1, 0.3, 0.6, 0.9])
    shown = 400
    panels = [(0, "too small"), (TUNED_ROW, "tuned by rwmh_warmup"), (_MIXING_ROW, "gap-sized")]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.8))
    for ax, (row, what) in zip(axes, panels):
        ax.contourf(xx, yy, density, levels=[*levels, density.max() * 1.01], cmap="Greys", alpha=0.5)
        for c in range(NUM_CHAINS):
            path = np.vstack([STARTS[c], positions[row, c, :shown]])
            ax.plot(path[:, 0], path[:, 1], lw=0.6, marker=".", ms=2, color=f"C{c}", alpha=0.8)
            ax.plot(*STARTS[c], marker="x", color=f"C{c}", ms=8, mew=2)
        ax.set_title(
            f"scale {_scale_label(scales[row]).removesuffix(' (tuned)')}: {what}\nfirst {shown} steps"
        )
        ax.set_xlim(-5, 5)
        ax.set_ylim(-5, 5)
        ax.set_aspect("equal")
    ax = axes[3]
    walk = 200
    ax.contourf(xx, yy, density, levels=[*levels, density.max() * 1.01], cmap="Greys", alpha=0.5)
    for c in range(NUM_CHAINS):
        path = np.vstack([BAD_START, positions[-BURN_IN_ROWS, c, :walk]])  # the draws start after a step
        ax.plot(path[:, 0], path[:, 1], lw=0.6, marker=".", ms=2, color=f"C{c}", alpha=0.8)
    ax.plot(*BAD_START, marker="x", color="k", ms=8, mew=2)
    ax.set_title(f"burn-in: scale {MIXING_SCALE:g} from {_fmt_pair(BAD_START)}\nfirst {walk} steps")
    ax.set_aspect("equal")
    for ax in axes:
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    fig.suptitle("Random-walk Metropolis trajectories over the target's density (x: starting points)")
    save(fig, out, "metropolis", console)
