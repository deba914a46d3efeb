"""Exact Bayesian inference in closed form: a Beta-Bernoulli coin and Bayesian linear regression.

Run: python examples/conjugate.py
"""

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.conjugate import BayesianLinearRegression, BetaBernoulli


def coin(key):
    flips = jax.random.bernoulli(key, 0.7, (100,)).astype(int)
    prior = BetaBernoulli(1.0, 1.0)  # uniform on the bias
    posterior = prior.update(flips)
    print(f"{int(flips.sum())} heads in {flips.size} flips -> posterior {posterior.posterior}")
    print(
        f"  posterior mean {float(posterior.posterior.mean):.3f}, "
        f"P(next flip is heads) = {float(posterior.predictive().probs):.3f}"
    )
    # Updating in pieces is the same as updating once.
    in_pieces = prior.update(flips[:30]).update(flips[30:])
    print(f"  in two pieces: Beta({float(in_pieces.alpha):g}, {float(in_pieces.beta):g})")
    # The log evidence compares priors: a confident fair-coin prior against the uniform one.
    fair = BetaBernoulli(50.0, 50.0)
    log_bf = prior.log_marginal_likelihood(flips) - fair.log_marginal_likelihood(flips)
    print(f"  log Bayes factor, uniform vs Beta(50, 50): {float(log_bf):+.2f}")


def regression(key):
    k_x, k_noise = jax.random.split(key)
    x = jax.random.uniform(k_x, (30,), minval=-1.0, maxval=1.0)
    y = 1.0 + 2.0 * x + 0.3 * jax.random.normal(k_noise, (30,))
    X = jnp.column_stack([jnp.ones_like(x), x])  # intercept and slope
    # w | s^2 ~ N(0, s^2 / 0.01 I), s^2 ~ InvGamma(2, 0.1)
    prior = BayesianLinearRegression(jnp.zeros(2), 0.01, 2.0, 0.1)
    model = prior.update(X, y)
    print(
        f"\nweights: posterior mean {np.round(np.asarray(model.loc, dtype=float), 3).tolist()} (truth [1, 2])"
    )
    print(f"noise variance: posterior mean {float(model.posterior['noise_variance'].mean):.4f} (truth 0.09)")
    y_new = model.predictive(jnp.array([[1.0, 0.5]]))  # a Student-t at x = 0.5
    print(
        f"predictive at x = 0.5: loc {float(y_new.loc[0]):.3f}, scale {float(y_new.scale[0]):.3f}, "
        f"df {float(y_new.df):g}"
    )
    # Evidence for model choice: does a quadratic term help?
    X2 = jnp.column_stack([X, x**2])
    prior2 = BayesianLinearRegression(jnp.zeros(3), 0.01, 2.0, 0.1)
    print(
        f"log evidence: line {float(prior.log_marginal_likelihood(X, y)):.2f}, "
        f"quadratic {float(prior2.log_marginal_likelihood(X2, y)):.2f} (higher is better)"
    )


def main():
    k_coin, k_regression = jax.random.split(jax.random.key(0))
    coin(k_coin)
    regression(k_regression)


if __name__ == "__main__":
    main()
