"""Simulation-based calibration: small runs that pass, wrong posteriors that are flagged, the tests.

The named kernels run short SBCs on a normal model with unknown mean and scale (each compiles
once); an exact conjugate sampler, given as a kernel builder, runs 200 cheap simulations next to
the same sampler with a wrong posterior scale or location, which must be rejected.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from bayeskit import dist, sbc
from bayeskit.mcmc import Kernel, gaussian_mixture_blocks, gibbs, linear_regression_blocks
from bayeskit.sbc.uniformity import binned_counts, binomial_band, chi2_sf

N_OBS = 5


def normal_model(m, n, y=None):
    mu = m.sample("mu", dist.Normal(0.0, 1.0))
    sigma = m.sample("sigma", dist.HalfNormal(1.0))
    with m.plate("data", n):
        m.sample("y", dist.Normal(mu, sigma), obs=y)


# Four independent conjugate groups: group 0 is fitted exactly; groups 1-3 get a posterior that
# is too narrow, too wide, and shifted. One SBC run (one compilation) checks all four.
SCALE_FACTOR = jnp.array([1.0, 0.5, 2.0, 1.0])
SHIFT = jnp.array([0.0, 0.0, 0.0, 0.5])


def conjugate_model(m, n, y=None):
    with m.plate("group", 4):
        mu = m.sample("mu", dist.Normal(0.0, 1.0))
        m.deterministic("shifted", mu + 1.0)
        with m.plate("data", n, dim=-2):
            m.sample("y", dist.Normal(mu, 1.0), obs=y)


def exact_kernel(data):
    """Draw mu from N(sum y / (n + 1), 1 / (n + 1)) per group, with the wrong sd or mean in 1-3."""
    y = data["y"]  # (n, 4)
    mean = jnp.sum(y, axis=0) / (y.shape[0] + 1.0) + SHIFT
    sd = SCALE_FACTOR / jnp.sqrt(y.shape[0] + 1.0)

    def step(key, state):
        return {"mu": mean + sd * jax.random.normal(key, (4,))}, None

    return Kernel(init=dict, step=step)


@pytest.fixture(scope="module")
def exact_result():
    return sbc.run(
        jax.random.key(3),
        conjugate_model,
        N_OBS,
        num_simulations=200,
        kernel=exact_kernel,
        num_warmup=0,
        num_samples=99,
        progress_bar=False,
    )


@pytest.mark.parametrize(
    "kernel, options",
    [("nuts", {"num_samples": 500, "thin": 5}), ("rwmh", {"num_samples": 1000, "thin": 20, "num_chains": 2})],
)
def test_named_kernels_are_calibrated(kernel, options):
    result = sbc.run(
        jax.random.key(0), normal_model, N_OBS, num_simulations=40, kernel=kernel, num_warmup=300,
        progress_bar=False, **options,
    )  # fmt: skip
    assert result.quantities == ["mu", "sigma"]
    assert result.ranks.shape == (40, 2) and result.num_draws == 100
    assert result.ranks.min() >= 0 and result.ranks.max() <= 100
    assert result.p_value() > 1e-3, result.summary()
    assert np.all(result.stats["num_failed_chains"] == 0)
    # Thinning left the kept draws nearly independent.
    assert np.all(result.summary()["ess_ratio"] > 0.5)


def test_exact_posterior_passes_and_wrong_ones_are_flagged(exact_result):
    r = exact_result
    mus = [f"mu[{i}]" for i in range(4)]
    assert r.quantities == mus + [f"shifted[{i}]" for i in range(4)]
    assert r.num_draws == 99 and r.ranks.shape == (200, 8)
    p = r.summary()["p_value"]
    assert p["mu[0]"] > 1e-3, r.summary()
    assert np.all(p[mus[1:]] < 1e-6), r.summary()
    assert not r.passes(0.01) and r.p_value() < 1e-6
    # The deterministic is recomputed from each draw, so it ranks exactly like mu.
    np.testing.assert_array_equal(r.ranks[:, :4], r.ranks[:, 4:])
    np.testing.assert_allclose(r.truth[:, 4:], r.truth[:, :4] + 1.0)
    # A too-narrow posterior piles ranks at both ends; a shifted one piles them low.
    extreme = np.mean((r.ranks < 10) | (r.ranks > 89), axis=0)
    assert extreme[1] > 0.4 and extreme[2] < 0.05
    assert r.ranks[:, 3].mean() < 30


def regression(m, X, y=None):
    with m.plate("coef", X.shape[1]):
        w = m.sample("weights", dist.Normal(0.0, 1.0))
    sigma2 = m.sample("sigma2", dist.InverseGamma(3.0, 2.0))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Normal(X @ w, jnp.sqrt(sigma2)), obs=y)


def test_gibbs_linear_regression_is_calibrated():
    X = jnp.asarray(np.random.default_rng(1).normal(size=(15, 2)))

    def gibbs_kernel(data):
        return gibbs(linear_regression_blocks(X, data["y"], 0.0, 1.0, a0=3.0, b0=2.0))

    # Data passed for the observed site are ignored: SBC simulates them.
    result = sbc.run(
        jax.random.key(4), regression, X, y=jnp.zeros(15), num_simulations=100, kernel=gibbs_kernel,
        num_warmup=20, num_samples=200, thin=2, progress_bar=False,
    )  # fmt: skip
    assert result.quantities == ["weights[0]", "weights[1]", "sigma2"]
    assert result.info["kernel"] == "gibbs_kernel" and result.num_draws == 100
    assert result.p_value() > 1e-3, result.summary()
    assert len(np.unique(result.truth[:, 2])) == 100


def mixture(m, n, y=None):
    weights = m.sample("weights", dist.Dirichlet(jnp.ones(2)))
    means = m.sample("means", dist.Normal(jnp.array([-3.0, 3.0]), 1.0).to_event(1))
    variances = m.sample("variances", dist.InverseGamma(3.0, 2.0).expand((2,)).to_event(1))
    with m.plate("data", n):
        z = m.sample("z", dist.Categorical(probs=weights)).astype(jnp.int32)
        m.sample("y", dist.Normal(means[z], jnp.sqrt(variances[z])), obs=y)


def test_gibbs_mixture_with_discrete_assignments_is_calibrated():
    """Discrete latents: the assignments z_i are ranked too (ties broken at random)."""

    def gibbs_kernel(data):
        return gibbs(gaussian_mixture_blocks(data["y"], 2, (jnp.array([-3.0, 3.0]), 1.0), (3.0, 2.0)))

    result = sbc.run(
        jax.random.key(5), mixture, 8, num_simulations=100, kernel=gibbs_kernel,
        num_warmup=50, num_samples=500, thin=5, progress_bar=False,
    )  # fmt: skip
    assert result.quantities[:6] == [
        "weights[0]",
        "weights[1]",
        "means[0]",
        "means[1]",
        "variances[0]",
        "variances[1]",
    ]
    assert result.quantities[6:] == [f"z[{i}]" for i in range(8)]
    assert result.p_value() > 1e-3, result.summary()


def test_summary_and_plot(exact_result):
    table = exact_result.summary()
    assert list(table.index)[:2] == ["mu[0]", "mu[1]"]
    assert list(table.columns) == ["chi2", "dof", "p_value", "mean_rank", "expected_mean_rank", "ess_ratio"]
    assert table["dof"].iloc[0] == 19 and table["expected_mean_rank"].iloc[0] == 49.5
    assert abs(table["mean_rank"].iloc[0] - 49.5) < 5 * 28.9 / np.sqrt(200)
    digest = exact_result.to_dict()
    assert digest["num_simulations"] == 200 and len(digest["quantities"]) == 8

    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    fig = exact_result.plot()
    assert len([a for a in fig.axes if a.get_visible()]) == 8
    fig2 = exact_result.plot(["mu[0]"], ax=fig.axes[0])
    assert fig2 is fig
    with pytest.raises(ValueError, match="unknown quantities"):
        exact_result.plot(["nope"])


def test_chi2_sf_matches_scipy():
    x = np.array([0.0, 0.3, 2.0, 9.5, 30.0, 80.0])
    for dof in (1, 4, 19):
        np.testing.assert_allclose(chi2_sf(x, dof), stats.chi2.sf(x, dof), rtol=1e-10, atol=1e-300)


def test_uniformity_test_matches_scipy_chisquare():
    ranks = np.random.default_rng(0).integers(0, 100, size=(150, 3))  # 100 rank values: L = 99
    got = sbc.uniformity_test(ranks, num_draws=99, num_bins=10)
    counts, probs = binned_counts(ranks, 99, 10)
    np.testing.assert_allclose(probs, 0.1)
    ref = stats.chisquare(counts, axis=0)
    np.testing.assert_allclose(got["chi2"], ref.statistic, rtol=1e-12)
    np.testing.assert_allclose(got["p_value"], ref.pvalue, rtol=1e-10)
    assert int(got["dof"]) == 9


def test_uneven_bins_have_exact_probabilities():
    # 101 rank values in 20 bins: widths 5 or 6, probabilities summing to one.
    counts, probs = binned_counts(np.arange(101)[:, None], 100, 20)
    np.testing.assert_allclose(probs.sum(), 1.0)
    np.testing.assert_array_equal(counts[:, 0], np.round(probs * 101))
    lower, upper = binomial_band(200, probs)
    mean = 200 * probs
    assert np.all(lower < mean) and np.all(mean < upper)
    np.testing.assert_array_equal([lower[0], upper[0]], stats.binom.ppf([0.005, 0.995], 200, probs[0]))


def test_rank_statistics_and_ties():
    draws = jnp.array([0.1, 0.5, 0.9])
    assert int(sbc.rank_statistics(jax.random.key(0), draws, jnp.array(0.6))) == 2
    assert int(sbc.rank_statistics(jax.random.key(0), draws, jnp.array(-1.0))) == 0
    assert int(sbc.rank_statistics(jax.random.key(0), draws, jnp.array(2.0))) == 3
    # All draws tie with the truth: the rank is uniform on 0..L.
    ties = jnp.zeros((4, 4000))
    ranks = sbc.rank_statistics(jax.random.key(1), ties, jnp.zeros(4000))
    counts = np.bincount(np.asarray(ranks), minlength=5)
    assert counts.size == 5 and stats.chisquare(counts).pvalue > 1e-4


@pytest.mark.parametrize(
    "change, match",
    [
        ({"num_simulations": 0}, "num_simulations"),
        ({"kernel": "slice"}, "kernel"),
        ({"kernel": 3}, "kernel"),
        ({"observed": "z"}, "observed"),
        ({"observed": []}, "observed"),
        ({"thin": 0}, "thin"),
        ({"num_chains": 0}, "num_chains"),
        ({"target_accept": 2.0}, "`target_accept` must be in \\(0, 1\\)"),  # froze the chains
        ({"step_size": -1.0}, "`step_size`"),  # was blamed on the priors' supports
    ],
)
def test_bad_input(change, match):
    options = {"num_simulations": 10, "kernel": "nuts", "observed": "y", **change}
    with pytest.raises(ValueError, match=match):
        sbc.run(jax.random.key(0), normal_model, N_OBS, progress_bar=False, **options)


def test_uniformity_test_bad_input():
    with pytest.raises(ValueError, match="num_draws"):
        sbc.uniformity_test(np.array([[0], [150]]), num_draws=99)
    with pytest.raises(ValueError, match="num_bins"):
        sbc.uniformity_test(np.zeros((10, 1), int), num_draws=9, num_bins=11)
