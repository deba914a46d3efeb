"""Distributions: densities, draws, moments, batches, supports and KL divergences.

Run: python examples/distributions.py
"""

import jax
import jax.numpy as jnp

import bayeskit.dist as dist


def main():
    key = jax.random.key(0)
    k_normal, k_batch, k_mvn = jax.random.split(key, 3)  # one named key per use, never reused

    # A distribution is an immutable object: parameters in, densities and draws out.
    d = dist.Normal(1.0, 2.0)
    x = d.sample(k_normal, (10_000,))
    print(f"Normal(1, 2): mean {float(d.mean)}, variance {float(d.variance)}")
    print(f"  sample mean {float(x.mean()):.3f}, sample variance {float(x.var()):.3f}")
    print(f"  log_prob(0) = {float(d.log_prob(0.0)):.4f}, cdf(1) = {float(d.cdf(1.0))}")
    print(f"  icdf(0.975) = {float(d.icdf(0.975)):.4f}  (the 97.5% quantile: 1 + 2 x 1.96)")

    # Array parameters give a batch of independent distributions; to_event(1) turns the batch into
    # one vector-valued distribution whose log_prob sums over it.
    batch = dist.Normal(jnp.array([0.0, 1.0, 2.0]), 1.0)
    draws = batch.sample(k_batch, (4,))
    print(f"\nbatch_shape {batch.batch_shape}, draws of shape {draws.shape}")
    print(
        f"  log_prob per component {batch.log_prob(draws[0]).shape}, "
        f"as one event {batch.to_event(1).log_prob(draws[0]).shape}"
    )

    # Every family knows its support; biject_to maps the real line onto it, which is how
    # samplers and optimisers work on unconstrained values.
    scale_prior = dist.HalfNormal(1.0)
    to_support = dist.biject_to(scale_prior.support)
    print(
        f"\nHalfNormal support: {scale_prior.support}; biject_to gives {type(to_support).__name__}: "
        f"-1.0 -> {float(to_support(-1.0)):.4f}"
    )

    # Correlated vectors, and a closed-form KL divergence.
    mvn = dist.MultivariateNormal(jnp.zeros(2), covariance_matrix=jnp.array([[1.0, 0.9], [0.9, 1.0]]))
    xy = mvn.sample(k_mvn, (5_000,))
    print(f"\nMultivariateNormal, correlation 0.9: sample correlation {float(jnp.corrcoef(xy.T)[0, 1]):.3f}")
    kl = dist.kl_divergence(dist.Normal(0.0, 1.0), dist.Normal(1.0, 2.0))
    print(f"KL(N(0, 1) || N(1, 2)) = {float(kl):.4f}")

    # Distributions are pytrees: jit, grad and vmap go straight through them.
    grad_loc = jax.grad(lambda loc: dist.Normal(loc, 1.0).log_prob(0.5))(0.0)
    print(f"d/dloc log N(0.5 | loc, 1) at loc = 0: {float(grad_loc)}  (= 0.5 - loc)")


if __name__ == "__main__":
    main()
