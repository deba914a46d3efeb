"""Closed-form KL divergences against Monte Carlo estimates, and the base-class wrappers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayeskit.dist as dist

PAIRS = [
    (dist.Normal(0.3, 1.2), dist.Normal(-0.5, 0.8)),
    (dist.LogNormal(0.1, 0.5), dist.LogNormal(0.0, 0.9)),
    (dist.HalfNormal(1.0), dist.HalfNormal(2.5)),
    (dist.Gamma(2.0, 3.0), dist.Gamma(4.0, 1.5)),
    (dist.InverseGamma(3.0, 2.0), dist.InverseGamma(5.0, 1.0)),
    (dist.Beta(2.0, 5.0), dist.Beta(1.5, 1.5)),
    (dist.Exponential(2.0), dist.Exponential(0.5)),
    (dist.Laplace(0.2, 1.0), dist.Laplace(-0.3, 2.0)),
    (dist.Uniform(0.0, 1.0), dist.Uniform(-1.0, 2.0)),
    (dist.Poisson(3.0), dist.Poisson(5.0)),
    (dist.Bernoulli(probs=0.3), dist.Bernoulli(probs=0.6)),
    (dist.Categorical(probs=jnp.array([0.2, 0.5, 0.3])), dist.Categorical(probs=jnp.array([0.4, 0.4, 0.2]))),
    (dist.Dirichlet(jnp.array([2.0, 3.0, 4.0])), dist.Dirichlet(jnp.array([1.0, 1.0, 1.0]))),
    (
        dist.MultivariateNormal(jnp.array([0.0, 1.0]), covariance_matrix=jnp.array([[1.0, 0.3], [0.3, 2.0]])),
        dist.MultivariateNormal(jnp.array([1.0, -1.0]), covariance_matrix=jnp.array([[2.0, -0.5], [-0.5, 1.0]])),
    ),
    (dist.Normal(jnp.zeros(3), 1.0).to_event(1), dist.Normal(jnp.ones(3), 2.0).to_event(1)),
]


@pytest.mark.parametrize("p,q", PAIRS, ids=lambda d: type(d).__name__)
def test_kl_matches_monte_carlo(p, q):
    x = p.sample(jax.random.key(0), (100_000,))
    diff = np.asarray(p.log_prob(x) - q.log_prob(x))
    mc, se = diff.mean(), diff.std() / np.sqrt(diff.size)
    exact = float(dist.kl_divergence(p, q))
    assert exact >= 0
    assert abs(exact - mc) < 5 * se + 1e-9, (exact, mc, se)


def test_kl_of_identical_is_zero_and_batches():
    p = dist.Normal(jnp.arange(3.0), 2.0)
    np.testing.assert_allclose(dist.kl_divergence(p, p), np.zeros(3), atol=1e-12)
    q = dist.Normal(0.0, 1.0).expand((3,))
    assert dist.kl_divergence(p, q).shape == (3,)


def test_kl_uniform_outside_support_is_infinite():
    assert np.isinf(dist.kl_divergence(dist.Uniform(-1.0, 2.0), dist.Uniform(0.0, 1.0)))


def test_kl_unknown_pair_says_how_to_estimate():
    with pytest.raises(NotImplementedError, match="Monte Carlo"):
        dist.kl_divergence(dist.Normal(0.0, 1.0), dist.StudentT(3.0))


def test_expand_draws_independently():
    d = dist.Normal(jnp.zeros((2, 1)), 1.0).expand((4, 2, 3))
    assert d.batch_shape == (4, 2, 3)
    x = d.sample(jax.random.key(1), (5,))
    assert x.shape == (5, 4, 2, 3)
    flat = np.asarray(x).reshape(5, -1)
    # no two expanded copies share a draw
    assert len(np.unique(flat[0])) == flat.shape[1]
    assert d.log_prob(x).shape == (5, 4, 2, 3)
    with pytest.raises(ValueError, match="cannot expand"):
        dist.Normal(jnp.zeros(3), 1.0).expand((4,))


def test_independent_sums_event_dims():
    base = dist.Normal(jnp.zeros((2, 3)), 1.0)
    d = base.to_event(1)
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    x = jnp.ones((2, 3))
    np.testing.assert_allclose(d.log_prob(x), base.log_prob(x).sum(-1))
    assert bool(jnp.all(d.support.check(x)))
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        dist.Independent(base, 3)


def test_repr_is_readable():
    assert repr(dist.Normal(jnp.zeros(1), 2.0)) == "Normal(loc=0, scale=2)"
    assert "float" in repr(dist.Normal(jnp.zeros(3), 1.0))


def test_kl_with_outcomes_of_probability_zero():
    """0 log 0 = 0: p with impossible outcomes gave NaN."""
    half = dist.Bernoulli(probs=0.5)
    np.testing.assert_allclose(dist.kl_divergence(dist.Bernoulli(probs=0.0), half), np.log(2.0), rtol=1e-6)
    assert float(dist.kl_divergence(dist.Bernoulli(probs=0.0), dist.Bernoulli(probs=0.0))) == 0.0
    assert float(dist.kl_divergence(dist.Bernoulli(probs=0.3), dist.Bernoulli(probs=0.0))) == np.inf
    p, q = dist.Categorical(probs=jnp.array([0.0, 1.0])), dist.Categorical(probs=jnp.array([0.5, 0.5]))
    np.testing.assert_allclose(dist.kl_divergence(p, q), np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(dist.kl_divergence(dist.Poisson(0.0), dist.Poisson(1.0)), 1.0)
    grad = jax.grad(lambda logit: dist.kl_divergence(dist.Bernoulli(logits=logit), half))(-jnp.inf)
    assert np.isfinite(grad)
