"""Tour chapter: closed-form Bayesian linear regression — the evidence chooses a polynomial's degree."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from rich.table import Table

from bayeskit.conjugate import BayesianLinearRegression
from bayeskit.datasets import load_diabetes
from bayeskit.dist import StudentT
from bayeskit.tour._figures import pyplot, save
from bayeskit.tour._quantiles import quantile

TITLE = "Bayesian linear regression: the evidence picks the model"

COEFFICIENTS = np.array([0.5, -1.0, -0.8, 1.6])  # the truth: a cubic
NOISE_SD = 0.15
NUM_TRAIN, NUM_TEST, NUM_GRID = 25, 1000, 200
MAX_DEGREE = 8
# w | s^2 ~ N(0, s^2 / 0.01 I): weights up to ~10 noise sds; s^2 ~ InvGamma(2, 0.05), mean 0.05.
PRIOR_PRECISION, CONCENTRATION, RATE = 0.01, 2.0, 0.05
# Diabetes, on standardised features and targets: three fixed prior precisions, noise ~ InvGamma(1, 1).
DIABETES_PRECISIONS = (1e-2, 1.0, 1e2)
DIABETES_CONCENTRATION, DIABETES_RATE = 1.0, 1.0
DIABETES_TEST_EVERY = 5  # rows 0, 5, 10, ... are the test set: a fixed split


def _fit(X, y, X_new, y_new, masks, prior_precisions, concentration, rate) -> dict:
    """Fit one model per (column mask, prior precision) pair, vmapped: one compilation in all.

    A zeroed column of ``X`` adds nothing to the likelihood, and its factor of the prior cancels in
    the evidence (it is the same in the prior and the posterior), so a mask turns the largest
    design into any smaller one without changing its shape. ``y_new`` holds the targets of the
    first ``len(y_new)`` rows of ``X_new``.
    """

    def one(mask, prior_precision):
        prior = BayesianLinearRegression(jnp.zeros(X.shape[1]), prior_precision, concentration, rate)
        model = prior.update(X * mask, y)
        predictive = model.predictive(X_new * mask)
        scored = StudentT(predictive.df, predictive.loc[: y_new.shape[0]], predictive.scale[: y_new.shape[0]])
        posterior = model.posterior
        return {
            "log_evidence": prior.log_marginal_likelihood(X * mask, y),
            "weights_mean": model.loc,
            "weights_sd": jnp.sqrt(posterior["weights"].variance),
            "noise_variance_mean": posterior["noise_variance"].mean,
            "noise_variance_sd": jnp.sqrt(posterior["noise_variance"].variance),
            "loc": predictive.loc,
            "scale": predictive.scale,
            "log_predictive": scored.log_prob(y_new),
        }

    return jax.vmap(one)(masks, prior_precisions)


def _polynomial_data(key):
    """Training points, then fresh test points from the same process (drawn together: one compile)."""
    k_x, k_noise = jax.random.split(key)
    x = np.asarray(jax.random.uniform(k_x, (NUM_TRAIN + NUM_TEST,), minval=-1.0, maxval=1.0))
    truth = lambda x: np.polynomial.polynomial.polyval(x, COEFFICIENTS)
    y = truth(x) + NOISE_SD * np.asarray(jax.random.normal(k_noise, (NUM_TRAIN + NUM_TEST,)))
    return x[:NUM_TRAIN], y[:NUM_TRAIN], x[NUM_TRAIN:], y[NUM_TRAIN:], truth


def _degrees(key, console, out, t975: float):
    x, y, x_test, y_test, truth = _polynomial_data(key)
    x_grid = np.linspace(-1.05, 1.05, NUM_GRID)
    features = lambda x: np.vander(x, MAX_DEGREE + 1, increasing=True)  # 1, x, x^2, ...
    X_new = features(np.concatenate([x, x_test, x_grid]))
    masks = np.tril(np.ones((MAX_DEGREE + 1, MAX_DEGREE + 1)))  # row d keeps 1, x, ..., x^d
    fits = jax.jit(_fit)(
        features(x),
        y,
        X_new,
        np.concatenate([y, y_test]),
        masks,
        np.full(MAX_DEGREE + 1, PRIOR_PRECISION),
        CONCENTRATION,
        RATE,
    )
    fits = jax.tree_util.tree_map(np.asarray, fits)
    train, test = slice(0, NUM_TRAIN), slice(NUM_TRAIN, NUM_TRAIN + NUM_TEST)
    best = int(np.argmax(fits["log_evidence"]))

    console.print(
        f"{NUM_TRAIN} noisy points from the cubic {_poly(COEFFICIENTS)} (noise sd {NOISE_SD}), fitted with "
        f"polynomials of degree 0 to {MAX_DEGREE}. Prior: w | s^2 ~ N(0, s^2 / {PRIOR_PRECISION} I), "
        f"s^2 ~ InvGamma({CONCENTRATION:g}, {RATE:g}); all in closed form. Test: {NUM_TEST} fresh points."
    )
    table = Table(show_header=True, header_style="bold")
    for col in (
        "degree",
        "log evidence",
        "train RMSE",
        "test RMSE",
        "test log p / point",
        "95% coverage",
        "noise sd",
    ):
        table.add_column(col, justify="right")
    for d in range(MAX_DEGREE + 1):
        resid_train = y - fits["loc"][d, train]
        resid_test = y_test - fits["loc"][d, test]
        covered = np.abs(resid_test) <= t975 * fits["scale"][d, test]
        style = "[bold green]" if d == best else ""
        table.add_row(
            f"{style}{d}",
            f"{style}{fits['log_evidence'][d]:.2f}",
            f"{np.sqrt(np.mean(resid_train**2)):.3f}",
            f"{np.sqrt(np.mean(resid_test**2)):.3f}",
            f"{fits['log_predictive'][d, test].mean():.3f}",
            f"{covered.mean():.1%}",
            f"{np.sqrt(fits['noise_variance_mean'][d]):.3f}",
        )
    console.print(table)
    console.print(
        f"The evidence peaks at degree {best}. Training error keeps falling as the degree grows, but the "
        "evidence charges every extra weight for the prior volume it does not use (Occam's razor). It "
        "sees only the training points: compare its verdict with the held-out columns."
    )

    table = Table(show_header=True, header_style="bold")
    for col in ("weight", "truth", "posterior mean", "posterior sd"):
        table.add_column(col, justify="right")
    for j in range(best + 1):
        true_w = COEFFICIENTS[j] if j < len(COEFFICIENTS) else 0.0
        table.add_row(
            f"x^{j}",
            f"{true_w:+.3f}",
            f"{fits['weights_mean'][best, j]:+.3f}",
            f"{fits['weights_sd'][best, j]:.3f}",
        )
    console.print(f"Posterior of the degree-{best} model's weights (marginal Student-t):")
    console.print(table)
    console.print(
        f"Noise variance: posterior mean {fits['noise_variance_mean'][best]:.4f} (sd "
        f"{fits['noise_variance_sd'][best]:.4f}); truth {NOISE_SD**2:.4f}. The model's 95% predictive intervals "
        f"(Student-t, {2 * CONCENTRATION + NUM_TRAIN:g} degrees of freedom) cover "
        f"{np.mean(np.abs(y_test - fits['loc'][best, test]) <= t975 * fits['scale'][best, test]):.1%} "
        f"of the {NUM_TEST} fresh points."
    )

    if out is not None:
        plt = pyplot()
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 2]})
        grid = slice(NUM_TRAIN + NUM_TEST, None)
        loc, half = fits["loc"][best, grid], t975 * fits["scale"][best, grid]
        left.fill_between(x_grid, loc - half, loc + half, color="C0", alpha=0.25, label="95% predictive")
        left.plot(x_grid, loc, color="C0", label=f"predictive mean, degree {best}")
        left.plot(x_grid, truth(x_grid), color="k", ls="--", lw=1, label="truth")
        left.scatter(x, y, color="C3", s=16, zorder=3, label="data")
        left.set_xlabel("x")
        left.set_ylabel("y")
        left.legend(fontsize=8)
        left.set_title("Posterior predictive of the evidence's choice")
        colors = ["C2" if d == best else "C7" for d in range(MAX_DEGREE + 1)]
        floor = fits["log_evidence"].min() - 2.0  # bars rise from below the worst: only differences matter
        right.bar(np.arange(MAX_DEGREE + 1), fits["log_evidence"] - floor, bottom=floor, color=colors)
        right.set_xlabel("polynomial degree")
        right.set_ylabel("log evidence")
        right.set_title("log p(y | degree): Occam's razor")
        save(fig, out, "linear_regression", console)


def _poly(c) -> str:
    terms = [f"{c[0]:g}"] + [
        f"{'+' if v > 0 else '-'} {abs(v):g} x" + (f"^{k}" if k > 1 else "") for k, v in enumerate(c) if k
    ]
    return " ".join(terms)


def _diabetes_split():
    """scikit-learn's diabetes data, split once and for all: every 5th row is a test row."""
    data = load_diabetes()
    is_test = np.arange(data.y.shape[0]) % DIABETES_TEST_EVERY == 0
    return data.X[~is_test], data.y[~is_test], data.X[is_test], data.y[is_test]


