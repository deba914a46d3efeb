"""Tour chapter: distributions — sample moments against the closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from rich.table import Table

import bayeskit.dist as dist
from bayeskit.tour._figures import pyplot, save

TITLE = "Distributions: draws against theory"

NUM_DRAWS = 100_000


def _families():
    return [
        ("Normal(1, 2)", dist.Normal(1.0, 2.0)),
        ("StudentT(5, 0, 1)", dist.StudentT(5.0, 0.0, 1.0)),
        ("Laplace(0, 1)", dist.Laplace(0.0, 1.0)),
        ("HalfNormal(1)", dist.HalfNormal(1.0)),
        ("LogNormal(0, 0.5)", dist.LogNormal(0.0, 0.5)),
        ("Gamma(2, rate 3)", dist.Gamma(2.0, 3.0)),
        ("InverseGamma(5, 2)", dist.InverseGamma(5.0, 2.0)),
        ("Beta(2, 5)", dist.Beta(2.0, 5.0)),
        ("Exponential(2)", dist.Exponential(2.0)),
        ("Uniform(-1, 3)", dist.Uniform(-1.0, 3.0)),
        ("Bernoulli(0.3)", dist.Bernoulli(probs=0.3)),
        ("Binomial(10, 0.4)", dist.Binomial(10, probs=0.4)),
        ("Poisson(4)", dist.Poisson(4.0)),
        ("NegBinomial2(3, 2)", dist.NegativeBinomial2(3.0, 2.0)),
    ]


def run(key, console, out):
    console.print(
        f"Each family draws {NUM_DRAWS:,} samples; the sample mean should sit within a few Monte "
        "Carlo standard errors (sd/sqrt(n)) of the exact mean, and the sample variance near the "
        "exact variance."
    )
    table = Table(show_header=True, header_style="bold")
    for col in ("distribution", "exact mean", "sample mean", "z", "exact var", "sample var"):
        table.add_column(col, justify="right" if col != "distribution" else "left")
    fams = _families()
    # One compiled program draws from every family and computes the exact moments (cheaper than
    # compiling each sampler, and each moment's arithmetic, op by op).
    draw_all = jax.jit(
        lambda k: [
            (d.sample(jax.random.fold_in(k, i), (NUM_DRAWS,)), d.mean, d.variance)
            for i, (_, d) in enumerate(fams)
        ]
    )
    results = jax.device_get(draw_all(key))
    draws = {name: np.asarray(x) for (name, _), (x, _, _) in zip(fams, results)}
    moments = {name: (float(mean), float(var)) for (name, _), (_, mean, var) in zip(fams, results)}
    for name, _ in fams:
        x = draws[name]
        mean, var = moments[name]
        z = (x.mean() - mean) / np.sqrt(var / NUM_DRAWS)
        style = "" if abs(z) < 4 else "[red]"
        table.add_row(
            name, f"{mean:.4f}", f"{x.mean():.4f}", f"{style}{z:+.2f}", f"{var:.4f}", f"{x.var():.4f}"
        )
    console.print(table)

    mvn = dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=jnp.array([[1.0, 0.8], [0.8, 1.0]]))
    xy = np.asarray(mvn.sample(jax.random.fold_in(key, 100), (NUM_DRAWS,)))
    console.print(
        f"MultivariateNormal with correlation 0.8: sample correlation {np.corrcoef(xy.T)[0, 1]:.4f}"
    )
    dirichlet = dist.Dirichlet(jnp.array([2.0, 3.0, 5.0]))
    p = np.asarray(dirichlet.sample(jax.random.fold_in(key, 101), (NUM_DRAWS,)))
    console.print(
        f"Dirichlet(2, 3, 5): exact mean {np.round(np.asarray(dirichlet.mean), 4).tolist()}, "
        f"sample mean {np.round(p.mean(0), 4).tolist()}"
    )
    console.print(
        "KL(N(0,1) || N(1,2)) = "
        f"{float(dist.kl_divergence(dist.Normal(0.0, 1.0), dist.Normal(1.0, 2.0))):.4f} (closed form)"
    )

    if out is not None:
        plt = pyplot()
        continuous = [(n, d) for n, d in fams if not d.is_discrete]
        ranges = np.array([np.quantile(draws[n], [0.005, 0.995]) for n, _ in continuous])
        grids = np.linspace(ranges[:, 0], ranges[:, 1], 300, axis=1)
        # Every density on its grid in one compiled call.
        densities = np.asarray(
            jax.jit(lambda g: jnp.stack([jnp.exp(d.log_prob(g[i])) for i, (_, d) in enumerate(continuous)]))(
                grids
            )
        )
        fig, axes = plt.subplots(2, 5, figsize=(16, 6))
        for ax, (name, _), (lo, hi), grid, density in zip(axes.ravel(), continuous, ranges, grids, densities):
            ax.hist(draws[name], bins=80, range=(lo, hi), density=True, alpha=0.5, color="C0")
            ax.plot(grid, density, color="C3")
            ax.set_title(name, fontsize=9)
        fig.suptitle("Histograms of draws (blue) against the exact density (red)")
        save(fig, out, "distributions", console)
