"""Tour chapter: Bayesian deep learning -- how sure is my network? Epistemic vs aleatoric uncertainty."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from rich.table import Table

from bayeskit import metrics
from bayeskit.gp import GPR, kernels
from bayeskit.nn.bayes_by_backprop import BayesByBackpropRegressor
from bayeskit.nn.deep_ensemble import DeepEnsembleRegressor
from bayeskit.nn.mc_dropout import MCDropoutRegressor
from bayeskit.tour._figures import pyplot, save

TITLE = "Bayesian deep learning: MC dropout, Bayes-by-backprop, deep ensembles and a GP in a data gap"

HIDDEN = (32, 32)
NUM_EPOCHS = 500
NOISE_SD = 0.15
GAP = (-1.0, 1.0)
GRID = np.linspace(-5.0, 3.0, 300)  # where the figure draws each method's bands


def _truth(x):
    return 0.5 * x + np.sin(x)


def _data(key):
    k_a, k_b, k_e, k_t = jax.random.split(key, 4)
    # A big cluster on the left, a small one on the right, nothing in between.
    x = np.concatenate(
        [
            np.asarray(jax.random.uniform(k_a, (60,), minval=-4.0, maxval=GAP[0])),
            np.asarray(jax.random.uniform(k_b, (20,), minval=GAP[1], maxval=2.0)),
        ]
    )
    y = _truth(x) + NOISE_SD * np.asarray(jax.random.normal(k_e, x.shape))
    # Held-out points from the same two clusters (calibration is judged where there is data).
    x_test = np.concatenate([np.linspace(-4.0, GAP[0], 150), np.linspace(GAP[1], 2.0, 50)])
    y_test = _truth(x_test) + NOISE_SD * np.asarray(jax.random.normal(k_t, x_test.shape))
    return x, y, x_test, y_test


class _GPView:
    """GPR's prediction in the same terms: latent variance is epistemic, the noise aleatoric."""

    def __init__(self, pred):
        self.mean = pred.mean
        self.epistemic_var = pred.latent_var
        self.aleatoric_var = pred.predictive_var - pred.latent_var
        self.total_var = pred.predictive_var

    def nll(self, y):
        return metrics.gaussian_nll(y, self.mean, jnp.sqrt(self.total_var))


def _fit_all(key, x, y):
    k_mc, k_bbb, k_ens = jax.random.split(key, 3)
    models = {
        # With one input, dropping it erases whole rows of the data: drop hidden units only.
        "MC dropout (p = 0.1)": lambda: MCDropoutRegressor(
            HIDDEN, dropout_rate=0.1, num_epochs=NUM_EPOCHS, drop_inputs=False
        ).fit(k_mc, x, y),
        "Bayes-by-backprop": lambda: BayesByBackpropRegressor(HIDDEN, num_epochs=NUM_EPOCHS).fit(k_bbb, x, y),
        "Deep ensemble (M = 5)": lambda: DeepEnsembleRegressor(5, HIDDEN, num_epochs=NUM_EPOCHS).fit(
            k_ens, x, y
        ),
        "GP (RBF)": lambda: GPR(kernels.RBF(), noise=0.1).fit(x[:, None], y),
    }
    fits, seconds = {}, {}
    for name, make in models.items():
        start = time.perf_counter()
        fits[name] = make()
        seconds[name] = time.perf_counter() - start
    return fits, seconds


def _predict(model, X):
    if isinstance(model, GPR):
        return _GPView(model.predict(X[:, None]))
    return model.predict(X)


