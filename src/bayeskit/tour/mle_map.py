"""Tour chapter: MLE against MAP — a Gaussian prior is ridge (L2), a Laplace prior is lasso (L1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from rich.table import Table

import bayeskit.dist as dist
from bayeskit import optimize
from bayeskit.datasets import make_regression
from bayeskit.ppl import target
from bayeskit.tour._figures import pyplot, save

TITLE = "MLE vs MAP: priors as regularisers"

NOISE = 1.0


def regression(m, X, y, prior=None):
    if prior is None:  # a flat prior: the posterior mode is the MLE
        w = m.sample("w", dist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    else:
        w = m.sample("w", prior.expand((X.shape[1],)).to_event(1))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Normal(X @ w, NOISE), obs=y)


def run(key, console, out):
    k_data, k_test, k_fit = jax.random.split(key, 3)
    train = make_regression(k_data, num_samples=20, num_features=15, num_informative=3, noise_scale=NOISE)
    w_true = train.extra["weights"]
    X_test = np.asarray(jax.random.normal(k_test, (2000, 15)))
    X, y = jnp.asarray(train.X), jnp.asarray(train.y)
    console.print(
        f"20 noisy observations, 15 features, only 3 of them matter. Truth: w = {np.round(w_true, 2).tolist()}"
    )
    fits = {
        "MLE (no prior)": optimize.mle(k_fit, target(regression, X, y), num_starts=1),
        "MAP, Normal(0, 1) prior = ridge": optimize.map(
            k_fit, target(regression, X, y, dist.Normal(0.0, 1.0)), num_starts=1
        ),
        "MAP, Laplace(0, 0.3) prior = lasso": optimize.map(
            k_fit, target(regression, X, y, dist.Laplace(0.0, 0.3)), num_starts=1, max_iterations=3000
        ),
    }
    f_test = X_test @ w_true
    n = X.shape[0]
    from sklearn.linear_model import Lasso, LinearRegression, Ridge

    Xn, yn = np.asarray(X), np.asarray(y)
    references = [
        ("LinearRegression", LinearRegression(fit_intercept=False)),
        (f"Ridge(alpha={NOISE**2 / 1.0**2:g})", Ridge(alpha=NOISE**2 / 1.0**2, fit_intercept=False)),
        (
            f"Lasso(alpha={NOISE**2 / (n * 0.3):.3g})",
            Lasso(alpha=NOISE**2 / (n * 0.3), fit_intercept=False, tol=1e-10, max_iter=100_000),
        ),
    ]
    table = Table(show_header=True, header_style="bold")
    for col in (
        "estimator",
        "|w - w_true|",
        "# |w| < 0.01",
        "RMSE of mean (new X)",
        "scikit-learn twin",
        "max |w - twin|",
    ):
        table.add_column(col)
    errors = {}
    for (name, res), (ref_name, ref) in zip(fits.items(), references):
        w = np.asarray(res.values["w"])
        twin = ref.fit(Xn, yn).coef_
        errors[name] = np.linalg.norm(w - w_true)
        rmse = np.sqrt(np.mean((X_test @ w - f_test) ** 2))
        table.add_row(
            name,
            f"{errors[name]:.3f}",
            str(int(np.sum(np.abs(w) < 0.01))),
            f"{rmse:.3f}",
            ref_name,
            f"{np.max(np.abs(w - twin)):.1e}",
        )
    console.print(table)
    console.print(
        "A Normal(0, s) prior is ridge with lambda = sigma^2/s^2, a Laplace(0, b) prior is the lasso with "
        "alpha = sigma^2/(n b): the MAP weights equal scikit-learn's (last column; the lasso's kink at 0 "
        "limits L-BFGS to a few hundredths). The Laplace prior zeroes most irrelevant weights; whether the "
        "shrinkage beats the MLE depends on the draw: here the best estimate of w is "
        f"{min(errors, key=errors.get)}."
    )
    if out is not None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(9, 4))
        idx = np.arange(len(w_true))
        ax.bar(idx - 0.3, w_true, width=0.2, label="truth", color="k")
        for j, (name, res) in enumerate(fits.items()):
            ax.bar(idx - 0.1 + 0.2 * j, np.asarray(res.values["w"]), width=0.2, label=name)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("feature")
        ax.set_ylabel("weight")
        ax.legend(fontsize=8)
        ax.set_title("Regression weights: MLE, ridge (Gaussian prior), lasso (Laplace prior)")
        save(fig, out, "mle_map", console)
