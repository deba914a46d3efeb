"""Cholesky factorisation with adaptive jitter, and the inverse from a Cholesky factor.

A GP never returns NaN silently: ``jittered_cholesky`` tries the matrix as given and, only if the
factorisation fails, adds ``jitter * mean(diag(K))`` to the diagonal for growing jitter, all inside
``jit``, and reports the jitter it used. If every try fails the factor is NaN and the host-side
caller raises :class:`NotPositiveDefiniteError` saying what to change.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["NotPositiveDefiniteError", "jittered_cholesky", "inverse_from_cholesky", "jitter_levels"]


class NotPositiveDefiniteError(ValueError):
    """A covariance matrix could not be factorised even after adding the largest jitter."""


def jitter_levels(dtype) -> tuple[float, ...]:
    """The relative jitters tried after a failed factorisation, smallest first."""
    if jnp.finfo(dtype).bits >= 64:
        return (1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4)
    return (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


def jittered_cholesky(K: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Lower Cholesky factor of ``K``, adding diagonal jitter only if ``K`` fails as given.

    Differentiable in ``K`` (forward and reverse mode): the jitter is found on the values and
    then treated as a constant, and the factor's derivative is the Cholesky derivative at
    ``K + jitter I``.

    Returns:
        ``(L, jitter)`` with ``L L^T = K + jitter I``; ``jitter`` is 0 when none was needed and the
        factor is NaN when even the largest jitter of :func:`jitter_levels` failed.
    """
    L, jitter = _search(jax.lax.stop_gradient(K))
    eye = jnp.eye(K.shape[0], dtype=K.dtype)
    return _factor_of(K + jitter * eye, L), jitter


def _search(K):
    levels = jnp.asarray((0.0, *jitter_levels(K.dtype)), dtype=K.dtype)
    scale = jnp.maximum(jnp.mean(jnp.abs(jnp.diagonal(K))), jnp.finfo(K.dtype).tiny)
    eye = jnp.eye(K.shape[0], dtype=K.dtype)

    def failed(L):
        return ~jnp.all(jnp.isfinite(jnp.diagonal(L)))

    def retry(carry):
        _, i = carry
        return jnp.linalg.cholesky(K + levels[i] * scale * eye), i + 1

    L, i = jax.lax.while_loop(
        lambda c: failed(c[0]) & (c[1] < levels.shape[0]), retry, (jnp.linalg.cholesky(K), 1)
    )
    return L, levels[i - 1] * scale


@jax.custom_jvp
def _factor_of(A, L):
    """``L``, the Cholesky factor of ``A`` already computed; its derivative is the Cholesky one."""
    return L


@_factor_of.defjvp
def _factor_of_jvp(primals, tangents):
    A, L = primals
    dA = tangents[0]
    dA = 0.5 * (dA + dA.T)
    # dL = L Phi(L^{-1} dA L^{-T}), Phi = lower triangle with half the diagonal (Murray 2016).
    left = jax.scipy.linalg.solve_triangular(L, dA, lower=True)
    inner = jax.scipy.linalg.solve_triangular(L, left.T, lower=True)
    phi = jnp.tril(inner) - 0.5 * jnp.diag(jnp.diagonal(inner))
    return L, L @ phi


# Below this size the callback's fixed cost (a millisecond or more) outweighs the flops saved.
HOST_INVERSE_MIN_SIZE = 512


def _potri_host(L: np.ndarray) -> np.ndarray:
    """K^{-1} from L with LAPACK's potri: n^3/3 flops less than two triangular solves."""
    from scipy.linalg import lapack

    L = np.asarray(L)
    potri = lapack.dpotri if L.dtype == np.float64 else lapack.spotri
    # L.T is the Fortran-ordered upper factor U (K = U^T U): no copy on the way in.
    inv, info = potri(L.T, lower=0)
    if info != 0:
        return np.full(L.shape, np.nan, dtype=L.dtype)
    upper = np.triu(inv)
    return upper + np.triu(upper, 1).T


def inverse_from_cholesky(L: jax.Array) -> jax.Array:
    """``K^{-1}`` given the lower Cholesky factor ``L`` of ``K``.

    For large matrices on a CPU this calls LAPACK's ``potri`` on the host (about the cost of one
    Cholesky, a third of two triangular solves); small matrices, where a host callback's fixed
    cost dominates, and other devices solve ``K X = I`` with two triangular solves.
    """

    def on_device(L):
        eye = jnp.eye(L.shape[0], dtype=L.dtype)
        return jax.scipy.linalg.cho_solve((L, True), eye)

    def on_cpu(L):
        shape = jax.ShapeDtypeStruct(L.shape, L.dtype)
        return jax.pure_callback(_potri_host, shape, L, vmap_method="sequential")

    if L.shape[0] < HOST_INVERSE_MIN_SIZE:
        return on_device(L)
    return jax.lax.platform_dependent(L, cpu=on_cpu, default=on_device)
