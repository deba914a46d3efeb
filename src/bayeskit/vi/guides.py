r"""Automatic guides: variational families over the target's flat unconstrained vector ``z``.

ADVI (Kucukelbir et al. 2017) maps every latent site to the real line with the transforms of
:func:`bayeskit.dist.transforms.biject_to` and fits a Gaussian there, so one family serves every
model, and draws map back through ``target.constrain`` into each site's support.

- :class:`MeanFieldGuide`: :math:`q(z) = \prod_i \mathcal N(z_i \mid \mu_i, \sigma_i^2)`, with
  :math:`\sigma = e^{\omega}` (``log_scale``). Cheap (2d parameters), but it ignores posterior
  correlations and, as a consequence of minimising KL(q || p), underestimates the variances.
- :class:`FullRankGuide`: :math:`\mathcal N(\mu, L L^\top)` with a lower-triangular ``L`` whose
  diagonal is :math:`e^{\omega}`: d + d(d+1)/2 parameters, every correlation.
- :class:`LowRankGuide`: :math:`\mathcal N(\mu, W W^\top + \operatorname{diag}(e^{2\omega}))`
  with ``W`` of shape (d, rank): correlations along ``rank`` directions for O(d rank) parameters.
- :class:`PointMassGuide`: all mass at ``loc``. Its "ELBO" is the log joint density of the
  constrained values (no entropy and no Jacobian), so fitting it gives the MAP estimate of
  :func:`bayeskit.optimize.map`.

Every guide is an immutable ``equinox.Module`` whose array fields are the unconstrained
variational parameters, so ``jax.grad`` and optax act on it directly. ``make_guide`` builds one
for a target.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._checks import check_positive_number
from bayeskit._key import check_key
from bayeskit.dist._distribution import as_float, check_sample_shape, is_concrete

__all__ = [
    "GUIDES",
    "Guide",
    "MeanFieldGuide",
    "FullRankGuide",
    "LowRankGuide",
    "PointMassGuide",
    "make_guide",
]

GUIDES = ("meanfield", "fullrank", "lowrank", "map")
_LOG_2PI = math.log(2 * math.pi)


def _vector(cls: str, name: str, x) -> jax.Array:
    x = as_float(x)
    if x.ndim != 1:
        raise ValueError(f"{cls}: `{name}` must be a vector of shape (dim,), got shape {tuple(x.shape)}.")
    return x


def _positive(cls: str, name: str, x) -> None:
    if is_concrete(x) and not np.all(np.asarray(x) > 0):
        raise ValueError(f"{cls}: `{name}` must be positive everywhere, got {np.asarray(x)}.")


class Guide(eqx.Module):
    """A variational distribution q(z) over the unconstrained vector of a target.

    Subclasses define ``_sample`` (``sample`` checks its arguments, then calls it), ``log_prob``, ``entropy``, ``variance`` and ``covariance``.
    """

    loc: jax.Array

    @property
    def dim(self) -> int:
        return int(self.loc.shape[-1])

    @property
    def mean(self) -> jax.Array:
        return self.loc

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:
        """Draw ``sample_shape + (dim,)`` values of z, differentiable in the parameters.

        ``key`` must be one JAX random key and ``sample_shape`` a tuple of non-negative integers
        (or one integer); anything else is a ``TypeError``/``ValueError`` naming the guide.
        """
        where = f"{type(self).__name__}.sample"
        return self._sample(check_key(key, where), check_sample_shape(sample_shape, where))

    def _sample(self, key: jax.Array, sample_shape: tuple[int, ...]) -> jax.Array:
        raise NotImplementedError

    def log_prob(self, z) -> jax.Array:
        raise NotImplementedError

    def entropy(self) -> jax.Array:
        raise NotImplementedError

    @property
    def variance(self) -> jax.Array:
        raise NotImplementedError

    @property
    def covariance(self) -> jax.Array:
        raise NotImplementedError


class MeanFieldGuide(Guide):
    r"""Independent normals on every unconstrained coordinate (ADVI's mean-field family).

    .. math:: q(z) = \prod_{i=1}^d \mathcal N(z_i \mid \mu_i, e^{2\omega_i})

    Args:
        loc: the means :math:`\mu`, shape ``(dim,)``.
        scale: the standard deviations :math:`e^{\omega}`, positive, shape ``(dim,)``.

    Reference: Kucukelbir, Tran, Ranganath, Gelman & Blei (2017), "Automatic differentiation
    variational inference", JMLR 18.

    Example:
        >>> q = MeanFieldGuide(jnp.zeros(3), jnp.ones(3))
        >>> q.sample(jax.random.key(0), (5,)).shape
        (5, 3)
    """

    log_scale: jax.Array

    def __init__(self, loc, scale):
        self.loc = _vector("MeanFieldGuide", "loc", loc)
        scale = _vector("MeanFieldGuide", "scale", scale)
        if scale.shape != self.loc.shape:
            raise ValueError(
                f"MeanFieldGuide: `scale` has shape {tuple(scale.shape)}, `loc` {tuple(self.loc.shape)}."
            )
        _positive("MeanFieldGuide", "scale", scale)
        self.log_scale = jnp.log(scale)

    @property
    def scale(self) -> jax.Array:
        return jnp.exp(self.log_scale)

    def _sample(self, key, sample_shape):
        eps = jax.random.normal(key, tuple(sample_shape) + self.loc.shape, self.loc.dtype)
        return self.loc + self.scale * eps

    def log_prob(self, z):
        u = (z - self.loc) / self.scale
        return jnp.sum(-0.5 * u**2 - self.log_scale - 0.5 * _LOG_2PI, axis=-1)

    def entropy(self):
        return jnp.sum(self.log_scale) + 0.5 * self.dim * (1.0 + _LOG_2PI)

    @property
    def variance(self):
        return self.scale**2

    @property
    def covariance(self):
        return jnp.diag(self.variance)


class FullRankGuide(Guide):
    r"""A multivariate normal with a dense covariance, through its Cholesky factor.

    .. math:: q(z) = \mathcal N(z \mid \mu, L L^\top), \quad
        L = \operatorname{tril}(A, -1) + \operatorname{diag}(e^{\omega})

    The strictly lower triangle of ``lower`` (:math:`A`) and ``log_diag`` (:math:`\omega`) are
    the free parameters, so any positive-definite covariance is reachable and ``L`` stays a valid
    Cholesky factor under any gradient step.

    Args:
        loc: the mean :math:`\mu`, shape ``(dim,)``.
        scale_tril: a lower-triangular factor with a positive diagonal, shape ``(dim, dim)``.

    Reference: Kucukelbir et al. (2017), section 2.5 ("full-rank Gaussian").

    Example:
        >>> q = FullRankGuide(jnp.zeros(2), jnp.array([[1.0, 0.0], [0.5, 0.8]]))
        >>> q.covariance
        Array([[1.  , 0.5 ], [0.5 , 0.89]], dtype=float64)
    """

    log_diag: jax.Array
    lower: jax.Array

    def __init__(self, loc, scale_tril):
        self.loc = _vector("FullRankGuide", "loc", loc)
        tril = as_float(scale_tril)
        d = self.loc.shape[0]
        if tril.shape != (d, d):
            raise ValueError(
                f"FullRankGuide: `scale_tril` must have shape ({d}, {d}) to match `loc`, got "
                f"{tuple(tril.shape)}."
            )
        _positive("FullRankGuide", "the diagonal of scale_tril", jnp.diag(tril))
        self.log_diag = jnp.log(jnp.diag(tril))
        self.lower = jnp.tril(tril, -1)

    @property
    def scale_tril(self) -> jax.Array:
        return jnp.tril(self.lower, -1) + jnp.diag(jnp.exp(self.log_diag))

    def _sample(self, key, sample_shape):
        eps = jax.random.normal(key, tuple(sample_shape) + self.loc.shape, self.loc.dtype)
        return self.loc + eps @ self.scale_tril.T

    def log_prob(self, z):
        diff = jnp.reshape(z - self.loc, (-1, self.dim)).T
        u = jax.scipy.linalg.solve_triangular(self.scale_tril, diff, lower=True).T
        lp = -0.5 * jnp.sum(u**2, -1) - jnp.sum(self.log_diag) - 0.5 * self.dim * _LOG_2PI
        return lp.reshape(jnp.shape(z)[:-1])

    def entropy(self):
        return jnp.sum(self.log_diag) + 0.5 * self.dim * (1.0 + _LOG_2PI)

    @property
    def variance(self):
        return jnp.sum(self.scale_tril**2, axis=-1)

    @property
    def covariance(self):
        L = self.scale_tril
        return L @ L.T


class LowRankGuide(Guide):
    r"""A normal whose covariance is a rank-``r`` term plus a diagonal.

    .. math:: q(z) = \mathcal N(z \mid \mu, W W^\top + D^2), \quad D = \operatorname{diag}(e^{\omega})

    Draws are :math:`\mu + W \epsilon_1 + D \epsilon_2`. The density and the entropy use the
    capacitance :math:`K = I_r + W^\top D^{-2} W`: by Woodbury's identity and the matrix
    determinant lemma, :math:`\log|\Sigma| = 2\sum_i \omega_i + \log|K|` and the quadratic form
    needs one r-by-r Cholesky factor, O(d r^2) work instead of O(d^3).

    Args:
        loc: the mean :math:`\mu`, shape ``(dim,)``.
        cov_factor: :math:`W`, shape ``(dim, rank)``.
        diag_scale: :math:`e^{\omega}`, positive, shape ``(dim,)``.

    Reference: Ong, Nott & Smith (2018), "Gaussian variational approximation with a factor
    covariance structure", J. Comput. Graph. Stat. 27(3).

    Example:
        >>> q = LowRankGuide(jnp.zeros(4), 0.1 * jnp.ones((4, 1)), jnp.ones(4))
        >>> q.covariance.shape
        (4, 4)
    """

    cov_factor: jax.Array
    log_diag_scale: jax.Array

    def __init__(self, loc, cov_factor, diag_scale):
        self.loc = _vector("LowRankGuide", "loc", loc)
        d = self.loc.shape[0]
        w = as_float(cov_factor)
        if w.ndim != 2 or w.shape[0] != d:
            raise ValueError(
                f"LowRankGuide: `cov_factor` must have shape ({d}, rank) to match `loc`, got "
                f"{tuple(w.shape)}."
            )
        diag = _vector("LowRankGuide", "diag_scale", diag_scale)
        if diag.shape != (d,):
            raise ValueError(f"LowRankGuide: `diag_scale` has shape {tuple(diag.shape)}, expected ({d},).")
        _positive("LowRankGuide", "diag_scale", diag)
        self.cov_factor = w
        self.log_diag_scale = jnp.log(diag)

    @property
    def rank(self) -> int:
        return int(self.cov_factor.shape[1])

    def _capacitance_cholesky(self) -> jax.Array:
        wd = self.cov_factor * jnp.exp(-self.log_diag_scale)[:, None]  # D^-1 W
        eye = jnp.eye(self.rank, dtype=wd.dtype)
        return jnp.linalg.cholesky(eye + wd.T @ wd)

    def _sample(self, key, sample_shape):
        # One draw of rank + dim normals rather than a split and two draws: every random-bits
        # operation is a threefry hash compiled into each optimisation step.
        eps = jax.random.normal(key, tuple(sample_shape) + (self.rank + self.dim,), self.loc.dtype)
        e1, e2 = eps[..., : self.rank], eps[..., self.rank :]
        return self.loc + e1 @ self.cov_factor.T + jnp.exp(self.log_diag_scale) * e2

    def log_prob(self, z):
        inv_d2 = jnp.exp(-2.0 * self.log_diag_scale)
        diff = z - self.loc
        chol = self._capacitance_cholesky()
        proj = (diff * inv_d2) @ self.cov_factor  # (..., r): W^T D^-2 x
        v = jax.scipy.linalg.solve_triangular(chol, jnp.reshape(proj, (-1, self.rank)).T, lower=True).T
        maha = jnp.sum(diff**2 * inv_d2, -1) - jnp.sum(v**2, -1).reshape(jnp.shape(z)[:-1])
        log_det = 2.0 * jnp.sum(self.log_diag_scale) + 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
        return -0.5 * (maha + log_det + self.dim * _LOG_2PI)

    def entropy(self):
        chol = self._capacitance_cholesky()
        log_det = 2.0 * jnp.sum(self.log_diag_scale) + 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
        return 0.5 * (log_det + self.dim * (1.0 + _LOG_2PI))

    @property
    def variance(self):
        return jnp.sum(self.cov_factor**2, -1) + jnp.exp(2.0 * self.log_diag_scale)

    @property
    def covariance(self):
        return self.cov_factor @ self.cov_factor.T + jnp.diag(jnp.exp(2.0 * self.log_diag_scale))


class PointMassGuide(Guide):
    """All mass at one point ``loc`` of the unconstrained space (a Dirac delta): MAP by VI.

    A point mass has no density, so its objective is the log joint density of the constrained
    values, log p(theta, data) without the Jacobian: the same optimum as
    :func:`bayeskit.optimize.map`. ``sample`` repeats ``loc``; ``entropy`` is 0 by convention.

    Args:
        loc: the point, shape ``(dim,)`` (unconstrained).
    """

    def __init__(self, loc):
        self.loc = _vector("PointMassGuide", "loc", loc)

    def _sample(self, key, sample_shape):
        return jnp.broadcast_to(self.loc, tuple(sample_shape) + self.loc.shape)

    def log_prob(self, z):
        return jnp.zeros(jnp.shape(z)[:-1], self.loc.dtype)

    def entropy(self):
        return jnp.zeros((), self.loc.dtype)

    @property
    def variance(self):
        return jnp.zeros_like(self.loc)

    @property
    def covariance(self):
        return jnp.zeros((self.dim, self.dim), self.loc.dtype)


def make_guide(
    kind: str,
    loc: jax.Array,
    *,
    init_scale: float = 0.1,
    rank: int | None = None,
    key: jax.Array | None = None,
) -> Guide:
    """Build an automatic guide of family ``kind`` centred at ``loc`` (unconstrained).

    Args:
        kind: ``"meanfield"``, ``"fullrank"``, ``"lowrank"`` or ``"map"`` (a point mass).
        loc: the initial mean, shape ``(dim,)``.
        init_scale: the initial standard deviation of every coordinate. Small (0.1, as in
            NumPyro's and Pyro's autoguides) so that the first draws stay near ``loc``, where the
            log density is known to be finite.
        rank: the rank of the low-rank term (``"lowrank"``): default ``min(dim, 10)``.
        key: for ``"lowrank"``, a key for the small random initial ``cov_factor`` (at W = 0 the
            gradient with respect to W vanishes in expectation, so W must start away from 0).

    Example:
        >>> q = make_guide("fullrank", jnp.zeros(3))
        >>> q.covariance  # 0.01 * identity
    """
    loc = _vector("make_guide", "loc", loc)
    d = loc.shape[0]
    init_scale = check_positive_number("make_guide", "init_scale", init_scale)
    if rank is not None and kind != "lowrank":
        raise ValueError(f"make_guide: `rank` applies to kind='lowrank' only, got kind={kind!r}.")
    if kind == "meanfield":
        return MeanFieldGuide(loc, jnp.full((d,), init_scale, loc.dtype))
    if kind == "fullrank":
        return FullRankGuide(loc, init_scale * jnp.eye(d, dtype=loc.dtype))
    if kind == "lowrank":
        rank = min(d, 10) if rank is None else rank
        if isinstance(rank, bool) or not isinstance(rank, int | np.integer) or not 1 <= rank <= d:
            raise ValueError(f"make_guide: `rank` must be an integer in [1, {d}] (the dim), got {rank!r}.")
        if key is None:
            raise ValueError("make_guide: a low-rank guide needs a `key` for its initial cov_factor.")
        key = check_key(key, "make_guide")
        w = 0.1 * init_scale * jax.random.normal(key, (d, int(rank)), loc.dtype)
        return LowRankGuide(loc, w, jnp.full((d,), init_scale, loc.dtype))
    if kind == "map":
        return PointMassGuide(loc)
    raise ValueError(
        f"make_guide: unknown guide {kind!r}; choose one of {', '.join(map(repr, GUIDES))}, or pass a "
        "guide function written in the model language."
    )
