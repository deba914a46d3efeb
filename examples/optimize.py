"""MLE, MAP and the Laplace approximation on a normal model, checked against the exact posterior.

Run: python examples/optimize.py
"""

import jax
import jax.numpy as jnp

import bayeskit.dist as dist
from bayeskit import optimize
from bayeskit.conjugate import NormalInverseGamma
from bayeskit.ppl import target

# A conjugate prior, so that every answer below has an exact counterpart to check against.
LOC, KAPPA, A, B = 0.0, 0.1, 2.0, 2.0


def normal_model(m, y):
    variance = m.sample("variance", dist.InverseGamma(A, B))
    mu = m.sample("mu", dist.Normal(LOC, jnp.sqrt(variance / KAPPA)))
    with m.plate("obs", y.shape[0]):
        m.sample("y", dist.Normal(mu, jnp.sqrt(variance)), obs=y)


def main():
    y = jnp.array([2.1, 4.3, 3.0, 1.2, 5.1, 3.7, 2.6, 4.4])
    k_mle, k_map, k_laplace, k_draws = jax.random.split(jax.random.key(0), 4)
    t = target(normal_model, y)
    exact = NormalInverseGamma(LOC, KAPPA, A, B).update(y)
    a_n, b_n = float(exact.concentration), float(exact.rate)

    # A smooth model with one optimum: a single L-BFGS start each is enough (the default is 4).
    mle = optimize.mle(k_mle, t, num_starts=1)  # maximises the likelihood only
    print(f"MLE  mu = {float(mle.values['mu']):.4f}, variance = {float(mle.values['variance']):.4f}")
    print(f"     exact: the sample mean {float(y.mean()):.4f} and the biased variance {float(y.var()):.4f}")
    map_ = optimize.map(k_map, t, num_starts=1)  # likelihood x prior, over the constrained values
    print(f"MAP  mu = {float(map_.values['mu']):.4f}, variance = {float(map_.values['variance']):.4f}")
    print(
        f"     exact joint mode: mu = {float(exact.loc):.4f}, variance = b_n / (a_n + 3/2) = "
        f"{b_n / (a_n + 1.5):.4f}"
    )

    # Laplace: a Gaussian at the mode of the density of the unconstrained (mu, log variance).
    approx = optimize.laplace(k_laplace, t, num_starts=1)
    draws = jax.jit(approx.sample, static_argnums=1)(k_draws, 20_000)  # one compilation, not one per op
    posterior = exact.posterior  # {"loc": StudentT, "variance": InverseGamma}
    for name, key in (("mu", "loc"), ("variance", "variance")):
        print(
            f"{name:>8}: Laplace mean {float(draws[name].mean()):.4f}, sd {float(draws[name].std()):.4f}; "
            f"exact mean {float(posterior[key].mean):.4f}, sd {float(posterior[key].stddev):.4f}"
        )
    exact_log_evidence = NormalInverseGamma(LOC, KAPPA, A, B).log_marginal_likelihood(y)
    print(f"log evidence: Laplace {approx.log_evidence:.4f}, exact {float(exact_log_evidence):.4f}")
    print("With 8 points the Gaussian in (mu, log variance) is close for mu, but too narrow for the")
    print("variance, whose posterior has a long right tail: Laplace is a large-sample approximation.")


if __name__ == "__main__":
    main()