def run(key, console, out):
    k_data, k_fit = jax.random.split(key)
    x, y, x_test, y_test = _data(k_data)
    console.print(
        f"80 noisy points of 0.5 x + sin x (noise sd {NOISE_SD}) in two clusters with a gap in "
        f"{GAP}. Each method predicts a mixture over models (dropout masks, weight draws, members); "
        "its variance splits exactly into aleatoric (the noise the models predict) and epistemic "
        "(their disagreement): Var(y) = E(sigma^2) + Var(mu). Networks: two hidden layers of 32 ReLU units."
    )
    fits, seconds = _fit_all(k_fit, x, y)
    gap = np.linspace(-0.5, 0.5, 11)
    table = Table(show_header=True, header_style="bold")
    for col in (
        "method",
        "test RMSE",
        "test NLL",
        "95% coverage",
        "miscalibration area",
        "epistemic sd: gap / data",
        "aleatoric sd (truth 0.15)",
        "fit (s)",
    ):
        table.add_column(col, justify="right" if col != "method" else "left")
    preds, ratios, bands = {}, {}, {}
    for name, model in fits.items():
        # One prediction per method, at the test points, the gap and the figure's grid: each new
        # input shape would compile the method's predict again.
        pred = _predict(model, np.concatenate([x_test, gap, GRID]))
        on_grid = slice(x_test.size + gap.size, None)
        bands[name] = [np.asarray(v)[on_grid] for v in (pred.mean, pred.aleatoric_var, pred.epistemic_var)]
        test_mean, test_var = pred.mean[: x_test.size], pred.total_var[: x_test.size]
        preds[name] = (test_mean, jnp.sqrt(test_var))
        epi = np.asarray(pred.epistemic_var)
        ratio = ratios[name] = np.sqrt(
            np.mean(epi[x_test.size : x_test.size + gap.size]) / np.median(epi[: x_test.size])
        )
        table.add_row(
            name,
            f"{float(metrics.rmse(y_test, test_mean)):.3f}",
            f"{float(_test_nll(pred, y_test)):.3f}",
            f"{float(metrics.gaussian_coverage(y_test, test_mean, jnp.sqrt(test_var))):.1%}",
            f"{float(metrics.miscalibration_area(y_test, test_mean, jnp.sqrt(test_var))):.3f}",
            f"{ratio:.1f}x",
            f"{float(np.sqrt(np.mean(np.asarray(pred.aleatoric_var)[: x_test.size]))):.3f}",
            f"{seconds[name]:.1f}",
        )
    console.print(table)
    unsure = [name for name, r in ratios.items() if r > 1.0]
    console.print(
        f"Less sure in the gap than near the data (epistemic sd ratio > 1): {', '.join(unsure) or 'none'}. "
        "A single-noise-level network (MC dropout, Bayes-by-backprop here) puts its misfit into the "
        "aleatoric part; the heteroscedastic ensemble and the GP come closer to the true noise. Test NLL "
        "scores the whole predictive mixture (mixture_nll for the networks); coverage and the "
        "calibration curve use the Gaussian with the total variance. MC dropout's weight decay is "
        "l^2 (1 - p) / (2 N tau) (Gal & Ghahramani 2016); with a single input it drops hidden units "
        "only (drop_inputs=False), since dropping x erases a row."
    )
    if out is not None:
        _figures(bands, x, y, preds, y_test, console, out)


def _test_nll(pred, y_test):
    n = y_test.size
    if isinstance(pred, _GPView):
        return metrics.gaussian_nll(y_test, pred.mean[:n], jnp.sqrt(pred.total_var[:n]))
    scale = jnp.broadcast_to(pred.scale_samples, pred.loc_samples.shape)[:, :n]
    return metrics.mixture_nll(y_test, pred.loc_samples[:, :n], scale)


def _figures(bands, x, y, preds, y_test, console, out):
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True, sharey=True)
    for ax, (name, (mean, aleatoric_var, epistemic_var)) in zip(axes.ravel(), bands.items()):
        alea, epi = 2 * np.sqrt(aleatoric_var), 2 * np.sqrt(epistemic_var)
        ax.fill_between(GRID, mean - alea, mean + alea, color="C1", alpha=0.25, label="± 2 sd aleatoric")
        ax.fill_between(GRID, mean - epi, mean + epi, color="C0", alpha=0.45, label="± 2 sd epistemic")
        ax.plot(GRID, mean, "C0", label="predictive mean")
        ax.plot(GRID, _truth(GRID), "k--", lw=1, label="truth")
        ax.plot(x, y, "k.", ms=4)
        ax.axvspan(*GAP, color="grey", alpha=0.08)
        ax.set_title(name)
        ax.set_ylim(-4.5, 3.5)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Epistemic (blue) and aleatoric (orange) uncertainty around a gap in the data")
    save(fig, out, "bdl_uncertainty", console)

    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, (mean, sd) in preds.items():
        expected, observed = metrics.calibration_curve(y_test, mean, sd, num_levels=40)
        ax.plot(expected, observed, label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
    ax.set_xlabel("expected quantile level")
    ax.set_ylabel("observed frequency")
    ax.legend(fontsize=8)
    ax.set_title("Calibration on held-out points")
    save(fig, out, "bdl_calibration", console)
