"""Tour chapter: Gaussian processes — kernels as prior beliefs about functions, learned from data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from rich.table import Table

from bayeskit.gp import GPR, jittered_cholesky
from bayeskit.gp import kernels as K
from bayeskit.tour._figures import pyplot, save

TITLE = "Gaussian processes: kernels, marginal likelihood, trend plus season"

NOISE_SD = 0.2  # the sine data's noise
NUM_TRAIN, NUM_TEST = 40, 500
PRIOR_KERNELS = {
    "RBF": K.RBF(lengthscale=1.0),
    "Matern 1/2": K.Matern12(lengthscale=1.0),
    "Matern 3/2": K.Matern32(lengthscale=1.0),
    "Matern 5/2": K.Matern52(lengthscale=1.0),
    "Periodic": K.Periodic(lengthscale=1.0, period=2.0),
    "Rational quadratic": K.RationalQuadratic(lengthscale=1.0, alpha=0.3),
}


def _prior_samples(key, console, out):
    x = np.linspace(0.0, 6.0, 300)
    h = x[1] - x[0]
    table = Table(show_header=True, header_style="bold")
    for col in ("kernel", "hyperparameters", "mean |f(x+h) - f(x)| / h", "zero crossings"):
        table.add_column(col, justify="right" if col != "hyperparameters" else "left")
    draws = {}
    for i, (name, kernel) in enumerate(PRIOR_KERNELS.items()):
        L, _ = jittered_cholesky(kernel(x))
        f = np.asarray(jax.random.normal(jax.random.fold_in(key, i), (3, x.size)) @ L.T)
        draws[name] = f
        slope = np.mean(np.abs(np.diff(f, axis=1))) / h
        crossings = np.mean(np.sum(np.diff(np.sign(f), axis=1) != 0, axis=1))
        table.add_row(name, repr(kernel), f"{slope:.2f}", f"{crossings:.1f}")
    console.print(
        "A kernel is a prior over functions. Three draws from each, on [0, 6] with lengthscale 1: "
        "rough kernels (Matern 1/2) wiggle at every scale, smooth ones (RBF) do not."
    )
    console.print(table)
    if out is not None:
        plt = pyplot()
        fig, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True, sharey=True)
        for ax, (name, f) in zip(axes.ravel(), draws.items()):
            ax.plot(x, f.T, lw=1.2)
            ax.set_title(name)
        fig.suptitle("Draws from GP priors")
        save(fig, out, "gp_prior_samples", console)


def _sine_data(key):
    k_x, k_e, k_t = jax.random.split(key, 3)
    x = np.sort(np.asarray(jax.random.uniform(k_x, (NUM_TRAIN,), minval=0.0, maxval=8.0)))
    y = np.sin(x) + NOISE_SD * np.asarray(jax.random.normal(k_e, (NUM_TRAIN,)))
    x_test = np.asarray(jax.random.uniform(k_t, (NUM_TEST,), minval=0.0, maxval=8.0))
    y_test = np.sin(x_test) + NOISE_SD * np.asarray(
        jax.random.normal(jax.random.fold_in(k_t, 1), (NUM_TEST,))
    )
    return x, y, x_test, y_test


def _scores(gp, x_test, y_test):
    pred = gp.predict(x_test)
    lo, hi = pred.interval(0.95)
    return (
        float(np.sqrt(np.mean((pred.mean - y_test) ** 2))),
        float(-np.mean(pred.log_prob(y_test))),
        float(np.mean((y_test >= lo) & (y_test <= hi))),
    )


def _regression(key, console, out):
    x, y, x_test, y_test = _sine_data(key)
    fits = {
        name: GPR(kernel, noise=0.1).fit(x, y)
        for name, kernel in {
            "RBF": K.RBF(),
            "Matern 1/2": K.Matern12(),
            "Matern 5/2": K.Matern52(),
        }.items()
    }
    rbf = fits["RBF"]
    console.print(
        f"\n{NUM_TRAIN} noisy points of sin(x) on [0, 8] (noise sd {NOISE_SD}, so noise variance "
        f"{NOISE_SD**2:.3f}). GPR(RBF()).fit(x, y) learns by maximising the log marginal likelihood:"
    )
    console.print(
        f"  learned lengthscale {float(rbf.kernel.lengthscale):.3f}, signal variance "
        f"{float(rbf.kernel.variance):.3f}, noise variance {float(rbf.noise):.4f} "
        f"(sd {float(jnp.sqrt(rbf.noise)):.3f}; truth {NOISE_SD}); jitter added: {float(rbf.jitter):g}"
    )
    table = Table(show_header=True, header_style="bold")
    for col in ("kernel", "log marginal likelihood", "test RMSE", "test NLL", "95% coverage", "learned"):
        table.add_column(col, justify="right" if col != "learned" else "left")
    for name, gp in fits.items():
        rmse, nll, cover = _scores(gp, x_test, y_test)
        table.add_row(
            name,
            f"{float(gp.log_marginal_likelihood()):.2f}",
            f"{rmse:.3f}",
            f"{nll:.3f}",
            f"{cover:.1%}",
            repr(gp.kernel),
        )
    console.print(table)
    console.print(
        "Changing the kernel changes the beliefs: Matern 1/2 explains the smooth sine with rough "
        "functions and pays in evidence; Matern 5/2 lands near the RBF. The marginal "
        "likelihood ranks the kernels without a validation set. Coverage of the 95% predictive "
        "interval (noise included) should be near 95%."
    )
    if out is not None:
        plt = pyplot()
        grid = np.linspace(-1.0, 9.0, 300)
        fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True, sharey=True)
        for ax, (name, gp) in zip(axes.ravel(), fits.items()):
            pred = gp.predict(grid)
            # NumPy for matplotlib: it iterates over what it is given, element by element.
            lo, hi = map(np.asarray, pred.interval(0.95))
            flo, fhi = map(np.asarray, pred.interval(0.95, kind="latent"))
            ax.fill_between(grid, lo, hi, color="C0", alpha=0.15, label="95% predictive (y)")
            ax.fill_between(grid, flo, fhi, color="C0", alpha=0.35, label="95% latent (f)")
            ax.plot(grid, np.asarray(pred.mean), "C0", label="posterior mean")
            ax.plot(grid, np.sin(grid), "k--", lw=1, label="truth")
            ax.plot(x, y, "k.", ms=5)
            ax.set_title(name)
        axes[0, 0].legend(loc="lower left", fontsize=8)
        fig.suptitle("One data set, four kernels")
        save(fig, out, "gp_regression", console)


def _trend_and_season(key, console, out):
    k_t, k_s, k_e = jax.random.split(key, 3)
    # Irregular times (on a regular grid a period and its aliases explain the data equally well):
    # NUM_TRAIN observed up to t = 8, ten held out beyond it.
    t = np.concatenate(
        [
            np.sort(np.asarray(jax.random.uniform(k_t, (NUM_TRAIN,), minval=0.0, maxval=8.0))),
            np.sort(np.asarray(jax.random.uniform(k_s, (10,), minval=8.0, maxval=10.0))),
        ]
    )
    truth = lambda t: 0.4 * t + np.sin(2 * np.pi * t)
    y = truth(t) + 0.15 * np.asarray(jax.random.normal(k_e, t.shape))
    train = np.arange(t.size) < NUM_TRAIN
    season = K.Periodic(lengthscale=1.0, period=1.2) * K.RBF(lengthscale=20.0)  # locally periodic
    sum_kernel = K.Linear(0.1) + K.Constant(1.0) + season
    fits = {
        "RBF": GPR(K.RBF(), noise=0.1).fit(t[train], y[train]),  # same shapes as above: no recompile
        # A periodic kernel's marginal likelihood has many local optima in the period (and one
        # where the noise collapses to zero): 8 starts, where 3 found only those.
        "Linear + Constant + Periodic * RBF": GPR(sum_kernel, noise=0.1).fit(
            t[train], y[train], num_restarts=8
        ),
    }
    console.print(
        "\nA linear trend plus a yearly season, observed up to t = 8 and extrapolated to t = 10. "
        "The sum kernel says exactly that: Linear + Constant (trend) + Periodic * RBF (a season "
        "that may drift slowly)."
    )
    table = Table(show_header=True, header_style="bold")
    for col in ("kernel", "log marginal likelihood", "extrapolation RMSE (t > 8)", "learned period"):
        table.add_column(col, justify="right")
    for name, gp in fits.items():
        pred = gp.predict(t[~train])
        period = float(gp.kernel.k2.k1.period) if name != "RBF" else float("nan")
        table.add_row(
            name,
            f"{float(gp.log_marginal_likelihood()):.2f}",
            f"{float(np.sqrt(np.mean((pred.mean - truth(t[~train])) ** 2))):.3f}",
            "-" if name == "RBF" else f"{period:.3f} (truth 1)",
        )
    console.print(table)
    console.print(
        "Far from the data the RBF GP falls back to its prior mean; the sum kernel carries both the "
        "trend and the season forward. Its fit started from 8 points: the likelihood of a period "
        "has many local optima (aliases of the true one), so one start is rarely enough."
    )
    if out is not None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(11, 4))
        for i, (name, gp) in enumerate(fits.items()):
            pred = gp.predict(t)
            lo, hi = map(np.asarray, pred.interval(0.95))
            ax.fill_between(t, lo, hi, color=f"C{i}", alpha=0.2)
            ax.plot(t, np.asarray(pred.mean), f"C{i}", label=name)
        ax.plot(t[train], y[train], "k.", ms=4, label="observed")
        ax.plot(t[~train], y[~train], "kx", ms=4, label="held out")
        ax.axvline(8.0, color="grey", lw=0.8)
        ax.legend(fontsize=8)
        ax.set_title("Trend plus season: extrapolation with a sum kernel")
        save(fig, out, "gp_trend_season", console)


def run(key, console, out):
    k_prior, k_sine, k_trend = jax.random.split(key, 3)
    _prior_samples(k_prior, console, out)
    _regression(k_sine, console, out)
    _trend_and_season(k_trend, console, out)