def _diabetes(console, split, t975: float) -> None:
    from sklearn.linear_model import BayesianRidge

    X, y, X_test, y_test = split
    # Standardise with training statistics only, so that the unit-free prior makes sense here.
    x_mean, x_sd, y_mean, y_sd = X.mean(0), X.std(0), y.mean(), y.std()
    design = lambda X: np.column_stack([np.ones(X.shape[0]), (X - x_mean) / x_sd])
    z, z_test = (y - y_mean) / y_sd, (y_test - y_mean) / y_sd
    n, d = design(X).shape

    ridge = BayesianRidge().fit(design(X)[:, 1:], z)  # tunes both precisions by maximising the evidence
    precisions = np.array([*DIABETES_PRECISIONS, ridge.lambda_ / ridge.alpha_])
    masks = np.ones((len(precisions), d))
    fits = jax.jit(_fit)(
        design(X), z, design(X_test), z_test, masks, precisions, DIABETES_CONCENTRATION, DIABETES_RATE
    )
    fits = jax.tree_util.tree_map(np.asarray, fits)

    table = Table(show_header=True, header_style="bold")
    table.add_column("model", no_wrap=True)
    for col in ("prior precision", "log evidence", "test RMSE", "test log p / point", "95% coverage"):
        table.add_column(col, justify="right")
    log_sd = np.log(y_sd)  # back to the units of y: p(y) = p(z) / sd per point
    for i, lam in enumerate(precisions):
        name = "bayeskit" if i < len(DIABETES_PRECISIONS) else "bayeskit, sklearn's"
        resid = z_test - fits["loc"][i]
        table.add_row(
            name,
            f"{lam:.3g}",
            f"{fits['log_evidence'][i] - n * log_sd:.2f}",
            f"{y_sd * np.sqrt(np.mean(resid**2)):.2f}",
            f"{fits['log_predictive'][i].mean() - log_sd:.3f}",
            f"{np.mean(np.abs(resid) <= t975 * fits['scale'][i]):.1%}",
        )
    mean, sd = ridge.predict(design(X_test)[:, 1:], return_std=True)
    table.add_row(
        "sklearn BayesianRidge",
        f"{ridge.lambda_ / ridge.alpha_:.3g}",
        "-",
        f"{y_sd * np.sqrt(np.mean((z_test - mean) ** 2)):.2f}",
        f"{_gaussian_log_density(z_test, mean, sd).mean() - log_sd:.3f}",
        f"{np.mean(np.abs(z_test - mean) <= 1.96 * sd):.1%}",
    )
    w, *_ = np.linalg.lstsq(design(X), z, rcond=None)
    sigma = np.sqrt(np.sum((z - design(X) @ w) ** 2) / (n - d))  # plug-in noise, no weight uncertainty
    resid = z_test - design(X_test) @ w
    table.add_row(
        "least squares",
        "0",
        "-",
        f"{y_sd * np.sqrt(np.mean(resid**2)):.2f}",
        f"{_gaussian_log_density(resid, 0.0, sigma).mean() - log_sd:.3f}",
        f"{np.mean(np.abs(resid) <= 1.96 * sigma):.1%}",
    )
    console.print(
        f"\nscikit-learn's diabetes data: {n} patients to fit, {len(y_test)} to test (every "
        f"{DIABETES_TEST_EVERY}th row), 10 standardised features and an intercept; noise variance "
        f"~ InvGamma({DIABETES_CONCENTRATION:g}, {DIABETES_RATE:g}) on the standardised target. The prior "
        "precision is in units of the noise precision (w ~ N(0, s^2 / precision)); BayesianRidge tunes "
        "it by maximising the evidence, and bayeskit's row 'sklearn's' uses its value."
    )
    console.print(table)
    console.print(
        "With ten features and hundreds of rows the prior hardly moves the predictions, but the evidence "
        "still ranks the priors, and the evidence-maximising precision ranks first."
    )


def _gaussian_log_density(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)


def run(key, console, out):
    split = _diabetes_split()
    # All fits to one data set see the same n rows, so each predictive Student-t has 2a + n degrees
    # of freedom: both data sets' 97.5% quantiles come from one compiled search.
    dfs = jnp.array([2 * CONCENTRATION + NUM_TRAIN, 2 * DIABETES_CONCENTRATION + len(split[1])])
    t975 = np.asarray(jax.jit(quantile)(StudentT(dfs), 0.975, 0.0, 100.0))
    _degrees(key, console, out, float(t975[0]))
    _diabetes(console, split, float(t975[1]))
