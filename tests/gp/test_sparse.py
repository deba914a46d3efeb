"""Sparse GPs: SGPR (Titsias' collapsed bound) and SVGP (stochastic VI) against exact answers."""

import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import integrate, stats

from bayeskit.gp import GPC, GPR, SGPR, SVGP, _sparse_training, kernels, select_inducing
from bayeskit.gp._sparse_likelihoods import expected_log_likelihood
from bayeskit.gp.svgp import _elbo_estimate

KERNEL = kernels.Matern52(lengthscale=0.7, variance=1.3)
NOISE = 0.05


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(0.0, 5.0, 40))[:, None]
    y = np.sin(2.0 * X[:, 0]) + 0.2 * rng.normal(size=40)
    return X, y, np.linspace(-1.0, 6.0, 15)[:, None]


def _optimal_whitened_q(sgpr):
    """The optimal q(v) of the collapsed bound: mean L_B^{-T} c, covariance B^{-1}."""
    L_B, c = sgpr.cholesky_b, sgpr.projected_residual
    mean = jax.scipy.linalg.solve_triangular(L_B.T, c, lower=False)
    L_s = jnp.linalg.cholesky(jnp.linalg.inv(L_B @ L_B.T))
    return mean, L_s


# -- SGPR ---------------------------------------------------------------------------------------
def test_sgpr_with_all_points_equals_exact_gpr(small):
    X, y, X_new = small
    exact = GPR(KERNEL, noise=NOISE).condition(X, y)
    sparse = SGPR(KERNEL, X, noise=NOISE).condition(X, y)
    assert float(sparse.jitter) == 0.0
    np.testing.assert_allclose(sparse.elbo(), exact.log_marginal_likelihood(), rtol=0, atol=1e-6)
    pe, ps = exact.predict(X_new, full_cov=True), sparse.predict(X_new, full_cov=True)
    for name in ("mean", "latent_var", "predictive_var", "latent_cov"):
        np.testing.assert_allclose(getattr(ps, name), getattr(pe, name), rtol=0, atol=1e-6, err_msg=name)
    draws = sparse.sample(jax.random.key(0), X_new, num_samples=2000)
    assert draws.shape == (2000, X_new.shape[0])
    assert np.max(np.abs(np.mean(draws, axis=0) - pe.mean)) < 5 * np.sqrt(np.max(pe.latent_var) / 2000)


def test_sgpr_bound_equals_dense_formula_and_stays_below_exact(small):
    X, y, _ = small
    Z_small, Z_large = X[::8], X[::4]  # nested: Z_small is a subset of Z_large
    # The bound written with the n x n matrices it avoids.
    K = np.asarray(KERNEL(X))
    K_nm = np.asarray(KERNEL(X, Z_large))
    Q = K_nm @ np.linalg.solve(np.asarray(KERNEL(Z_large)), K_nm.T)
    dense = stats.multivariate_normal(np.zeros(len(y)), Q + NOISE * np.eye(len(y))).logpdf(y)
    dense -= np.trace(K - Q) / (2 * NOISE)
    bound_large = float(SGPR(KERNEL, Z_large, noise=NOISE).condition(X, y).elbo())
    np.testing.assert_allclose(bound_large, dense, rtol=1e-9)
    bound_small = float(SGPR(KERNEL, Z_small, noise=NOISE).condition(X, y).elbo())
    exact = float(GPR(KERNEL, noise=NOISE).condition(X, y).log_marginal_likelihood())
    assert bound_small < bound_large < exact


def test_sgpr_fit_on_constant_targets_warns(small):
    X, _, _ = small
    with pytest.warns(RuntimeWarning, match=r"SGPR.fit: every entry of `y` is -1.5 \(40 targets\)"):
        SGPR(KERNEL, X[:5], noise=NOISE).fit(X, np.full(40, -1.5), max_iterations=0)


