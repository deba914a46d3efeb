"""Bijections from unconstrained real arrays onto the support of each continuous constraint.

Samplers and optimisers move in unconstrained space; :func:`biject_to` gives, for a constraint,
the transform ``x = T(z)`` that carries an unconstrained ``z`` to a constrained value ``x``, its
inverse, and ``log |det dT/dz|`` (the Jacobian correction added to the log density).

The maps, and the packing order of vectors into matrices, follow Stan, so that log densities on the
unconstrained scale agree with Stan and posteriordb references.

Reference:
    Stan Development Team, *Stan Reference Manual*, chapter "Constraint Transforms".

Example:
    >>> import jax.numpy as jnp
    >>> from bayeskit.dist import constraints
    >>> t = biject_to(constraints.simplex)  # z = 0 is the uniform simplex
    >>> t(jnp.zeros(2)).tolist()  # doctest: +ELLIPSIS
    [0.333..., 0.333..., 0.333...]
"""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist import constraints as C
from bayeskit.dist._distribution import as_float
from bayeskit.dist._independent import _IndependentConstraint

__all__ = [
    "Transform",
    "IdentityTransform",
    "ExpTransform",
    "LowerBoundTransform",
    "IntervalTransform",
    "StickBreakingTransform",
    "OrderedTransform",
    "PositiveOrderedTransform",
    "LowerCholeskyTransform",
    "CorrCholeskyTransform",
    "PositiveDefiniteTransform",
    "IndependentTransform",
    "biject_to",
]

Shape = tuple[int, ...]


class Transform(eqx.Module):
    """A bijection ``x = T(z)`` from unconstrained ``z`` to constrained ``x``.

    ``z`` has shape ``batch + unconstrained event shape`` and ``x`` has shape
    ``batch + constrained event shape``; the transform acts on the trailing event dimensions and
    broadcasts over the leading ones.

    Attributes:
        unconstrained_event_dim: trailing dimensions of ``z`` that form one event.
        constrained_event_dim: trailing dimensions of ``x`` that form one event.
    """

    unconstrained_event_dim: ClassVar[int] = 0
    constrained_event_dim: ClassVar[int] = 0

    def __call__(self, z) -> jax.Array:
        """Map unconstrained ``z`` to the constrained value."""
        raise NotImplementedError

    def inverse(self, x) -> jax.Array:
        """Map constrained ``x`` back to unconstrained space."""
        raise NotImplementedError

    def log_abs_det_jacobian(self, z) -> jax.Array:
        """Return ``log |det dT/dz|`` summed over the event dimensions (shape: the batch shape of ``z``)."""
        raise NotImplementedError

    def unconstrained_shape(self, shape: Shape) -> Shape:
        """Return the shape of ``z`` for a constrained value of shape ``shape``."""
        return tuple(shape)

    def constrained_shape(self, shape: Shape) -> Shape:
        """Return the shape of the constrained value for ``z`` of shape ``shape``."""
        return tuple(shape)


class IdentityTransform(Transform):
    """``x = z`` (for ``real`` and ``real_vector``); log-det 0."""

    event_dim: int = eqx.field(static=True, default=0)

    @property
    def unconstrained_event_dim(self) -> int:  # type: ignore[override]
        return self.event_dim

    @property
    def constrained_event_dim(self) -> int:  # type: ignore[override]
        return self.event_dim

    def __call__(self, z):
        return as_float(z)

    def inverse(self, x):
        return as_float(x)

    def log_abs_det_jacobian(self, z):
        z = as_float(z)
        return jnp.zeros(z.shape[: z.ndim - self.event_dim], z.dtype)


class ExpTransform(Transform):
    """``x = exp(z)`` (for ``positive`` and ``nonnegative``); log-det ``z``."""

    def __call__(self, z):
        return jnp.exp(as_float(z))

    def inverse(self, x):
        return jnp.log(as_float(x))

    def log_abs_det_jacobian(self, z):
        return as_float(z)


class LowerBoundTransform(Transform):
    """``x = lower_bound + exp(z)`` (for ``greater_than``); log-det ``z``."""

    lower_bound: jax.Array | float

    def __call__(self, z):
        return self.lower_bound + jnp.exp(as_float(z))

    def inverse(self, x):
        return jnp.log(as_float(x) - self.lower_bound)

    def log_abs_det_jacobian(self, z):
        z = as_float(z)
        return jnp.broadcast_to(z, jnp.broadcast_shapes(z.shape, jnp.shape(self.lower_bound)))


