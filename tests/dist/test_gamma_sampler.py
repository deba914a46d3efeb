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
    log_x = np.asarray(jax.jit(lambda k: log_gamma_sample(k, 1e-3, (N,)))(jax.random.key(0)))
    assert np.isfinite(log_x).all()
    assert stats.kstest(-1e-3 * log_x, "expon").pvalue > 1e-3
    log_x32 = jax.jit(lambda k: log_gamma_sample(k, 1e-3, (N,), jnp.float32))(jax.random.key(0))
    assert log_x32.dtype == jnp.float32 and np.isfinite(np.asarray(log_x32)).all()


@jax.jit
def _mean_derivatives(a):
    """d/da of the means of X and log X over N draws per shape (forward mode), and a reverse-mode
    gradient through a broadcast scalar shape."""

    def means(a):
        log_x = log_gamma_sample(jax.random.key(1), a, (N, a.size))
        return jnp.stack([jnp.exp(log_x).mean(0), log_x.mean(0)])

    scalar = jax.grad(lambda b: gamma_sample(jax.random.key(2), b, (N,)).mean())(a[2])
    return jax.jacfwd(means)(a), scalar


def test_gradients_are_the_implicit_ones():
    # E[X] = a and E[log X] = digamma(a): the mean derivatives of reparameterised draws are 1
    # and trigamma(a), and a draw does not depend on another element's shape.
    a = SHAPES[1:5]
    jac, scalar = _mean_derivatives(jnp.asarray(a))
    jac = np.asarray(jac)
    np.testing.assert_allclose(np.diag(jac[0]), 1.0, rtol=0.03)
    np.testing.assert_allclose(np.diag(jac[1]), special.polygamma(1, a), rtol=0.03)
    off_diagonal = ~np.eye(a.size, dtype=bool)
    assert np.all(jac[0][off_diagonal] == 0) and np.all(jac[1][off_diagonal] == 0)
    np.testing.assert_allclose(scalar, 1.0, rtol=0.03)


def test_shapes_and_vmap():
    a = jnp.array([0.5, 3.0])
    assert jax.eval_shape(lambda k: log_gamma_sample(k, a, (4, 2)), jax.random.key(0)).shape == (4, 2)
    keys = jax.random.split(jax.random.key(0), 5)
    batched = jax.jit(jax.vmap(lambda k: log_gamma_sample(k, a, (3, 2))))(keys)
    assert batched.shape == (5, 3, 2)
    assert len({tuple(np.asarray(row).ravel()) for row in batched}) == 5  # each key its own draws


def test_shapes_outside_the_domain_give_nan_without_hanging():
    # A traced shape can be NaN or negative (parameters are checked only when concrete): the
    # rejection loop must still end, with NaN there and exact draws elsewhere.
    a = jnp.array([jnp.nan, -2.0, 2.0, jnp.inf])
    log_x = np.asarray(jax.jit(lambda k, a: log_gamma_sample(k, a, (3, 4)))(jax.random.key(0), a))
    assert np.isnan(log_x[:, :2]).all() and np.isfinite(log_x[:, 2]).all() and (log_x[:, 3] == np.inf).all()
