"""MLE, MAP and the Laplace approximation on a coin, checked against the exact Beta posterior.

Run: python examples/optimize.py
"""

import jax
import jax.numpy as jnp

import bayeskit.dist as dist
from bayeskit import optimize
from bayeskit.conjugate import BetaBernoulli
from bayeskit.ppl import target

ALPHA, BETA = 2.0, 2.0  # a mild prior towards a fair coin


def coin(m, flips):
    p = m.sample("p", dist.Beta(ALPHA, BETA))
    with m.plate("flip", flips.shape[0]):
        m.sample("x", dist.Bernoulli(probs=p), obs=flips)


def main():
    flips = jnp.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0])  # 8 heads in 10
    k_mle, k_map, k_laplace, k_draws = jax.random.split(jax.random.key(0), 4)
    t = target(coin, flips)
    heads, n = float(flips.sum()), flips.shape[0]

    mle = optimize.mle(k_mle, t)  # maximises the likelihood only
    map_ = optimize.map(k_map, t)  # likelihood x prior, in the constrained space
    print(f"MLE  p = {float(mle.values['p']):.4f}   (heads / n = {heads / n:.4f})")
    print(f"MAP  p = {float(map_.values['p']):.4f}   (posterior mode (heads + 1) / (n + 2) = "
          f"{(heads + ALPHA - 1) / (n + ALPHA + BETA - 2):.4f})")

    # Laplace: a Gaussian at the mode of the unconstrained (logit p) density, mapped back.
    approx = optimize.laplace(k_laplace, t)
    draws = approx.sample(k_draws, 20_000)["p"]
    exact = BetaBernoulli(ALPHA, BETA).update(flips)
    print(f"Laplace: posterior mean {float(draws.mean()):.4f}, sd {float(draws.std()):.4f}")
    print(f"exact Beta({float(exact.alpha):g}, {float(exact.beta):g}): mean "
          f"{float(exact.posterior.mean):.4f}, sd {float(exact.posterior.stddev):.4f}")
    # The Laplace evidence estimate against the exact log marginal likelihood.
    exact_log_evidence = BetaBernoulli(ALPHA, BETA).log_marginal_likelihood(flips)
    print(f"log evidence: Laplace {approx.log_evidence:.4f}, exact {float(exact_log_evidence):.4f}")


if __name__ == "__main__":
    main()
