"""Where the automatic guides start (``init="laplace"``): each at its member nearest the Laplace
Gaussian. On a Gaussian posterior the Laplace approximation is exact, so the start can be
compared with the posterior in closed form.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import bayeskit.dist as dist
from bayeskit import vi
from bayeskit.conjugate import KnownNoiseLinearRegression
from bayeskit.ppl import target

NOISE = 0.5
DIM = 5


def regression(m, X, y):
    w = m.sample("w", dist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Normal(X @ w, NOISE), obs=y)


@pytest.fixture(scope="module")
def correlated():
    """A regression on five predictors with correlation 0.9: posterior correlations near -0.8."""
    kz, kc, ky = jax.random.split(jax.random.key(3), 3)
    common = jax.random.normal(kc, (60, 1))
    X = jnp.sqrt(0.9) * common + jnp.sqrt(0.1) * jax.random.normal(kz, (60, DIM))
    y = X @ jnp.linspace(-1.0, 1.0, DIM) + NOISE * jax.random.normal(ky, (60,))
    post = KnownNoiseLinearRegression(jnp.zeros(DIM), 1.0, NOISE).update(X, y).posterior
    return target(regression, X, y), np.asarray(post.loc), np.asarray(post.covariance_matrix)


def _kl(loc, cov, post_loc, post_cov):
    """KL(N(loc, cov) || N(post_loc, post_cov))."""
    prec = np.linalg.inv(post_cov)
    diff = loc - post_loc
    return 0.5 * (
        np.trace(prec @ cov)
        + diff @ prec @ diff
        - loc.size
        - np.linalg.slogdet(cov)[1]
        + np.linalg.slogdet(post_cov)[1]
    )


def _start(t, guide, **kw):
    # One step of a zero learning rate: what fit returns is where it started.
    result = vi.fit(jax.random.key(0), t, guide=guide, num_steps=1, tol=None, progress_bar=False,
                    optimizer=optax.sgd(0.0), **kw)  # fmt: skip
    return np.asarray(result.guide.loc), np.asarray(result.guide.covariance)


def test_lowrank_starts_at_the_laplace_correlations(correlated):
    """The low-rank guide started with its diagonal at the Laplace marginal variances and a tiny
    random W: no correlations, a start worse than the mean-field guide's (KL 15 against 3.7 here),
    which took thousands of steps to recover on correlated posteriors."""
    t, post_loc, post_cov = correlated
    loc, cov = _start(t, "lowrank", rank=DIM - 1)
    # Rank dim - 1 plus a diagonal holds any covariance: the start is the posterior.
    sd = np.sqrt(np.diag(post_cov))
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), sd, rtol=1e-3)
    np.testing.assert_allclose(cov / np.outer(sd, sd), post_cov / np.outer(sd, sd), atol=1e-3)
    assert _kl(loc, cov, post_loc, post_cov) < 1e-3

    # With a lower rank the start is still no worse than the mean-field start.
    mf = _kl(*_start(t, "meanfield"), post_loc, post_cov)
    assert _kl(*_start(t, "lowrank", rank=1), post_loc, post_cov) < mf + 0.01


def test_lowrank_fit_from_laplace_reaches_the_evidence_quickly(correlated):
    t = correlated[0]
    exact = KnownNoiseLinearRegression(jnp.zeros(DIM), 1.0, NOISE)
    X, y = t.args
    log_z = float(exact.log_marginal_likelihood(X, y))
    result = vi.fit(jax.random.key(1), t, guide="lowrank", rank=DIM - 1, num_steps=100, tol=None,
                    progress_bar=False)  # fmt: skip
    terms = vi.elbo(jax.random.key(2), t, result.guide, num_particles=20_000)
    assert log_z - 0.05 < float(terms.elbo) <= log_z + 0.01


def test_lowrank_draws_have_the_guide_covariance():
    q = vi.LowRankGuide(
        jnp.array([1.0, -1.0, 0.0]), jnp.array([[1.0], [0.5], [-2.0]]), jnp.array([0.3, 1.0, 0.5])
    )
    z = np.asarray(q.sample(jax.random.key(4), (40_000,)))
    assert z.shape == (40_000, 3)
    np.testing.assert_allclose(z.mean(0), q.loc, atol=5 * np.sqrt(np.max(q.variance) / 40_000))
    np.testing.assert_allclose(np.cov(z.T), q.covariance, atol=0.06)
    np.testing.assert_allclose(
        q.log_prob(z[:5]), jax.scipy.stats.multivariate_normal.logpdf(z[:5], q.loc, q.covariance)
    )
