"""Exact GPR: the marginal likelihood and its gradient, fitting against scikit-learn, prediction."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process import kernels as sk

import bayeskit.dist as dist
from bayeskit.gp import GPR, ConstantMean, LinearMean, NotPositiveDefiniteError
from bayeskit.gp import kernels as K
from bayeskit.gp.cholesky import (
    _potri_host,
    cho_solve,
    inverse_from_cholesky,
    jittered_cholesky,
    solve_and_inverse_for_gradient,
    solve_lower,
)
from bayeskit.gp.gpr import _Hyper, _log_marginal

rng = np.random.default_rng(1)
X = rng.uniform(-3, 3, size=(40, 3))
f_true = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 / 3
y = f_true + 0.2 * rng.normal(size=40)
X_test = rng.uniform(-3, 3, size=(15, 3))


@pytest.fixture(scope="module")
def fitted():
    return GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, y)


def test_log_marginal_likelihood_is_the_gaussian_density():
    gp = GPR(K.Matern52([0.8, 1.5, 2.0], 1.3), mean=ConstantMean(0.2), noise=0.05).condition(X, y)
    cov = np.asarray(K.Matern52([0.8, 1.5, 2.0], 1.3)(X)) + 0.05 * np.eye(40)
    ref = multivariate_normal(0.2 * np.ones(40), cov).logpdf(y)
    np.testing.assert_allclose(gp.log_marginal_likelihood(), ref, rtol=1e-10)
    assert float(gp.jitter) == 0.0


def test_gradient_equals_autodiff_of_the_direct_formula():
    hyper = _Hyper(
        K.RBF([0.8, 1.5, 2.0], 1.3) + K.Linear(0.1), LinearMean(weights=[0.1, -0.2, 0.3]), jnp.log(0.07)
    )
    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def direct(h):
        cov = h.kernel(Xj) + h.noise * jnp.eye(40)
        return jax.scipy.stats.multivariate_normal.logpdf(yj, h.mean(Xj), cov)

    # Jitted: eager autodiff would compile every primitive of both gradients one by one.
    ours = jax.jit(jax.grad(_log_marginal))(hyper, Xj, yj)
    ref = jax.jit(jax.grad(direct))(hyper)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n", [30, 600], ids=["device-path", "host-potri-path"])
def test_inverse_from_cholesky(n):
    A = rng.normal(size=(n, n))
    Kmat = A @ A.T / n + np.eye(n)
    L = np.linalg.cholesky(Kmat)
    expected = np.linalg.inv(Kmat)
    np.testing.assert_allclose(_potri_host(L), np.tril(expected), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        jax.jit(inverse_from_cholesky)(jnp.asarray(L)), expected, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(_potri_host(L.astype(np.float32)), np.tril(expected), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("n", [30, 600], ids=["device-path", "one-host-call-path"])
def test_solve_and_inverse_for_gradient(n):
    A = rng.normal(size=(n, n))
    Kmat, r = A @ A.T / n + np.eye(n), rng.normal(size=n)
    alpha, half_logdet, W, jitter = jax.jit(solve_and_inverse_for_gradient)(jnp.asarray(Kmat), jnp.asarray(r))
    np.testing.assert_allclose(alpha, np.linalg.solve(Kmat, r), rtol=1e-9)
    np.testing.assert_allclose(2 * half_logdet, np.linalg.slogdet(Kmat)[1], rtol=1e-12)
    W = np.asarray(W)  # only its symmetric part counts
    np.testing.assert_allclose((W + W.T) / 2, np.linalg.inv(Kmat), rtol=1e-9, atol=1e-12)
    assert float(jitter) == 0.0
    # A singular matrix gets the jitter jittered_cholesky would add, and the results are for it.
    ones = np.ones((n, n))
    alpha, half_logdet, W, jitter = jax.jit(solve_and_inverse_for_gradient)(jnp.asarray(ones), jnp.asarray(r))
    assert float(jitter) == float(jittered_cholesky(jnp.asarray(ones))[1]) > 0
    Kj = ones + float(jitter) * np.eye(n)  # condition number n / jitter: a backward-error check
    alpha = np.asarray(alpha)
    assert np.linalg.norm(Kj @ alpha - r) < 1e-12 * np.linalg.norm(Kj, 2) * np.linalg.norm(alpha)
    np.testing.assert_allclose(2 * half_logdet, np.linalg.slogdet(Kj)[1], rtol=1e-6)
    # A matrix no jitter rescues: NaN out, which the marginal likelihood turns into -inf.
    bad = -np.eye(n)
    alpha, half_logdet, W, _ = jax.jit(solve_and_inverse_for_gradient)(jnp.asarray(bad), jnp.asarray(r))
    assert np.isnan(half_logdet) and np.all(np.isnan(alpha))


def test_cho_solve_and_solve_lower_read_the_transposed_factor():
    n = 40
    A = rng.normal(size=(n, n))
    Kmat = A @ A.T / n + np.eye(n)
    L = jnp.asarray(np.linalg.cholesky(Kmat))
    b, B = rng.normal(size=n), rng.normal(size=(n, 3))
    np.testing.assert_allclose(jax.jit(cho_solve)(L, b), np.linalg.solve(Kmat, b), rtol=1e-10)
    np.testing.assert_allclose(jax.jit(cho_solve)(L, B), np.linalg.solve(Kmat, B), rtol=1e-10)
    np.testing.assert_allclose(jax.jit(solve_lower)(L, B), np.linalg.solve(np.asarray(L), B), rtol=1e-10)
    # A float32 factor with float64 right-hand sides promotes, as jax.scipy's cho_solve does.
    x32 = cho_solve(L.astype(jnp.float32), jnp.asarray(b))
    assert x32.dtype == jnp.float64
    np.testing.assert_allclose(x32, np.linalg.solve(Kmat, b), rtol=1e-4)
    # Differentiable (the latent GP's density goes through it).
    g = jax.grad(lambda L: jnp.sum(cho_solve(L, jnp.asarray(b))))(L)
    g_ref = jax.grad(lambda L: jnp.sum(jax.scipy.linalg.cho_solve((L, True), jnp.asarray(b))))(L)
    np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-12)


def test_jitter_is_added_only_when_needed_and_reported():
    L, jitter = jittered_cholesky(jnp.eye(4))
    assert float(jitter) == 0.0
    singular = jnp.ones((5, 5))  # rank one
    L, jitter = jittered_cholesky(singular)
    assert float(jitter) > 0 and np.all(np.isfinite(L))
    np.testing.assert_allclose(L @ L.T, singular + jitter * np.eye(5), atol=1e-12)


def test_jitter_search_on_the_host_path_for_large_matrices():
    B = rng.normal(size=(600, 5))
    singular = jnp.asarray(B @ B.T)  # rank 5
    L, jitter = jax.jit(jittered_cholesky)(singular)
    assert float(jitter) > 0 and np.all(np.isfinite(L))
    np.testing.assert_allclose(L @ L.T, singular + jitter * np.eye(600), atol=1e-9)
    full = jnp.asarray(B @ B.T + np.eye(600))
    L, jitter = jax.jit(jittered_cholesky)(full)
    assert float(jitter) == 0.0
    np.testing.assert_allclose(L, np.linalg.cholesky(np.asarray(full)), atol=1e-10)


def test_jittered_cholesky_differentiates_like_cholesky():
    A = rng.normal(size=(6, 6))
    S = jnp.asarray(A @ A.T + 6 * np.eye(6))
    W = jnp.asarray(rng.normal(size=(6, 6)))
    ours = lambda S: jnp.sum(W * jittered_cholesky(S)[0])
    ref = lambda S: jnp.sum(W * jnp.linalg.cholesky(S))
    np.testing.assert_allclose(jax.grad(ours)(S), jax.grad(ref)(S), rtol=1e-9, atol=1e-12)
    dS = jnp.asarray(A + A.T)
    np.testing.assert_allclose(jax.jvp(ours, (S,), (dS,))[1], jax.jvp(ref, (S,), (dS,))[1], rtol=1e-9)


def test_fit_reports_its_budget_and_evaluations(fitted):
    info = fitted.fit_info
    assert info.num_evaluations >= info.num_iterations > 0
    assert info.converged and info.grad_norm < 1e-4  # the value stopped changing (scipy's ftol)
    start = GPR(K.RBF(jnp.ones(3)), noise=0.1)
    with pytest.warns(RuntimeWarning, match="used all 2 iterations"):
        two = start.fit(X, y, num_restarts=1, max_iterations=2).fit_info
    assert two.num_iterations == 2 and not two.converged and two.objective < info.objective
    # A zero budget evaluates the start only: the model as given, conditioned.
    zero = start.fit(X, y, num_restarts=1, max_iterations=0)
    assert zero.fit_info.num_iterations == 0 and zero.fit_info.num_evaluations == 1
    np.testing.assert_allclose(
        zero.log_marginal_likelihood(), start.condition(X, y).log_marginal_likelihood()
    )


def test_fit_reaches_scikit_learns_optimum_and_predicts_like_it(fitted):
    kernel = sk.ConstantKernel(1.0) * sk.RBF(np.ones(3)) + sk.WhiteKernel(0.1)
    ref = GaussianProcessRegressor(kernel, n_restarts_optimizer=3, random_state=0).fit(X, y)
    assert fitted.fit_info.converged
    assert fitted.log_marginal_likelihood() >= ref.log_marginal_likelihood_value_ - 1e-4
    np.testing.assert_allclose(
        fitted.log_marginal_likelihood(), ref.log_marginal_likelihood_value_, atol=1e-3
    )
    mean, sd = ref.predict(X_test, return_std=True)  # sklearn's std includes the White noise
    pred = fitted.predict(X_test)
    np.testing.assert_allclose(pred.mean, mean, atol=2e-3)
    np.testing.assert_allclose(np.sqrt(pred.predictive_var), sd, rtol=2e-3)


def test_prediction_names_latent_and_predictive_variance(fitted):
    pred = fitted.predict(X_test, full_cov=True)
    np.testing.assert_allclose(pred.predictive_var, pred.latent_var + fitted.noise)
    np.testing.assert_allclose(np.diagonal(pred.latent_cov), pred.latent_var, rtol=1e-8)
    # Exact conditional from the definition.
    k = fitted.kernel
    Kxx = np.asarray(k(X)) + float(fitted.noise) * np.eye(40)
    Ks = np.asarray(k(X, X_test))
    np.testing.assert_allclose(pred.mean, Ks.T @ np.linalg.solve(Kxx, y), rtol=1e-8, atol=1e-10)
    cov = np.asarray(k(X_test)) - Ks.T @ np.linalg.solve(Kxx, Ks)
    np.testing.assert_allclose(pred.latent_cov, cov, atol=1e-9)
    lo, hi = pred.interval(0.95)
    np.testing.assert_allclose(hi - pred.mean, 1.959964 * np.sqrt(pred.predictive_var), rtol=1e-6)
    np.testing.assert_allclose(
        pred.log_prob(y[:15]),
        [dist.Normal(m, s).log_prob(v) for m, s, v in zip(pred.mean, pred.predictive_sd, y[:15])],
    )


def test_posterior_samples_have_the_predicted_moments(fitted):
    draws = fitted.sample(jax.random.key(0), X_test[:4], num_samples=4000)
    pred = fitted.predict(X_test[:4])
    se = np.sqrt(pred.latent_var / 4000)
    assert draws.shape == (4000, 4)
    assert np.all(np.abs(draws.mean(0) - pred.mean) < 5 * se)
    np.testing.assert_allclose(draws.var(0), pred.latent_var, rtol=0.15)


def test_standardize_reports_original_units():
    Y = 1000.0 + 50.0 * y
    gp = GPR(K.RBF(jnp.ones(3)), noise=0.1, standardize=True).fit(X, Y)
    loc, scale = Y.mean(), Y.std()
    plain = GPR(gp.kernel, noise=gp.noise).condition(X, (Y - loc) / scale)
    np.testing.assert_allclose(gp.predict(X_test).mean, loc + scale * plain.predict(X_test).mean, rtol=1e-8)
    np.testing.assert_allclose(
        gp.predict(X_test).predictive_var, scale**2 * plain.predict(X_test).predictive_var
    )
    cov = scale**2 * (np.asarray(gp.kernel(X)) + float(gp.noise) * np.eye(40))
    ref = multivariate_normal(loc * np.ones(40), cov).logpdf(Y)
    np.testing.assert_allclose(gp.log_marginal_likelihood(), ref, rtol=1e-8)


def test_fixed_hyperparameters_and_map_prior():
    gp = GPR(K.RBF(jnp.ones(3)), noise=0.3).fit(X, y, fixed=("noise",), num_restarts=1)
    np.testing.assert_allclose(gp.noise, 0.3)
    assert not np.allclose(gp.kernel.lengthscale, 1.0)

    def log_prior(h):  # a tight prior pulling every lengthscale to 5
        return jnp.sum(dist.LogNormal(jnp.log(5.0), 0.05).log_prob(h.kernel.lengthscale))

    mapped = GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, y, log_prior_fn=log_prior, num_restarts=1)
    np.testing.assert_allclose(mapped.kernel.lengthscale, 5.0, rtol=0.2)
    with pytest.raises(ValueError, match="`fixed` names 'kernel.nope'"):
        GPR(K.RBF()).fit(X, y, fixed=("kernel.nope",))


def test_restarts_with_a_key_are_reproducible():
    a = GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, y, key=jax.random.key(3), num_restarts=2)
    b = GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, y, key=jax.random.key(3), num_restarts=2)
    assert a.fit_info.start_objectives == b.fit_info.start_objectives


def test_bad_input_is_a_clear_error(fitted):
    with pytest.raises(ValueError, match="`X` has 40 rows but `y` has 39"):
        GPR(K.RBF()).condition(X, y[:-1])
    with pytest.raises(ValueError, match="`y` contains 1 NaN"):
        GPR(K.RBF()).condition(X, np.where(np.arange(40) == 3, np.nan, y))
    with pytest.raises(ValueError, match="`X` contains"):
        GPR(K.RBF()).condition(np.where(X > 2.9, np.inf, X), y)
    with pytest.raises(ValueError, match="3 ARD lengthscales"):
        GPR(K.RBF(jnp.ones(3))).condition(X[:, :2], y)
    with pytest.raises(ValueError, match="`noise` must be positive"):
        GPR(K.RBF(), noise=-1.0)
    with pytest.raises(TypeError, match="`kernel` must be"):
        GPR("rbf")
    with pytest.raises(ValueError, match="has not been fitted"):
        GPR(K.RBF()).predict(X_test)
    with pytest.raises(ValueError, match="`X_new` has 2 column"):
        fitted.predict(X_test[:, :2])
    with pytest.raises(ValueError, match=r"A 1-D `X_new` is read as one column .* pass shape \(1, 3\)"):
        fitted.predict(X_test[0])  # one point given as a 1-D array
    with pytest.raises(TypeError, match="GPR: `X` must hold numbers .* dtype <U1"):
        GPR(K.RBF()).condition(np.full(X.shape, "a"), y)  # was 'expected a number', no argument named
    with pytest.raises(TypeError, match="GPR: `y` must hold numbers"):
        GPR(K.RBF()).condition(X, np.full(y.shape, "a"))
    with pytest.raises(ValueError, match="`num_restarts`"):
        GPR(K.RBF()).fit(X, y, num_restarts=0)
    with pytest.raises(ValueError, match="ConstantMean: `constant` must be finite"):
        ConstantMean(np.nan)
    with pytest.raises(ValueError, match="LinearMean: `weights` must be finite"):
        LinearMean(weights=[1.0, np.inf])


def test_fit_options_are_checked_before_any_compile_starts():
    """A bad option is an error before the background compile starts (a compile thread still
    inside XLA at interpreter exit aborted the process); the thread is not a daemon either."""
    import threading

    def compiling():
        return [t for t in threading.enumerate() if t.name == "bayeskit-compile" and t.is_alive()]

    for t in compiling():
        t.join()
    bad = [
        ({"num_restarts": 0}, ValueError, "`num_restarts`"),
        ({"max_iterations": -1}, ValueError, "`max_iterations`"),
        ({"tol": -1.0}, ValueError, "`tol` must be a finite positive number"),
        ({"tol": "a"}, ValueError, "`tol` must be a finite positive number"),
        ({"key": 0}, TypeError, "GPR.fit: `key` must be one JAX random key"),
        ({"fixed": ("kernel.period",)}, ValueError, "`fixed` names 'kernel.period'"),
        ({"log_prior_fn": lambda v: jnp.zeros(2)}, ValueError, "must return a real scalar"),
        ({"log_prior_fn": lambda v: 1 / 0}, ValueError, "`log_prior_fn` failed"),
    ]
    for options, error, message in bad:
        with pytest.raises(error, match=message):
            GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, y, **options)
        assert not compiling(), options


def test_a_prior_that_is_not_finite_at_the_start_is_named():
    with pytest.raises(ValueError, match="`log_prior_fn` is nan at the starting hyperparameters"):
        GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, y, log_prior_fn=lambda v: jnp.nan * v.noise, num_restarts=1)


def test_a_fit_short_of_its_optimum_warns_at_the_callers_line():
    """A fit that ran out of iterations returned without a word (fit_info.converged was False)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        short = GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, y, max_iterations=2, num_restarts=1)
    assert not short.fit_info.converged
    [warning] = [w for w in caught if "L-BFGS" in str(w.message)]
    assert "GPR.fit: L-BFGS used all 2 iterations without meeting the gradient tolerance" in str(
        warning.message
    )
    assert warning.filename == __file__  # the user's line, not equinox's method wrapper