class IntervalTransform(Transform):
    """``x = a + (b - a) sigmoid(z)`` (for ``interval`` and ``unit_interval``).

    log-det ``log(b - a) + log sigmoid(z) + log sigmoid(-z)``, stable for large ``|z|``. The bounds
    may be arrays or tracers that broadcast with ``z``.
    """

    lower_bound: jax.Array | float
    upper_bound: jax.Array | float

    def __call__(self, z):
        return self.lower_bound + (self.upper_bound - self.lower_bound) * jax.nn.sigmoid(as_float(z))

    def inverse(self, x):
        u = (as_float(x) - self.lower_bound) / (self.upper_bound - self.lower_bound)
        return jnp.log(u) - jnp.log1p(-u)

    def log_abs_det_jacobian(self, z):
        z = as_float(z)
        # log sigmoid(z) + log sigmoid(-z) = -z - 2 log(1 + exp(-z))
        return jnp.log(self.upper_bound - self.lower_bound) - z - 2.0 * _softplus(-z)


class StickBreakingTransform(Transform):
    r"""Stan's stick-breaking map from ``R^{K-1}`` onto the ``K``-simplex (for ``simplex``).

    With ``t_k = z_k - log(K - k)`` (``k = 1..K-1``) and ``u_k = sigmoid(t_k)``, each
    ``x_k = u_k (1 - \sum_{j<k} x_j)`` and ``x_K`` is what remains. The offset makes ``z = 0`` the
    uniform simplex. Everything is computed in log space, so tiny sticks keep full precision.
    The log-det is that of the map onto ``x_1..x_{K-1}``:
    ``\sum_k log u_k + log(1 - u_k) + log(1 - \sum_{j<k} x_j)``.
    """

    unconstrained_event_dim: ClassVar[int] = 1
    constrained_event_dim: ClassVar[int] = 1

    @staticmethod
    def _offset(n: int, dtype) -> np.ndarray:
        return np.log(np.arange(n, 0, -1)).astype(dtype)

    def _logs(self, z):
        z = as_float(z)
        t = z - self._offset(z.shape[-1], z.dtype)
        log_u = -_softplus(-t)
        log_1mu = log_u - t  # log(1 - sigmoid(t)) = log sigmoid(t) - t
        zero = jnp.zeros(z.shape[:-1] + (1,), z.dtype)
        log_rest = jnp.concatenate([zero, jnp.cumsum(log_1mu, axis=-1)], axis=-1)  # log stick left
        return log_u, log_1mu, log_rest

    def __call__(self, z):
        log_u, _, log_rest = self._logs(z)
        return jnp.exp(jnp.concatenate([log_rest[..., :-1] + log_u, log_rest[..., -1:]], axis=-1))

    def inverse(self, x):
        x = as_float(x)
        # Sum the tail from the end rather than 1 - cumsum: accurate when the tail is small.
        tail = jnp.flip(jnp.cumsum(jnp.flip(x[..., 1:], -1), axis=-1), -1)
        return jnp.log(x[..., :-1]) - jnp.log(tail) + self._offset(x.shape[-1] - 1, x.dtype)

    def log_abs_det_jacobian(self, z):
        log_u, log_1mu, log_rest = self._logs(z)
        return jnp.sum(log_u + log_1mu + log_rest[..., :-1], axis=-1)

    def unconstrained_shape(self, shape):
        _need_dims(self, shape, 1)
        if shape[-1] < 1:
            raise ValueError(f"simplex: a simplex needs at least 1 element, got shape {tuple(shape)}.")
        return tuple(shape[:-1]) + (shape[-1] - 1,)

    def constrained_shape(self, shape):
        _need_dims(self, shape, 1)
        return tuple(shape[:-1]) + (shape[-1] + 1,)


class OrderedTransform(Transform):
    """``x_1 = z_1``, ``x_k = x_{k-1} + exp(z_k)`` (for ``ordered``); log-det ``sum_{k>1} z_k``."""

    unconstrained_event_dim: ClassVar[int] = 1
    constrained_event_dim: ClassVar[int] = 1

    def __call__(self, z):
        z = as_float(z)
        return jnp.cumsum(jnp.concatenate([z[..., :1], jnp.exp(z[..., 1:])], axis=-1), axis=-1)

    def inverse(self, x):
        x = as_float(x)
        return jnp.concatenate([x[..., :1], jnp.log(jnp.diff(x, axis=-1))], axis=-1)

    def log_abs_det_jacobian(self, z):
        return jnp.sum(as_float(z)[..., 1:], axis=-1)

    def unconstrained_shape(self, shape):
        _need_dims(self, shape, 1)
        return tuple(shape)


