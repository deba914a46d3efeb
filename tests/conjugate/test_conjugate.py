"""Tests for the conjugate models: closed forms, sequential updating, evidence, predictives, errors."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import bayeskit.conjugate as conj
from bayeskit.conjugate import (
    BayesianLinearRegression,
    BetaBernoulli,
    DirichletMultinomial,
    GammaPoisson,
    KnownNoiseLinearRegression,
    NormalInverseGamma,
    NormalNormal,
)
from bayeskit.dist.bernoulli import Bernoulli
from bayeskit.dist.beta import Beta
from bayeskit.dist.categorical import Categorical
from bayeskit.dist.dirichlet import Dirichlet
from bayeskit.dist.dirichletmultinomial import DirichletMultinomial as DirichletMultinomialDist
from bayeskit.dist.gamma import Gamma
from bayeskit.dist.inversegamma import InverseGamma
from bayeskit.dist.multivariate_normal import MultivariateNormal
from bayeskit.dist.multivariate_studentt import MultivariateStudentT
from bayeskit.dist.negativebinomial import NegativeBinomial
from bayeskit.dist.normal import Normal
from bayeskit.dist.studentt import StudentT

RTOL = 1e-10


def close(a, b, rtol=RTOL, atol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def assert_same_model(a, b, rtol=1e-10):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        close(x, y, rtol=rtol, atol=1e-12)


def assert_moments_match(draws, mean, variance, num_se=5.0):
    """Sample mean and variance within ``num_se`` Monte Carlo standard errors of the truth."""
    draws = np.asarray(draws, dtype=np.float64)
    n = draws.shape[0]
    m = draws.mean(axis=0)
    se_mean = draws.std(axis=0) / math.sqrt(n)
    centred = draws - m
    v = (centred**2).mean(axis=0)
    se_var = np.sqrt(np.maximum((centred**4).mean(axis=0) - v**2, 0.0) / n)
    assert np.all(np.abs(m - np.asarray(mean)) < num_se * se_mean), (m, mean, se_mean)
    assert np.all(np.abs(v - np.asarray(variance)) < num_se * se_var), (v, variance, se_var)


def test_public_names():
    assert conj.__all__ == [
        "BayesianLinearRegression",
        "BetaBernoulli",
        "DirichletMultinomial",
        "GammaPoisson",
        "KnownNoiseLinearRegression",
        "NormalInverseGamma",
        "NormalNormal",
    ]


# ----------------------------------------------------------------------------------------------
# Beta-Bernoulli


BERNOULLI_DATA = np.array([1, 0, 1, 1, 0, 1, 1, 1])


def test_beta_bernoulli_posterior_closed_form():
    model = BetaBernoulli(2.0, 3.0).update(BERNOULLI_DATA)
    close(model.alpha, 2.0 + 6)
    close(model.beta, 3.0 + 2)
    assert isinstance(model.posterior, Beta)
    close(model.posterior.mean, 8.0 / 13.0)
    pred = model.predictive()
    assert isinstance(pred, Bernoulli)
    close(pred.probs, 8.0 / 13.0)
    # Booleans are outcomes too; the prior is untouched (immutability).
    close(BetaBernoulli(2.0, 3.0).update(BERNOULLI_DATA.astype(bool)).alpha, 8.0)


def test_beta_bernoulli_counts_equal_outcomes():
    from_outcomes = BetaBernoulli(2.0, 3.0).update(BERNOULLI_DATA)
    from_counts = BetaBernoulli(2.0, 3.0).update(successes=[4, 2], trials=[5, 3])
    assert_same_model(from_outcomes, from_counts)


def test_beta_bernoulli_sequential_equals_batch():
    prior = BetaBernoulli(0.5, 0.5)
    batch = prior.update(BERNOULLI_DATA)
    seq = prior
    for x in BERNOULLI_DATA:
        seq = seq.update(x)
    assert_same_model(batch, seq)
    mixed = prior.update(BERNOULLI_DATA[:3]).update(successes=4, trials=5)
    assert_same_model(batch, mixed)
    # Evidence factorises in the same way.
    close(
        prior.log_marginal_likelihood(BERNOULLI_DATA),
        prior.log_marginal_likelihood(BERNOULLI_DATA[:3])
        + prior.update(BERNOULLI_DATA[:3]).log_marginal_likelihood(BERNOULLI_DATA[3:]),
    )


def test_beta_bernoulli_evidence_against_quadrature():
    a, b = 2.0, 3.0
    s, f = BERNOULLI_DATA.sum(), (1 - BERNOULLI_DATA).sum()
    value, _ = integrate.quad(
        lambda p: p**s * (1 - p) ** f * stats.beta.pdf(p, a, b), 0, 1, epsabs=0, epsrel=1e-12
    )
    close(BetaBernoulli(a, b).log_marginal_likelihood(BERNOULLI_DATA), math.log(value), rtol=1e-9)
    # Counts include the binomial coefficient: one experiment gives the beta-binomial pmf.
    close(
        BetaBernoulli(a, b).log_marginal_likelihood(successes=6, trials=8),
        stats.betabinom.logpmf(6, 8, a, b),
        rtol=1e-9,
    )
    close(
        BetaBernoulli(a, b).log_marginal_likelihood(successes=[4, 2], trials=[5, 3]),
        math.log(value) + math.log(math.comb(5, 4) * math.comb(3, 2)),
        rtol=1e-9,
    )
    close(BetaBernoulli(a, b).log_marginal_likelihood(np.zeros(0)), 0.0)


def test_beta_bernoulli_trailing_axes_broadcast():
    data = np.array([[1, 0], [1, 0], [0, 0]])
    model = BetaBernoulli(jnp.array([1.0, 2.0]), 1.0).update(data)
    close(model.alpha, [3.0, 2.0])
    close(model.beta, [2.0, 4.0])
    assert model.log_marginal_likelihood(data).shape == (2,)


def test_beta_bernoulli_jit_and_vmap():
    prior = BetaBernoulli(2.0, 3.0)
    jitted = eqx.filter_jit(lambda m, x: m.update(x))(prior, jnp.asarray(BERNOULLI_DATA))
    assert_same_model(jitted, prior.update(BERNOULLI_DATA))
    evid = jax.jit(lambda m, x: m.log_marginal_likelihood(x))(prior, jnp.asarray(BERNOULLI_DATA))
    close(evid, prior.log_marginal_likelihood(BERNOULLI_DATA))
    priors = BetaBernoulli(jnp.array([1.0, 2.0, 3.0]), jnp.array([1.0, 1.0, 1.0]))
    batched = jax.vmap(lambda m: m.update(jnp.asarray(BERNOULLI_DATA)))(priors)
    close(batched.alpha, np.array([1.0, 2.0, 3.0]) + 6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"data": [0, 1, 2]}, r"`data` must hold binary outcomes \(0 or 1\).*2\.0 at index 2"),
        ({"data": [0.0, np.nan]}, r"`data` must be finite.*nan at index 1"),
        ({"data": [1, 0], "successes": 1}, "not both"),
        ({"successes": [1, 2]}, "`trials` is missing"),
        ({}, "`data` is missing"),
        ({"successes": [3], "trials": [2]}, "must not exceed `trials`"),
        ({"successes": [-1], "trials": [2]}, r"`successes` must hold counts"),
        ({"successes": [1], "trials": [2.5]}, r"`trials` must hold counts"),
        (
            {"successes": [1, 2], "trials": [2, 3, 4]},
            r"`successes` has shape \(2,\) but `trials` has shape \(3,\)",
        ),
    ],
)
def test_beta_bernoulli_bad_data(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BetaBernoulli().update(**kwargs)
    with pytest.raises(ValueError, match=match):
        BetaBernoulli().log_marginal_likelihood(**kwargs)


def test_beta_bernoulli_bad_prior():
    with pytest.raises(ValueError, match="BetaBernoulli: parameter `alpha` must be positive"):
        BetaBernoulli(0.0, 1.0)
    with pytest.raises(ValueError, match="BetaBernoulli: parameter `beta` must be positive"):
        BetaBernoulli(1.0, -2.0)


# ----------------------------------------------------------------------------------------------
# Normal-normal


NORMAL_DATA = np.array([1.3, 0.2, 2.1, 1.7, 0.9])


def test_normal_normal_posterior_closed_form():
    m0, s0, sigma = 0.5, 2.0, 1.5
    model = NormalNormal(m0, s0, sigma).update(NORMAL_DATA)
    precision = 1 / s0**2 + len(NORMAL_DATA) / sigma**2
    mean = (m0 / s0**2 + NORMAL_DATA.sum() / sigma**2) / precision
    close(model.loc, mean)
    close(model.scale, 1 / math.sqrt(precision))
    close(model.noise_scale, sigma)
    assert isinstance(model.posterior, Normal)
    pred = model.predictive()
    assert isinstance(pred, Normal)
    close(pred.scale, math.sqrt(1 / precision + sigma**2))


def test_normal_normal_sequential_equals_batch():
    prior = NormalNormal(0.5, 2.0, 1.5)
    seq = prior.update(NORMAL_DATA[:2]).update(NORMAL_DATA[2]).update(NORMAL_DATA[3:])
    assert_same_model(prior.update(NORMAL_DATA), seq)
    assert_same_model(prior.update(np.zeros(0)), prior)


def test_normal_normal_evidence_against_quadrature_and_gaussian():
    m0, s0, sigma = 0.5, 2.0, 1.5
    prior = NormalNormal(m0, s0, sigma)

    def integrand(mu):
        return np.prod(stats.norm.pdf(NORMAL_DATA, mu, sigma)) * stats.norm.pdf(mu, m0, s0)

    value, _ = integrate.quad(integrand, -30, 30, points=[NORMAL_DATA.mean()], epsabs=0, epsrel=1e-12)
    close(prior.log_marginal_likelihood(NORMAL_DATA), math.log(value), rtol=1e-9)
    n = len(NORMAL_DATA)
    cov = sigma**2 * np.eye(n) + s0**2 * np.ones((n, n))
    close(
        prior.log_marginal_likelihood(NORMAL_DATA),
        stats.multivariate_normal.logpdf(NORMAL_DATA, np.full(n, m0), cov),
    )
    close(
        prior.log_marginal_likelihood(NORMAL_DATA[:1]),
        stats.norm.logpdf(NORMAL_DATA[0], m0, math.hypot(s0, sigma)),
    )
    close(prior.log_marginal_likelihood(np.zeros(0)), 0.0)


def test_normal_normal_predictive_against_monte_carlo():
    model = NormalNormal(0.5, 2.0, 1.5).update(NORMAL_DATA)
    k_mu, k_x = jax.random.split(jax.random.key(0))
    mu = model.posterior.sample(k_mu, (200_000,))
    x = mu + model.noise_scale * jax.random.normal(k_x, mu.shape)
    pred = model.predictive()
    assert_moments_match(x, pred.mean, pred.variance)


def test_normal_normal_bad_inputs():
    with pytest.raises(ValueError, match=r"NormalNormal.update: `data` must be finite.*nan at index 2"):
        NormalNormal(0.0, 1.0, 1.0).update([1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match=r"`data` must be finite.*inf"):
        NormalNormal(0.0, 1.0, 1.0).log_marginal_likelihood([np.inf])
    with pytest.raises(ValueError, match="parameter `prior_scale` must be positive"):
        NormalNormal(0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="parameter `noise_scale` must be positive"):
        NormalNormal(0.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="`data` must be an array of real numbers"):
        NormalNormal(0.0, 1.0, 1.0).update(["a", "b"])


# ----------------------------------------------------------------------------------------------
# Normal-inverse-gamma


def test_normal_inverse_gamma_posterior_closed_form():
    m, k, a, b = 0.5, 2.0, 3.0, 2.0
    x = NORMAL_DATA
    n = len(x)
    model = NormalInverseGamma(m, k, a, b).update(x)
    k_n = k + n
    m_n = (k * m + x.sum()) / k_n
    # The uncentred form of the rate, as in Murphy (2007), eq. 86.
    b_n = b + 0.5 * (np.sum(x**2) + k * m**2 - k_n * m_n**2)
    close(model.loc, m_n)
    close(model.precision_scale, k_n)
    close(model.concentration, a + n / 2)
    close(model.rate, b_n)
    post = model.posterior
    assert set(post) == {"loc", "variance"}
    assert isinstance(post["loc"], StudentT)
    assert isinstance(post["variance"], InverseGamma)
    close(post["loc"].df, 2 * (a + n / 2))
    close(post["loc"].scale, math.sqrt(b_n / ((a + n / 2) * k_n)))
    close(post["variance"].rate, b_n)
    pred = model.predictive()
    close(pred.scale, math.sqrt(b_n * (k_n + 1) / ((a + n / 2) * k_n)))


def test_normal_inverse_gamma_sequential_equals_batch():
    prior = NormalInverseGamma(0.5, 2.0, 3.0, 2.0)
    seq = prior
    for x in NORMAL_DATA:
        seq = seq.update(x)
    assert_same_model(prior.update(NORMAL_DATA), seq)
    assert_same_model(prior.update(NORMAL_DATA[:2]).update(NORMAL_DATA[2:]), seq)


def test_normal_inverse_gamma_evidence_chain_rule():
    prior = NormalInverseGamma(0.5, 2.0, 3.0, 2.0)
    total, model = 0.0, prior
    for x in NORMAL_DATA:
        total += model.predictive().log_prob(x)
        model = model.update(x)
    close(prior.log_marginal_likelihood(NORMAL_DATA), total)
    close(prior.log_marginal_likelihood(np.zeros(0)), 0.0)


def test_normal_inverse_gamma_evidence_against_2d_quadrature():
    m, k, a, b = 0.5, 2.0, 3.0, 2.0
    x = [float(v) for v in NORMAL_DATA[:3]]
    prior = NormalInverseGamma(m, k, a, b)
    expected = float(prior.log_marginal_likelihood(x))

    log_norm_const = a * math.log(b) - math.lgamma(a)

    def log_normal(z, mean, var):
        return -0.5 * ((z - mean) ** 2 / var + math.log(2 * math.pi * var))

    def integrand(mu, log_var):
        # Plain floats: scipy.stats is too slow inside a 2-D quadrature.
        var = math.exp(log_var)
        log_joint = (
            sum(log_normal(xi, mu, var) for xi in x)
            + log_normal(mu, m, var / k)
            + log_norm_const
            - (a + 1) * log_var
            - b / var  # inverse-gamma density of var
            + log_var  # the Jacobian of var = exp(log_var)
        )
        return math.exp(log_joint - expected)

    post = prior.update(x)
    centre = float(post.loc)
    value, _ = integrate.dblquad(integrand, -8.0, 4.0, centre - 8.0, centre + 8.0, epsabs=1e-10, epsrel=1e-9)
    close(math.log(value), 0.0, atol=1e-7)


def test_normal_inverse_gamma_posterior_and_predictive_against_monte_carlo():
    model = NormalInverseGamma(0.5, 2.0, 3.0, 2.0).update(NORMAL_DATA)
    k_post, k_x = jax.random.split(jax.random.key(1))
    draws = model.sample_posterior(k_post, (200_000,))
    post = model.posterior
    assert_moments_match(draws["loc"], post["loc"].mean, post["loc"].variance)
    assert_moments_match(draws["variance"], post["variance"].mean, post["variance"].variance)
    y = draws["loc"] + jnp.sqrt(draws["variance"]) * jax.random.normal(k_x, (200_000,))
    pred = model.predictive()
    assert_moments_match(y, pred.mean, pred.variance)


def test_normal_inverse_gamma_bad_inputs():
    with pytest.raises(ValueError, match=r"NormalInverseGamma.update: `data` must be finite"):
        NormalInverseGamma(0.0, 1.0, 1.0, 1.0).update([0.0, np.nan])
    with pytest.raises(ValueError, match="parameter `precision_scale` must be positive"):
        NormalInverseGamma(0.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="parameter `rate` must be positive"):
        NormalInverseGamma(0.0, 1.0, 1.0, -1.0)


# ----------------------------------------------------------------------------------------------
# Gamma-Poisson


COUNTS = np.array([3, 0, 2, 5, 1, 4])


def test_gamma_poisson_posterior_closed_form():
    model = GammaPoisson(2.0, 0.5).update(COUNTS)
    close(model.concentration, 2.0 + COUNTS.sum())
    close(model.rate, 0.5 + len(COUNTS))
    assert isinstance(model.posterior, Gamma)
    exposure = np.array([1.0, 2.0, 0.5, 3.0, 1.0, 1.5])
    model = GammaPoisson(2.0, 0.5).update(COUNTS, exposure=exposure)
    close(model.rate, 0.5 + exposure.sum())


def test_gamma_poisson_sequential_equals_batch():
    prior = GammaPoisson(2.0, 0.5)
    seq = prior
    for x in COUNTS:
        seq = seq.update(x)
    assert_same_model(prior.update(COUNTS), seq)
    exposure = np.linspace(0.5, 3.0, len(COUNTS))
    assert_same_model(
        prior.update(COUNTS, exposure),
        prior.update(COUNTS[:2], exposure[:2]).update(COUNTS[2:], exposure[2:]),
    )


@pytest.mark.parametrize("exposure", [None, np.array([1.0, 2.0, 0.5, 3.0, 1.0, 1.5])])
def test_gamma_poisson_evidence_against_quadrature(exposure):
    a, b = 2.0, 0.5
    t = np.ones(len(COUNTS)) if exposure is None else exposure

    def integrand(lam):
        return np.prod(stats.poisson.pmf(COUNTS, lam * t)) * stats.gamma.pdf(lam, a, scale=1 / b)

    mode = (a + COUNTS.sum() - 1) / (b + t.sum())
    value, _ = integrate.quad(integrand, 0, 60, points=[mode], epsabs=0, epsrel=1e-12, limit=200)
    close(GammaPoisson(a, b).log_marginal_likelihood(COUNTS, exposure), math.log(value), rtol=1e-9)


def test_gamma_poisson_predictive():
    model = GammaPoisson(2.0, 0.5).update(COUNTS)
    a, b = float(model.concentration), float(model.rate)
    pred = model.predictive()
    assert isinstance(pred, NegativeBinomial)
    close(pred.mean, a / b)
    close(pred.variance, a / b + a / b**2)
    for k in (0, 2, 7):
        value, _ = integrate.quad(
            lambda lam, k=k: stats.poisson.pmf(k, lam) * stats.gamma.pdf(lam, a, scale=1 / b),
            0,
            40,
            epsrel=1e-12,
        )
        close(pred.log_prob(float(k)), math.log(value), rtol=1e-8)
        # One new count's predictive probability is the evidence of that count.
        close(pred.log_prob(float(k)), model.log_marginal_likelihood(k), rtol=1e-10)
    pred3 = model.predictive(exposure=3.0)
    close(pred3.mean, 3.0 * a / b)
    close(pred3.log_prob(4.0), model.log_marginal_likelihood(4, exposure=3.0))


@pytest.mark.parametrize(
    "counts, exposure, match",
    [
        ([1, -2], None, r"`counts` must hold counts.*-2\.0 at index 1"),
        ([1, 2.5], None, r"`counts` must hold counts.*2\.5"),
        ([1, np.nan], None, r"`counts` must be finite"),
        ([1, 2], [1.0, 0.0], r"`exposure` must be positive.*0\.0 at index 1"),
        ([1, 2], [1.0, 2.0, 3.0], r"`counts` has shape \(2,\) but `exposure` has shape \(3,\)"),
    ],
)
def test_gamma_poisson_bad_data(counts, exposure, match):
    with pytest.raises(ValueError, match=match):
        GammaPoisson(1.0, 1.0).update(counts, exposure)
    with pytest.raises(ValueError, match=match):
        GammaPoisson(1.0, 1.0).log_marginal_likelihood(counts, exposure)


def test_gamma_poisson_bad_prior():
    with pytest.raises(ValueError, match="GammaPoisson: parameter `rate` must be positive"):
        GammaPoisson(1.0, 0.0)


# ----------------------------------------------------------------------------------------------
# Dirichlet-multinomial


LABELS = np.array([0, 2, 2, 1, 2, 0, 3, 2])
LABEL_COUNTS = np.bincount(LABELS, minlength=4).astype(float)
ALPHA = np.array([1.0, 0.5, 2.0, 1.5])


def test_dirichlet_multinomial_posterior_closed_form():
    model = DirichletMultinomial(ALPHA).update(labels=LABELS)
    close(model.concentration, ALPHA + LABEL_COUNTS)
    assert_same_model(model, DirichletMultinomial(ALPHA).update(LABEL_COUNTS))
    assert_same_model(model, DirichletMultinomial(ALPHA).update(counts=[[1, 1, 2, 0], [1, 0, 2, 1]]))
    assert isinstance(model.posterior, Dirichlet)
    close(model.predictive_probs, (ALPHA + LABEL_COUNTS) / (ALPHA + LABEL_COUNTS).sum())
    pred = model.predictive()
    assert isinstance(pred, Categorical)
    close(pred.probs, model.predictive_probs)
    pred5 = model.predictive(5)
    assert isinstance(pred5, DirichletMultinomialDist)
    close(pred5.mean, 5 * model.predictive_probs)


def test_dirichlet_multinomial_sequential_equals_batch():
    prior = DirichletMultinomial(ALPHA)
    seq = prior
    for z in LABELS:
        seq = seq.update(labels=z)
    assert_same_model(prior.update(labels=LABELS), seq)
    assert_same_model(prior.update(labels=LABELS[:3]).update(labels=LABELS[3:]), seq)


def test_dirichlet_multinomial_evidence():
    prior = DirichletMultinomial(ALPHA)
    # Labels: chain rule through the categorical predictive.
    total, model = 0.0, prior
    for z in LABELS:
        total += math.log(float(model.predictive_probs[z]))
        model = model.update(labels=z)
    close(prior.log_marginal_likelihood(labels=LABELS), total)
    # One row of counts: the Dirichlet-multinomial pmf (which includes the multinomial coefficient).
    close(
        prior.log_marginal_likelihood(LABEL_COUNTS),
        DirichletMultinomialDist(ALPHA, LABEL_COUNTS.sum()).log_prob(LABEL_COUNTS),
    )
    coef = math.lgamma(len(LABELS) + 1) - sum(math.lgamma(c + 1) for c in LABEL_COUNTS)
    close(prior.log_marginal_likelihood(LABEL_COUNTS), total + coef)
    rows = np.array([[1, 1, 2, 0], [1, 0, 2, 1]])
    coefs = sum(math.lgamma(r.sum() + 1) - sum(math.lgamma(c + 1) for c in r) for r in rows)
    close(prior.log_marginal_likelihood(rows), total + coefs)


def test_dirichlet_multinomial_evidence_two_categories_is_beta_bernoulli():
    outcomes = np.array([1, 0, 1, 1])
    close(
        DirichletMultinomial([2.0, 3.0]).log_marginal_likelihood(labels=1 - outcomes),
        BetaBernoulli(2.0, 3.0).log_marginal_likelihood(outcomes),
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": [0, 4]}, r"`labels` must be category indices in 0\.\.3, but the largest is 4"),
        ({"labels": [0, -1]}, r"`labels` must hold counts.*-1\.0 at index 1"),
        ({"labels": [[0, 1]]}, r"`labels` must have shape \(n,\)"),
        ({"counts": [1, 2, 3]}, r"`counts` must have shape \(4,\) or \(n, 4\).*got shape \(3,\)"),
        ({"counts": [1, 2, -3, 0]}, r"`counts` must hold counts.*-3\.0 at index \(0, 2\)"),
        ({"counts": [1, 2, np.nan, 0]}, r"`counts` must be finite"),
        ({"counts": [1, 2, 3, 0], "labels": [1]}, "exactly one of `counts`"),
        ({}, "exactly one of `counts`"),
    ],
)
def test_dirichlet_multinomial_bad_data(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DirichletMultinomial(ALPHA).update(**kwargs)
    with pytest.raises(ValueError, match=match):
        DirichletMultinomial(ALPHA).log_marginal_likelihood(**kwargs)


def test_dirichlet_multinomial_bad_prior():
    with pytest.raises(ValueError, match="`concentration` must be a vector"):
        DirichletMultinomial(1.0)
    with pytest.raises(ValueError, match="parameter `concentration` must be positive"):
        DirichletMultinomial([1.0, 0.0])


# ----------------------------------------------------------------------------------------------
# Bayesian linear regression (unknown noise)


def regression_data(n=12, d=3, seed=0, noise=0.4):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, d - 1))])
    w = np.array([0.5, -1.0, 2.0, 0.3][:d])
    return X, X @ w + noise * rng.normal(size=n)


BLR_PRIOR = dict(
    prior_mean=np.array([0.2, 0.0, -0.3]),
    prior_precision=np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]]),
    concentration=3.0,
    rate=2.0,
)


def test_blr_posterior_closed_form():
    X, y = regression_data()
    m0, L0 = BLR_PRIOR["prior_mean"], BLR_PRIOR["prior_precision"]
    a0, b0 = BLR_PRIOR["concentration"], BLR_PRIOR["rate"]
    model = BayesianLinearRegression(**BLR_PRIOR).update(X, y)
    Ln = L0 + X.T @ X
    mn = np.linalg.solve(Ln, L0 @ m0 + X.T @ y)
    an = a0 + len(y) / 2
    bn = b0 + 0.5 * (y @ y + m0 @ L0 @ m0 - mn @ Ln @ mn)  # the uncentred textbook form
    close(model.loc, mn)
    close(model.precision, Ln)
    close(model.concentration, an)
    close(model.rate, bn, rtol=1e-9)
    post = model.posterior
    assert set(post) == {"weights", "noise_variance"}
    assert isinstance(post["weights"], MultivariateStudentT)
    assert isinstance(post["noise_variance"], InverseGamma)
    close(post["weights"].df, 2 * an)
    close(post["weights"].loc, mn)
    scale = post["weights"].scale_tril @ post["weights"].scale_tril.T
    close(scale, bn / an * np.linalg.inv(Ln), rtol=1e-9)


def test_blr_prior_precision_forms():
    full = BayesianLinearRegression(np.zeros(3), 2.0 * np.eye(3), 1.0, 1.0)
    assert_same_model(BayesianLinearRegression(np.zeros(3), 2.0, 1.0, 1.0), full)
    assert_same_model(BayesianLinearRegression(np.zeros(3), np.full(3, 2.0), 1.0, 1.0), full)


def test_blr_sequential_equals_batch():
    X, y = regression_data()
    prior = BayesianLinearRegression(**BLR_PRIOR)
    seq = prior.update(X[:4], y[:4]).update(X[4:5], y[4:5]).update(X[5:], y[5:])
    assert_same_model(prior.update(X, y), seq, rtol=1e-9)
    assert_same_model(prior.update(X[:0], y[:0]), prior)


def test_blr_evidence_chain_rule_and_multivariate_t():
    X, y = regression_data()
    prior = BayesianLinearRegression(**BLR_PRIOR)
    total, model = 0.0, prior
    for i in range(len(y)):
        total += model.predictive(X[i]).log_prob(y[i])
        model = model.update(X[i : i + 1], y[i : i + 1])
    expected = prior.log_marginal_likelihood(X, y)
    close(expected, total, rtol=1e-9)
    a, b = BLR_PRIOR["concentration"], BLR_PRIOR["rate"]
    shape = b / a * (np.eye(len(y)) + X @ np.linalg.solve(BLR_PRIOR["prior_precision"], X.T))
    mvt = stats.multivariate_t(loc=X @ BLR_PRIOR["prior_mean"], shape=shape, df=2 * a)
    close(expected, mvt.logpdf(y), rtol=1e-9)
    close(prior.joint_predictive(X).log_prob(y), mvt.logpdf(y), rtol=1e-9)


def test_blr_with_constant_design_is_normal_inverse_gamma():
    nig = NormalInverseGamma(0.5, 2.0, 3.0, 2.0)
    blr = BayesianLinearRegression([0.5], 2.0, 3.0, 2.0)
    X = np.ones((len(NORMAL_DATA), 1))
    close(blr.log_marginal_likelihood(X, NORMAL_DATA), nig.log_marginal_likelihood(NORMAL_DATA))
    nig, blr = nig.update(NORMAL_DATA), blr.update(X, NORMAL_DATA)
    close(blr.loc[0], nig.loc)
    close(blr.rate, nig.rate)
    close(blr.predictive(np.ones((1, 1))).scale, nig.predictive().scale)


def test_blr_weak_prior_approaches_least_squares():
    X, y = regression_data()
    w_ls, *_ = np.linalg.lstsq(X, y, rcond=None)
    model = BayesianLinearRegression(np.zeros(3), 1e-8, 1e-8, 1e-8).update(X, y)
    close(model.loc, w_ls, rtol=1e-6, atol=1e-6)
    # The noise variance's posterior mean approaches the residual mean square.
    resid = y - X @ w_ls
    close(model.posterior["noise_variance"].mean, resid @ resid / (len(y) - 2), rtol=1e-3)


def test_blr_predictive_against_monte_carlo():
    X, y = regression_data()
    model = BayesianLinearRegression(**BLR_PRIOR).update(X, y)
    X_new = np.array([[1.0, 0.5, -1.0], [1.0, 2.0, 1.0]])
    n = 200_000
    k_post, k_y = jax.random.split(jax.random.key(2))
    draws = model.sample_posterior(k_post, (n,))
    post = model.posterior
    assert_moments_match(draws["weights"], post["weights"].mean, post["weights"].variance)
    assert_moments_match(
        draws["noise_variance"], post["noise_variance"].mean, post["noise_variance"].variance
    )
    y_new = draws["weights"] @ X_new.T + jnp.sqrt(draws["noise_variance"])[:, None] * jax.random.normal(
        k_y, (n, 2)
    )
    pred = model.predictive(X_new)
    assert isinstance(pred, StudentT)
    assert pred.batch_shape == (2,)
    assert_moments_match(y_new, pred.mean, pred.variance)
    joint = model.joint_predictive(X_new)
    close(joint.variance, pred.variance, rtol=1e-9)
    close(np.cov(np.asarray(y_new).T)[0, 1], joint.covariance_matrix[0, 1], rtol=0.05, atol=0)


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.ones((4, 3)), np.ones(5), r"`X` has 4 rows but `y` has 5 entries"),
        (np.ones((4, 2)), np.ones(4), r"`X` must have shape \(n, 3\).*got shape \(4, 2\)"),
        (np.ones(3), np.ones(1), r"`X` must have shape \(n, 3\).*X\[None\]"),
        (np.ones((4, 3)), np.ones((4, 1)), r"`y` must have shape \(n,\)"),
        (np.ones((4, 3)), np.array([1.0, np.nan, 0.0, 0.0]), r"`y` must be finite.*nan at index 1"),
        (np.full((4, 3), np.inf), np.ones(4), r"`X` must be finite"),
    ],
)
def test_blr_bad_data(X, y, match):
    for model in (
        BayesianLinearRegression(np.zeros(3), 1.0, 1.0, 1.0),
        KnownNoiseLinearRegression(np.zeros(3), 1.0, 1.0),
    ):
        with pytest.raises(ValueError, match=match):
            model.update(X, y)
        with pytest.raises(ValueError, match=match):
            model.log_marginal_likelihood(X, y)


def test_blr_bad_prior_and_inputs():
    with pytest.raises(ValueError, match="`prior_precision` must be positive definite"):
        BayesianLinearRegression(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]), 1.0, 1.0)
    with pytest.raises(ValueError, match="`prior_precision` must be symmetric"):
        BayesianLinearRegression(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), 1.0, 1.0)
    with pytest.raises(ValueError, match=r"`prior_precision` must be a scalar, a vector of 2"):
        BayesianLinearRegression(np.zeros(2), np.ones(3), 1.0, 1.0)
    with pytest.raises(ValueError, match="`prior_mean` must be a vector"):
        BayesianLinearRegression(0.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="parameter `concentration` must be positive"):
        BayesianLinearRegression(np.zeros(2), 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"`X_new` must have shape \(n, 2\)"):
        BayesianLinearRegression(np.zeros(2), 1.0, 1.0, 1.0).predictive(np.ones((3, 3)))
    with pytest.raises(ValueError, match="`noise_scale` must be positive"):
        KnownNoiseLinearRegression(np.zeros(2), 1.0, 0.0)


def test_blr_jit():
    X, y = regression_data()
    prior = BayesianLinearRegression(**BLR_PRIOR)
    jitted = eqx.filter_jit(lambda m, X, y: m.update(X, y))(prior, jnp.asarray(X), jnp.asarray(y))
    assert_same_model(jitted, prior.update(X, y), rtol=1e-9)
    evid = jax.jit(lambda m, X, y: m.log_marginal_likelihood(X, y))(prior, X, y)
    close(evid, prior.log_marginal_likelihood(X, y), rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# Linear regression with known noise


def test_known_noise_regression_closed_form_and_evidence():
    X, y = regression_data()
    m0, L0, sigma = BLR_PRIOR["prior_mean"], BLR_PRIOR["prior_precision"], 0.4
    prior = KnownNoiseLinearRegression(m0, L0, sigma)
    model = prior.update(X, y)
    Ln = L0 + X.T @ X / sigma**2
    close(model.precision, Ln)
    close(model.loc, np.linalg.solve(Ln, L0 @ m0 + X.T @ y / sigma**2))
    assert isinstance(model.posterior, MultivariateNormal)
    close(model.posterior.covariance_matrix, np.linalg.inv(Ln), rtol=1e-9)
    cov = sigma**2 * np.eye(len(y)) + X @ np.linalg.solve(L0, X.T)
    close(prior.log_marginal_likelihood(X, y), stats.multivariate_normal.logpdf(y, X @ m0, cov), rtol=1e-9)
    close(prior.joint_predictive(X).log_prob(y), stats.multivariate_normal.logpdf(y, X @ m0, cov), rtol=1e-9)
    pred = model.predictive(X[:3])
    assert isinstance(pred, Normal)
    close(pred.variance, sigma**2 + np.einsum("ij,jk,ik->i", X[:3], np.linalg.inv(Ln), X[:3]), rtol=1e-9)
    seq = prior.update(X[:5], y[:5]).update(X[5:], y[5:])
    assert_same_model(model, seq, rtol=1e-9)


def test_known_noise_regression_with_constant_design_is_normal_normal():
    nn = NormalNormal(0.5, 2.0, 1.5)
    reg = KnownNoiseLinearRegression([0.5], 1 / 2.0**2, 1.5)
    X = np.ones((len(NORMAL_DATA), 1))
    close(reg.log_marginal_likelihood(X, NORMAL_DATA), nn.log_marginal_likelihood(NORMAL_DATA))
    nn, reg = nn.update(NORMAL_DATA), reg.update(X, NORMAL_DATA)
    close(reg.loc[0], nn.loc)
    close(reg.predictive(np.ones(1)).scale, nn.predictive().scale)
