"""The Gaussian log marginal likelihood log N(y | m, K), with a gradient at the Cholesky floor.

Autodiff through a Cholesky and its solves costs several times the factorisation. The gradient
with respect to ``K`` has a closed form,

    d log N(r | 0, K) / dK = (alpha alpha^T - K^{-1}) / 2,  alpha = K^{-1} r,

so the gradient needs one inverse from the factor (made in the forward pass, with the factor);
the gradient with respect to the hyperparameters then flows through the kernel's own (cheap,
O(n^2 d)) derivative.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from bayeskit.dist._distribution import as_float
from bayeskit.gp._precise import dot
from bayeskit.gp.cholesky import as_covariance, cho_solve, jittered_cholesky, solve_and_inverse_for_gradient

__all__ = ["gaussian_log_marginal"]

_LOG_2PI = math.log(2.0 * math.pi)


def _log_density(r, alpha, half_logdet):
    """log N(r | 0, K) from ``alpha = K^{-1} r`` and ``sum log diag L``; ``-inf`` if not finite."""
    value = -0.5 * dot(r, alpha) - half_logdet - 0.5 * r.shape[0] * _LOG_2PI
    return jnp.where(jnp.isfinite(value), value, -jnp.inf)


def gaussian_log_marginal(K: jax.Array, r: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(log N(r | 0, K), jitter)``: the log density of residuals ``r = y - m(X)`` under ``K``.

    ``jitter`` is what :func:`~bayeskit.gp.cholesky.jittered_cholesky` had to add (0 normally);
    the value is ``-inf`` when ``K`` could not be factorised at all. Differentiable in ``K`` and
    ``r`` (reverse mode) at the cost of one extra inverse.

    Raises:
        ValueError: ``K`` is not square, or ``r`` is not a vector of its length (integer inputs
            are converted to floats).
    """
    K = as_covariance("gaussian_log_marginal", K)
    try:
        r = as_float(r)
    except TypeError as err:
        raise TypeError(f"gaussian_log_marginal: `r` must be a vector of numbers; {err}") from None
    if r.shape != K.shape[:1]:
        raise ValueError(
            f"gaussian_log_marginal: `r` must be a vector of length {K.shape[0]} (one residual per "
            f"row of `K`), got shape {tuple(r.shape)}."
        )
    return _gaussian_log_marginal(K, r)


@jax.custom_vjp
def _gaussian_log_marginal(K: jax.Array, r: jax.Array) -> tuple[jax.Array, jax.Array]:
    L, jitter = jittered_cholesky(K)
    return _log_density(r, cho_solve(L, r), jnp.sum(jnp.log(jnp.diagonal(L)))), jitter


def _forward(K, r):
    # The inverse the gradient needs is made here, with the factorisation: on a CPU one host call
    # factorises, solves and inverts, and the factor never comes back to XLA.
    alpha, half_logdet, K_inv, jitter = solve_and_inverse_for_gradient(K, r)
    # Empty arrays carry the inputs' dtypes: with a float32 K and float64 residuals (or the
    # reverse) the gradient is computed in the wider type and each cotangent must come back in
    # its input's type (jax.grad of a float32 K returned float64).
    dtypes = (jnp.zeros((0,), K.dtype), jnp.zeros((0,), r.dtype))
    return (_log_density(r, alpha, half_logdet), jitter), (K_inv, alpha, dtypes)


def _backward(residuals, cotangents):
    K_inv, alpha, (K_like, r_like) = residuals
    g = cotangents[0]
    # Only the symmetric part of the cotangent matters (K is symmetric), so K^{-1} may come as
    # 2 tril - diag straight from LAPACK, with no pass to symmetrise it.
    dK = (0.5 * g) * (jnp.outer(alpha, alpha) - K_inv)
    return dK.astype(K_like.dtype), (-g * alpha).astype(r_like.dtype)


_gaussian_log_marginal.defvjp(_forward, _backward)
