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

from bayeskit.dist._distribution import as_float
from bayeskit.gp._precise import matmul

__all__ = [
    "NotPositiveDefiniteError",
    "as_covariance",
    "jittered_cholesky",
    "inverse_from_cholesky",
    "solve_and_inverse_for_gradient",
    "jitter_levels",
    "cho_solve",
    "solve_lower",
]


class NotPositiveDefiniteError(ValueError):
    """A covariance matrix could not be factorised even after adding the largest jitter."""


def jitter_levels(dtype) -> tuple[float, ...]:
    """The relative jitters tried after a failed factorisation, smallest first."""
    if jnp.finfo(dtype).bits >= 64:
        return (1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4)
    return (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


def as_covariance(owner: str, K) -> jax.Array:
    """``K`` as a square floating matrix (integers and booleans converted), or a clear error."""
    try:
        K = as_float(K)
    except TypeError as err:
        raise TypeError(f"{owner}: `K` must be a square matrix of numbers; {err}") from None
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"{owner}: `K` must be a square (n, n) matrix, got shape {tuple(K.shape)}.")
    return K.astype(jnp.promote_types(K.dtype, jnp.float32))  # no LAPACK in half precision


def jittered_cholesky(K: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Lower Cholesky factor of ``K``, adding diagonal jitter only if ``K`` fails as given.

    Differentiable in ``K`` (forward and reverse mode): the jitter is found on the values and
    then treated as a constant, and the factor's derivative is the Cholesky derivative at
    ``K + jitter I``.

    Returns:
        ``(L, jitter)`` with ``L L^T = K + jitter I``; ``jitter`` is 0 when none was needed and the
        factor is NaN when even the largest jitter of :func:`jitter_levels` failed.

    Raises:
        ValueError: ``K`` is not a square matrix (an integer matrix is converted to floats).
    """
    return _jittered_cholesky(as_covariance("jittered_cholesky", K))


@jax.jit
def _jittered_cholesky(K):
    # Compiled once per shape: called eagerly, the search loop's closures are new on every call,
    # and each call compiled it again (170 ms for a 50 x 50 matrix, every time).
    K0 = jax.lax.stop_gradient(K)
    if K.shape[0] >= HOST_INVERSE_MIN_SIZE:
        # On a CPU, scipy's LAPACK factorises large matrices about twice as fast as XLA's call.
        L, jitter = jax.lax.platform_dependent(K0, cpu=_host_search, default=_search)
    else:
        L, jitter = _search(K0)
    eye = jnp.eye(K.shape[0], dtype=K.dtype)
    return _factor_of(K + jitter * eye, L), jitter


def _cholesky(K):
    # The factorisation reads the lower triangle only: no pass to symmetrise a matrix that a
    # kernel built symmetric (jnp.linalg.cholesky would average K and K^T first).
    return jax.lax.linalg.cholesky(K, symmetrize_input=False)


def _search(K):
    levels = jnp.asarray((0.0, *jitter_levels(K.dtype)), dtype=K.dtype)
    scale = jnp.maximum(jnp.mean(jnp.abs(jnp.diagonal(K))), jnp.finfo(K.dtype).tiny)
    eye = jnp.eye(K.shape[0], dtype=K.dtype)

    def failed(L):
        return ~jnp.all(jnp.isfinite(jnp.diagonal(L)))

    def retry(carry):
        _, i = carry
        return _cholesky(K + levels[i] * scale * eye), i + 1

    L, i = jax.lax.while_loop(lambda c: failed(c[0]) & (c[1] < levels.shape[0]), retry, (_cholesky(K), 1))
    return L, levels[i - 1] * scale


def _factor_on_host(K: np.ndarray, clean: bool):
    """LAPACK's potrf with the jitter search of :func:`_search`, on the host.

    Returns ``(U, jitter)``: ``U`` the Fortran-ordered upper factor of ``K + jitter I``
    (``K = U^T U``; its transpose is the C-ordered lower factor), its lower triangle zeroed only
    if ``clean``; ``U`` is None when even the largest jitter failed.
    """
    from scipy.linalg import lapack

    potrf = lapack.dpotrf if K.dtype == np.float64 else lapack.spotrf
    scale = max(float(np.mean(np.abs(np.diagonal(K)))), float(np.finfo(K.dtype).tiny))
    for level in (0.0, *jitter_levels(K.dtype)):
        # K.T is Fortran-ordered: copied as it is (one plain pass), it is K for LAPACK, and potrf
        # then works on the copy in place.
        A = np.array(K.T, order="F")
        if level:
            A[np.diag_indices_from(A)] += level * scale
        U, info = potrf(A, lower=0, clean=int(clean), overwrite_a=1)
        if info == 0:
            return U, np.asarray(level * scale, dtype=K.dtype)
    return None, np.asarray(level * scale, dtype=K.dtype)


def _potrf_host(K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower factor and jitter of :func:`_search`, computed on the host."""
    K = np.asarray(K)
    U, jitter = _factor_on_host(K, clean=True)
    return (np.full(K.shape, np.nan, dtype=K.dtype) if U is None else U.T), jitter


def _host_search(K):
    shapes = (jax.ShapeDtypeStruct(K.shape, K.dtype), jax.ShapeDtypeStruct((), K.dtype))
    return jax.pure_callback(_potrf_host, shapes, K, vmap_method="sequential")


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
    return L, matmul(L, phi)


# Below this size the callback's fixed cost (a millisecond or more) outweighs the flops saved.
HOST_INVERSE_MIN_SIZE = 512


def _potri_host(L: np.ndarray) -> np.ndarray:
    """The lower triangle of K^{-1} (zeros above) from L, by LAPACK's potri.

    potri costs about one Cholesky, a third of two triangular solves. Nothing is symmetrised
    here: on the host that would be several single-threaded passes over n^2 numbers.
    """
    from scipy.linalg import lapack

    L = np.asarray(L)
    potri = lapack.dpotri if L.dtype == np.float64 else lapack.spotri
    # L.T is the Fortran-ordered upper factor U (K = U^T U); potri overwrites U's upper triangle
    # with K^{-1}'s and leaves the zeros below, and the transpose of that Fortran array is a
    # C-ordered lower triangle: no copies beyond potri's own.
    inv, info = potri(L.T, lower=0)
    if info != 0:
        return np.full(L.shape, np.nan, dtype=L.dtype)
    return inv.T


def _lower_inverse(L: jax.Array) -> jax.Array:
    shape = jax.ShapeDtypeStruct(L.shape, L.dtype)
    return jax.pure_callback(_potri_host, shape, L, vmap_method="sequential")


def _solve_and_invert_host(K: np.ndarray, r: np.ndarray):
    """potrf (with the jitter search of :func:`_search`), potrs and potri in one host call.

    One copy of ``K`` in (potrf works on it in place, potri then overwrites the factor) and one
    lower triangle of K^{-1} out: the factor itself never travels back to XLA.
    """
    from scipy.linalg import lapack

    K, r = np.asarray(K), np.asarray(r)
    potrs, potri = (lapack.dpotrs, lapack.dpotri) if K.dtype == np.float64 else (lapack.spotrs, lapack.spotri)
    nan = np.asarray(np.nan, dtype=K.dtype)
    U, jitter = _factor_on_host(K, clean=False)  # potri reads only U's upper triangle
    if U is None:
        return np.full(K.shape, nan), np.full(r.shape, nan), nan, jitter
    alpha, info = potrs(U, r, lower=0)
    half_logdet = np.sum(np.log(np.diagonal(U)))
    inv, info = potri(U, lower=0, overwrite_c=1)
    if info != 0:
        inv = np.full(K.shape, nan)
    # potri filled the upper triangle of a Fortran array; its transpose is a C-ordered lower
    # triangle of K^{-1} (above it, whatever potrf left there: the caller masks it).
    return inv.T, alpha.astype(K.dtype), np.asarray(half_logdet, K.dtype), jitter


def solve_and_inverse_for_gradient(K: jax.Array, r: jax.Array):
    """``(alpha, sum log diag L, K_inv, jitter)`` for the gradient of a Gaussian log density.

    ``alpha = K^{-1} r``, and ``K_inv`` a matrix whose symmetric part is K^{-1} (enough wherever it
    is contracted with a symmetric matrix, as in the gradient of a function of a symmetric K): on
    a CPU twice the strict lower triangle of K^{-1} plus its diagonal, straight from LAPACK's
    ``potri``, elsewhere K^{-1} itself. Both are for ``K + jitter I``, with the jitter of
    :func:`jittered_cholesky`. On a CPU, for ``n >= HOST_INVERSE_MIN_SIZE``, one host call does
    the factorisation, the solve and the inverse: two copies of n^2 numbers instead of four, and
    no triangular solves in XLA. Not differentiable (it is the forward pass of a custom VJP).
    """
    if K.shape[0] < HOST_INVERSE_MIN_SIZE:
        return _device_solve_and_inverse(K, r)

    def on_cpu(K, r):
        shapes = (
            jax.ShapeDtypeStruct(K.shape, K.dtype),
            jax.ShapeDtypeStruct(r.shape, K.dtype),
            jax.ShapeDtypeStruct((), K.dtype),
            jax.ShapeDtypeStruct((), K.dtype),
        )
        T, alpha, half_logdet, jitter = jax.pure_callback(
            _solve_and_invert_host, shapes, K, r.astype(K.dtype), vmap_method="sequential"
        )
        return alpha, half_logdet, _lower_to_gradient_inverse(T), jitter

    return jax.lax.platform_dependent(K, r, cpu=on_cpu, default=_device_solve_and_inverse)


def _device_solve_and_inverse(K, r):
    L, jitter = jittered_cholesky(K)
    return cho_solve(L, r), jnp.sum(jnp.log(jnp.diagonal(L))), _device_inverse(L), jitter


def _lower_to_gradient_inverse(T):
    """Twice the strict lower triangle of ``T`` plus its diagonal (whatever is above is ignored)."""
    i = jax.lax.broadcasted_iota(jnp.int32, T.shape, 0)
    j = jax.lax.broadcasted_iota(jnp.int32, T.shape, 1)
    return jnp.where(i > j, 2.0 * T, jnp.where(i == j, T, 0.0))


def cho_solve(L: jax.Array, b: jax.Array) -> jax.Array:
    """``K^{-1} b`` from the lower Cholesky factor ``L`` of ``K`` (``b`` a vector or a matrix).

    Like ``jax.scipy.linalg.cho_solve((L, True), b)``, but both triangular solves read ``L^T``:
    a row-major ``L`` is a column-major ``L^T`` with no data moved, whereas solving with ``L``
    makes XLA copy it into LAPACK's column-major layout first (one transposing pass over n^2
    numbers, as long as the solves themselves for a vector).
    """
    z = solve_lower(L, b[:, None] if b.ndim == 1 else b)  # L z = b
    x = jax.lax.linalg.triangular_solve(L.T.astype(z.dtype), z, left_side=True, lower=False)  # L^T x = z
    return x[:, 0] if b.ndim == 1 else x


def solve_lower(L: jax.Array, B: jax.Array) -> jax.Array:
    """``L^{-1} B`` for a lower-triangular ``L``, reading ``L^T`` (see :func:`cho_solve`: no copy)."""
    dtype = jnp.result_type(L, B)
    U = L.T.astype(dtype)
    return jax.lax.linalg.triangular_solve(U, B.astype(dtype), left_side=True, lower=False, transpose_a=True)


def _device_inverse(L):
    eye = jnp.eye(L.shape[0], dtype=L.dtype)
    return cho_solve(L, eye)


def inverse_from_cholesky(L: jax.Array) -> jax.Array:
    """``K^{-1}`` given the lower Cholesky factor ``L`` of ``K``.

    For large matrices on a CPU this calls LAPACK's ``potri`` on the host (about the cost of one
    Cholesky, a third of two triangular solves); small matrices, where a host callback's fixed
    cost dominates, and other devices solve ``K X = I`` with two triangular solves.
    """
    if L.shape[0] < HOST_INVERSE_MIN_SIZE:
        return _device_inverse(L)

    def on_cpu(L):
        T = _lower_inverse(L)
        return T + jnp.tril(T, -1).T

    return jax.lax.platform_dependent(L, cpu=on_cpu, default=_device_inverse)
