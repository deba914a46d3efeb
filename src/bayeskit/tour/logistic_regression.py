"""Tour chapter: Bayesian logistic regression with NUTS — coefficients, predictive probabilities, boundary."""

from __future__ import annotations

import jax
import numpy as np
from rich.table import Table

import bayeskit.dist as dist
from bayeskit.datasets import make_classification
from bayeskit.diagnostics import hdi
from bayeskit.mcmc import sample
from bayeskit.ppl import predictive, target
from bayeskit.tour._figures import pyplot, save
from bayeskit.tour._tables import posterior_table, print_warnings

TITLE = "Logistic regression with NUTS: predictions and uncertainty"

NUM_POINTS, INTERCEPT, WEIGHT_SCALE = 200, -0.5, 1.5
PRIOR_SD = 2.5  # intercept and weights ~ N(0, 2.5^2): weakly informative on the logit scale
NUM_CHAINS, NUM_WARMUP, NUM_SAMPLES = 4, 500, 500
ROWS = ("intercept", "w[0]", "w[1]")
GRID_SIZE, GRID_LIMIT = 70, 7.0


def logistic(m, X, y=None):
    intercept = m.sample("intercept", dist.Normal(0.0, PRIOR_SD))
    w = m.sample("w", dist.Normal(0.0, PRIOR_SD).expand((X.shape[1],)).to_event(1))
    logits = intercept + X @ w
    if y is None:  # predicting: record the probabilities too (fitting needs only the logits)
        m.deterministic("p", jax.nn.sigmoid(logits))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Bernoulli(logits=logits), obs=y)


def _query_points(w, b) -> tuple[list[str], np.ndarray]:
    """Points placed by the true boundary w.x + b = 0: on it, either side of it, and far along it."""
    normal = w / np.linalg.norm(w)
    along = np.array([-normal[1], normal[0]])
    foot = -b / np.linalg.norm(w) * normal  # the boundary's point nearest the origin
    logit_step = 3.0 / np.linalg.norm(w)  # moves the true logit by 3
    points = [
        ("centre of data", np.zeros(2)),
        ("boundary, near", foot),
        ("boundary, far out", foot + 6.0 * along),
        ("true logit +3", foot + logit_step * normal),
        ("true logit -3", foot - logit_step * normal),
        ("far, class-1 side", foot + 3 * logit_step * normal + 3.0 * along),
    ]
    return [name for name, _ in points], np.array([p for _, p in points])


