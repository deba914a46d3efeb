"""Variational inference: mean-field and full-rank ADVI on a regression with an exact posterior.

The weights of a linear regression with known noise have a Gaussian posterior, correlated when
the predictors are. The full-rank guide can match it exactly; the mean-field guide cannot, and
shows the underestimation of variance that minimising KL(q || p) implies. The evidence is known
too, so the identity log p(D) = ELBO + KL(q || posterior) can be checked.

Run: python examples/vi.py
"""

import jax
import jax.numpy as jnp
import numpy as np

import bayeskit.dist as dist
from bayeskit import vi
from bayeskit.conjugate import KnownNoiseLinearRegression
from bayeskit.ppl import target

NOISE = 0.5


def regression(m, X, y=None):
    w = m.sample("w", dist.Normal(0.0, 1.0).expand((X.shape[1],)).to_event(1))
    with m.plate("data", X.shape[0]):
        m.sample("y", dist.Normal(X @ w, NOISE), obs=y)


def main():
    k_x, k_y, k_fit, k_evidence, k_draws = jax.random.split(jax.random.key(0), 5)
    # Two predictors with correlation 0.9, so the two weights' posterior is correlated too.
    x1 = jax.random.normal(k_x, (30,))
    X = jnp.stack([x1, 0.9 * x1 + jnp.sqrt(1 - 0.81) * jax.random.normal(k_y, (30,))], axis=1)
    y = X @ jnp.array([1.0, -0.5]) + NOISE * jax.random.normal(jax.random.fold_in(k_y, 1), (30,))
    prior = KnownNoiseLinearRegression(jnp.zeros(2), 1.0, NOISE)
    exact = prior.update(X, y).posterior
    exact_sd = np.sqrt(np.diag(exact.covariance_matrix))
    exact_corr = float(exact.covariance_matrix[0, 1] / (exact_sd[0] * exact_sd[1]))
    log_evidence = float(prior.log_marginal_likelihood(X, y))
    t = target(regression, X, y)
    r3 = lambda x: np.round(np.asarray(x, float), 3).tolist()
    print(f"exact posterior: mean {r3(exact.loc)}, sd {r3(exact_sd)}, corr {exact_corr:.3f}")

    for name, guide in (("mean-field", "meanfield"), ("full-rank", "fullrank")):
        # Eight draws per step: less noisy gradients, so the mean-field means settle on the exact ones.
        result = vi.fit(k_fit, t, guide=guide, num_steps=2000, num_particles=8, progress_bar=False)
        q = result.guide
        sd = np.sqrt(np.asarray(q.variance))
        corr = float(q.covariance[0, 1] / (sd[0] * sd[1]))
        print(f"\n{name}: mean {r3(q.loc)}, sd {r3(sd)}, corr {corr:.3f} ({result.num_steps} steps)")
        print(f"  sd / exact sd = {r3(sd / exact_sd)}")
        if guide == "meanfield":
            print(
                f"  theory for mean-field on a Gaussian: sd ratio sqrt(1 - rho^2) = {np.sqrt(1 - exact_corr**2):.3f}, "
                f"KL(q || posterior) = -log(1 - rho^2) / 2 = {-0.5 * np.log(1 - exact_corr**2):.4f}"
            )
        d = vi.decompose_evidence(k_evidence, t, q, log_evidence=log_evidence, num_particles=20_000)
        print(
            f"  ELBO {d.elbo:.4f} = E[log lik] {d.expected_log_likelihood:.4f} - KL(q || prior) "
            f"{d.kl_to_prior:.4f}"
        )
        print(
            f"  log p(D) {d.log_evidence:.4f} = ELBO {d.elbo:.4f} + KL(q || posterior) {d.kl_to_posterior:.4f}"
            f"  (ELBO's Monte Carlo se {d.elbo_standard_error:.1e})"
        )

    posterior = result.sample(k_draws, 2000)  # a Posterior, as MCMC returns
    print("\nfull-rank posterior summary:")
    print(posterior.summary()[["mean", "sd", "hdi_3%", "hdi_97%"]].round(3))


if __name__ == "__main__":
    main()
