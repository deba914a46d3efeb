"""The float64-accurate special functions in bayeskit.dist._special."""

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special as sc

from bayeskit.dist._special import betaln


def test_betaln_values():
    # All points in one call (eager JAX compiles per shape). Every regime: both arguments below
    # 8, one above, both above, and very unequal magnitudes.
    grid = np.geomspace(1e-3, 1e9, 25)
    grid_a, grid_b = (v.ravel() for v in np.meshgrid(grid, grid))
    # B(a, 1) = 1 / a and B(2, a) = 1 / (a (a + 1)) exactly; B(1/2, 1/2) = pi;
    # B(3, 10) = 2! 9! / 12!, where jax.scipy.special.betaln (JAX 0.10) is off by 7e-7.
    line = np.geomspace(1e-3, 1e12, 31)
    exact_a = np.concatenate([line, np.full_like(line, 2.0), [0.5, 3.0, 10.0]])
    exact_b = np.concatenate([np.ones_like(line), line, [0.5, 10.0, 3.0]])
    exact = np.concatenate(
        [
            -np.log(line),
            -np.log(line) - np.log1p(line),
            [np.log(np.pi)] + 2 * [np.log(2 * 362880 / 479001600)],
        ]
    )
    got = np.asarray(betaln(np.concatenate([grid_a, exact_a]), np.concatenate([grid_b, exact_b])))
    # scipy's own betaln is good to ~1e-9 relative on the grid (ours agrees with mpmath to ~1e-13).
    np.testing.assert_allclose(got[: grid_a.size], sc.betaln(grid_a, grid_b), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got[grid_a.size :], exact, rtol=1e-13, atol=1e-15)


def test_betaln_gradient_is_digamma_difference():
    a, b = jnp.array([0.5, 3.0, 9.0, 20.0]), jnp.array([2.0, 20.0, 30.0, 1e4])
    da, db = jax.grad(lambda a, b: jnp.sum(betaln(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(da, sc.digamma(a) - sc.digamma(a + b), rtol=1e-9)
    np.testing.assert_allclose(db, sc.digamma(b) - sc.digamma(a + b), rtol=1e-9)
