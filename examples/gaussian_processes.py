"""Gaussian processes: exact regression with learned ARD lengthscales, a sparse GP on more data.

Run: python examples/gaussian_processes.py
"""

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.gp import GPR, SGPR
from bayeskit.gp import kernels as K


def main():
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)

    # y depends on the first input only; ARD lengthscales find out which inputs matter.
    X = rng.uniform(-3, 3, size=(80, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=80)
    gp = GPR(K.RBF(lengthscale=jnp.ones(3)), noise=0.1).fit(X, y)
    print("exact GPR:", gp)
    print(
        "learned ARD lengthscales:", np.round(np.asarray(gp.kernel.lengthscale), 3), "(large = ignored input)"
    )
    print(f"learned noise variance: {float(gp.noise):.4f} (truth 0.0100)")
    X_new = np.array([[0.5, 0.0, 0.0], [2.0, 1.0, -1.0]])
    pred = gp.predict(X_new)
    print("predict at", X_new.tolist())
    print(
        "  mean          :", np.round(np.asarray(pred.mean), 3), " truth:", np.round(np.sin(X_new[:, 0]), 3)
    )
    print("  latent sd     :", np.round(np.asarray(pred.latent_sd), 3), " (uncertainty about f)")
    print("  predictive sd :", np.round(np.asarray(pred.predictive_sd), 3), " (a new y: noise included)")

    # Which kernel? The log marginal likelihood compares them on the training data alone.
    for name, kernel in [("RBF", K.RBF(jnp.ones(3))), ("Matern52", K.Matern52(jnp.ones(3)))]:
        fitted = gp if name == "RBF" else GPR(kernel, noise=0.1).fit(X, y)
        print(f"log marginal likelihood, {name}: {float(fitted.log_marginal_likelihood()):.2f}")

    # 3,000 points, 20 inducing points: Titsias' bound, O(n m^2) instead of O(n^3).
    x = rng.uniform(0, 10, size=3000)
    big_y = np.sin(x) + 0.2 * rng.normal(size=3000)
    sparse = SGPR(K.RBF(), inducing_points=20, noise=0.1).fit(x, big_y)
    grid = np.linspace(0, 10, 5)
    print(f"SGPR evidence lower bound: {float(sparse.elbo()):.2f}")
    print("SGPR mean on a grid:", np.round(np.asarray(sparse.predict(grid).mean), 3))
    print("truth              :", np.round(np.sin(grid), 3))


if __name__ == "__main__":
    main()
