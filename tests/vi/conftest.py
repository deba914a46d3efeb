"""Shared fixtures for the bayeskit.vi tests: two conjugate models with exact posteriors."""

import jax
import jax.numpy as jnp
import pytest

import bayeskit.dist as dist
from bayeskit.conjugate import KnownNoiseLinearRegression, NormalNormal
from bayeskit.ppl import target

NOISE = 0.5


def normal_normal(m, n, y=None):
    mu = m.sample("mu", dist.Normal(0.0, 1.0))
    m.deterministic("twice_mu", 2.0 * mu)
    with m.plate("data", n):
        m.sample("y", dist.Normal(mu, NOISE), obs=y)


def regression(m, X, y):
    w = m.sample("w", dist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Normal(X @ w, NOISE), obs=y)


@pytest.fixture(scope="module")
def nn():
    """(target, exact NormalNormal posterior, exact log evidence) for 20 points, noise sd 0.5."""
    y = 1.0 + NOISE * jax.random.normal(jax.random.key(1), (20,))
    prior = NormalNormal(0.0, 1.0, NOISE)
    return target(normal_normal, 20, y=y), prior.update(y), float(prior.log_marginal_likelihood(y))


@pytest.fixture(scope="module")
def blr():
    """(target, exact posterior MultivariateNormal, exact log evidence) for a 3-weight regression."""
    kx, ky = jax.random.split(jax.random.key(2))
    X = jax.random.normal(kx, (40, 3))
    y = X @ jnp.array([1.0, -2.0, 0.5]) + NOISE * jax.random.normal(ky, (40,))
    prior = KnownNoiseLinearRegression(jnp.zeros(3), 1.0, NOISE)
    return target(regression, X, y), prior.update(X, y).posterior, float(prior.log_marginal_likelihood(X, y))