def test_constant_targets_warn():
    """A constant y (a pipeline that lost the targets) fitted noise and variance ~1e-21 silently."""
    everything = ("noise", "kernel.variance", "kernel.lengthscale")
    with pytest.warns(RuntimeWarning, match=r"GPR.fit: every entry of `y` is 3 \(40 targets\)") as caught:
        GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, np.full(X.shape[0], 3.0), fixed=everything)
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one distinct value among many is not constant
        GPR(K.RBF(jnp.ones(3)), noise=0.1).fit(X, np.r_[np.full(X.shape[0] - 1, 3.0), 3.5], fixed=everything)


def test_fixing_every_hyperparameter_is_conditioning():
    gp = GPR(K.RBF(jnp.ones(3)), noise=0.1)
    everything = ("noise", "kernel.variance", "kernel.lengthscale")
    fitted = gp.fit(X, y, fixed=everything)
    assert fitted.fit_info.num_iterations == 0 and fitted.fit_info.converged
    np.testing.assert_allclose(fitted.log_marginal_likelihood(), gp.condition(X, y).log_marginal_likelihood())


def test_sample_and_log_prob_check_their_arguments(fitted):
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="GPR.sample: `num_samples` must be an integer >= 1"):
            fitted.sample(jax.random.key(0), X_test, num_samples=bad)
    with pytest.raises(ValueError, match="one observation per predicted point, shape \\(15,\\)"):
        fitted.predict(X_test).log_prob(np.zeros((15, 1)))