class PositiveOrderedTransform(OrderedTransform):
    """``x_k = sum_{j<=k} exp(z_j)`` (for ``positive_ordered``); log-det ``sum_k z_k``."""

    def __call__(self, z):
        return jnp.cumsum(jnp.exp(as_float(z)), axis=-1)

    def inverse(self, x):
        return jnp.log(jnp.diff(as_float(x), axis=-1, prepend=0.0))

    def log_abs_det_jacobian(self, z):
        return jnp.sum(as_float(z), axis=-1)


class LowerCholeskyTransform(Transform):
    """Vector of ``K(K+1)/2`` -> lower-triangular ``K x K`` with positive diagonal (``lower_cholesky``).

    Packing order is Stan's: the lower triangle row by row, each row left to right and ending with
    its diagonal entry, i.e. ``(0,0), (1,0), (1,1), (2,0), (2,1), (2,2), ...``
    (``numpy.tril_indices(K)``). Diagonal entries are ``exp(z)``, so the log-det is the sum of the
    diagonal ``z``.
    """

    unconstrained_event_dim: ClassVar[int] = 1
    constrained_event_dim: ClassVar[int] = 2

    def __call__(self, z):
        z = as_float(z)
        K = _side(z.shape[-1], self, strict=False)
        diag = jnp.exp(z[..., _diag_positions(K)])
        off_diagonal = _packing_index(K, strict=False)
        np.fill_diagonal(off_diagonal, z.shape[-1])
        return _unpack(z, off_diagonal) + diag[..., None] * np.eye(K, dtype=z.dtype)

    def inverse(self, x):
        x = as_float(x)
        K = x.shape[-1]
        rows, cols = np.tril_indices(K)
        log_diag = jnp.log(jnp.diagonal(x, axis1=-2, axis2=-1))
        return jnp.where(rows == cols, log_diag[..., rows], x[..., rows, cols])

    def log_abs_det_jacobian(self, z):
        z = as_float(z)
        return jnp.sum(z[..., _diag_positions(_side(z.shape[-1], self, strict=False))], axis=-1)

    def unconstrained_shape(self, shape):
        K = _square(self, shape)
        return tuple(shape[:-2]) + (K * (K + 1) // 2,)

    def constrained_shape(self, shape):
        _need_dims(self, shape, 1)
        K = _side(shape[-1], self, strict=False)
        return tuple(shape[:-1]) + (K, K)


class CorrCholeskyTransform(Transform):
    r"""Vector of ``K(K-1)/2`` -> Cholesky factor of a correlation matrix (for ``corr_cholesky``).

    Stan's construction: canonical partial correlations ``c = tanh(z)`` fill the strictly lower
    triangle row by row (``(1,0), (2,0), (2,1), (3,0), ...``, ``numpy.tril_indices(K, -1)``); then
    in each row ``L_{ij} = c_{ij} \sqrt{1 - \sum_{l<j} L_{il}^2}`` and
    ``L_{ii} = \sqrt{1 - \sum_{l<i} L_{il}^2}``, so every row has unit norm. With
    ``s_{ij} = \prod_{l<j} (1 - c_{il}^2)`` (the squared norm left), the log-det of the map onto
    the strictly lower entries is ``\sum_{i>j} log(1 - c_{ij}^2) + 0.5 log s_{ij}``.
    """

    unconstrained_event_dim: ClassVar[int] = 1
    constrained_event_dim: ClassVar[int] = 2

    def _parts(self, z):
        z = as_float(z)
        K = _side(z.shape[-1], self, strict=True)
        rows, cols = np.tril_indices(K, -1)
        index = _packing_index(K, strict=True)
        # log(1 - tanh(z)^2) = log(sech(z)^2), written to stay finite for large |z|.
        log_1mc2 = 2.0 * (math.log(2.0) - z - _softplus(-2.0 * z))
        c = _unpack(jnp.tanh(z), index) + np.eye(K, dtype=z.dtype)
        logs = jnp.cumsum(_unpack(log_1mc2, index), axis=-1)
        logs = jnp.concatenate([jnp.zeros_like(logs[..., :1]), logs[..., :-1]], axis=-1)  # exclusive
        return c, logs, log_1mc2, (rows, cols)

    def __call__(self, z):
        c, logs, _, _ = self._parts(z)
        return c * jnp.exp(0.5 * logs)

    def inverse(self, x):
        x = as_float(x)
        rows, cols = np.tril_indices(x.shape[-1], -1)
        # The norm still left at column j is the sum of squares from j to the end of the row.
        left = jnp.flip(jnp.cumsum(jnp.flip(x**2, -1), axis=-1), -1)
        return jnp.arctanh(x[..., rows, cols] / jnp.sqrt(left[..., rows, cols]))

    def log_abs_det_jacobian(self, z):
        _, logs, log_1mc2, (rows, cols) = self._parts(z)
        return jnp.sum(log_1mc2, axis=-1) + 0.5 * jnp.sum(logs[..., rows, cols], axis=-1)

    def unconstrained_shape(self, shape):
        K = _square(self, shape)
        return tuple(shape[:-2]) + (K * (K - 1) // 2,)

    def constrained_shape(self, shape):
        _need_dims(self, shape, 1)
        K = _side(shape[-1], self, strict=True)
        return tuple(shape[:-1]) + (K, K)


class PositiveDefiniteTransform(Transform):
    """Vector of ``K(K+1)/2`` -> ``L L^T`` with ``L`` from :class:`LowerCholeskyTransform`.

    Stan's ``cov_matrix`` transform. The log-det of the map onto the lower triangle (diagonal
    included) is ``K log 2 + sum_k (K - k + 1) log L_kk`` for 0-based ``k``: the ``exp`` on the
    diagonal contributes one ``log L_kk`` and ``L -> L L^T`` the rest.
    """

    unconstrained_event_dim: ClassVar[int] = 1
    constrained_event_dim: ClassVar[int] = 2

    def __call__(self, z):
        z = as_float(z)
        _side(z.shape[-1], self, strict=False)  # name this transform in a length error
        L = LowerCholeskyTransform()(z)
        x = L @ jnp.swapaxes(L, -1, -2)
        return 0.5 * (x + jnp.swapaxes(x, -1, -2))  # exactly symmetric whatever the matmul order

    def inverse(self, x):
        return LowerCholeskyTransform().inverse(jnp.linalg.cholesky(as_float(x)))

    def log_abs_det_jacobian(self, z):
        z = as_float(z)
        K = _side(z.shape[-1], self, strict=False)
        weights = np.arange(K + 1, 1, -1).astype(z.dtype)
        return K * math.log(2.0) + jnp.sum(weights * z[..., _diag_positions(K)], axis=-1)

    def unconstrained_shape(self, shape):
        K = _square(self, shape)
        return tuple(shape[:-2]) + (K * (K + 1) // 2,)

    def constrained_shape(self, shape):
        _need_dims(self, shape, 1)
        K = _side(shape[-1], self, strict=False)
        return tuple(shape[:-1]) + (K, K)


class IndependentTransform(Transform):
    """``base`` applied over ``extra`` more event dimensions; the log-det sums over them."""

    base: Transform
    extra: int = eqx.field(static=True)

    @property
    def unconstrained_event_dim(self) -> int:  # type: ignore[override]
        return self.base.unconstrained_event_dim + self.extra

    @property
    def constrained_event_dim(self) -> int:  # type: ignore[override]
        return self.base.constrained_event_dim + self.extra

    def __call__(self, z):
        return self.base(z)

    def inverse(self, x):
        return self.base.inverse(x)

    def log_abs_det_jacobian(self, z):
        ld = self.base.log_abs_det_jacobian(z)
        return jnp.sum(ld, axis=tuple(range(ld.ndim - self.extra, ld.ndim)))

    def unconstrained_shape(self, shape):
        _need_dims(self, shape, self.constrained_event_dim)
        return self.base.unconstrained_shape(shape)

    def constrained_shape(self, shape):
        _need_dims(self, shape, self.unconstrained_event_dim)
        return self.base.constrained_shape(shape)


def biject_to(constraint: C.Constraint) -> Transform:
    """Return the transform from unconstrained reals onto ``constraint``'s set.

    Raises:
        ValueError: the constraint is discrete (no continuous bijection exists).
        TypeError: no transform is known for this kind of constraint.

    Example:
        >>> t = biject_to(C.interval(0.0, 2.0))
        >>> float(t(0.0))
        1.0
    """
    if constraint.is_discrete:
        raise ValueError(
            f"biject_to: the constraint {constraint!r} is discrete, so the site is discrete and has "
            "no unconstrained real parameterisation for gradient-based samplers or optimisers. "
            "Update it with a Gibbs step, or marginalise it out of the model (sum over its values)."
        )
    if isinstance(constraint, _IndependentConstraint):
        base = biject_to(constraint.base)
        return IndependentTransform(base, constraint.extra) if constraint.extra else base
    if isinstance(constraint, C._Real):
        return IdentityTransform(0)
    if isinstance(constraint, C._RealVector):
        return IdentityTransform(1)
    if isinstance(constraint, C._Positive | C._Nonnegative):
        return ExpTransform()
    if isinstance(constraint, C._GreaterThan):
        return LowerBoundTransform(constraint.lower_bound)
    if isinstance(constraint, C._Interval):
        return IntervalTransform(constraint.lower_bound, constraint.upper_bound)
    if isinstance(constraint, C._Simplex):
        return StickBreakingTransform()
    if isinstance(constraint, C._PositiveOrdered):
        return PositiveOrderedTransform()
    if isinstance(constraint, C._Ordered):
        return OrderedTransform()
    if isinstance(constraint, C._CorrCholesky):
        return CorrCholeskyTransform()
    if isinstance(constraint, C._LowerCholesky):
        return LowerCholeskyTransform()
    if isinstance(constraint, C._PositiveDefinite):
        return PositiveDefiniteTransform()
    raise TypeError(
        f"biject_to: no transform is known for the constraint {constraint!r} "
        f"(type {type(constraint).__name__}). Use one of the constraints in bayeskit.dist.constraints."
    )


def _softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``, with few ops (quick to compile).

    Written with two ``where``s on the same test rather than ``max(x, 0)`` and ``|x|``: JAX's
    conventions for those at 0 (1/2 and 1) would give the wrong gradient exactly at ``x = 0``.
    """
    positive = x > 0
    return jnp.where(positive, x, 0.0) + jnp.log1p(jnp.exp(jnp.where(positive, -x, x)))


def _name(t: Transform) -> str:
    return type(t).__name__


def _need_dims(t: Transform, shape: Shape, n: int) -> None:
    if len(shape) < n:
        raise ValueError(f"{_name(t)}: expected a shape with at least {n} dimension(s), got {tuple(shape)}.")


def _square(t: Transform, shape: Shape) -> int:
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"{_name(t)}: expected a shape ending in a square matrix (K, K), got {tuple(shape)}."
        )
    return shape[-1]


def _side(n: int, t: Transform, strict: bool) -> int:
    """Side ``K`` of a matrix packed in ``n`` numbers: ``n = K(K-1)/2`` if ``strict``, else ``K(K+1)/2``."""
    K = int(round((math.sqrt(8 * n + 1) + (1 if strict else -1)) / 2))
    if (K * (K - 1) if strict else K * (K + 1)) // 2 != n:
        what = "K(K-1)/2" if strict else "K(K+1)/2"
        raise ValueError(
            f"{_name(t)}: the unconstrained vector must have length {what} for a K x K matrix, got {n}."
        )
    return K


def _packing_index(K: int, strict: bool) -> np.ndarray:
    """``(K, K)`` array of each entry's position in the packed vector, or ``n`` (the length) if unpacked."""
    rows, cols = np.tril_indices(K, -1 if strict else 0)
    index = np.full((K, K), len(rows))
    index[rows, cols] = np.arange(len(rows))
    return index


def _unpack(v, index: np.ndarray) -> jax.Array:
    """Place the packed ``v`` (``..., n``) into a matrix as ``index`` says, zeros elsewhere.

    A gather rather than a scatter: cheaper to compile and to differentiate forwards.
    """
    padded = jnp.concatenate([v, jnp.zeros(v.shape[:-1] + (1,), v.dtype)], axis=-1)
    return padded[..., index]


def _diag_positions(K: int) -> np.ndarray:
    """Positions of the diagonal entries in the row-major lower-triangle packing."""
    k = np.arange(K)
    return k * (k + 1) // 2 + k
