"""The multivariate normal distribution, stored through the Cholesky factor of its covariance."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import Distribution, as_float, check_event, check_parameter, is_concrete

__all__ = ["MultivariateNormal"]

_LOG_2PI = math.log(2 * math.pi)


def _check_square(dist: str, name: str, m: jax.Array) -> None:
    if m.ndim < 2 or m.shape[-1] != m.shape[-2]:
        raise ValueError(
            f"{dist}: parameter `{name}` must be a square matrix (or a batch of them, shape "
            f"(..., D, D)), but got an array of shape {m.shape}."
        )


def _loc_with_event(dist: str, loc: jax.Array, dim: int) -> jax.Array:
    """Give ``loc`` a trailing event axis of length ``dim`` (a scalar ``loc`` is broadcast)."""
    if loc.ndim == 0:
        return jnp.broadcast_to(loc, (dim,))
    if loc.shape[-1] not in (1, dim):
        raise ValueError(
            f"{dist}: parameter `loc` has {loc.shape[-1]} entries in its last axis but the scale "
            f"matrix is {dim} x {dim}; pass a `loc` of shape (..., {dim})."
        )
    return jnp.broadcast_to(loc, loc.shape[:-1] + (dim,))


def _check_scale_tril(dist: str, scale_tril: jax.Array) -> None:
    check_parameter(
        dist,
        "scale_tril",
        scale_tril,
        C.lower_cholesky,
        "It must be lower triangular (zeros above the diagonal) with a positive diagonal, e.g. "
        "jnp.linalg.cholesky(covariance).",
    )
    if is_concrete(scale_tril) and not np.all(np.isfinite(np.asarray(scale_tril))):
        raise ValueError(f"{dist}: parameter `scale_tril` has non-finite entries.")


def _solve_lower(scale_tril: jax.Array, y: jax.Array) -> jax.Array:
    """Return ``L^{-1} y`` for ``y`` of shape ``(..., D)``, broadcasting the batch axes."""
    d = scale_tril.shape[-1]
    if scale_tril.ndim == 2:
        # One matrix for every point: a single solve against all right-hand sides at once.
        flat = y.reshape(-1, d).T
        return solve_triangular(scale_tril, flat, lower=True).T.reshape(y.shape)
    batch = jnp.broadcast_shapes(y.shape[:-1], scale_tril.shape[:-2])
    lb = jnp.broadcast_to(scale_tril, batch + (d, d))
    yb = jnp.broadcast_to(y, batch + (d,))
    return solve_triangular(lb, yb[..., None], lower=True)[..., 0]


def _half_log_det(scale_tril: jax.Array) -> jax.Array:
    return jnp.sum(jnp.log(jnp.diagonal(scale_tril, axis1=-2, axis2=-1)), axis=-1)


def _tril_from_precision(precision: jax.Array) -> jax.Array:
    """Return lower-triangular ``L`` with ``L L^T = precision^{-1}``, without forming the inverse.

    With ``J`` the reversal permutation, ``chol(J P J) = Lf`` gives ``P = U U^T`` for the upper
    triangular ``U = J Lf J``; then ``P^{-1} = U^{-T} U^{-1}`` and ``U^{-T}`` is lower triangular.
    """
    flipped = jnp.linalg.cholesky(precision[..., ::-1, ::-1])
    u = flipped[..., ::-1, ::-1]
    eye = jnp.broadcast_to(jnp.eye(u.shape[-1], dtype=u.dtype), u.shape)
    return jnp.swapaxes(solve_triangular(u, eye, lower=False), -1, -2)


def _check_pd_matrix(dist: str, name: str, m: jax.Array, what: str) -> None:
    check_parameter(
        dist,
        name,
        m,
        C.positive_definite,
        f"A {what} matrix must be symmetric with positive eigenvalues; check for a typo, a "
        "missing transpose, or add a small jitter to the diagonal.",
    )


class MultivariateNormal(Distribution):
    r"""Multivariate normal distribution with mean ``loc`` and covariance :math:`\Sigma = L L^T`.

    Give exactly one of ``covariance_matrix``, ``scale_tril`` (the lower Cholesky factor ``L``)
    or ``precision_matrix`` (:math:`\Sigma^{-1}`). Only ``loc`` and ``scale_tril`` are stored;
    the other two are properties. Batch axes of ``loc`` and of the matrix broadcast.

    .. math::
        \log p(x) = -\tfrac12 \lVert L^{-1}(x-\mu)\rVert^2 - \sum_i \log L_{ii}
        - \tfrac{D}{2}\log 2\pi

    Example:
        >>> d = MultivariateNormal(jnp.zeros(2), covariance_matrix=jnp.array([[2.0, 0.5], [0.5, 1.0]]))
        >>> d.event_shape
        (2,)
        >>> x = d.sample(jax.random.key(0), (100,))
        >>> x.shape
        (100, 2)
    """

    loc: jax.Array
    scale_tril: jax.Array

    def __init__(self, loc=0.0, covariance_matrix=None, scale_tril=None, precision_matrix=None):
        given = [
            n
            for n, v in (
                ("covariance_matrix", covariance_matrix),
                ("scale_tril", scale_tril),
                ("precision_matrix", precision_matrix),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "MultivariateNormal: give exactly one of `covariance_matrix`, `scale_tril` or "
                f"`precision_matrix`, but got {given or 'none'}."
            )
        if covariance_matrix is not None:
            cov = as_float(covariance_matrix)
            _check_square("MultivariateNormal", "covariance_matrix", cov)
            _check_pd_matrix("MultivariateNormal", "covariance_matrix", cov, "covariance")
            tril = jnp.linalg.cholesky(cov)
            self._check_factor(tril, "covariance_matrix")
        elif precision_matrix is not None:
            prec = as_float(precision_matrix)
            _check_square("MultivariateNormal", "precision_matrix", prec)
            _check_pd_matrix("MultivariateNormal", "precision_matrix", prec, "precision")
            tril = _tril_from_precision(prec)
            self._check_factor(tril, "precision_matrix")
        else:
            tril = as_float(scale_tril)
            _check_square("MultivariateNormal", "scale_tril", tril)
        loc = as_float(loc)
        self.loc = _loc_with_event("MultivariateNormal", loc, tril.shape[-1])
        self.scale_tril = tril

    @staticmethod
    def _check_factor(tril: jax.Array, name: str) -> None:
        # Eigenvalues can pass while the factorisation still fails in floating point.
        if not is_concrete(tril):
            return
        diag = np.diagonal(np.asarray(tril), axis1=-2, axis2=-1)
        if not (np.all(np.isfinite(np.asarray(tril))) and np.all(diag > 0)):
            raise ValueError(
                f"MultivariateNormal: parameter `{name}` is not numerically positive definite "
                "(its Cholesky factorisation failed). Add a small jitter to the diagonal."
            )

    def __check_init__(self):
        check_parameter("MultivariateNormal", "loc", self.loc, C.real_vector)
        _check_scale_tril("MultivariateNormal", self.scale_tril)

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(self.loc.shape[:-1], self.scale_tril.shape[:-2])

    @property
    def event_shape(self):
        return tuple(self.loc.shape[-1:])

    @property
    def support(self):
        return C.real_vector

    def log_prob(self, x):
        x = as_float(x)
        check_event("MultivariateNormal", x, self.event_shape)
        z = _solve_lower(self.scale_tril, x - self.loc)
        d = self.loc.shape[-1]
        return -0.5 * jnp.sum(z**2, axis=-1) - _half_log_det(self.scale_tril) - 0.5 * d * _LOG_2PI

    def _sample(self, key, sample_shape):
        eps = jax.random.normal(key, self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + jnp.matmul(self.scale_tril, eps[..., None])[..., 0]

    @property
    def covariance_matrix(self):
        """Return :math:`\\Sigma = L L^T`, of shape ``batch_shape + (D, D)``."""
        cov = jnp.matmul(self.scale_tril, jnp.swapaxes(self.scale_tril, -1, -2))
        return jnp.broadcast_to(cov, self.batch_shape + cov.shape[-2:])

    @property
    def precision_matrix(self):
        """Return :math:`\\Sigma^{-1} = L^{-T} L^{-1}`, of shape ``batch_shape + (D, D)``."""
        eye = jnp.broadcast_to(
            jnp.eye(self.scale_tril.shape[-1], dtype=self.loc.dtype), self.scale_tril.shape
        )
        inv = solve_triangular(self.scale_tril, eye, lower=True)
        prec = jnp.matmul(jnp.swapaxes(inv, -1, -2), inv)
        return jnp.broadcast_to(prec, self.batch_shape + prec.shape[-2:])

    @property
    def mean(self):
        return jnp.broadcast_to(self.loc, self.batch_shape + self.event_shape)

    @property
    def variance(self):
        var = jnp.sum(self.scale_tril**2, axis=-1)
        return jnp.broadcast_to(var, self.batch_shape + self.event_shape)

    def entropy(self):
        d = self.loc.shape[-1]
        h = 0.5 * d * (1.0 + _LOG_2PI) + _half_log_det(self.scale_tril)
        return jnp.broadcast_to(h, self.batch_shape)