def test_a_fitted_standardized_gpr_keeps_its_scaling_on_new_data():
    """Its kernel variance and noise are in the training data's units: conditioning on other
    data must not rescale that data by its own mean and sd."""
    Y = 1000.0 + 50.0 * y
    gp = GPR(K.RBF(jnp.ones(3)), noise=0.1, standardize=True).fit(X, Y, num_restarts=1)
    part = gp.condition(X[:20], Y[:20])
    np.testing.assert_allclose([part.y_loc, part.y_scale], [gp.y_loc, gp.y_scale])
    plain = GPR(gp.kernel, noise=gp.noise).condition(X[:20], (Y[:20] - gp.y_loc) / gp.y_scale)
    np.testing.assert_allclose(
        gp.log_marginal_likelihood(X[:20], Y[:20]),
        plain.log_marginal_likelihood() - 20 * np.log(float(gp.y_scale)),
        rtol=1e-10,
    )
    refit = gp.fit(X[:20], Y[:20], num_restarts=1)  # a new fit standardises its own data
    np.testing.assert_allclose(refit.y_loc, Y[:20].mean(), rtol=1e-10)


def test_failed_factorisation_is_a_typed_error():
    overflowing = GPR(K.RBF(variance=1e308) + K.RBF(variance=1e308))  # K overflows to inf
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite"):
        overflowing.condition(X, y)


def test_jittered_cholesky_and_gaussian_log_marginal_check_their_inputs():
    # Integer matrices were a raw NumPy "data type not inexact" error; a non-square one a raw
    # JAX error about triangular solves.
    from bayeskit.gp import gaussian_log_marginal

    L, jitter = jittered_cholesky(2 * np.eye(3, dtype=int))
    np.testing.assert_allclose(L, np.sqrt(2) * np.eye(3))
    value, _ = gaussian_log_marginal([[2, 0], [0, 2]], [1, 1])
    np.testing.assert_allclose(value, -0.5 - np.log(2.0) - np.log(2 * np.pi))
    with pytest.raises(ValueError, match=r"jittered_cholesky: `K` must be a square \(n, n\) matrix"):
        jittered_cholesky(np.ones((2, 3)))
    with pytest.raises(ValueError, match="gaussian_log_marginal: `r` must be a vector of length 3"):
        gaussian_log_marginal(np.eye(3), np.ones(2))
