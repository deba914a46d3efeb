"""Random-walk Metropolis (kernel and warmup) and block Gibbs (kernel and built-in conditionals).

Statistical checks compare Monte Carlo estimates with exact or quadrature references, allowing
five standard errors computed by batch means (which accounts for autocorrelation). Every chain
is run by one jitted, vmapped ``lax.scan`` compiled once per test module.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from bayeskit.datasets import eight_schools
from bayeskit.mcmc.gibbs import GibbsBlock, GibbsInfo, gibbs
from bayeskit.mcmc.gibbs_conditionals import (
    gaussian_mixture_blocks,
    hierarchical_normal_blocks,
    linear_regression_blocks,
)
from bayeskit.mcmc.rwmh import RWMHInfo, RWMHState, rwmh
from bayeskit.mcmc.rwmh_adaptation import optimal_acceptance_rate, rwmh_warmup

NUM_CHAINS = 4


def batch_means(draws, num_batches=10):
    """Mean over chains and draws, and its standard error from per-chain batch means."""
    draws = np.asarray(draws)
    chains, n = draws.shape[:2]
    size = n // num_batches
    batches = draws[:, : size * num_batches].reshape(chains, num_batches, size, *draws.shape[2:]).mean(axis=2)
    batches = batches.reshape(chains * num_batches, *draws.shape[2:])
    return batches.mean(axis=0), batches.std(axis=0, ddof=1) / np.sqrt(chains * num_batches)


def assert_within_mcse(draws, truth, num_se=5.0, num_batches=10):
    mean, se = batch_means(draws, num_batches)
    err = np.abs(mean - np.asarray(truth))
    assert np.all(err < num_se * se), f"estimate {mean}, truth {truth}, se {se}"


def run_chains(kernel, keys, states, num_steps, record):
    """``num_steps`` steps of ``kernel`` for each chain (vmapped); returns (final, recorded)."""

    def one_chain(key, state):
        def body(state, key):
            state, info = kernel.step(key, state)
            return state, record(state, info)

        return jax.lax.scan(body, state, jax.random.split(key, num_steps))

    return jax.vmap(one_chain)(keys, states)


# ------------------------------------------------------------------ random-walk Metropolis
MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 2.0]])
PRECISION = np.linalg.inv(COV)


def gaussian_logdensity(z):
    d = z - MEAN
    return -0.5 * d @ PRECISION @ d


@pytest.fixture(scope="module")
def rwmh_run():
    """Warmup (scale, or scale and covariance) then 4000 draws, for 4 chains of each kind."""

    def run(key, position, adapt_covariance):
        key_warm, key_draw = jax.random.split(key)
        state, params = rwmh_warmup(key_warm, gaussian_logdensity, position, 2000, adapt_covariance)
        kernel = rwmh(gaussian_logdensity, **params)

        def body(state, key):
            state, info = kernel.step(key, state)
            return state, (state.position, info.acceptance_rate)

        _, (draws, acceptance) = jax.lax.scan(body, state, jax.random.split(key_draw, 4000))
        return params, draws, acceptance

    keys = jax.random.split(jax.random.key(0), NUM_CHAINS)
    starts = jax.random.normal(jax.random.key(1), (NUM_CHAINS, 2)) * 3.0
    out = {}
    for adapt in (False, True):
        out[adapt] = jax.jit(jax.vmap(lambda k, p, a=adapt: run(k, p, a)))(keys, starts)
    return out


def test_rwmh_recovers_gaussian_moments(rwmh_run):
    for _, draws, _ in rwmh_run.values():
        draws = np.asarray(draws)
        assert_within_mcse(draws, MEAN)
        centred = draws - MEAN
        products = np.stack(
            [centred[..., 0] ** 2, centred[..., 0] * centred[..., 1], centred[..., 1] ** 2], -1
        )
        assert_within_mcse(products, [COV[0, 0], COV[0, 1], COV[1, 1]])


def test_scale_adaptation_reaches_target_acceptance(rwmh_run):
    target = optimal_acceptance_rate(2)
    assert target == pytest.approx(0.234 + 0.206 / 2)
    params, _, acceptance = rwmh_run[False]
    assert params["proposal_covariance"] is None
    assert abs(float(np.mean(acceptance)) - target) < 0.04
    # Each chain on its own lands near the target too.
    assert np.all(np.abs(np.mean(acceptance, axis=1) - target) < 0.08)


def test_covariance_adaptation_estimates_scaled_target_covariance(rwmh_run):
    params, _, acceptance = rwmh_run[True]
    target_proposal = (2.38**2 / 2) * COV
    estimated = np.asarray(params["proposal_covariance"]).mean(axis=0)
    np.testing.assert_allclose(estimated, target_proposal, rtol=0.3)
    # With the target's own shape the tuned scale multiplier is near 1.
    assert np.all((np.asarray(params["scale"]) > 0.6) & (np.asarray(params["scale"]) < 1.7))
    assert abs(float(np.mean(acceptance)) - optimal_acceptance_rate(2)) < 0.08


def test_optimal_acceptance_rate_interpolates():
    assert optimal_acceptance_rate(1) == pytest.approx(0.44)
    assert optimal_acceptance_rate(1000) == pytest.approx(0.234, abs=1e-3)
    rates = [optimal_acceptance_rate(d) for d in range(1, 20)]
    assert all(a > b for a, b in zip(rates, rates[1:]))
    with pytest.raises(ValueError, match="dim"):
        optimal_acceptance_rate(0)


def test_rwmh_rejects_nan_and_infinite_proposals():
    def logdensity(z):
        lp = -0.5 * jnp.sum(z**2)
        lp = jnp.where(z[0] > 0.5, jnp.nan, lp)
        return jnp.where(z[1] > 0.5, jnp.inf, lp)

    kernel = rwmh(logdensity, 1.0)
    state = kernel.init(jnp.array([-0.5, -0.5]))

    def body(state, key):
        state, info = kernel.step(key, state)
        return state, (state.position, info)

    _, (positions, info) = jax.jit(
        lambda s: jax.lax.scan(body, s, jax.random.split(jax.random.key(2), 1000))
    )(state)
    assert np.all(np.asarray(positions) <= 0.5)
    assert np.all(np.isfinite(np.asarray(info.acceptance_rate)))
    assert 0.0 < float(np.mean(info.is_accepted)) < 1.0
    assert isinstance(info, RWMHInfo)

    # A NaN starting point counts as impossible, so the chain leaves it at the first valid move.
    state = kernel.init(jnp.array([1.0, -1.0]))
    assert float(state.logdensity) == -np.inf
    for key in jax.random.split(jax.random.key(3), 50):
        state, info = kernel.step(key, state)
    assert np.isfinite(float(state.logdensity))


def test_rwmh_proposal_covariance_matches_identity_when_identity():
    key = jax.random.key(4)
    plain = rwmh(gaussian_logdensity, 0.7)
    shaped = rwmh(gaussian_logdensity, 0.7, proposal_covariance=np.eye(2))
    state = plain.init(jnp.zeros(2))
    a, _ = plain.step(key, state)
    b, _ = shaped.step(key, state)
    np.testing.assert_allclose(a.position, b.position, rtol=1e-12)


def test_rwmh_jit_equals_no_jit():
    kernel = rwmh(gaussian_logdensity, 1.3, proposal_covariance=COV)
    state = kernel.init(jnp.array([0.5, 0.5]))
    eager, jitted = state, state
    step = jax.jit(kernel.step)
    for key in jax.random.split(jax.random.key(5), 5):
        eager, info_e = kernel.step(key, eager)
        jitted, info_j = step(key, jitted)
        np.testing.assert_allclose(eager.position, jitted.position, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(eager.logdensity, jitted.logdensity, rtol=1e-12)
        assert bool(info_e.is_accepted) == bool(info_j.is_accepted)


def test_rwmh_vmap_equals_loop():
    kernel = rwmh(gaussian_logdensity, 1.0)
    keys = jax.random.split(jax.random.key(6), 3)
    states = jax.vmap(kernel.init)(jnp.arange(6.0).reshape(3, 2))

    def chain(key, state):
        def body(state, key):
            state, _ = kernel.step(key, state)
            return state, state.position

        return jax.lax.scan(body, state, jax.random.split(key, 25))[1]

    together = jax.jit(jax.vmap(chain))(keys, states)
    one = jax.jit(chain)
    for c in range(3):
        alone = one(keys[c], jax.tree.map(lambda x, c=c: x[c], states))
        np.testing.assert_allclose(together[c], alone, rtol=1e-12, atol=1e-12)


def test_rwmh_bad_input_errors():
    with pytest.raises(ValueError, match="scale"):
        rwmh(gaussian_logdensity, 0.0)
    with pytest.raises(ValueError, match="scale"):
        rwmh(gaussian_logdensity, -1.0)
    with pytest.raises(ValueError, match="square"):
        rwmh(gaussian_logdensity, 1.0, proposal_covariance=np.ones(2))
    with pytest.raises(ValueError, match="positive definite"):
        rwmh(gaussian_logdensity, 1.0, proposal_covariance=np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        rwmh(gaussian_logdensity, 1.0, proposal_covariance=np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="flat vector"):
        rwmh(gaussian_logdensity, 1.0).init(jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="must match"):
        rwmh(gaussian_logdensity, 1.0, proposal_covariance=np.eye(3)).init(jnp.zeros(2))
    with pytest.raises(ValueError, match="scalar"):
        rwmh(lambda z: z, 1.0).init(jnp.zeros(2))
    with pytest.raises(ValueError, match="num_steps"):
        rwmh_warmup(jax.random.key(0), gaussian_logdensity, jnp.zeros(2), 10.5)
    with pytest.raises(ValueError, match="target_acceptance_rate"):
        rwmh_warmup(jax.random.key(0), gaussian_logdensity, jnp.zeros(2), 10, target_acceptance_rate=1.5)
    state = rwmh(gaussian_logdensity, 1.0).init(jnp.zeros(2))
    assert isinstance(state, RWMHState)


# ------------------------------------------------------------------ Gibbs: linear regression
def _regression_data():
    rng = np.random.default_rng(0)
    n = 25
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ np.array([0.5, -1.0]) + 0.8 * rng.normal(size=n)
    return X, y


REG_PRIOR = dict(
    prior_mean=np.array([0.0, 0.0]), prior_precision=np.array([[0.5, 0.1], [0.1, 1.0]]), a0=3.0, b0=2.0
)


def _regression_reference(X, y, prior_mean, prior_precision, a0, b0):
    """Posterior moments of (w, sigma2) by 1-D quadrature over sigma2 (w integrated exactly)."""
    n = X.shape[0]
    prior_cov = np.linalg.inv(prior_precision)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 4001))
    log_w = []
    cond_means, cond_covs = [], []
    for s2 in grid:
        marginal_cov = s2 * np.eye(n) + X @ prior_cov @ X.T
        log_w.append(
            stats.invgamma.logpdf(s2, a0, scale=b0)
            + stats.multivariate_normal.logpdf(y, X @ prior_mean, marginal_cov)
            + np.log(s2)  # uniform grid in log(sigma2)
        )
        precision = prior_precision + X.T @ X / s2
        cov = np.linalg.inv(precision)
        cond_covs.append(cov)
        cond_means.append(cov @ (prior_precision @ prior_mean + X.T @ y / s2))
    log_w = np.array(log_w)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    cond_means, cond_covs = np.array(cond_means), np.array(cond_covs)
    mean_w = w @ cond_means
    var_w = np.einsum("g,gii->i", w, cond_covs) + w @ (cond_means - mean_w) ** 2
    mean_s2 = w @ grid
    var_s2 = w @ (grid - mean_s2) ** 2
    return mean_w, var_w, mean_s2, var_s2


def test_linear_regression_conditionals_are_exact():
    X, y = _regression_data()
    blocks = linear_regression_blocks(X, y, **REG_PRIOR)
    state = gibbs(blocks).init({"weights": jnp.array([0.3, -0.7]), "sigma2": 0.9})
    keys = jax.random.split(jax.random.key(7), 20000)
    w = np.asarray(jax.jit(jax.vmap(lambda k: blocks[0].sampler(k, state)))(keys))
    s2 = np.asarray(jax.jit(jax.vmap(lambda k: blocks[1].sampler(k, state)))(keys))

    L0, m0 = REG_PRIOR["prior_precision"], REG_PRIOR["prior_mean"]
    cov = np.linalg.inv(L0 + X.T @ X / 0.9)
    mean = cov @ (L0 @ m0 + X.T @ y / 0.9)
    se = np.sqrt(np.diag(cov) / len(keys))
    assert np.all(np.abs(w.mean(0) - mean) < 5 * se)
    np.testing.assert_allclose(np.cov(w.T), cov, rtol=0.05, atol=0.05 * np.abs(cov).max())

    a = REG_PRIOR["a0"] + 0.5 * len(y)
    b = REG_PRIOR["b0"] + 0.5 * np.sum((y - X @ np.array([0.3, -0.7])) ** 2)
    assert stats.kstest(s2, stats.invgamma(a, scale=b).cdf).pvalue > 1e-5


def test_gibbs_linear_regression_recovers_posterior():
    X, y = _regression_data()
    mean_w, var_w, mean_s2, var_s2 = _regression_reference(X, y, **REG_PRIOR)
    kernel = gibbs(linear_regression_blocks(X, y, **REG_PRIOR))
    states = jax.vmap(kernel.init)({"weights": jnp.zeros((NUM_CHAINS, 2)), "sigma2": jnp.ones(NUM_CHAINS)})
    keys = jax.random.split(jax.random.key(8), NUM_CHAINS)

    def record(state, info):
        return state["weights"], state["sigma2"], info.acceptance_rate["sigma2"]

    run = jax.jit(lambda k, s: run_chains(kernel, k, s, 3200, record))
    _, (w, s2, acc) = run(keys, states)
    w, s2 = np.asarray(w)[:, 200:], np.asarray(s2)[:, 200:]
    assert np.all(np.asarray(acc) == 1.0)
    assert_within_mcse(w, mean_w)
    assert_within_mcse(s2, mean_s2)
    assert_within_mcse((w - mean_w) ** 2, var_w)
    assert_within_mcse((s2 - mean_s2) ** 2, var_s2)


# ------------------------------------------------------------------ Gibbs: eight schools
MU_PRIOR, TAU_PRIOR = (0.0, 5.0), (2.0, 25.0)


def _eight_schools_reference(y, sigma):
    """E[mu], E[tau2], E[theta] by 2-D quadrature over (mu, log tau2); theta integrated exactly."""
    mu = np.linspace(-25.0, 35.0, 601)
    log_t2 = np.linspace(-4.0, 9.0, 521)
    M, T = np.meshgrid(mu, np.exp(log_t2), indexing="ij")
    lp = (
        stats.norm.logpdf(M, MU_PRIOR[0], MU_PRIOR[1])
        + stats.invgamma.logpdf(T, TAU_PRIOR[0], scale=TAU_PRIOR[1])
        + np.log(T)
        + stats.norm.logpdf(y, M[..., None], np.sqrt(sigma**2 + T[..., None])).sum(-1)
    )
    w = np.exp(lp - lp.max())
    w /= w.sum()
    theta = (y / sigma**2 + (M / T)[..., None]) / (1 / sigma**2 + (1 / T)[..., None])
    return (w * M).sum(), (w * T).sum(), np.einsum("ab,abj->j", w, theta)


def test_gibbs_eight_schools_matches_quadrature():
    data = eight_schools()
    y, sigma = data.y, data.extra["sigma"]
    ref_mu, ref_tau2, ref_theta = _eight_schools_reference(y, sigma)
    assert 4.0 < ref_mu < 4.8  # the well-known posterior mean of mu is about 4.4
    kernel = gibbs(hierarchical_normal_blocks(y, sigma, mu_prior=MU_PRIOR, tau_prior=TAU_PRIOR))
    states = jax.vmap(kernel.init)(
        {"theta": jnp.zeros((NUM_CHAINS, 8)), "mu": jnp.zeros(NUM_CHAINS), "tau2": jnp.full(NUM_CHAINS, 10.0)}
    )
    keys = jax.random.split(jax.random.key(9), NUM_CHAINS)
    run = jax.jit(lambda k, s: run_chains(kernel, k, s, 10500, lambda s, i: s))
    _, draws = run(keys, states)
    draws = {k: np.asarray(v)[:, 500:] for k, v in draws.items()}
    assert_within_mcse(draws["mu"], ref_mu)
    assert_within_mcse(draws["tau2"], ref_tau2)
    assert_within_mcse(draws["theta"], ref_theta)


# ------------------------------------------------------------------ Gibbs: Gaussian mixture
TRUE_MEANS = np.array([-4.0, 0.0, 4.0])
TRUE_SDS = np.array([0.7, 1.0, 0.8])
TRUE_WEIGHTS = np.array([0.3, 0.4, 0.3])


def _mixture_data():
    rng = np.random.default_rng(1)
    z = rng.choice(3, size=300, p=TRUE_WEIGHTS)
    return rng.normal(TRUE_MEANS[z], TRUE_SDS[z]), z


def _mixture_kernel(y):
    blocks = gaussian_mixture_blocks(y, 3, means_prior=([-3.0, 0.0, 3.0], 1.5), variances_prior=(2.0, 1.0))
    return blocks, gibbs(blocks)


def _mixture_init(n):
    return {
        "z": jnp.zeros(n, jnp.int32),
        "weights": jnp.full(3, 1 / 3),
        "means": jnp.array([-3.0, 0.0, 3.0]),
        "variances": jnp.ones(3),
    }


def test_gibbs_gaussian_mixture_recovers_components():
    y, z_true = _mixture_data()
    _, kernel = _mixture_kernel(y)
    states = jax.vmap(lambda _: kernel.init(_mixture_init(len(y))))(jnp.arange(NUM_CHAINS))
    keys = jax.random.split(jax.random.key(10), NUM_CHAINS)

    def record(state, info):
        return state["means"], state["weights"], state["variances"], jax.nn.one_hot(state["z"], 3)

    run = jax.jit(lambda k, s: run_chains(kernel, k, s, 1200, record))
    _, (means, weights, variances, membership) = run(keys, states)
    means, weights, variances = (np.asarray(a)[:, 200:] for a in (means, weights, variances))
    post_sd = means.std(axis=(0, 1))
    assert np.all(np.abs(means.mean(axis=(0, 1)) - TRUE_MEANS) < 4 * post_sd + 0.05)
    # Each chain stays on one labelling: the component means keep their order.
    assert np.all(np.diff(means, axis=-1) > 0)
    np.testing.assert_allclose(weights.mean(axis=(0, 1)), TRUE_WEIGHTS, atol=0.08)
    np.testing.assert_allclose(np.sqrt(variances.mean(axis=(0, 1))), TRUE_SDS, rtol=0.25)
    # Posterior modal assignments agree with the simulated labels almost everywhere.
    modal = np.asarray(membership)[:, 200:].mean(axis=(0, 1)).argmax(-1)
    assert np.mean(modal == z_true) > 0.9


def test_mixture_assignment_conditional_is_exact():
    y, _ = _mixture_data()
    blocks, kernel = _mixture_kernel(y[:5])
    state = kernel.init(
        {
            "z": jnp.zeros(5, jnp.int32),
            "weights": jnp.array([0.2, 0.5, 0.3]),
            "means": jnp.array([-2.0, 0.0, 2.0]),
            "variances": jnp.array([1.0, 4.0, 1.0]),
        }
    )
    num = 20000
    z = np.asarray(
        jax.jit(jax.vmap(lambda k: blocks[0].sampler(k, state)))(jax.random.split(jax.random.key(11), num))
    )
    assert z.dtype == np.int32
    logits = np.log([0.2, 0.5, 0.3]) + stats.norm.logpdf(y[:5, None], [-2.0, 0.0, 2.0], [1.0, 2.0, 1.0])
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    freq = np.stack([(z == k).mean(0) for k in range(3)], -1)
    se = np.sqrt(probs * (1 - probs) / num) + 1e-12
    assert np.all(np.abs(freq - probs) < 5 * se + 1e-9)


# ------------------------------------------------------------------ Metropolis-within-Gibbs
JOINT_COV = np.array([[1.0, 0.5, 0.3], [0.5, 1.5, 0.4], [0.3, 0.4, 1.0]])


def _mwg_kernel():
    """x = z[:2] by a random-walk step on p(x | y); y = z[2] exactly from p(y | x)."""
    Sxx, Sxy, Syy = JOINT_COV[:2, :2], JOINT_COV[:2, 2], JOINT_COV[2, 2]
    x_given_y_cov = Sxx - np.outer(Sxy, Sxy) / Syy
    x_given_y_prec = np.linalg.inv(x_given_y_cov)
    beta = np.linalg.solve(Sxx, Sxy)
    y_given_x_sd = np.sqrt(Syy - Sxy @ beta)

    def x_logdensity(x, state):
        d = x - Sxy / Syy * state["y"]
        return -0.5 * d @ x_given_y_prec @ d

    def draw_y(key, state):
        return beta @ state["x"] + y_given_x_sd * jax.random.normal(key)

    return gibbs([GibbsBlock("x", logdensity_fn=x_logdensity, scale=1.4), GibbsBlock("y", sampler=draw_y)])


def test_metropolis_within_gibbs_gaussian():
    kernel = _mwg_kernel()
    states = jax.vmap(kernel.init)({"x": jnp.zeros((NUM_CHAINS, 2)), "y": jnp.zeros(NUM_CHAINS)})
    keys = jax.random.split(jax.random.key(12), NUM_CHAINS)

    def record(state, info):
        return jnp.append(state["x"], state["y"]), info.acceptance_rate["x"], info.acceptance_rate["y"]

    run = jax.jit(lambda k, s: run_chains(kernel, k, s, 4200, record))
    _, (z, acc_x, acc_y) = run(keys, states)
    z = np.asarray(z)[:, 200:]
    assert np.all(np.asarray(acc_y) == 1.0)
    assert 0.2 < float(np.mean(acc_x)) < 0.8
    assert_within_mcse(z, np.zeros(3))
    i, j = np.triu_indices(3)
    assert_within_mcse(z[..., i] * z[..., j], JOINT_COV[i, j])


def test_gibbs_jit_equals_no_jit():
    y, _ = _mixture_data()
    _, kernel = _mixture_kernel(y[:10])
    mwg = _mwg_kernel()
    cases = [
        (kernel, kernel.init(_mixture_init(10)), 1),
        (mwg, mwg.init({"x": jnp.array([0.2, -0.1]), "y": 0.3}), 3),
    ]
    for kern, state, num_steps in cases:
        step = jax.jit(kern.step)
        eager, jitted = state, state
        for key in jax.random.split(jax.random.key(13), num_steps):
            eager, info_e = kern.step(key, eager)
            jitted, info_j = step(key, jitted)
        for name in state:
            np.testing.assert_allclose(eager[name], jitted[name], rtol=1e-10, atol=1e-12)
            assert eager[name].dtype == jitted[name].dtype == state[name].dtype
        assert isinstance(info_j, GibbsInfo)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10), info_e, info_j)


def test_gibbs_vmap_equals_loop():
    kernel = _mwg_kernel()
    keys = jax.random.split(jax.random.key(14), 3)
    states = jax.vmap(kernel.init)({"x": jnp.arange(6.0).reshape(3, 2), "y": jnp.array([-1.0, 0.0, 1.0])})

    def chain(key, state):
        def body(state, key):
            state, _ = kernel.step(key, state)
            return state, state

        return jax.lax.scan(body, state, jax.random.split(key, 10))[1]

    together = jax.jit(jax.vmap(chain))(keys, states)
    one = jax.jit(chain)
    for c in range(3):
        alone = one(keys[c], jax.tree.map(lambda x, c=c: x[c], states))
        for name in together:
            np.testing.assert_allclose(together[name][c], alone[name], rtol=1e-10, atol=1e-12)


def test_gibbs_bad_input_errors():
    draw = lambda key, state: state["a"]  # noqa: E731
    lp = lambda value, state: -0.5 * jnp.sum(value**2)  # noqa: E731
    # An asymmetric prior precision passed eigvalsh, which reads one triangle.
    X2, y2 = np.ones((4, 2)), np.ones(4)
    with pytest.raises(ValueError, match="`prior_precision` must be a symmetric positive definite"):
        linear_regression_blocks(X2, y2, 0.0, np.array([[1.0, 0.9], [0.0, 1.0]]), 2.0, 1.0)
    # A real-valued block started from integers: every draw was truncated (sigma2 = 1 stayed 0).
    floats = gibbs([GibbsBlock("a", sampler=lambda key, state: jax.random.normal(key))])
    with pytest.raises(TypeError, match="block `a` draws real numbers, .* integer dtype"):
        floats.step(jax.random.key(0), floats.init({"a": 1}))
    with pytest.raises(TypeError, match="non-empty list"):
        gibbs([])
    with pytest.raises(TypeError, match="GibbsBlock"):
        gibbs([("a", draw)])
    with pytest.raises(ValueError, match="twice"):
        gibbs([GibbsBlock("a", sampler=draw), GibbsBlock("a", sampler=draw)])
    with pytest.raises(ValueError, match="both"):
        gibbs([GibbsBlock("a", sampler=draw, logdensity_fn=lp)])
    with pytest.raises(ValueError, match="neither"):
        gibbs([GibbsBlock("a")])
    with pytest.raises(ValueError, match="needs a proposal `scale`"):
        gibbs([GibbsBlock("a", logdensity_fn=lp)])
    with pytest.raises(ValueError, match="scale"):
        gibbs([GibbsBlock("a", logdensity_fn=lp, scale=-1.0)])
    with pytest.raises(ValueError, match="only apply"):
        gibbs([GibbsBlock("a", sampler=draw, scale=1.0)])
    kernel = gibbs([GibbsBlock("a", sampler=lambda key, state: jnp.zeros(3))])
    with pytest.raises(ValueError, match="no value for block"):
        kernel.init({"b": 1.0})
    with pytest.raises(ValueError, match="keep each block's shape"):
        kernel.step(jax.random.key(0), kernel.init({"a": jnp.zeros(2)}))
    kernel = gibbs([GibbsBlock("a", logdensity_fn=lp, scale=1.0)])
    with pytest.raises(TypeError, match="real-valued"):
        kernel.step(jax.random.key(0), kernel.init({"a": jnp.zeros(2, jnp.int32)}))
    with pytest.raises(ValueError, match="rows"):
        linear_regression_blocks(np.ones((3, 2)), np.ones(4), 0.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="a0"):
        linear_regression_blocks(np.ones((3, 2)), np.ones(3), 0.0, 1.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="tau_prior"):
        hierarchical_normal_blocks(np.zeros(3), 1.0, mu_prior=(0.0, 1.0), tau_prior=1.0)
    with pytest.raises(ValueError, match="num_components"):
        gaussian_mixture_blocks(np.zeros(3), 0, means_prior=(0.0, 1.0), variances_prior=(1.0, 1.0))
    with pytest.raises(ValueError, match="means_prior"):
        gaussian_mixture_blocks(
            np.zeros(3), 2, means_prior=([0.0, 1.0, 2.0], 1.0), variances_prior=(1.0, 1.0)
        )


def test_gibbs_invalid_starting_value_names_the_block_and_its_support():
    """A built-in conditional started outside its block's support (a negative variance) ran on
    silently and every draw was NaN; init now names the block and the constraint."""
    from bayeskit.dist import constraints
    from bayeskit.mcmc import sample

    d = eight_schools()
    hier = gibbs(hierarchical_normal_blocks(d.y, d.extra["sigma"], mu_prior=(0.0, 5.0), tau_prior=(1.0, 1.0)))
    for bad in (-1.0, 0.0):
        with pytest.raises(ValueError, match=rf"block `tau2` must be positive \(> 0\), got {bad}"):
            hier.init({"theta": jnp.zeros(8), "mu": 0.0, "tau2": bad})
    # Through the driver too, where the NaN draws used to come back as a Posterior.
    with pytest.raises(ValueError, match="block `tau2` must be positive"):
        sample(
            jax.random.key(0), None, hier, init={"theta": jnp.zeros(8), "mu": 0.0, "tau2": -1.0},
            num_chains=2, num_warmup=5, num_samples=5, progress_bar=False, warn=False,
        )  # fmt: skip
    X, y = _regression_data()
    reg = gibbs(linear_regression_blocks(X, y, **REG_PRIOR))
    with pytest.raises(ValueError, match="block `sigma2` must be positive"):
        reg.init({"weights": jnp.zeros(X.shape[1]), "sigma2": -1.0})
    with pytest.raises(ValueError, match="block `weights` has 1 NaN or infinite"):
        reg.init({"weights": jnp.array([jnp.nan, 0.0]), "sigma2": 1.0})
    mixture = gibbs(
        gaussian_mixture_blocks(np.zeros(4), 2, means_prior=(0.0, 1.0), variances_prior=(2.0, 1.0))
    )
    start = {
        "z": jnp.zeros(4, jnp.int32),
        "weights": jnp.full(2, 0.5),
        "means": jnp.zeros(2),
        "variances": jnp.ones(2),
    }
    with pytest.raises(ValueError, match=r"block `variances` must be positive \(> 0\), got \[-2\.\]"):
        mixture.init({**start, "variances": jnp.array([1.0, -2.0])})
    with pytest.raises(ValueError, match="block `weights` must be on the simplex"):
        mixture.init({**start, "weights": jnp.array([1.0, 1.0])})
    mixture.init(start)  # a valid start passes; traced starts (vmap) are not checked
    jax.vmap(lambda s2: reg.init({"weights": jnp.zeros(X.shape[1]), "sigma2": s2}))(jnp.array([-1.0]))
    # A user's block declares its own support; a support that is not a constraint is refused.
    own = gibbs([GibbsBlock("s", sampler=lambda key, state: state["s"], support=constraints.unit_interval)])
    with pytest.raises(ValueError, match=r"block `s` must be in \[0, 1\], got 2\.0"):
        own.init({"s": 2.0})
    with pytest.raises(TypeError, match="`support` must be a constraint"):
        gibbs([GibbsBlock("s", sampler=lambda key, state: state["s"], support="positive")])


# ------------------------------------------------------------------ Gibbs through the driver
def test_sample_runs_a_gibbs_kernel_with_checkpoints(tmp_path):
    """``sample(key, None, gibbs(...))``: right posterior, per-block stats, resume gives the same draws."""
    from bayeskit.mcmc import sample
    from bayeskit.posterior import SamplingWarning

    X, y = _regression_data()
    mean_w, var_w, mean_s2, _ = _regression_reference(X, y, **REG_PRIOR)
    kernel = gibbs(linear_regression_blocks(X, y, **REG_PRIOR))
    starts = [{"weights": jnp.full(2, float(c) - 1.5), "sigma2": 0.5 + c} for c in range(NUM_CHAINS)]
    kwargs = dict(num_chains=NUM_CHAINS, num_warmup=100, num_samples=3000, chunk_size=100, progress_bar=False)
    post = sample(jax.random.key(5), None, kernel, init=starts, **kwargs)
    assert set(post.draws) == {"weights", "sigma2"}
    assert post["weights"].shape == (NUM_CHAINS, 3000, 2) and post["sigma2"].shape == (NUM_CHAINS, 3000)
    assert np.all(post.sample_stats["acceptance_rate_weights"] == 1.0)
    assert post.info["kernel"] == "custom" and post.warnings == []
    assert_within_mcse(post["weights"], mean_w)
    assert_within_mcse(post["sigma2"], mean_s2)
    assert_within_mcse((post["weights"] - mean_w) ** 2, var_w)
    summary = post.summary()
    assert summary.loc["sigma2", "r_hat"] < 1.01

    # Interrupted after burn-in and resumed from the checkpoint: the same draws as one run.
    ckpt = tmp_path / "gibbs.npz"

    def stop(done, total):
        if done >= 300:
            raise KeyboardInterrupt

    with pytest.warns(SamplingWarning, match="interrupted"):
        sample(jax.random.key(5), None, kernel, init=starts, checkpoint=ckpt, callback=stop, **kwargs)
    resumed = sample(jax.random.key(5), None, kernel, init=starts, resume=ckpt, **kwargs)
    np.testing.assert_array_equal(resumed["sigma2"], post["sigma2"])


def test_sample_with_a_kernel_object_bad_input():
    from bayeskit.mcmc import sample

    X, y = _regression_data()
    kernel = gibbs(linear_regression_blocks(X, y, **REG_PRIOR))
    state = {"weights": jnp.zeros(2), "sigma2": 1.0}
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="needs `init`"):
        sample(key, None, kernel)
    with pytest.raises(ValueError, match="lists 2 starting states for num_chains=4"):
        sample(key, None, kernel, init=[state, state])
    with pytest.raises(ValueError, match="`step_size`.*kernel object runs with the settings"):
        sample(key, None, kernel, init=state, step_size=0.1)
    with pytest.raises(TypeError, match="`record` must return a non-empty dict"):
        sample(key, None, kernel, init=state, record=lambda s: s["sigma2"])
    with pytest.raises(TypeError, match="must be the name of a kernel .* or a kernel object"):
        sample(key, None, object(), init=state)
    with pytest.raises(TypeError, match="expected a Target"):
        sample(key, None, "nuts")
