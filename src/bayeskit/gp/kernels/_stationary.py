"""The shared part of stationary kernels: a (possibly ARD) lengthscale and a variance."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from bayeskit.gp._precise import matmul
from bayeskit.gp.kernels._base import Kernel, exp_positive, log_positive, params_repr
from bayeskit.gp.kernels._distance import squared_distance

__all__ = ["Stationary"]


class Stationary(Kernel):
    """A kernel of the scaled squared distance ``r^2 = sum_d (x_d - x'_d)^2 / l_d^2``, times a variance.

    ``lengthscale`` is a scalar (isotropic) or one per input column (ARD); ``variance`` is the
    marginal variance k(x, x). Subclasses define ``_profile(r2)`` with ``_profile(0) = 1``.
    """

    log_lengthscale: jax.Array
    log_variance: jax.Array

    def __init__(self, lengthscale=1.0, variance=1.0):
        name = type(self).__name__
        self.log_lengthscale = log_positive(name, "lengthscale", lengthscale)
        self.log_variance = log_positive(name, "variance", variance)
        if self.log_lengthscale.ndim > 1:
            raise ValueError(
                f"{name}: `lengthscale` must be a scalar or a 1-D array (one per input column), "
                f"got shape {tuple(self.log_lengthscale.shape)}."
            )
        if self.log_variance.ndim != 0:
            raise ValueError(
                f"{name}: `variance` must be a scalar, got shape {tuple(self.log_variance.shape)}."
            )

    @property
    def lengthscale(self) -> jax.Array:
        return exp_positive(self.log_lengthscale)

    @property
    def variance(self) -> jax.Array:
        return exp_positive(self.log_variance)

    @property
    def num_features(self):
        return None if self.log_lengthscale.ndim == 0 else self.log_lengthscale.shape[0]

    def _scaled_squared_distance(self, X1, X2, same):
        inv = jnp.exp(-self.log_lengthscale)
        A = X1 * inv
        return squared_distance(A, A if same else X2 * inv)

    def _profile(self, r2):
        raise NotImplementedError

    def _matrix(self, X1, X2, same):
        K = self.variance * self._profile(self._scaled_squared_distance(X1, X2, same))
        if same:
            # k(x, x) is the variance exactly, whatever the rounding of the distance's expansion.
            # Written into the diagonal after the n^2 pass: a mask inside that pass (an identity
            # matrix, or iota comparisons) kept XLA from vectorising it, 3x slower at n = 2,000.
            i = jnp.arange(K.shape[0])
            K = K.at[i, i].set(jnp.broadcast_to(self.variance, i.shape).astype(K.dtype))
        return K

    def _gram(self, X):
        return _stationary_gram(self, X)

    def _diag(self, X):
        return jnp.full(X.shape[:1], self.variance, dtype=X.dtype)

    def _params_repr(self):
        return params_repr(lengthscale=self.lengthscale, variance=self.variance)


@jax.custom_vjp
def _stationary_gram(kernel: Stationary, X: jax.Array) -> jax.Array:
    """``kernel(X)`` with a VJP that makes one pass over n^2 numbers and one thin matrix product.

    With ``a_i = x_i / l`` and ``r2_ij = |a_i - a_j|^2``, a cotangent ``G`` of ``K = s p(r2)``
    reaches the hyperparameters through ``M = s G p'(r2)`` alone:

        d/d log s   = s sum(G p),
        d/d log l_d = -2 sum_ij M_ij (a_id - a_jd)^2
                    = -2 (sum_i a_id^2 R_i + sum_j a_jd^2 C_j - 2 sum_i a_id (M a)_id),

    with row and column sums ``R``, ``C``; so the product ``M [a, a^2, 1]`` gives every
    lengthscale's gradient, where autodiff of the expanded distance builds several n^2 arrays.
    """
    return kernel._matrix(X, X, True)


def _gram_forward(kernel, X):
    return kernel._matrix(X, X, True), (kernel, X)


def _gram_backward(residuals, G):
    kernel, X = residuals
    inv = jnp.exp(-kernel.log_lengthscale)
    A = X * inv
    a2 = jnp.sum(A * A, axis=-1)
    d2 = a2[:, None] + a2[None, :] - 2.0 * matmul(A, A.T)
    # r2 moves with the inputs only where the forward pass did not clip it at 0, and off the
    # diagonal (there K is the variance, written after the n^2 pass, as in the forward pass).
    moving = d2 > 0.0
    r2 = jnp.where(moving, d2, 0.0)
    variance = kernel.variance
    profile, profile_vjp = jax.vjp(lambda k, r: k._profile(r), kernel, r2)
    sG = variance * G
    # sG has K's dtype, which a float64 variance promotes above a float32 profile's.
    d_kernel, d_r2 = profile_vjp(sG.astype(profile.dtype))  # d_kernel: the profile's own parameters
    i = jnp.arange(d2.shape[0])
    M = jnp.where(moving, d_r2, 0.0).at[i, i].set(0.0)
    ones = jnp.ones_like(a2)[:, None]
    MB = matmul(M, jnp.concatenate([A, A * A, ones], axis=1))
    d = A.shape[1]
    MA, MA2, R = MB[:, :d], MB[:, d : 2 * d], MB[:, 2 * d]
    g_log_lengthscale = -2.0 * (matmul(R, A * A) + jnp.sum(MA2, axis=0) - 2.0 * jnp.sum(A * MA, axis=0))
    if kernel.log_lengthscale.ndim == 0:
        g_log_lengthscale = jnp.sum(g_log_lengthscale)
    g_log_variance = jnp.sum(sG * profile)
    # The inputs' cotangent (inducing points, a learned feature map); dead code under jit when
    # the inputs are data.
    MtB = matmul(M.T, jnp.concatenate([A, ones], axis=1))
    MtA, C = MtB[:, :d], MtB[:, d]
    g_A = 2.0 * A * (R + C)[:, None] - 2.0 * (MA + MtA)
    d_kernel = eqx.tree_at(
        lambda k: (k.log_lengthscale, k.log_variance),
        d_kernel,
        (d_kernel.log_lengthscale + g_log_lengthscale, d_kernel.log_variance + g_log_variance),
    )
    # Each cotangent in its primal's dtype: float32 hyperparameters on float64 inputs (or the
    # reverse) compute in the wider type, and a float64 gradient of a float32 value broke the
    # fit's ravelled gradient (a raw lax.concatenate dtype error).
    d_kernel = jax.tree_util.tree_map(lambda g, p: g.astype(p.dtype), d_kernel, kernel)
    return d_kernel, (g_A * inv).astype(X.dtype)


_stationary_gram.defvjp(_gram_forward, _gram_backward)
