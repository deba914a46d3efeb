"""bayeskit's gamma sampler: exact draws, implicit gradients, tiny shapes, float32."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from bayeskit.dist._gamma_sampler import gamma_sample, log_gamma_sample

SHAPES = np.array([0.05, 0.3, 1.0, 2.5, 40.0, 1e4])
N = 40_000


@pytest.fixture(scope="module")
def draws():
    a = jnp.broadcast_to(jnp.asarray(SHAPES)[:, None], (SHAPES.size, N))
    return np.asarray(jax.jit(lambda k: log_gamma_sample(k, a, a.shape))(jax.random.key(3)))


@pytest.mark.parametrize("i", range(SHAPES.size))
def test_draws_follow_the_gamma_distribution(draws, i):
    a, log_x = SHAPES[i], draws[i]
    # P(log X <= y) = P(X <= e^y), the regularised lower incomplete gamma function at e^y.
    assert stats.kstest(log_x, lambda y: special.gammainc(a, np.exp(y))).pvalue > 1e-3
    assert np.isfinite(log_x).all()


def test_a_tiny_shape_stays_finite_in_log_space():
    # Gamma(1e-3) draws are below 1e-300 half the time; their logs are a * log X ~ -Exp(1).
    log_x = np.asarray(log_gamma_sample(jax.random.key(0), 1e-3, (N,)))
    assert np.isfinite(log_x).all()
    assert stats.kstest(-1e-3 * log_x, "expon").pvalue > 1e-3
    assert log_gamma_sample(jax.random.key(0), 1e-3, (8,), jnp.float32).dtype == jnp.float32
    assert np.isfinite(np.asarray(log_gamma_sample(jax.random.key(0), 1e-3, (N,), jnp.float32))).all()


def test_gradients_are_the_implicit_ones():
    # E[X] = a and E[log X] = digamma(a): the mean derivatives of reparameterised draws are 1
    # and trigamma(a).
    a = jnp.asarray(SHAPES[1:5])

    def means(a):
        shape = (N, a.size)
        return gamma_sample(jax.random.key(1), a, shape).mean(0), log_gamma_sample(
            jax.random.key(1), a, shape
        ).mean(0)

    d_mean = jax.jacfwd(lambda a: means(a)[0])(a)
    d_log_mean = jax.jacfwd(lambda a: means(a)[1])(a)
    np.testing.assert_allclose(np.diag(d_mean), 1.0, rtol=0.03)
    np.testing.assert_allclose(np.diag(d_log_mean), special.polygamma(1, SHAPES[1:5]), rtol=0.03)
    assert np.all(np.asarray(d_mean)[~np.eye(4, dtype=bool)] == 0)
    # a reverse-mode gradient through a broadcast shape
    g = jax.grad(lambda a: gamma_sample(jax.random.key(1), a, (N,)).mean())(2.5)
    np.testing.assert_allclose(g, 1.0, rtol=0.03)


def test_shapes_and_vmap():
    a = jnp.array([0.5, 3.0])
    assert log_gamma_sample(jax.random.key(0), a, (4, 2)).shape == (4, 2)
    batched = jax.vmap(lambda k: log_gamma_sample(k, 2.0, (3,)))(jax.random.split(jax.random.key(0), 5))
    assert batched.shape == (5, 3)
    assert len({tuple(np.asarray(row)) for row in batched}) == 5  # each key its own draws