def run(key, console, out):
    k_data, k_mcmc, k_pred = jax.random.split(key, 3)
    data = make_classification(
        k_data, num_samples=NUM_POINTS, num_features=2, weight_scale=WEIGHT_SCALE, intercept=INTERCEPT
    )
    w_true, b_true = data.extra["weights"], data.extra["intercept"]
    truth = np.array([b_true, *w_true])
    console.print(
        f"{NUM_POINTS} points in the plane with labels y ~ Bernoulli(sigmoid({b_true:g} + x . w)), true "
        f"w = {np.round(w_true, 3).tolist()}; {int(data.y.sum())} of them are class 1. Prior: intercept and "
        f"weights ~ N(0, {PRIOR_SD:g}^2). NUTS: {NUM_CHAINS} chains, {NUM_WARMUP} warmup + {NUM_SAMPLES} "
        "draws each."
    )
    post = sample(
        k_mcmc,
        target(logistic, data.X, y=data.y),
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
        f"{stats['acceptance_rate'].mean():.2f}, mean tree depth {stats['tree_depth'].mean():.1f}."
    )
    print_warnings(console, post)

    names, points = _query_points(w_true, b_true)
    axis = np.linspace(-GRID_LIMIT, GRID_LIMIT, GRID_SIZE)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    # One predictive call for the query points and the figure's grid: the model, run with each
    # posterior draw substituted, gives p = sigmoid(b + x . w) at every new x, and a simulated label
    # y. Jitted, it compiles once; op by op, each of its steps would compile on its own.
    predict = jax.jit(predictive, static_argnums=1)
    draws = predict(k_pred, logistic, post.draws, np.vstack([points, grid]))
    p = np.asarray(draws["p"]).reshape(-1, len(points) + len(grid))
    p_points, p_grid = p[:, : len(points)], p[:, len(points) :]
    y_new = np.asarray(draws["y"]).reshape(p.shape)[:, : len(points)]
    intervals = np.asarray(hdi(p_points[None]))
    true_p = 1.0 / (1.0 + np.exp(-(b_true + points @ w_true)))

    table = Table(show_header=True, header_style="bold")
    table.add_column("point", no_wrap=True)
    for col in ("x", "true\np", "mean\np", "94% HDI\nof p", "share of\ny_new = 1"):
        table.add_column(col, justify="right", no_wrap=True)
    for i, name in enumerate(names):
        inside = intervals[i, 0] <= true_p[i] <= intervals[i, 1]
        table.add_row(
            name,
            f"({points[i, 0]:+.1f}, {points[i, 1]:+.1f})",
            f"{true_p[i]:.3f}",
            f"{p_points[:, i].mean():.3f}",
            f"{'' if inside else '[red]'}{intervals[i, 0]:.2f} to {intervals[i, 1]:.2f}",
            f"{y_new[:, i].mean():.3f}",
        )
    console.print(
        "\nPosterior predictive at new points (bayeskit.ppl.predictive): p is the probability of class 1 under "
        "each posterior draw; its mean is the predictive probability P(y_new = 1 | data), its spread the "
        "uncertainty about it. The last column counts the simulated labels y_new that came out 1: the same "
        "probability, estimated by simulation."
    )
    console.print(table)
    widths = intervals[:, 1] - intervals[:, 0]
    console.print(
        f"Near the data the boundary is pinned down (interval width {widths[1]:.2f} on it); six units out "
        f"along it, the same true p = 0.5 comes with an interval {widths[2]:.2f} wide: a small uncertainty "
        "in the boundary's angle becomes a large one in its position far from the data. A single fitted w "
        "(MLE or MAP) would report a point value there, with no such warning."
    )

    if out is not None:
        _figure(data, post, axis, p_grid, points, w_true, b_true, out, console)


def _figure(data, post, axis, p_grid, points, w_true, b_true, out, console) -> None:
    plt = pyplot()
    shape = (len(axis), len(axis))
    mean, sd = p_grid.mean(axis=0).reshape(shape), p_grid.std(axis=0).reshape(shape)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    shade = left.contourf(axis, axis, mean, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
    fig.colorbar(shade, ax=left, label="posterior predictive P(y = 1)")
    left.contour(axis, axis, mean, levels=[0.5], colors="k", linewidths=1.5)
    b, w = post.flat("intercept"), post.flat("w")
    for i in np.linspace(0, len(b) - 1, 30).astype(int):  # 30 posterior draws' boundaries
        if abs(w[i, 1]) > 1e-9:
            left.plot(axis, -(b[i] + w[i, 0] * axis) / w[i, 1], color="k", lw=0.4, alpha=0.3)
    right_shade = right.contourf(axis, axis, sd, levels=12, cmap="viridis")
    fig.colorbar(right_shade, ax=right, label="posterior sd of p")
    for ax in (left, right):
        if abs(w_true[1]) > 1e-9:
            ax.plot(
                axis,
                -(b_true + w_true[0] * axis) / w_true[1],
                color="gold",
                ls="--",
                lw=2,
                label="true boundary",
            )
        for label, marker in ((0, "o"), (1, "s")):
            keep = data.y == label
            ax.scatter(
                *data.X[keep].T,
                marker=marker,
                s=18,
                facecolor="white" if label == 0 else "k",
                edgecolor="k",
                lw=0.7,
                label=f"class {label}",
            )
        ax.scatter(*points.T, marker="*", s=160, color="C1", edgecolor="k", zorder=5, label="query points")
        ax.set_xlim(-GRID_LIMIT, GRID_LIMIT)
        ax.set_ylim(-GRID_LIMIT, GRID_LIMIT)
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
    left.set_ylabel("x2")
    left.set_title("posterior predictive P(y = 1)\nblack: its 0.5 contour and 30 draws' boundaries")
    right.set_title("its uncertainty: posterior sd of p\n(stars: the query points of the table)")
    right.legend(fontsize=8, loc="lower left")
    save(fig, out, "logistic_regression", console)