def test_sgpr_fit_on_1000_points_matches_exact_gpr():
    rng = np.random.default_rng(1)
    X = rng.uniform(-3.0, 3.0, 1000)[:, None]
    truth = lambda x: np.sin(2.0 * x) + 0.3 * x
    y = 2.0 + truth(X[:, 0]) + 0.2 * rng.normal(size=1000)
    sparse = SGPR(kernels.RBF(), inducing_points=20, noise=0.1, standardize=True).fit(X, y)
    assert sparse.inducing_points.shape == (20, 1)
    assert sparse.fit_info.converged
    # Exact GPR at the same hyperparameters: the bound is tight and the predictions agree.
    exact = GPR(sparse.kernel, noise=sparse.noise, standardize=True).condition(X, y)
    gap = float(exact.log_marginal_likelihood() - sparse.elbo())
    # The bound is below the evidence; with 20 inducing points in 1-D it is tight to a rounding
    # error of the ill-conditioned K_mm (about 1e-7 nats here).
    assert -1e-5 <= gap < 0.5
    X_test = np.linspace(-3.0, 3.0, 200)[:, None]
    ps, pe = sparse.predict(X_test), exact.predict(X_test)
    rmse = lambda m: float(np.sqrt(np.mean((m - 2.0 - truth(X_test[:, 0])) ** 2)))
    assert abs(rmse(ps.mean) - rmse(pe.mean)) < 1e-3
    assert np.max(np.abs(ps.mean - pe.mean)) < 1e-2
    np.testing.assert_allclose(ps.predictive_var, pe.predictive_var, rtol=1e-2)
    assert abs(float(np.sqrt(sparse.noise * sparse.y_scale**2)) - 0.2) < 0.02  # learned noise sd, in y units


# -- SVGP ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("whiten", [True, False])
def test_svgp_at_the_optimal_q_equals_the_collapsed_bound(small, whiten):
    X, y, X_new = small
    Z = X[::4]
    sgpr = SGPR(KERNEL, Z, noise=NOISE).condition(X, y)
    mean, L_s = _optimal_whitened_q(sgpr)
    if not whiten:  # u = L v
        mean, L_s = sgpr.cholesky_mm @ mean, sgpr.cholesky_mm @ L_s
    svgp = SVGP(KERNEL, Z, noise=NOISE, whiten=whiten, _variational=(mean, L_s, jnp.log(jnp.diag(L_s))))
    np.testing.assert_allclose(svgp.elbo(X, y), sgpr.elbo(), rtol=0, atol=1e-8)
    svgp = eqx.tree_at(lambda m: m.elbo_history, svgp, jnp.zeros(1), is_leaf=lambda x: x is None)
    pv, ps = svgp.predict(X_new, full_cov=True), sgpr.predict(X_new, full_cov=True)
    for name in ("mean", "latent_var", "predictive_var", "latent_cov"):
        np.testing.assert_allclose(getattr(pv, name), getattr(ps, name), rtol=0, atol=1e-8, err_msg=name)


def test_svgp_gaussian_fit_with_all_points_reaches_the_exact_posterior(small):
    X, y, X_new = small
    exact = GPR(KERNEL, noise=NOISE).condition(X, y)
    fixed = ("kernel.lengthscale", "kernel.variance", "noise", "inducing_points")
    # Adam's fixed-size steps jitter around the optimum; a decaying rate lets it settle.
    optimizer = optax.adam(optax.cosine_decay_schedule(0.1, 1500))
    svgp = SVGP(KERNEL, X, noise=NOISE).fit(
        X, y, key=jax.random.key(0), batch_size=len(y), num_steps=1500, optimizer=optimizer, fixed=fixed
    )
    assert svgp.elbo_history.shape == (1500,)
    assert svgp.elbo_history[-1] > svgp.elbo_history[0] + 10.0
    np.testing.assert_allclose(svgp.inducing_points, X)  # fixed stayed fixed
    np.testing.assert_allclose(svgp.elbo(X, y), exact.log_marginal_likelihood(), rtol=0, atol=1e-6)
    pv, pe = svgp.predict(X_new), exact.predict(X_new)
    np.testing.assert_allclose(pv.mean, pe.mean, rtol=0, atol=1e-6)
    np.testing.assert_allclose(pv.latent_var, pe.latent_var, rtol=0, atol=1e-6)
    draws = svgp.sample(jax.random.key(1), X_new, num_samples=4000, include_noise=True)
    se = np.sqrt(np.asarray(pe.predictive_var) / 4000)
    assert draws.shape == (4000, X_new.shape[0])
    assert np.all(np.abs(np.asarray(draws).mean(0) - pe.mean) < 5 * se)
    np.testing.assert_allclose(np.asarray(draws).var(0), pe.predictive_var, rtol=0.15)


