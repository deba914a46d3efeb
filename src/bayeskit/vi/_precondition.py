r"""Preconditioning automatic guides with the Laplace approximation.

Adam moves every parameter by about its learning rate per step, whatever the posterior's scale.
When a posterior sd is 0.001 (a regression on unscaled predictors), steps of 0.01 never settle;
when the log density at the start is -1e5, Adam's second-moment estimate stays huge for thousands
of steps after the gradients have shrunk. Both disappear in whitened coordinates.

``fit`` therefore (by default) finds the mode :math:`z^*` with L-BFGS and the Laplace covariance
:math:`H^{-1}` there (as :func:`bayeskit.optimize.laplace`), and fits the guide over
:math:`w` with :math:`z = z^* + P w`: :math:`P` is the Cholesky factor of :math:`H^{-1}` for the
full-rank guide and the diagonal of marginal sds otherwise. In w the Laplace approximation is a
standard normal (with the diagonal P, one with unit variances), so a step of 0.01 is 0.01 posterior sd
in every direction. Each guide starts at its member nearest the Laplace Gaussian: the full-rank
guide at it, the mean-field guide at its conditional variances, the low-rank guide at the best
low-rank-plus-diagonal fit of its correlations (:func:`lowrank_start`). The ELBO is the same
function of the guide (a change of variables; :math:`\log|\det P|` enters log q and log p alike),
and the fitted guide is mapped back to z as an ordinary guide of the same family
(:meth:`Preconditioner.to_z_guide`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.vi.guides import FullRankGuide, Guide, LowRankGuide, MeanFieldGuide, PointMassGuide

__all__ = ["Preconditioner", "laplace_start", "lowrank_start"]


@dataclasses.dataclass(frozen=True, eq=False)
class Preconditioner:
    """The affine map z = shift + P w, with P a vector (diagonal) or a lower-triangular matrix."""

    shift: jax.Array
    factor: jax.Array

    @property
    def is_diagonal(self) -> bool:
        return self.factor.ndim == 1

    @property
    def log_det(self) -> jax.Array:
        diag = self.factor if self.is_diagonal else jnp.diag(self.factor)
        return jnp.sum(jnp.log(jnp.abs(diag)))

    def to_z(self, w):
        return self.shift + (self.factor * w if self.is_diagonal else w @ self.factor.T)

    def moments(self, guide: Guide):
        """The z-space mean, marginal variances and a covariance function of a w-space guide."""
        loc = self.to_z(guide.loc)
        if self.is_diagonal:
            var = self.factor**2 * guide.variance
            return loc, var, lambda: self.factor[:, None] * guide.covariance * self.factor[None, :]
        cov = lambda: self.factor @ guide.covariance @ self.factor.T
        return loc, jnp.diag(cov()), cov

    def to_z_guide(self, guide: Guide) -> Guide:
        """The same distribution as an ordinary guide over z."""
        f = self.factor
        loc = self.to_z(guide.loc)
        if isinstance(guide, PointMassGuide):
            return PointMassGuide(loc)
        if isinstance(guide, MeanFieldGuide) and self.is_diagonal:
            return MeanFieldGuide(loc, f * guide.scale)
        if isinstance(guide, FullRankGuide):
            tril = (f[:, None] * guide.scale_tril) if self.is_diagonal else f @ guide.scale_tril
            return FullRankGuide(loc, tril)
        if isinstance(guide, LowRankGuide) and self.is_diagonal:
            return LowRankGuide(loc, f[:, None] * guide.cov_factor, f * jnp.exp(guide.log_diag_scale))
        raise TypeError(f"Preconditioner: cannot map a {type(guide).__name__} with this factor.")


def laplace_start(key: jax.Array, target, kind: str, rank: int | None = None):
    """Fit the Laplace approximation; return its preconditioner and the whitened initial guide.

    The mode comes from :func:`bayeskit.optimize.point.optimize_target` (L-BFGS, one start, the
    log density with its Jacobian, as :func:`bayeskit.optimize.laplace`); the Hessian is compiled
    rather than evaluated op by op, which matters for models with loops (scans).

    Raises:
        FloatingPointError: no finite mode, or the Hessian there is not negative definite; ``fit``
            then starts without preconditioning.
    """
    from bayeskit._compiled import compiled
    from bayeskit.optimize.point import optimize_target
    from bayeskit.vi.guides import make_guide

    # `fit` has already decided about the disk cache (its `compilation_cache`).
    opt = optimize_target(
        "fit (Laplace start)",
        key,
        target,
        target.logdensity_fn,
        1,
        1000,
        1e-6,
        compilation_cache=False,
        at_edge="raise",  # no mode: fit starts without preconditioning
    )
    hess = compiled("hessian", target.logdensity_fn, jax.hessian)(opt.z)
    precision = -0.5 * (hess + hess.T)
    chol = jnp.linalg.cholesky(precision)
    if not bool(jnp.all(jnp.isfinite(chol))):
        raise FloatingPointError(
            "the negative Hessian at the mode is not positive definite (a saddle, or a flat direction)"
        )
    d = target.dim
    eye = jnp.eye(d, dtype=chol.dtype)
    chol_inv = jax.scipy.linalg.solve_triangular(chol, eye, lower=True)
    cov = chol_inv.T @ chol_inv
    zeros = jnp.zeros((d,), cov.dtype)
    if kind == "fullrank":
        pre = Preconditioner(opt.z, jnp.linalg.cholesky(cov))
        return pre, FullRankGuide(zeros, eye)
    sd = jnp.sqrt(jnp.diag(cov))
    pre = Preconditioner(opt.z, sd)
    if kind == "meanfield":
        # Start at the mean-field optimum of the Laplace Gaussian: conditional sds 1 / sqrt(H_ii).
        return pre, MeanFieldGuide(zeros, 1.0 / (sd * jnp.sqrt(jnp.diag(precision))))
    if kind == "lowrank":
        q = make_guide("lowrank", zeros, init_scale=1.0, rank=rank, key=jax.random.fold_in(key, 1))
        w, diag = lowrank_start(
            np.asarray(cov / (sd[:, None] * sd[None, :])), q.rank, np.asarray(q.cov_factor)
        )
        return pre, LowRankGuide(zeros, jnp.asarray(w, zeros.dtype), jnp.asarray(diag, zeros.dtype))
    return pre, PointMassGuide(zeros)


def _gaussian_kl(cov, corr, precision) -> float:
    """KL(N(0, cov) || N(0, corr)) for a positive-definite ``cov``, with ``precision = corr^-1``."""
    sign, log_det = np.linalg.slogdet(cov)
    if sign <= 0 or not np.isfinite(log_det):
        return float("inf")
    d = corr.shape[0]
    return 0.5 * float(np.sum(precision * cov) - d - log_det + np.linalg.slogdet(corr)[1])


def lowrank_start(corr: np.ndarray, rank: int, jitter: np.ndarray):
    r"""The low-rank-plus-diagonal Gaussian nearest the whitened Laplace Gaussian N(0, corr).

    In the coordinates of the diagonal preconditioner the Laplace covariance is the correlation
    matrix ``corr``. Two closed-form candidates for :math:`W W^\top + D^2`, the one with the
    smaller KL(q || Laplace) wins:

    - the conditional variances :math:`D^2 = 1 / \operatorname{diag}(\mathrm{corr}^{-1})` (the
      mean-field optimum, what the mean-field guide starts from) plus the rank-``r`` correction
      that makes q exact along the ``r`` directions where :math:`D^{-1}\,\mathrm{corr}\,D^{-1}`
      has its largest eigenvalues above 1: never worse than the mean-field start, best when
      ``rank`` is small;
    - probabilistic PCA with a diagonal residual (the top ``r`` eigenvectors, the rest of the
      variance on the diagonal): exact when ``rank`` is near the dimension.

    Starting from uncorrelated marginal variances instead left the correlations for Adam to
    find, from a start worse than the mean-field guide's: thousands of steps on correlated
    posteriors. Columns of W that come out (near) zero keep the small random values of
    ``jitter``: at W = 0 the gradient with respect to W vanishes.
    """
    d = corr.shape[0]
    fallback = (jitter, np.ones(d))
    try:
        return _lowrank_candidates(corr, rank, jitter, fallback)
    except np.linalg.LinAlgError:  # a (numerically) singular Laplace covariance: start as before
        return fallback


def _lowrank_candidates(corr: np.ndarray, rank: int, jitter: np.ndarray, fallback):
    d = corr.shape[0]
    if not np.all(np.isfinite(corr)):
        return fallback
    precision = np.linalg.inv(corr)
    if not (np.all(np.isfinite(precision)) and np.all(np.diag(precision) > 0)):
        return fallback
    candidates = []
    # Conditional variances plus the best rank-r correction.
    d_cond = 1.0 / np.sqrt(np.diag(precision))
    lam, vec = np.linalg.eigh(corr / np.outer(d_cond, d_cond))
    lam, vec = lam[::-1][:rank], vec[:, ::-1][:, :rank]
    candidates.append((d_cond[:, None] * vec * np.sqrt(np.clip(lam - 1.0, 0.0, None)), d_cond))
    # Probabilistic PCA, residual variance on the diagonal (which keeps the marginal variances).
    lam, vec = np.linalg.eigh(corr)
    lam, vec = lam[::-1], vec[:, ::-1]
    rest = lam[rank:].mean() if rank < d else 0.5 * lam[-1]
    w = vec[:, :rank] * np.sqrt(np.clip(lam[:rank] - rest, 0.0, None))
    var = np.diag(corr) - np.sum(w**2, axis=1)
    candidates.append((w, np.sqrt(np.clip(var, 1e-3 * rest, None))))
    best, best_kl = fallback, _gaussian_kl(jitter @ jitter.T + np.eye(d), corr, precision)
    for w, diag in candidates:
        small = np.linalg.norm(w, axis=0) < np.linalg.norm(jitter, axis=0)
        w = np.where(small[None, :], jitter, w)
        kl = _gaussian_kl(w @ w.T + np.diag(diag**2), corr, precision)
        if np.isfinite(kl) and kl < best_kl:
            best, best_kl = (w, diag), kl
    return best
