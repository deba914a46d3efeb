"""The model language on eight schools: prior predictive, target, log density, constrain.

Run: python examples/model_language.py
"""

import jax
import jax.numpy as jnp
import numpy as np

import bayeskit.dist as dist
from bayeskit.datasets import eight_schools
from bayeskit.ppl import sample_prior, target


def model(m, sigma, y=None):
    """Hierarchical, non-centred: school effects theta = mu + tau * theta_raw."""
    mu = m.sample("mu", dist.Normal(0.0, 5.0))
    tau = m.sample("tau", dist.HalfCauchy(5.0))
    with m.plate("school", sigma.shape[0]):
        theta_raw = m.sample("theta_raw", dist.Normal(0.0, 1.0))
        theta = m.deterministic("theta", mu + tau * theta_raw)
        m.sample("y", dist.Normal(theta, sigma), obs=y)


def _show(x, decimals):
    return np.round(np.asarray(x, dtype=float), decimals).tolist()


def main():
    data = eight_schools()
    sigma, y = jnp.asarray(data.extra["sigma"]), jnp.asarray(data.y)
    k_prior, k_init = jax.random.split(jax.random.key(0))

    # Prior predictive: leave y as None and the model simulates it, with everything else.
    # Everything here is a pure JAX function; jax.jit compiles each once as a whole, instead of
    # compiling every small operation on its own the first time it runs.
    prior = jax.jit(lambda key: sample_prior(key, model, sigma, num_samples=1000))(k_prior)
    print({name: value.shape for name, value in prior.items()})
    low, high = np.quantile(np.asarray(prior["y"][:, 0]), [0.05, 0.95])
    print(f"prior predictive 90% interval of y for school A: {low:.1f} to {high:.1f}")
    print(f"observed y: {_show(y, 0)}")

    # Condition on the data: a Target is one log density over a flat unconstrained vector z.
    t = target(model, sigma, y=y)
    print(f"\n{t}")
    print(f"dim = {t.dim} (mu, log tau, 8 x theta_raw)")
    z = t.init(k_init)
    logdensity_fn = jax.jit(t.logdensity_fn)
    print(f"logdensity_fn(z) = {float(logdensity_fn(z)):.3f} (Jacobian of tau = exp(z) included)")
    values = jax.jit(t.constrain)(z)
    print(f"constrain(z): tau = {float(values['tau']):.3f} > 0, theta = {_show(values['theta'], 2)}")

    # Gradients for samplers and optimisers, and vmap to evaluate many points at once.
    grad = jax.jit(jax.grad(t.logdensity_fn))(z)
    many = jax.jit(jax.vmap(t.logdensity_fn))(jnp.stack([z, 0.5 * z, jnp.zeros_like(z)]))
    print(f"gradient norm {float(jnp.linalg.norm(grad)):.3f}; three points at once: {_show(many, 3)}")


if __name__ == "__main__":
    main()
