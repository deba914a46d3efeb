"""GP classification by the Laplace approximation, and GPs inside the model language."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from scipy.special import expit

import bayeskit.dist as dist
from bayeskit.gp import GPC, GPR, ConstantMean, conditional, gp_marginal, latent_gp
from bayeskit.gp._laplace_logistic import expected_sigmoid
from bayeskit.gp.classification import _Hyper, _objective
from bayeskit.gp.kernels import RBF
from bayeskit.mcmc import sample
from bayeskit.ppl import target, trace

# -- data ---------------------------------------------------------------------------------------
_rng = np.random.default_rng(0)
X_CLS = _rng.uniform(-2.0, 2.0, (60, 2))
Y_CLS = (X_CLS[:, 0] + X_CLS[:, 1] > 0).astype(float)  # separable by the diagonal
X_CLS_TEST = _rng.uniform(-2.0, 2.0, (200, 2))
Y_CLS_TEST = X_CLS_TEST[:, 0] + X_CLS_TEST[:, 1] > 0
# Labels drawn from a smooth probability, so the classes overlap (a non-degenerate mode).
X_SOFT = _rng.uniform(-2.0, 2.0, (40, 2))
Y_SOFT = (_rng.uniform(size=40) < expit(2.0 * np.sin(X_SOFT[:, 0]) + X_SOFT[:, 1])).astype(float)


# Along the normal (1, 1)/sqrt(2) of the boundary: 13 points across it, then two far from it.
_T_LINE = np.concatenate([np.linspace(-0.6, 0.6, 13), [-1.7, 1.7]])
X_CLS_EVAL = np.concatenate([X_CLS_TEST, np.stack([_T_LINE, _T_LINE], axis=1) / math.sqrt(2)])


@pytest.fixture(scope="module")
def fitted_gpc():
    """The fitted classifier with its predictions at ``X_CLS_EVAL`` (one compilation each)."""
    gpc = GPC(RBF(lengthscale=1.0, variance=1.0)).fit(X_CLS, Y_CLS)
    return gpc, gpc.predict(X_CLS_EVAL, full_cov=True), np.asarray(gpc.predict_proba(X_CLS_EVAL))


# -- the Laplace approximation: exact checks ----------------------------------------------------
def test_mode_is_the_fixed_point_of_the_newton_iteration():
    kernel, mean = RBF(lengthscale=0.8, variance=3.0), ConstantMean(0.4)
    gpc = GPC(kernel, mean).condition(X_SOFT, Y_SOFT)
    K = kernel(X_SOFT)
    f = np.asarray(gpc.mode)
    # At the mode, grad Psi = 0:  f - m = K (y - sigmoid(f))  (R&W eq. 3.17).
    np.testing.assert_allclose(f - 0.4, K @ (Y_SOFT - expit(f)), atol=1e-9)
    assert 1 <= gpc.newton_iterations <= 10  # Newton converges quadratically


def test_log_marginal_likelihood_equals_direct_computation():
    kernel = RBF(lengthscale=[0.7, 1.3], variance=2.5)
    gpc = GPC(kernel).condition(X_SOFT, Y_SOFT)
    K = np.asarray(kernel(X_SOFT))
    f = np.asarray(gpc.mode)
    s = 2.0 * Y_SOFT - 1.0
    w = expit(f) * (1.0 - expit(f))
    B = np.eye(40) + np.sqrt(w)[:, None] * K * np.sqrt(w)[None, :]
    direct = (
        -0.5 * f @ np.linalg.solve(K + 1e-12 * np.eye(40), f)
        + np.sum(np.log(expit(s * f)))
        - 0.5 * np.linalg.slogdet(B)[1]
    )
    np.testing.assert_allclose(float(gpc.log_marginal_likelihood()), direct, rtol=1e-8)


def test_evidence_gradient_matches_finite_differences():
    hyper = _Hyper(RBF(lengthscale=[0.9, 0.6], variance=2.0), ConstantMean(0.3), 100, None)
    value_fn = eqx.filter_jit(_objective)
    grad = eqx.filter_jit(eqx.filter_grad(_objective))(hyper, X_SOFT, Y_SOFT)
    leaves = [
        (lambda h: h.kernel.log_lengthscale, 0),
        (lambda h: h.kernel.log_lengthscale, 1),
        (lambda h: h.kernel.log_variance, None),
        (lambda h: h.mean.constant, None),
    ]
    eps = 1e-5
    for get, i in leaves:
        x0 = get(hyper)

        def at(delta, get=get, i=i, x0=x0):
            x = x0 + delta if i is None else x0.at[i].add(delta)
            return float(value_fn(eqx.tree_at(get, hyper, x), X_SOFT, Y_SOFT))

        # The mode is re-found at each point, so this is the derivative of the converged evidence:
        # it includes how the mode moves (the implicit term), which the gradient must match.
        fd = (at(eps) - at(-eps)) / (2 * eps)
        g = get(grad) if i is None else get(grad)[i]
        np.testing.assert_allclose(float(g), fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mu", [-30.0, -4.0, -0.7, 0.0, 0.3, 2.5, 12.0])
def test_expected_sigmoid_matches_adaptive_quadrature(mu):
    sds = np.array([0.0, 0.05, 0.5, 1.0, 1.5, 1.6, 3.0, 10.0, 60.0])

    def reference(s):
        if s == 0:
            return expit(mu)
        g = lambda z: expit(mu + s * z) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
        z0 = -mu / s
        cuts = [-14.0] + ([z0] if -14 < z0 < 14 else []) + [14.0]
        return sum(integrate.quad(g, a, b, epsabs=1e-13, limit=200)[0] for a, b in zip(cuts, cuts[1:]))

    got = np.asarray(expected_sigmoid(jnp.full(sds.shape, mu), jnp.asarray(sds**2)))
    np.testing.assert_allclose(got, [reference(s) for s in sds], atol=1e-8)


# -- fitting and prediction ---------------------------------------------------------------------
def test_fit_classifies_a_separable_set(fitted_gpc):
    gpc, _, p = fitted_gpc
    assert gpc.fit_info.converged
    assert np.all((p >= 0) & (p <= 1))
    assert np.mean((p[:200] > 0.5) == Y_CLS_TEST) > 0.9
    # The fit maximised the evidence: it beats the starting hyperparameters.
    start = GPC(RBF(lengthscale=1.0, variance=1.0)).condition(X_CLS, Y_CLS)
    assert gpc.log_marginal_likelihood() > start.log_marginal_likelihood()


def test_probabilities_increase_across_the_class_boundary(fitted_gpc):
    # Near the boundary P(y=1) rises steadily; far from it (beyond a lengthscale, where points
    # carry no gradient) a GPC's latent mean relaxes toward the prior mean, so strict
    # monotonicity is asked for across the boundary, and confidence far from it.
    p = fitted_gpc[2][200:]
    assert np.all(np.diff(p[:13]) > 0)
    assert p[13] < 0.2 and p[14] > 0.8


def test_predict_returns_the_latent_gaussian(fitted_gpc):
    _, pred, p = fitted_gpc
    np.testing.assert_array_equal(pred.predictive_var, pred.latent_var)
    np.testing.assert_allclose(jnp.diagonal(pred.latent_cov), pred.latent_var, atol=1e-12)
    assert np.all(np.asarray(pred.latent_var) > 0)
    # predict_proba averages the sigmoid over that Gaussian: it lies between 1/2 and sigma(mean).
    assert np.all(np.abs(p - 0.5) <= np.abs(expit(np.asarray(pred.mean)) - 0.5) + 1e-12)
    assert np.all((p - 0.5) * (np.asarray(pred.mean)) >= 0)
    gpc = fitted_gpc[0]
    draws = np.asarray(gpc.sample(jax.random.key(0), X_CLS_EVAL, num_samples=4000))
    assert draws.shape == (4000, len(X_CLS_EVAL))
    assert np.all(np.abs(draws.mean(0) - pred.mean) < 5 * np.sqrt(np.asarray(pred.latent_var) / 4000))
    np.testing.assert_allclose(draws.var(0), pred.latent_var, rtol=0.15)
    with pytest.raises(ValueError, match="GPC.sample: `num_samples`"):
        gpc.sample(jax.random.key(0), X_CLS_EVAL, num_samples=0)


@pytest.mark.slow
def test_fit_with_a_prior_and_a_fixed_hyperparameter():
    def log_prior(view):  # log lengthscale ~ N(log 0.5, 0.1^2), up to a constant
        return -0.5 * ((jnp.log(view.kernel.lengthscale) - math.log(0.5)) / 0.1) ** 2

    gpc = GPC(RBF(lengthscale=1.0, variance=2.0)).fit(
        X_SOFT, Y_SOFT, log_prior_fn=log_prior, fixed=("kernel.variance",)
    )
    assert gpc.fit_info.converged
    np.testing.assert_allclose(float(gpc.kernel.variance), 2.0, rtol=1e-12)
    # A prior this tight (sd 0.1 in log space) holds the lengthscale within a few prior sd.
    assert abs(math.log(float(gpc.kernel.lengthscale)) - math.log(0.5)) < 0.3
    # The maximised objective is the evidence plus the log prior, at the returned values.
    expected = float(gpc.log_marginal_likelihood()) + float(log_prior(gpc))
    np.testing.assert_allclose(gpc.fit_info.objective, expected, rtol=1e-8)


@pytest.mark.parametrize("bad", [2.0, np.nan])
def test_labels_other_than_zero_and_one_are_rejected(bad):
    y = Y_SOFT.copy()
    y[3] = bad
    with pytest.raises(ValueError, match="`y`"):
        GPC(RBF()).fit(X_SOFT, y)


def test_a_single_class_is_rejected():
    # Was fitted without complaint (the evidence grows without bound as the latent mean falls).
    with pytest.raises(ValueError, match=r"GPC.fit: `y` holds only class 0 \(all .* labels\)"):
        GPC(RBF()).fit(X_SOFT, np.zeros_like(Y_SOFT))


def test_boolean_labels_are_accepted():
    a = GPC(RBF()).condition(X_SOFT, Y_SOFT.astype(bool))
    b = GPC(RBF()).condition(X_SOFT, Y_SOFT)
    np.testing.assert_allclose(a.log_marginal_likelihood(), b.log_marginal_likelihood())


def test_float32_data_with_float64_hyperparameters():
    # Under x64 the kernel's defaults are float64: the Newton loop's carry once changed type
    # (a raw JAX while_loop error). The float32 fit now converges with the float32 tolerance.
    a = GPC(RBF()).condition(X_SOFT.astype(np.float32), Y_SOFT.astype(np.float32))
    b = GPC(RBF()).condition(X_SOFT, Y_SOFT)
    np.testing.assert_allclose(a.log_marginal_likelihood(), b.log_marginal_likelihood(), rtol=1e-5)
    fit = GPC(RBF()).fit(X_SOFT.astype(np.float32), Y_SOFT.astype(np.float32), num_restarts=1)
    assert fit.fit_info.converged and np.all(np.isfinite(fit.predict_proba(X_SOFT[:3])))


# -- GPs in the model language ------------------------------------------------------------------
X_REG = np.linspace(0.0, 5.0, 20)[:, None]
X_REG_NEW = np.array([[0.7], [2.2], [4.1]])
_f_reg = np.sin(1.5 * X_REG[:, 0])
Y_REG = _f_reg + math.sqrt(0.05) * np.random.default_rng(1).normal(size=20)


def gp_regression(m, X, y):
    lengthscale = m.sample("lengthscale", dist.LogNormal(0.0, 1.0))
    variance = m.sample("variance", dist.LogNormal(0.0, 1.0))
    noise = m.sample("noise", dist.LogNormal(math.log(0.1), 1.0))
    gp_marginal(m, "y", RBF(lengthscale=lengthscale, variance=variance), X, y, noise)


def test_gp_marginal_log_density_equals_gpr_evidence():
    t = target(gp_regression, X_REG, Y_REG)
    # The three sites are positive: z holds their logs, in program order.
    z = jnp.log(jnp.array([0.8, 1.7, 0.06]))
    lik = jax.jit(t.log_likelihood_fn)(z)  # the kernel is built from traced values here
    gpr = GPR(RBF(lengthscale=0.8, variance=1.7), noise=0.06 + 1e-6).condition(X_REG, Y_REG)
    np.testing.assert_allclose(float(lik), float(gpr.log_marginal_likelihood()), rtol=1e-10)
    assert np.all(np.isfinite(np.asarray(jax.jit(jax.grad(t.logdensity_fn))(z))))


def test_conditional_equals_gpr_prediction():
    kernel = RBF(lengthscale=0.9, variance=1.3)
    mean, cov = jax.jit(lambda k: conditional(k, X_REG, Y_REG, X_REG_NEW, noise=0.05))(kernel)
    pred = GPR(kernel, noise=0.05 + 1e-6).condition(X_REG, Y_REG).predict(X_REG_NEW, full_cov=True)
    np.testing.assert_allclose(mean, pred.mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cov, pred.latent_cov, rtol=1e-7, atol=1e-12)


def test_latent_gp_is_the_whitened_transform_and_takes_traced_hyperparameters():
    def model(m, X):
        lengthscale = m.sample("lengthscale", dist.LogNormal(0.0, 1.0))
        latent_gp(m, "f", RBF(lengthscale=lengthscale), X, mean=ConstantMean(2.0))

    t = target(model, X_REG)
    assert [s.name for s in t.sites] == ["lengthscale", "f_whitened"]
    z = jax.random.normal(jax.random.key(0), (t.dim,))
    out = jax.jit(t.constrain)(z)
    K = np.asarray(RBF(lengthscale=float(out["lengthscale"]))(X_REG)) + 1e-6 * np.eye(20)
    np.testing.assert_allclose(
        out["f"], 2.0 + np.linalg.cholesky(K) @ np.asarray(out["f_whitened"]), atol=1e-10
    )
    assert np.isfinite(float(jax.jit(t.logdensity_fn)(z)))
    assert np.all(np.isfinite(np.asarray(jax.jit(jax.grad(t.logdensity_fn))(z))))


def test_gp_functions_reject_bad_arguments():
    def model(m, noise=0.1, jitter=1e-6):
        gp_marginal(m, "y", RBF(), X_REG, Y_REG, noise, jitter=jitter)

    with pytest.raises(ValueError, match="`noise`"):
        trace(model, noise=-1.0)
    with pytest.raises(ValueError, match="`jitter`"):
        trace(model, jitter=-1.0)
    with pytest.raises(TypeError, match="`kernel`"):
        conditional(lambda a, b: a @ b.T, X_REG, Y_REG, X_REG_NEW)
    with pytest.raises(ValueError, match="`f`"):
        conditional(RBF(), X_REG, Y_REG[:5], X_REG_NEW)


# -- NUTS on GP models --------------------------------------------------------------------------
POISSON_KERNEL = RBF(lengthscale=1.5, variance=0.5)
X_POIS = np.linspace(0.0, 10.0, 20)[:, None]
X_POIS_NEW = (X_POIS[:-1] + X_POIS[1:]) / 2.0


def poisson_gp(m, X, counts):
    f = latent_gp(m, "log_rate", POISSON_KERNEL, X, mean=ConstantMean(1.5))
    with m.plate("data", X.shape[0]):
        m.sample("counts", dist.Poisson(jnp.exp(f)), obs=counts)


def test_latent_gp_poisson_regression_with_nuts():
    # The true log-rate is a draw from the model's own prior (jointly at the training and the
    # in-between points), so the posterior is calibrated for it: each z-score
    # (posterior mean - truth) / posterior sd is roughly standard normal.
    X_all = np.concatenate([X_POIS, X_POIS_NEW])
    K_all = np.asarray(POISSON_KERNEL(X_all)) + 1e-6 * np.eye(39)
    f_all = 1.5 + np.linalg.cholesky(K_all) @ np.random.default_rng(2).normal(size=39)
    f_true, f_true_new = f_all[:20], f_all[20:]
    counts = np.random.default_rng(3).poisson(np.exp(f_true)).astype(float)

    post = sample(
        jax.random.key(0),
        target(poisson_gp, X_POIS, counts),
        num_chains=2,
        num_warmup=300,
        num_samples=300,
        progress_bar=False,
        warn=False,
    )
    assert int(post.sample_stats["diverging"].sum()) == 0
    draws = post.flat("log_rate")
    z = (draws.mean(0) - f_true) / draws.std(0)
    # 20 correlated z-scores: |z| > 4 anywhere has probability well under 1e-3; MCMC error in
    # the mean (sd / sqrt(ESS), ESS in the hundreds) moves z by < 0.1.
    assert np.max(np.abs(z)) < 4.0
    assert np.sqrt(np.mean(z**2)) < 2.0

    # Prediction between the points: the GP conditional for every posterior draw, then the law
    # of total variance over draws.
    means, covs = jax.vmap(
        lambda f: conditional(POISSON_KERNEL, X_POIS, f, X_POIS_NEW, mean=ConstantMean(1.5))
    )(jnp.asarray(draws))
    mean = np.asarray(means).mean(0)
    sd = np.sqrt(np.asarray(means).var(0) + np.diagonal(np.asarray(covs), axis1=1, axis2=2).mean(0))
    z_new = (mean - f_true_new) / sd
    assert np.max(np.abs(z_new)) < 4.0


@pytest.mark.slow  # about 7 s of CPU on its own; the default suite keeps the Poisson NUTS test
def test_gp_marginal_hyperparameter_posterior_with_nuts():
    post = sample(
        jax.random.key(1),
        target(gp_regression, X_REG, Y_REG),
        num_chains=2,
        num_warmup=300,
        num_samples=300,
        progress_bar=False,
        warn=False,
    )
    assert int(post.sample_stats["diverging"].sum()) == 0
    noise = post.flat("noise")
    # 20 points pin the noise variance (true 0.05) down only to within a factor of about 2, so
    # the check is on the scale of the posterior itself: the truth within 3 posterior sd.
    assert abs(noise.mean() - 0.05) < 3.0 * noise.std()
    assert 0.01 < np.median(noise) < 0.2
