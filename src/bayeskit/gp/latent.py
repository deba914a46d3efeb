"""Gaussian processes inside the model language: a latent GP, a marginalised GP likelihood, and
the GP conditional for predicting at new inputs from posterior draws.

Every function here takes kernels whose hyperparameters may be traced values (sampled sites of the
model), so a fully Bayesian GP is an ordinary model:

.. code-block:: python

    def poisson_gp(m, X, counts):
        lengthscale = m.sample("lengthscale", dist.LogNormal(0.0, 1.0))
        f = latent_gp(m, "f", RBF(lengthscale=lengthscale), X)
        with m.plate("data", X.shape[0]):
            m.sample("counts", dist.Poisson(jnp.exp(f)), obs=counts)

    post = bayeskit.mcmc.sample(key, bayeskit.ppl.target(poisson_gp, X, counts))

All three use the prior covariance ``K + jitter I`` at the training inputs, so they agree with one
another: :func:`conditional` of ``f`` given posterior draws of a :func:`latent_gp` predicts with
the same prior that was sampled, and ``gp_marginal(..., noise)`` equals
``GPR(kernel, noise=noise + jitter).log_marginal_likelihood`` exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist._distribution import as_float, is_concrete
from bayeskit.dist.multivariate_normal import MultivariateNormal
from bayeskit.dist.normal import Normal
from bayeskit.gp._data import check_inputs
from bayeskit.gp._precise import matmul
from bayeskit.gp.cholesky import cho_solve, solve_lower
from bayeskit.gp.kernels._base import Kernel
from bayeskit.gp.means import MeanFunction, ZeroMean

__all__ = ["conditional", "gp_marginal", "latent_gp"]


def _checked(owner: str, kernel, mean, X, jitter):
    """Validate the common arguments; return ``(mean, X)`` with ``X`` a 2-D float array."""
    if not isinstance(kernel, Kernel):
        raise TypeError(
            f"{owner}: `kernel` must be a bayeskit.gp.kernels.Kernel, got {type(kernel).__name__}."
        )
    mean = ZeroMean() if mean is None else mean
    if not isinstance(mean, MeanFunction):
        raise TypeError(f"{owner}: `mean` must be a bayeskit.gp.MeanFunction, got {type(mean).__name__}.")
    if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not jitter >= 0:
        raise ValueError(
            f"{owner}: `jitter` must be a number >= 0 (a variance added to K's diagonal), got {jitter!r}."
        )
    return mean, check_inputs(owner, X)


def _check_noise(owner: str, noise) -> jax.Array:
    noise = as_float(noise)
    if jnp.ndim(noise) != 0:
        raise ValueError(f"{owner}: `noise` must be a scalar variance, got shape {tuple(jnp.shape(noise))}.")
    if is_concrete(noise):
        with jax.ensure_compile_time_eval():
            value = float(np.asarray(noise))
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{owner}: `noise` (a variance) must be positive and finite, got {value!r}.")
    return noise


def _prior_cholesky(kernel: Kernel, X, diagonal) -> jax.Array:
    """Lower Cholesky factor of ``K(X, X) + diagonal I``, differentiable in every hyperparameter.

    A fixed ``diagonal`` (not the adaptive jitter of ``jittered_cholesky``) keeps the log density a
    smooth function of the hyperparameters, as HMC needs.
    """
    K = kernel(X)
    return jnp.linalg.cholesky(K + diagonal * jnp.eye(K.shape[0], dtype=K.dtype))


def latent_gp(m, name: str, kernel: Kernel, X, mean: MeanFunction | None = None, jitter: float = 1e-6):
    r"""Declare a latent function f ~ GP(mean, kernel) at the inputs ``X`` inside a model.

    Non-centred: the model samples ``f"{name}_whitened"`` ~ N(0, I_n) (one event of size n) and
    records the deterministic ``name``:

    .. math:: f = m(X) + L v, \qquad L L^\top = K(X, X) + \text{jitter}\, I,\quad v \sim N(0, I).

    The posterior of v is far better conditioned for HMC than that of f when the data are weak
    or the kernel is smooth (the centred f is nearly singular under a smooth kernel).

    Args:
        m: the model's handle.
        name: the deterministic site of f (the whitened site is ``name + "_whitened"``).
        kernel: the covariance function; its hyperparameters may be sampled sites.
        X: inputs ``(n, d)`` (a 1-D array is one column).
        mean: the prior mean function (default zero).
        jitter: a fixed variance added to K's diagonal so that it factorises.

    Returns:
        f, shape ``(n,)``.

    Example:
        >>> def model(m, X, counts):
        ...     f = latent_gp(m, "f", RBF(lengthscale=1.0), X)
        ...     with m.plate("data", X.shape[0]):
        ...         m.sample("counts", dist.Poisson(jnp.exp(f)), obs=counts)
    """
    mean, X = _checked("latent_gp", kernel, mean, X, jitter)
    L = _prior_cholesky(kernel, X, jitter)
    n = X.shape[0]
    v = m.sample(f"{name}_whitened", Normal(jnp.zeros(n, dtype=L.dtype), 1.0).to_event(1))
    return m.deterministic(name, mean(X) + matmul(v, L.T))


def gp_marginal(
    m,
    name: str,
    kernel: Kernel,
    X,
    y,
    noise,
    mean: MeanFunction | None = None,
    jitter: float = 1e-6,
):
    r"""Declare GP regression data with the latent function integrated out.

    ``y ~ N(m(X), K(X, X) + (noise + jitter) I)`` as one multivariate-normal site, scored with
    the Cholesky factor (one factorisation per evaluation). With priors on the kernel's
    hyperparameters and on ``noise``, NUTS on the model samples their posterior: a fully Bayesian
    GP. Predict with :func:`conditional` for each posterior draw.

    Args:
        m: the model's handle.
        name: the observed site.
        kernel: the covariance function; its hyperparameters may be sampled sites.
        X: inputs ``(n, d)``.
        y: observations ``(n,)``; None draws them (prior predictive).
        noise: the observation noise variance (positive; may be a sampled site).
        mean: the prior mean function (default zero).
        jitter: a fixed variance added to the diagonal along with ``noise``.

    Returns:
        The site's value (``y`` when observed).

    Example:
        >>> def model(m, X, y):
        ...     ls = m.sample("lengthscale", dist.LogNormal(0.0, 1.0))
        ...     noise = m.sample("noise", dist.HalfNormal(1.0))
        ...     gp_marginal(m, "y", RBF(lengthscale=ls), X, y, noise)
    """
    mean, X = _checked("gp_marginal", kernel, mean, X, jitter)
    noise = _check_noise("gp_marginal", noise)
    L = _prior_cholesky(kernel, X, noise + jitter)
    return m.sample(name, MultivariateNormal(mean(X), scale_tril=L), obs=y)


def conditional(
    kernel: Kernel,
    X,
    f,
    X_new,
    noise=None,
    mean: MeanFunction | None = None,
    jitter: float = 1e-6,
) -> tuple[jax.Array, jax.Array]:
    r"""Mean and covariance of the GP at ``X_new`` given values at ``X`` (R&W 2006, eq. 2.19).

    .. math:: \mu_* = m(X_*) + K_{*X} C^{-1} (f - m(X)), \qquad
              \Sigma_* = K_{**} - K_{*X} C^{-1} K_{X*},

    with ``C = K(X, X) + (noise + jitter) I`` (``noise`` None: conditioning on the latent f of a
    :func:`latent_gp`; a number: on noisy y of a :func:`gp_marginal`). The result is the latent
    f(X_new), noise not included. Pure and differentiable: ``jax.vmap`` it over posterior draws.

    Example:
        >>> def predict_one(lengthscale, f):  # one posterior draw
        ...     return conditional(RBF(lengthscale=lengthscale), X, f, X_new)
        >>> means, covs = jax.vmap(predict_one)(post.flat("lengthscale"), post.flat("f"))

    Returns:
        ``(mean, cov)`` of shapes ``(m,)`` and ``(m, m)``.
    """
    mean, X = _checked("conditional", kernel, mean, X, jitter)
    X_new = check_inputs("conditional", X_new, "X_new", X.shape[1])
    diagonal = jitter if noise is None else _check_noise("conditional", noise) + jitter
    f = jnp.asarray(f)
    if f.shape != (X.shape[0],):
        raise ValueError(
            f"conditional: `f` must have one value per row of `X`, shape ({X.shape[0]},); got "
            f"{tuple(f.shape)}. For several posterior draws, jax.vmap over them."
        )
    L = _prior_cholesky(kernel, X, diagonal)
    K_cross = kernel(X, X_new)  # (n, m)
    alpha = cho_solve(L, f - mean(X))
    V = solve_lower(L, K_cross)
    return mean(X_new) + matmul(K_cross.T, alpha), kernel(X_new) - matmul(V.T, V)
