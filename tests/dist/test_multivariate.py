"""Multivariate families: Dirichlet, MultivariateNormal, MultivariateStudentT, LKJCholesky, mixtures."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.stats as st

import bayeskit.dist as dist
from bayeskit.dist import constraints as C
from bayeskit.dist.dirichlet import Dirichlet
from bayeskit.dist.lkj import LKJCholesky
from bayeskit.dist.mixture import MixtureSameFamily
from bayeskit.dist.multivariate_normal import MultivariateNormal
from bayeskit.dist.multivariate_studentt import MultivariateStudentT
from bayeskit.dist.normal import Normal

KS_P_MIN = 1e-5
N_DRAWS = 4000

COV = np.array([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.8]])
LOC = np.array([1.0, -2.0, 0.5])


def assert_within_mcse(draws, truth, z=5.0):
    """Each column mean of ``draws`` (axis 0) is within ``z`` Monte Carlo standard errors."""
    draws = np.asarray(draws)
    se = draws.std(axis=0) / math.sqrt(draws.shape[0])
    err = np.abs(draws.mean(axis=0) - np.asarray(truth))
    assert np.all(err < z * se), (err, se)


def assert_cov_within_mcse(draws, mean, cov, z=5.0):
    """The sample covariance about the known mean matches ``cov`` entrywise within ``z`` MCSEs."""
    c = np.asarray(draws) - np.asarray(mean)
    prods = c[:, :, None] * c[:, None, :]
    assert_within_mcse(prods.reshape(len(c), -1), np.asarray(cov).reshape(-1), z)


def ks_pvalue(draws, cdf):
    return st.kstest(np.asarray(draws), cdf).pvalue


# --------------------------------------------------------------------------------------- Dirichlet


def test_dirichlet_log_prob_matches_scipy_with_batch():
    alpha = np.array([[0.5, 2.0, 3.0], [1.0, 1.0, 4.5]])
    d = Dirichlet(alpha)
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    assert jax.eval_shape(lambda k: d.sample(k, (5,)), jax.random.key(0)).shape == (5, 2, 3)
    rng = np.random.default_rng(0)
    x = np.stack([rng.dirichlet(a, size=5) for a in alpha], axis=1)
    lp = d.log_prob(x)
    assert lp.shape == (5, 2)
    for b in range(2):
        ref = st.dirichlet(alpha[b]).logpdf(x[:, b].T)
        np.testing.assert_allclose(lp[:, b], ref, rtol=1e-10)


def test_dirichlet_moments_and_entropy_match_scipy():
    alpha = np.array([0.7, 2.0, 3.5, 1.0])
    d = Dirichlet(alpha)
    ref = st.dirichlet(alpha)
    np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(d.variance, ref.var(), rtol=1e-12)
    np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-10)
    np.testing.assert_allclose(jnp.diagonal(d.covariance_matrix), ref.var(), rtol=1e-12)
    np.testing.assert_allclose(jnp.sum(d.covariance_matrix, axis=-1), 0.0, atol=1e-14)


def test_dirichlet_log_prob_finite_on_boundary_when_alpha_is_one():
    d = Dirichlet(jnp.array([1.0, 2.0, 2.0]))
    assert np.isfinite(d.log_prob(jnp.array([0.0, 0.5, 0.5])))


def test_dirichlet_log_prob_is_minus_inf_off_the_simplex():
    """It returned a finite number (or NaN) for vectors that are no probabilities."""
    d = Dirichlet(jnp.array([1.5, 2.0, 3.0]))
    off = jnp.array(
        [
            [0.2, 0.3, 0.4],  # sums to 0.9
            [2.0, 3.0, 5.0],  # counts, not normalised
            [0.5, 0.6, -0.1],  # sums to 1, one entry negative
            [0.3, 0.3, 0.4001],  # off by 1e-4
            [np.nan, 0.5, 0.5],
        ]
    )
    np.testing.assert_array_equal(d.log_prob(off), np.full(5, -np.inf))
    on = jnp.array([[0.2, 0.3, 0.5], [0.0, 0.25, 0.75]])
    lp = d.log_prob(jnp.concatenate([on, off[:1]]))
    np.testing.assert_allclose(lp[:2], st.dirichlet([1.5, 2.0, 3.0]).logpdf(np.asarray(on).T), rtol=1e-12)
    assert lp[2] == -np.inf


def test_dirichlet_log_prob_inside_the_simplex_is_the_formula_bit_for_bit():
    alpha = jnp.array([0.7, 1.0, 2.5, 4.0])
    x = jax.random.dirichlet(jax.random.key(5), alpha, (20,))
    formula = jnp.sum(jax.scipy.special.xlogy(alpha - 1.0, x), axis=-1) - (
        jnp.sum(jax.scipy.special.gammaln(alpha)) - jax.scipy.special.gammaln(jnp.sum(alpha))
    )
    np.testing.assert_array_equal(Dirichlet(alpha).log_prob(x), formula)


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_dirichlet_accepts_points_on_the_simplex_up_to_rounding(x64):
    """The tolerance on the sum scales with the number of entries and the dtype: points from the
    stick-breaking transform (which NUTS and VI use) and from the sampler must stay inside."""
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        @jax.jit  # one compile per k (eager dispatch of each op per shape was slow)
        def log_probs(key, alpha):
            k = alpha.shape[0]
            scales = jnp.array([0.1, 1.0, 5.0], dtype)[:, None, None]
            z = jax.random.normal(key, (3, 64, k - 1), dtype) * scales
            x = dist.biject_to(C.simplex)(z)
            d = Dirichlet(alpha)  # log_prob is log Gamma(k) on the simplex, -inf off it
            draws = d.sample(jax.random.fold_in(key, 1), (64,))
            return d.log_prob(x), d.log_prob(draws)

        for k in (2, 1000):  # the smallest simplex, and a tolerance that scales with k
            on_stick_breaking, on_draws = log_probs(jax.random.key(k), jnp.ones(k, dtype))
            assert np.all(np.isfinite(on_stick_breaking)), k
            assert np.all(np.isfinite(on_draws)), k
        off = 1e-9 if x64 else 1e-3
        assert Dirichlet(jnp.ones(3, dtype)).log_prob(jnp.array([0.5, 0.25, 0.25 + off], dtype)) == -np.inf


def test_dirichlet_sampler_marginals_and_mean():
    alpha = np.array([0.3, 1.5, 4.0])
    x = np.asarray(Dirichlet(alpha).sample(jax.random.key(1), (N_DRAWS,)))
    assert np.all(np.asarray(C.simplex.check(x)))
    assert_within_mcse(x, alpha / alpha.sum())
    a0 = alpha.sum()
    for k in range(3):
        assert ks_pvalue(x[:, k], st.beta(alpha[k], a0 - alpha[k]).cdf) > KS_P_MIN


def test_dirichlet_sample_is_reparameterised():
    def mean_first(alpha):
        return jnp.mean(Dirichlet(alpha).sample(jax.random.key(2), (2000,))[:, 0])

    g = jax.jit(jax.grad(mean_first))(jnp.array([2.0, 3.0]))
    # d/da1 of a1 / (a1 + a2) at (2, 3) is 3/25; d/da2 is -2/25.
    np.testing.assert_allclose(g, [3 / 25, -2 / 25], atol=0.03)


@pytest.mark.parametrize("alpha", [[1.0, -1.0], [0.0, 2.0], [1.0, np.nan]])
def test_dirichlet_rejects_bad_concentration(alpha):
    with pytest.raises(ValueError, match="concentration"):
        Dirichlet(jnp.array(alpha))


def test_dirichlet_rejects_scalar_concentration():
    with pytest.raises(ValueError, match="concentration"):
        Dirichlet(2.0)


# ------------------------------------------------------------------------------ MultivariateNormal


def _mvn_three_ways(loc=LOC, cov=COV):
    return (
        MultivariateNormal(loc, covariance_matrix=cov),
        MultivariateNormal(loc, scale_tril=np.linalg.cholesky(cov)),
        MultivariateNormal(loc, precision_matrix=np.linalg.inv(cov)),
    )


def test_mvn_parameterisations_agree_and_match_scipy():
    x = np.random.default_rng(0).normal(size=(7, 3)) * 2
    ref = st.multivariate_normal(LOC, COV)
    for d in _mvn_three_ways():
        assert d.batch_shape == () and d.event_shape == (3,)
        np.testing.assert_allclose(d.scale_tril, np.linalg.cholesky(COV), atol=1e-12)
        np.testing.assert_allclose(d.covariance_matrix, COV, atol=1e-12)
        np.testing.assert_allclose(d.precision_matrix, np.linalg.inv(COV), atol=1e-10)
        np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-10)
        np.testing.assert_allclose(d.mean, LOC)
        np.testing.assert_allclose(d.variance, np.diag(COV), rtol=1e-12)
        np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-12)


def test_mvn_precision_route_keeps_a_lower_factor():
    d = MultivariateNormal(precision_matrix=np.linalg.inv(COV))
    assert bool(C.lower_cholesky.check(d.scale_tril))
    np.testing.assert_allclose(d.loc, np.zeros(3))


def test_mvn_batch_shapes_broadcast_between_loc_and_matrix():
    locs = np.random.default_rng(1).normal(size=(4, 3))
    covs = np.stack([COV, COV * 0.5 + np.eye(3)])[:, None]  # (2, 1, 3, 3)
    d = MultivariateNormal(locs, covariance_matrix=covs)
    assert d.batch_shape == (2, 4)
    assert d.mean.shape == (2, 4, 3) and d.variance.shape == (2, 4, 3)
    assert d.covariance_matrix.shape == (2, 4, 3, 3) and d.entropy().shape == (2, 4)
    assert jax.eval_shape(lambda k: d.sample(k, (5,)), jax.random.key(3)).shape == (5, 2, 4, 3)
    x = np.random.default_rng(4).normal(size=(5, 2, 4, 3)) * 2
    lp = d.log_prob(x)
    assert lp.shape == (5, 2, 4)
    for i in range(2):
        for j in range(4):
            ref = st.multivariate_normal(locs[j], covs[i, 0]).logpdf(x[:, i, j])
            np.testing.assert_allclose(lp[:, i, j], ref, rtol=1e-10)
    # One unbatched distribution evaluated at a batch of points, and a scalar loc.
    d0 = MultivariateNormal(0.0, covariance_matrix=COV)
    assert d0.event_shape == (3,)
    pts = x.reshape(-1, 3)
    np.testing.assert_allclose(d0.log_prob(pts), st.multivariate_normal(np.zeros(3), COV).logpdf(pts))


def test_mvn_sampler_mean_covariance_and_projections():
    d = MultivariateNormal(LOC, covariance_matrix=COV)
    x = np.asarray(d.sample(jax.random.key(4), (N_DRAWS,)))
    assert_within_mcse(x, LOC)
    assert_cov_within_mcse(x, LOC, COV)
    for a in (np.array([1.0, 0.0, 0.0]), np.array([0.3, -1.0, 2.0])):
        proj = st.norm(a @ LOC, math.sqrt(a @ COV @ a))
        assert ks_pvalue(x @ a, proj.cdf) > KS_P_MIN


def test_mvn_jit_grad_and_traced_construction():
    x = jnp.array([0.2, -1.0, 1.3])

    def lp(loc, cov):
        return MultivariateNormal(loc, covariance_matrix=cov).log_prob(x)

    eager = lp(jnp.asarray(LOC), jnp.asarray(COV))
    np.testing.assert_allclose(jax.jit(lp)(jnp.asarray(LOC), jnp.asarray(COV)), eager, rtol=1e-12)
    g_loc, g_cov = jax.grad(lp, argnums=(0, 1))(jnp.asarray(LOC), jnp.asarray(COV))
    np.testing.assert_allclose(g_loc, np.linalg.solve(COV, x - LOC), rtol=1e-10)
    assert np.all(np.isfinite(g_cov))
    # Traced values are not validated: a non-PD matrix inside jit gives NaN, not an error.
    bad = jnp.array([[1.0, 2.0], [2.0, 1.0]])
    out = jax.jit(lambda c: MultivariateNormal(covariance_matrix=c).log_prob(jnp.zeros(2)))(bad)
    assert np.isnan(out)


def test_mvn_requires_exactly_one_matrix():
    for kwargs in ({}, {"covariance_matrix": COV, "scale_tril": np.linalg.cholesky(COV)}):
        with pytest.raises(ValueError, match="covariance_matrix.*scale_tril.*precision_matrix"):
            MultivariateNormal(LOC, **kwargs)


@pytest.mark.parametrize(
    "cov",
    [
        np.array([[1.0, 2.0], [2.0, 1.0]]),  # indefinite
        np.array([[1.0, 0.5], [0.4, 1.0]]),  # not symmetric
        np.array([[1.0, 1.0], [1.0, 1.0]]),  # singular
        np.array([[1.0, 0.0], [0.0, np.nan]]),
    ],
)
def test_mvn_rejects_bad_covariance(cov):
    with pytest.raises(ValueError, match="covariance_matrix"):
        MultivariateNormal(covariance_matrix=cov)
    with pytest.raises(ValueError, match="precision_matrix"):
        MultivariateNormal(precision_matrix=cov)


@pytest.mark.parametrize(
    "tril",
    [
        np.array([[1.0, 0.5], [0.2, 1.0]]),
        np.array([[1.0, 0.0], [0.2, -1.0]]),
        np.array([[1.0, 0.0], [0.2, 0.0]]),
    ],
)
def test_mvn_rejects_bad_scale_tril(tril):
    with pytest.raises(ValueError, match="scale_tril"):
        MultivariateNormal(scale_tril=tril)


def test_mvn_rejects_shape_mismatches():
    with pytest.raises(ValueError, match="loc"):
        MultivariateNormal(np.zeros(2), covariance_matrix=COV)
    with pytest.raises(ValueError, match="covariance_matrix"):
        MultivariateNormal(covariance_matrix=np.ones((2, 3)))


# ---------------------------------------------------------------------------- MultivariateStudentT


def test_mvt_log_prob_and_entropy_match_scipy():
    tril = np.linalg.cholesky(COV)
    x = np.random.default_rng(2).standard_t(3, size=(6, 3))
    for df in (1.0, 2.5, 7.0):
        d = MultivariateStudentT(df, LOC, tril)
        ref = st.multivariate_t(LOC, COV, df=df)
        np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-10)
        np.testing.assert_allclose(d.entropy(), ref.entropy(), rtol=1e-8)


def test_mvt_batched_df_log_prob_and_sampler():
    dfs = np.array([1.5, 4.0, 10.0])
    d = MultivariateStudentT(dfs, LOC, np.linalg.cholesky(COV))
    assert d.batch_shape == (3,) and d.event_shape == (3,)
    x = np.asarray(d.sample(jax.random.key(5), (N_DRAWS,)))
    assert x.shape == (N_DRAWS, 3, 3)
    lp = d.log_prob(x[:6])
    assert lp.shape == (6, 3)
    for b, df in enumerate(dfs):
        np.testing.assert_allclose(lp[:, b], st.multivariate_t(LOC, COV, df=df).logpdf(x[:6, b]))
        for a in (np.array([0.0, 1.0, 0.0]), np.array([1.0, 1.0, -0.5])):
            proj = st.t(df, loc=a @ LOC, scale=math.sqrt(a @ COV @ a))
            assert ks_pvalue(x[:, b] @ a, proj.cdf) > KS_P_MIN, (df, a)
    assert_within_mcse(x[:, 2], LOC)  # finite variance for df = 10


def test_mvt_moments_exist_only_where_defined():
    tril = np.linalg.cholesky(COV)
    d = MultivariateStudentT(np.array([0.5, 1.5, 5.0]), LOC, tril)
    mean, cov, var = np.asarray(d.mean), np.asarray(d.covariance_matrix), np.asarray(d.variance)
    assert np.all(np.isnan(mean[0])) and np.all(np.isnan(cov[0])) and np.all(np.isnan(var[0]))
    np.testing.assert_allclose(mean[1:], np.stack([LOC, LOC]))
    assert np.all(np.isinf(cov[1])) and np.all(np.isinf(var[1]))
    np.testing.assert_allclose(cov[2], COV * 5 / 3, rtol=1e-12)
    np.testing.assert_allclose(var[2], np.diag(COV) * 5 / 3, rtol=1e-12)


def test_mvt_rejects_bad_parameters():
    tril = np.linalg.cholesky(COV)
    with pytest.raises(ValueError, match="df"):
        MultivariateStudentT(0.0, LOC, tril)
    with pytest.raises(ValueError, match="scale_tril"):
        MultivariateStudentT(3.0, LOC, tril.T)
    with pytest.raises(ValueError, match="loc"):
        MultivariateStudentT(3.0, np.zeros(2), tril)


# ------------------------------------------------------------------------------------ LKJCholesky


def _corr_chol_2d(r):
    r = jnp.asarray(r)
    return jnp.stack(
        [
            jnp.stack([jnp.ones_like(r), jnp.zeros_like(r)], -1),
            jnp.stack([r, jnp.sqrt(1 - r**2)], -1),
        ],
        -2,
    )


@pytest.mark.parametrize("eta", [0.6, 1.0, 2.0, 4.5])
def test_lkj_2d_density_in_r_is_normalised_and_proportional(eta):
    d = LKJCholesky(2, eta)
    rs = jnp.array([-0.9, -0.3, 0.0, 0.5, 0.95])
    lp = d.log_prob(_corr_chol_2d(rs))
    np.testing.assert_allclose(lp - lp[2], (eta - 1) * np.log1p(-(np.asarray(rs) ** 2)), atol=1e-12)
    total, _ = scipy.integrate.quad(lambda r: math.exp(float(d.log_prob(_corr_chol_2d(r)))), -1, 1)
    np.testing.assert_allclose(total, 1.0, rtol=1e-6)


@pytest.mark.parametrize("dim, eta", [(3, 1.0), (3, 2.5), (4, 0.8)])
def test_lkj_density_integrates_to_one_over_correlation_matrices(dim, eta):
    # Monte Carlo over the cube of off-diagonal correlations: the density of Omega is the
    # density of L divided by the Jacobian |dOmega/dL| = prod_j L_jj^(d - j) (1-based j).
    n = 200_000
    rng = np.random.default_rng(7)
    m = dim * (dim - 1) // 2
    u = rng.uniform(-1, 1, size=(n, m))
    omega = np.tile(np.eye(dim), (n, 1, 1))
    rows, cols = np.tril_indices(dim, k=-1)
    omega[:, rows, cols] = u
    omega[:, cols, rows] = u
    pd = np.all(np.linalg.eigvalsh(omega) > 1e-12, axis=-1)
    chol = np.linalg.cholesky(omega[pd])
    lp_l = np.asarray(LKJCholesky(dim, eta).log_prob(chol))
    diag = np.diagonal(chol, axis1=-2, axis2=-1)
    log_jac = np.sum((dim - np.arange(1, dim + 1)) * np.log(diag), axis=-1)
    vals = np.zeros(n)
    vals[pd] = np.exp(lp_l - log_jac) * 2.0**m
    se = vals.std() / math.sqrt(n)
    assert abs(vals.mean() - 1.0) < 5 * se, (vals.mean(), se)


@pytest.mark.parametrize("dim, etas", [(3, (2.0, 0.7)), (4, (1.5,))])
def test_lkj_sampler_off_diagonal_marginals_are_beta(dim, etas):
    d = LKJCholesky(dim, jnp.array(etas))
    L = d.sample(jax.random.key(8), (N_DRAWS,))
    assert L.shape == (N_DRAWS, len(etas), dim, dim)
    assert np.all(np.asarray(C.corr_cholesky.check(L)))
    assert np.all(np.isfinite(np.asarray(d.log_prob(L))))
    omega = np.asarray(L @ jnp.swapaxes(L, -1, -2))
    np.testing.assert_allclose(np.diagonal(omega, axis1=-2, axis2=-1), 1.0, atol=1e-12)
    for b, eta in enumerate(etas):
        a = eta - 1 + dim / 2
        marginal = st.beta(a, a, loc=-1, scale=2)
        for i, j in zip(*np.tril_indices(dim, k=-1), strict=True):
            assert ks_pvalue(omega[:, b, i, j], marginal.cdf) > KS_P_MIN, (eta, i, j)


def _random_corr_cholesky(rng, shape, dim):
    z = rng.normal(size=shape + (dim, 2 * dim))
    cov = z @ np.swapaxes(z, -1, -2)
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    return np.linalg.cholesky(cov / sd[..., :, None] / sd[..., None, :])


def test_lkj_batched_concentration():
    d = LKJCholesky(3, jnp.array([0.5, 1.0, 3.0]))
    assert d.batch_shape == (3,) and d.event_shape == (3, 3)
    assert jax.eval_shape(lambda k: d.sample(k, (5,)), jax.random.key(9)).shape == (5, 3, 3, 3)
    L = _random_corr_cholesky(np.random.default_rng(5), (5, 3), 3)
    lp = d.log_prob(L)
    assert lp.shape == (5, 3)
    for b, eta in enumerate([0.5, 1.0, 3.0]):
        np.testing.assert_allclose(lp[:, b], LKJCholesky(3, eta).log_prob(L[:, b]), rtol=1e-12)
    assert d.support is C.corr_cholesky


@pytest.mark.parametrize("dim", [1, 2.0, True])
def test_lkj_rejects_bad_dimension(dim):
    with pytest.raises(ValueError, match="dimension"):
        LKJCholesky(dim)


def test_lkj_rejects_bad_concentration():
    with pytest.raises(ValueError, match="concentration"):
        LKJCholesky(3, -1.0)


# ----------------------------------------------------------------------------- MixtureSameFamily


class _Weights:
    """A minimal categorical stand-in: anything with ``probs`` can weight a mixture."""

    def __init__(self, probs):
        self.probs = jnp.asarray(probs)


def _categorical(probs=None, logits=None):
    from bayeskit.dist.categorical import Categorical

    return Categorical(probs=probs, logits=logits)


W = np.array([0.2, 0.5, 0.3])
MU = np.array([-3.0, 0.0, 2.5])
SD = np.array([0.5, 1.0, 0.7])


def _normal_mixture():
    return MixtureSameFamily(_categorical(probs=W), Normal(MU, SD))


def _direct_pdf(x):
    return sum(w * st.norm(m, s).pdf(x) for w, m, s in zip(W, MU, SD, strict=True))


def test_mixture_log_prob_cdf_and_moments_match_direct_computation():
    d = _normal_mixture()
    assert d.batch_shape == () and d.event_shape == ()
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(d.log_prob(x), np.log(_direct_pdf(x)), rtol=1e-10)
    cdf = sum(w * st.norm(m, s).cdf(x) for w, m, s in zip(W, MU, SD, strict=True))
    np.testing.assert_allclose(d.cdf(x), cdf, rtol=1e-10)
    mean = W @ MU
    np.testing.assert_allclose(d.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(d.variance, W @ (SD**2 + MU**2) - mean**2, rtol=1e-12)
    total, _ = scipy.integrate.quad(_direct_pdf, -np.inf, np.inf)
    np.testing.assert_allclose(total, 1.0, rtol=1e-8)


def test_mixture_logits_and_probs_agree():
    a = MixtureSameFamily(_categorical(logits=np.log(W) + 1.7), Normal(MU, SD))
    b = MixtureSameFamily(_Weights(W), Normal(MU, SD))
    x = np.array([-2.0, 0.1, 3.0])
    np.testing.assert_allclose(a.log_prob(x), b.log_prob(x), rtol=1e-12)
    np.testing.assert_allclose(a.log_prob(x), _normal_mixture().log_prob(x), rtol=1e-12)


def test_mixture_derivative_in_a_zero_weight_is_finite():
    """log w_k = -inf at a zero weight made the derivative in the weights 0 * inf = NaN; it is
    p_k(x) / p(x) - 1 for weights that sum to 1."""
    w = jnp.array([0.4, 0.0, 0.6])
    x = jnp.array([-2.0, 0.5])

    def total(w):
        return jnp.sum(MixtureSameFamily(_categorical(probs=w), Normal(MU, SD)).log_prob(x))

    v, g = jax.value_and_grad(total)(w)
    pdf = st.norm(MU, SD).pdf(np.asarray(x)[:, None])  # (point, component)
    mix = pdf @ np.asarray(w)
    np.testing.assert_allclose(v, np.sum(np.log(mix)), rtol=1e-12)
    np.testing.assert_allclose(g, np.sum(pdf / mix[:, None] - 1.0, axis=0), rtol=1e-10)
    # A batch: the row without a zero weight keeps the derivative through its logits.
    rows = jnp.array([[0.4, 0.0, 0.6], [0.2, 0.5, 0.3]])
    g = jax.grad(lambda w: jnp.sum(MixtureSameFamily(_categorical(probs=w), Normal(MU, SD)).log_prob(0.5)))
    g = g(rows)
    pdf = st.norm(MU, SD).pdf(0.5)
    np.testing.assert_allclose(g, pdf / (np.asarray(rows) @ pdf)[:, None] - 1.0, rtol=1e-10)


def test_mixture_sampler_matches_cdf():
    d = _normal_mixture()
    x = np.asarray(d.sample(jax.random.key(10), (N_DRAWS,)))
    assert x.shape == (N_DRAWS,)
    assert ks_pvalue(x, lambda v: np.asarray(d.cdf(v))) > KS_P_MIN
    assert_within_mcse(x[:, None], [float(d.mean)])


def test_mixture_batches_broadcast_between_weights_and_components():
    probs = np.array([[0.1, 0.9], [0.6, 0.4], [0.5, 0.5]])
    comp = Normal(np.array([-1.0, 2.0]), np.array([0.5, 1.5]))
    d = MixtureSameFamily(_categorical(probs=probs), comp)
    assert d.batch_shape == (3,)
    x = d.sample(jax.random.key(11), (N_DRAWS,))
    assert x.shape == (N_DRAWS, 3)
    lp = d.log_prob(x[:7])
    assert lp.shape == (7, 3)
    direct = np.log(probs[:, 0] * st.norm(-1, 0.5).pdf(x[:7]) + probs[:, 1] * st.norm(2, 1.5).pdf(x[:7]))
    np.testing.assert_allclose(lp, direct, rtol=1e-10)
    assert_within_mcse(x, d.mean)
    for b in range(3):  # the batch members are drawn independently with their own weights
        assert ks_pvalue(x[:, b], lambda v, b=b: np.asarray(d.cdf(v[:, None])[:, b])) > KS_P_MIN
    assert abs(np.corrcoef(x[:, 0], x[:, 2])[0, 1]) < 5 / math.sqrt(N_DRAWS)


def test_mixture_of_multivariate_normals():
    locs = np.array([[0.0, 0.0], [3.0, -1.0]])
    covs = np.stack([np.eye(2), np.array([[1.0, 0.8], [0.8, 2.0]])])
    w = np.array([0.35, 0.65])
    d = MixtureSameFamily(_categorical(probs=w), MultivariateNormal(locs, covariance_matrix=covs))
    assert d.batch_shape == () and d.event_shape == (2,)
    pts = np.random.default_rng(3).normal(size=(5, 2)) * 2
    direct = np.log(sum(w[k] * st.multivariate_normal(locs[k], covs[k]).pdf(pts) for k in range(2)))
    np.testing.assert_allclose(d.log_prob(pts), direct, rtol=1e-10)
    mean = w @ locs
    var = w @ (np.diagonal(covs, axis1=1, axis2=2) + locs**2) - mean**2
    np.testing.assert_allclose(d.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(d.variance, var, rtol=1e-12)
    x = np.asarray(d.sample(jax.random.key(12), (N_DRAWS,)))
    assert x.shape == (N_DRAWS, 2)
    assert_within_mcse(x, mean)
    assert_within_mcse((x - mean) ** 2, var)
    with pytest.raises(NotImplementedError, match="univariate"):
        d.cdf(pts)


def test_mixture_log_prob_under_jit_and_grad():
    d = _normal_mixture()
    x = jnp.array([-1.0, 0.5])
    np.testing.assert_allclose(jax.jit(lambda m, v: m.log_prob(v))(d, x), d.log_prob(x), rtol=1e-12)
    g = jax.grad(lambda v: d.log_prob(v))(0.3)
    eps = 1e-6
    fd = (d.log_prob(0.3 + eps) - d.log_prob(0.3 - eps)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_mixture_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="components"):
        MixtureSameFamily(_Weights([0.5, 0.5]), Normal(MU, SD))
    with pytest.raises(ValueError, match="batch"):
        MixtureSameFamily(_Weights([1.0]), Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="broadcast"):
        MixtureSameFamily(_Weights(np.full((2, 3), 1 / 3)), Normal(np.zeros((4, 3)), 1.0))
    with pytest.raises(TypeError, match="logits"):
        MixtureSameFamily(object(), Normal(MU, SD))
    with pytest.raises(TypeError, match="component_distribution"):
        MixtureSameFamily(_Weights(W), st.norm())


def test_log_prob_of_a_value_with_the_wrong_event_shape_names_the_distribution():
    cases = [
        (dist.MultivariateNormal(jnp.zeros(2), jnp.eye(2)), "MultivariateNormal"),
        (dist.MultivariateStudentT(3.0, jnp.zeros(2), jnp.eye(2)), "MultivariateStudentT"),
        (dist.Dirichlet(jnp.ones(2)), "Dirichlet"),
        (dist.Multinomial(3, jnp.array([0.5, 0.5])), "Multinomial"),
    ]
    for d, name in cases:
        with pytest.raises(ValueError, match=rf"{name}\.log_prob: .* event shape \(2,\), got a value of shape \(4, 3\)"):
            d.log_prob(jnp.ones((4, 3)))


def test_a_parameter_that_is_not_a_number_is_a_type_error():
    with pytest.raises(TypeError, match="expected a number or an array of numbers, got 'a'"):
        dist.Beta("a", 1.0)


def test_event_shapes_are_checked_by_lkj_and_dirichlet_multinomial():
    """LKJCholesky(3).log_prob of a 2x2 matrix returned a number; DirichletMultinomial of a
    vector of the wrong length raised JAX's broadcasting error."""
    import bayeskit.dist as D

    with pytest.raises(ValueError, match=r"LKJCholesky.log_prob: .*event shape \(3, 3\)"):
        D.LKJCholesky(3).log_prob(jnp.eye(2))
    with pytest.raises(ValueError, match=r"DirichletMultinomial.log_prob: .*event shape \(2,\)"):
        D.DirichletMultinomial(jnp.array([1.0, 1.0]), 4).log_prob(jnp.array([1.0, 1.0, 2.0]))


def test_vectors_may_be_lists():
    d = dist.MultivariateNormal(jnp.zeros(2), jnp.eye(2))
    np.testing.assert_allclose(d.log_prob([[0.0, 1.0], [1.0, 1.0]]), d.log_prob(jnp.array([[0.0, 1.0], [1.0, 1.0]])))
    with pytest.raises(TypeError, match=r"MultivariateNormal.log_prob: `x` must be a number or an array of numbers"):
        d.log_prob(None)
    with pytest.raises(TypeError, match=r"Dirichlet.log_prob: `x`"):
        dist.Dirichlet(jnp.ones(3)).log_prob({"a": 1})