def test_svgp_minibatch_estimate_is_unbiased(small):
    # Uniform sampling makes the estimate's mean the average over single-point batches, exactly.
    X, y, _ = small
    X, y = jnp.asarray(X), jnp.asarray(y)
    m = X[::4].shape[0]
    q = (0.3 * jnp.ones(m), 0.1 * jnp.ones((m, m)), -0.5 * jnp.ones(m))
    params = SVGP(KERNEL, X[::4], noise=NOISE, _variational=q)._params()
    full = _elbo_estimate(params, X, y, X.shape[0])
    singles = jax.jit(jax.vmap(lambda x, t: _elbo_estimate(params, x[None], t[None], X.shape[0])))(X, y)
    np.testing.assert_allclose(np.mean(singles), full, rtol=1e-12)
    assert np.std(singles) > 1.0  # the single-point estimates do differ: the test can fail


def test_bernoulli_expected_log_likelihood_matches_numerical_integration():
    mean, var = jnp.array([-1.5, 0.2, 2.0]), jnp.array([0.3, 2.0, 5.0])
    for label in (0.0, 1.0):
        got = expected_log_likelihood("bernoulli", jnp.full(3, label), mean, var, None)
        for g, mu, v in zip(np.asarray(got), np.asarray(mean), np.asarray(var)):
            density = stats.norm(mu, np.sqrt(v)).pdf
            sign = 2.0 * label - 1.0
            want, _ = integrate.quad(
                lambda f, s=sign, p=density: stats.norm.logcdf(s * f) * p(f), -np.inf, np.inf
            )
            np.testing.assert_allclose(g, want, rtol=1e-6)


def test_svgp_bernoulli_classifies_separable_blobs():
    rng = np.random.default_rng(2)
    centres = np.array([[-1.5, -1.0], [1.5, 1.0]])
    labels = rng.integers(0, 2, 500)
    X = centres[labels] + 0.6 * rng.normal(size=(500, 2))
    X_train, y_train, X_test, y_test = X[:400], labels[:400].astype(float), X[400:], labels[400:]
    clf = SVGP(kernels.RBF(lengthscale=1.0), inducing_points=16, likelihood="bernoulli").fit(
        X_train,
        y_train,
        key=jax.random.key(3),
        batch_size=64,
        num_steps=1000,
        learning_rate=0.05,
        progress_bar=True,
    )
    assert np.mean(clf.elbo_history[-50:]) > np.mean(clf.elbo_history[:50])
    edge = np.array([[0.0, 0.0], [-1.5, -1.0], [1.5, 1.0], [6.0, -6.0]])  # boundary, centres, far away
    proba = np.asarray(clf.predict_proba(np.concatenate([X_test, edge])))
    proba, p_edge = proba[:-4], proba[-4:]
    assert np.all((proba > 0) & (proba < 1))
    assert np.mean((proba > 0.5) == y_test) > 0.9
    assert np.mean((proba - y_test) ** 2) < 0.08  # Brier score
    assert 0.2 < p_edge[0] < 0.8 and p_edge[1] < 0.1 and p_edge[2] > 0.9
    # The probabilities integrate the latent uncertainty: E[Phi(f)] under the latent prediction.
    pred = clf.predict(np.concatenate([X_test, edge]))
    f = pred.mean[-4:] + pred.latent_sd[-4:] * jax.random.normal(jax.random.key(4), (200_000, 4))
    np.testing.assert_allclose(p_edge, np.mean(stats.norm.cdf(f), axis=0), atol=5e-3)
    assert pred.latent_var[-1] > pred.latent_var[-3]  # far from the data: back towards the prior


