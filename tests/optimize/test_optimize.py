"""MLE, MAP and the Laplace approximation against closed forms and scikit-learn."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import Lasso, Ridge

import bayeskit.dist as dist
from bayeskit.datasets import make_regression
from bayeskit.dist.halfnormal import HalfNormal
from bayeskit.dist.laplace import Laplace
from bayeskit.dist.multivariate_normal import MultivariateNormal
from bayeskit.optimize import laplace, map, mle
from bayeskit.ppl import target

KEY = jax.random.key(0)
DATA = make_regression(jax.random.key(1), num_samples=60, num_features=4, noise_scale=0.5, num_informative=2)
X, Y = jnp.asarray(DATA.X), jnp.asarray(DATA.y)
NOISE = 0.5


def gaussian(m, y):
    mu = m.sample("mu", dist.Normal(0.0, 10.0))
    sigma = m.sample("sigma", HalfNormal(10.0))
    with m.plate("data", y.shape[0]):
        m.sample("y", dist.Normal(mu, sigma), obs=y)


# One target shared by the tests below: its compiled optimiser, Hessian and constrain are kept
# per target (bayeskit._compiled.compiled), so each test after the first skips compiling.
GAUSSIAN = target(gaussian, Y)


def test_float32_fits_converge_on_a_large_sum():
    """In float32 the gradient of 2,000 log densities carries rounding noise near 1e-4 at the
    optimum; an absolute tolerance of 1e-6 was never met (converged=False after the full budget)."""
    y = np.random.default_rng(0).normal(1.0, 0.5, size=2000)
    with jax.enable_x64(False):
        res = mle(KEY, target(gaussian, jnp.asarray(y, jnp.float32)))
    assert res.converged and res.num_iterations < 100
    np.testing.assert_allclose(res.values["mu"], y.mean(), rtol=1e-4)
    np.testing.assert_allclose(res.values["sigma"], y.std(), rtol=1e-4)


@pytest.mark.parametrize(
    "init",
    [jnp.zeros(2, jnp.float32), np.zeros(2, np.float32), [0, 0], {"mu": jnp.float32(1.0), "sigma": 1}],
)
def test_init_of_another_dtype_starts_in_the_targets_dtype(init):
    # A float32 init under x64 raised JAX's "cond branches must have equal output types", an
    # integer one "cannot convert float infinity to integer".
    t = GAUSSIAN
    res = mle(KEY, t, init=init)
    assert res.z.dtype == jnp.float64 and res.converged
    np.testing.assert_allclose(res.values["mu"], mle(KEY, t).values["mu"], rtol=1e-8)
    assert map(KEY, t, init=init).z.dtype == jnp.float64
    assert laplace(KEY, t, init=init).loc.dtype == jnp.float64
    with pytest.raises(TypeError, match="mle: `init` must be a dict of constrained site values or an array"):
        mle(KEY, GAUSSIAN, init="zeros")


def test_bad_options_name_the_argument():
    t = GAUSSIAN
    with pytest.raises(ValueError, match="map: `num_starts` must be an integer >= 1"):
        map(KEY, t, num_starts=0)
    with pytest.raises(ValueError, match="mle: `tol` must be a finite positive number"):
        mle(KEY, t, tol=-1.0)
    assert map(KEY, t, num_starts=np.int64(2)).start_log_densities.shape == (2,)
    with pytest.raises(ValueError, match=r"map: `init` gives shape \(3,\); expected \(2,\)"):
        map(KEY, t, init=jnp.zeros(3))  # was blamed on logdensity_fn
    # A misspelt site: both the missing and the unknown name, and the argument, are named.
    with pytest.raises(
        ValueError,
        match=r"mle: `init` has no value for latent site\(s\) \['sigma'\] and gives \['sgima'\], which is "
        r"not a latent site of model `gaussian`; its latent sites are \['mu', 'sigma'\]",
    ):
        mle(KEY, t, init={"mu": 0.0, "sgima": 1.0})


def regression(m, X, y, prior):
    w = m.sample("w", prior.expand((X.shape[1],)).to_event(1))
    m.sample("y", dist.Normal(X @ w, NOISE).to_event(1), obs=y)


def test_mle_gaussian_is_sample_mean_and_biased_sd():
    res = mle(KEY, GAUSSIAN)
    assert res.converged
    np.testing.assert_allclose(res.values["mu"], np.mean(DATA.y), rtol=1e-6)
    np.testing.assert_allclose(res.values["sigma"], np.std(DATA.y), rtol=1e-6)
    assert res.start_log_densities.shape == (4,)


def test_map_gaussian_prior_is_ridge():
    s = 0.3
    res = map(KEY, target(regression, X, Y, dist.Normal(0.0, s)), num_starts=2)
    lam = NOISE**2 / s**2
    closed = np.linalg.solve(DATA.X.T @ DATA.X + lam * np.eye(4), DATA.X.T @ DATA.y)
    np.testing.assert_allclose(res.values["w"], closed, rtol=1e-6)
    sk = Ridge(alpha=lam, fit_intercept=False).fit(DATA.X, DATA.y).coef_
    np.testing.assert_allclose(res.values["w"], sk, rtol=1e-6)


def test_map_laplace_prior_is_lasso():
    b = 0.02
    n = X.shape[0]
    res = map(KEY, target(regression, X, Y, Laplace(0.0, b)), num_starts=2, max_iterations=3000)
    alpha = NOISE**2 / (n * b)
    sk = Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=100000).fit(DATA.X, DATA.y).coef_
    assert np.sum(sk == 0) >= 1  # the penalty is strong enough to zero a coefficient
    np.testing.assert_allclose(res.values["w"], sk, atol=1e-4)


def test_laplace_exact_for_gaussian_posterior():
    # Normal-normal with known noise: the posterior is Gaussian, so Laplace is exact.
    y = Y[:10]
    prior_sd = 2.0

    def model(m, y):
        mu = m.sample("mu", dist.Normal(1.0, prior_sd))
        m.sample("y", dist.Normal(mu, NOISE), obs=y)

    approx = laplace(KEY, target(model, y))
    prec = 1 / prior_sd**2 + len(y) / NOISE**2
    mean = (1.0 / prior_sd**2 + float(jnp.sum(y)) / NOISE**2) / prec
    np.testing.assert_allclose(approx.loc, [mean], rtol=1e-8)
    np.testing.assert_allclose(approx.covariance, [[1 / prec]], rtol=1e-8)
    # exact evidence: y ~ N(1, NOISE^2 I + prior_sd^2 11^T)
    cov = NOISE**2 * np.eye(10) + prior_sd**2
    exact = MultivariateNormal(jnp.ones(10), covariance_matrix=jnp.asarray(cov)).log_prob(y)
    np.testing.assert_allclose(approx.log_evidence, exact, rtol=1e-8)


def test_laplace_samples_respect_constraints():
    approx = laplace(KEY, GAUSSIAN)
    draws = approx.sample(jax.random.key(2), 500)
    assert draws["sigma"].shape == (500,) and bool(jnp.all(draws["sigma"] > 0))
    np.testing.assert_allclose(
        jnp.mean(draws["mu"]), np.mean(DATA.y), atol=4 * np.std(DATA.y) / np.sqrt(60 * 500) * 10
    )


def test_bad_input():
    with pytest.raises(TypeError, match="expected a Target"):
        mle(KEY, gaussian)
    with pytest.raises(ValueError, match="num_starts"):
        map(KEY, GAUSSIAN, num_starts=0)


def test_refitting_a_target_reuses_its_compiled_programs():
    """laplace again on the same target traces the model no more: the L-BFGS run, the Hessian,
    the starting points and the constrained values are compiled once per target."""
    traces = []

    def counted(m, y):
        traces.append(1)
        gaussian(m, y)

    t = target(counted, Y)
    first = laplace(KEY, t)
    before = len(traces)
    again = laplace(KEY, t)
    assert len(traces) == before
    np.testing.assert_array_equal(first.loc, again.loc)
    np.testing.assert_array_equal(first.covariance, again.covariance)
    # Another target of the same model compiles its own (its data are constants in the program).
    shifted = mle(KEY, target(counted, Y + 1.0))
    assert len(traces) > before
    np.testing.assert_allclose(shifted.values["mu"], np.mean(Y) + 1.0, rtol=1e-6)
    # The programs live as long as their target: dropping it frees it and them.
    import gc
    import weakref

    alive = weakref.ref(t)
    del t, first, again
    gc.collect()
    assert alive() is None


def test_laplace_sample_checks_its_key_and_count():
    approx = laplace(KEY, GAUSSIAN)
    with pytest.raises(TypeError, match="LaplaceApproximation.sample"):
        approx.sample(0, 10)
    with pytest.raises(
        ValueError, match=r"LaplaceApproximation.sample: `num_samples` must be an integer >= 1"
    ):
        approx.sample(KEY, 0)
    assert approx.sample(KEY, 5)["sigma"].shape == (5,)


def _one_point(m, y):
    mu = m.sample("mu", dist.Normal(0.0, 1.0))
    s = m.sample("s", HalfNormal(1.0))
    m.sample("y", dist.Normal(mu, s), obs=y)


def test_no_maximum_is_a_warning_naming_the_site_not_a_silent_estimate():
    """One data point: the likelihood grows without bound as s -> 0 with mu on the point. MLE
    returned s ~ 1e-154 as converged; MAP (its HalfNormal prior has mass at 0) stopped after 1,000
    iterations at s ~ 1e-17 without a word (in float32 it ran to NaN)."""
    t = target(_one_point, 1.0)
    with pytest.warns(
        RuntimeWarning,
        match=r"mle: site\(s\) \['s'\] of model `_one_point` ran to the edge.*use optimize.map",
    ):
        res = mle(jax.random.key(0), t, num_starts=2)
    assert not res.converged and float(res.values["s"]) < 1e-15
    assert np.isfinite(res.log_density) and np.all(np.isfinite(res.z))
    with pytest.warns(
        RuntimeWarning,
        match=r"map: L-BFGS stopped short of its tolerance with site\(s\) \['s'\] .* far out .*Gamma\(2, b\)",
    ):
        res = map(jax.random.key(0), t, num_starts=2)
    assert not res.converged and float(res.values["s"]) < 1e-8
    # With more data the same model has a maximum: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = map(jax.random.key(0), target(_one_point, np.array([1.0, 2.0, 0.5])), num_starts=2)
    assert res.converged and 0.3 < float(res.values["s"]) < 1.0


def test_laplace_without_a_mode_names_the_site():
    def unbounded(m):
        s = m.sample("s", dist.HalfCauchy(1.0))
        m.factor("f", 10.0 * jnp.log(s))  # grows faster than the prior falls: no mode

    with pytest.raises(FloatingPointError, match=r"laplace: site\(s\) \['s'\] .* no maximum"):
        laplace(jax.random.key(0), target(unbounded), num_starts=2)