# -- choosing inducing points --------------------------------------------------------------------
def test_select_inducing_spreads_over_clusters():
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.concatenate([c + 0.1 * rng.normal(size=(30, 2)) for c in centres])
    for key in (None, jax.random.key(0)):
        Z = np.asarray(select_inducing(key, X, 3))
        nearest = np.argmin(((Z[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        assert sorted(nearest.tolist()) == [0, 1, 2]
    Z = np.asarray(select_inducing(jax.random.key(1), X, 40))
    assert len({tuple(row) for row in Z}) == 40 and all(any(np.all(X == z, axis=1)) for z in Z)
    np.testing.assert_array_equal(Z, select_inducing(jax.random.key(1), X, 40))


# -- bad input -------------------------------------------------------------------------------------
def test_bad_input_names_the_argument():
    X = np.linspace(0, 1, 20)[:, None]
    y = np.sin(X[:, 0])
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="inducing_points"):
        SGPR(kernels.RBF(), np.zeros((5, 2))).fit(X, y)
    with pytest.raises(ValueError, match="inducing_points"):
        SVGP(kernels.RBF(), np.zeros((5, 2))).fit(X, y, key=key)
    with pytest.raises(ValueError, match="inducing_points"):
        SGPR(kernels.RBF(lengthscale=[1.0, 1.0]), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="inducing_points"):
        SGPR(kernels.RBF(), 0)
    with pytest.raises(ValueError, match="inducing_points"):
        SGPR(kernels.RBF(), 50).fit(X, y)
    with pytest.raises(ValueError, match="num_inducing"):
        select_inducing(key, X, 0)
    with pytest.raises(ValueError, match="num_inducing"):
        select_inducing(None, X, 21)
    with pytest.raises(ValueError, match="batch_size"):
        SVGP(kernels.RBF(), X[:5]).fit(X, y, key=key, batch_size=0)
    with pytest.raises(ValueError, match="num_steps"):
        SVGP(kernels.RBF(), X[:5]).fit(X, y, key=key, num_steps=0)
    with pytest.raises(ValueError, match="learning_rate"):
        SVGP(kernels.RBF(), X[:5]).fit(X, y, key=key, learning_rate=-1.0)
    with pytest.raises(ValueError, match="likelihood"):
        SVGP(kernels.RBF(), X[:5], likelihood="poisson")
    with pytest.raises(ValueError, match="`y`"):
        SVGP(kernels.RBF(), X[:5], likelihood="bernoulli").fit(X, np.where(y > 0.5, 2.0, 0.0), key=key)
    with pytest.raises(ValueError, match="SVGP.fit: `y` holds only class 1"):
        SVGP(kernels.RBF(), X[:5], likelihood="bernoulli").fit(X, np.ones_like(y), key=key)
    with pytest.raises(ValueError, match="SVGP.fit: `key` is required when `batch_size`"):
        SVGP(kernels.RBF(), X[:5]).fit(X, y, batch_size=5)
    with pytest.raises(TypeError, match="SVGP.fit: `key` must be one JAX random key"):
        SVGP(kernels.RBF(), X[:5]).fit(X, y, key=0)
    with pytest.raises(ValueError, match="predict_proba"):
        SVGP(kernels.RBF(), X[:5]).predict_proba(X)
    with pytest.raises(ValueError, match="not been fitted"):
        SGPR(kernels.RBF(), X[:5]).predict(X)
    with pytest.raises(TypeError, match="SGPR.fit: `key` must be one JAX random key"):
        SGPR(kernels.RBF(), 5).fit(X, y, key=0)
    with pytest.raises(ValueError, match="SGPR.fit: `tol`"):
        SGPR(kernels.RBF(), X[:5]).fit(X, y, tol=0.0)


# -- one interface for every GP fit -----------------------------------------------------------------
def test_every_fit_takes_data_first_and_an_optional_keyword_key():
    for cls in (GPR, SGPR, GPC, SVGP):
        params = inspect.signature(cls.fit).parameters
        assert list(params)[1:3] == ["X", "y"], cls.__name__
        key = params["key"]
        assert key.kind is inspect.Parameter.KEYWORD_ONLY and key.default is None, cls.__name__


def test_svgp_fit_in_the_old_order_warns_and_gives_the_same_fit(small):
    X, y, _ = small
    key, start = jax.random.key(7), SVGP(KERNEL, 6, noise=NOISE)
    new = start.fit(X, y, key=key, batch_size=8, num_steps=20)
    with pytest.warns(DeprecationWarning, match=r"call SVGP.fit\(X, y, key=key"):
        old = start.fit(key, X, y, batch_size=8, num_steps=20)
    np.testing.assert_array_equal(old.elbo_history, new.elbo_history)
    np.testing.assert_array_equal(old.inducing_points, new.inducing_points)
    with pytest.raises(TypeError, match=r"only positional arguments.*SVGP.fit\(X, y, key="):
        start.fit(X, y, key)  # the key belongs in `key=`
    with pytest.raises(TypeError, match="a key first and also `key=`"):
        start.fit(key, X, y, key=key)
    with pytest.raises(TypeError, match="3 positional arguments"):
        start.fit(None, X, y)


def test_svgp_fit_without_a_key_is_deterministic_full_batch(small):
    X, y, _ = small
    # n = 40 <= batch_size: every step sees all the data; Z by farthest-point traversal (kept as chosen).
    a = SVGP(KERNEL, 6, noise=NOISE).fit(X, y, num_steps=20, fixed="inducing_points")
    b = SVGP(KERNEL, 6, noise=NOISE).fit(X, y, num_steps=20, fixed="inducing_points")
    np.testing.assert_array_equal(a.elbo_history, b.elbo_history)
    np.testing.assert_array_equal(a.inducing_points, select_inducing(None, X, 6))
    with pytest.raises(ValueError, match=r"`key` is required when `batch_size` \(8\)"):
        SVGP(KERNEL, 6, noise=NOISE).fit(X, y, batch_size=8)


def test_svgp_fit_info_reports_steps_and_final_elbo(small, monkeypatch):
    X, y, _ = small
    svgp = SVGP(KERNEL, X[::4], noise=NOISE).fit(X, y, key=jax.random.key(0), batch_size=8, num_steps=120)
    info = svgp.fit_info
    assert info.num_iterations == 120 and not info.interrupted
    np.testing.assert_allclose(info.objective, np.mean(svgp.elbo_history[-50:]), rtol=1e-12)
    assert SVGP(KERNEL, X[::4]).fit_info is None
    # Ctrl-C between chunks: the fit keeps the steps run and says it was cut short.
    run_chunk, calls = _sparse_training._run_chunk, []

    def interrupted_after_one_chunk(*args):
        calls.append(None)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return run_chunk(*args)

    monkeypatch.setattr(_sparse_training, "_run_chunk", interrupted_after_one_chunk)
    with pytest.warns(UserWarning, match="interrupted after 250 of 300 steps"):
        cut = SVGP(KERNEL, X[::4], noise=NOISE).fit(X, y, key=jax.random.key(0), batch_size=8, num_steps=300)
    assert cut.fit_info.num_iterations == 250 and cut.fit_info.interrupted
    assert cut.elbo_history.shape == (250,)


def test_sgpr_fit_takes_a_log_prior_as_gpr_does(small):
    X, y, _ = small
    start = SGPR(KERNEL, X[::4], noise=0.1)

    def log_prior(view):  # a tight prior on the noise variance around 0.5; sees Z too
        log_noise = jnp.log(view.noise)
        return -0.5 * ((log_noise - jnp.log(0.5)) / 0.02) ** 2 + 0.0 * jnp.sum(view.inducing_points)

    mle = start.fit(X, y)
    mapped = start.fit(X, y, log_prior_fn=log_prior)
    assert float(mle.noise) < 0.1
    np.testing.assert_allclose(mapped.noise, 0.5, rtol=0.1)
    # elbo() stays the bound; the objective the fit reports adds the prior, as GPR's does.
    np.testing.assert_allclose(mapped.fit_info.objective, mapped.elbo() + log_prior(mapped), rtol=1e-8)
    assert mapped.elbo() < mle.elbo()
    with pytest.raises(TypeError, match="SGPR.fit: `log_prior_fn` must be a function"):
        start.fit(X, y, log_prior_fn=1.0)
    with pytest.raises(ValueError, match="SGPR.fit: `log_prior_fn` must return a real scalar"):
        start.fit(X, y, log_prior_fn=lambda v: v.inducing_points[:, 0])
    with pytest.raises(ValueError, match="SGPR.fit: `log_prior_fn` is -inf at the starting"):
        start.fit(X, y, log_prior_fn=lambda v: jnp.where(v.noise > 1.0, 0.0, -jnp.inf), num_restarts=1)


def test_default_restarts_are_as_documented():
    # GPR and GPC search from 3 starts; SGPR from 1 on purpose (a start costs a large-n fit).
    defaults = {
        cls: inspect.signature(cls.fit).parameters["num_restarts"].default for cls in (GPR, GPC, SGPR)
    }
    assert defaults == {GPR: 3, GPC: 3, SGPR: 1}
    docs = {cls: " ".join(cls.fit.__doc__.split()) for cls in (GPR, GPC, SGPR)}
    for cls in (GPR, GPC):
        assert "3 by default" in docs[cls] and "``SGPR`` defaults to 1" in docs[cls]
    assert "The default is 1, where ``GPR`` and ``GPC`` use 3, on purpose" in docs[SGPR]
