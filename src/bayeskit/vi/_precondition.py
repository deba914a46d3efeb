r"""Preconditioning automatic guides with the Laplace approximation.

Adam moves every parameter by about its learning rate per step, whatever the posterior's scale.
When a posterior sd is 0.001 (a regression on unscaled predictors), steps of 0.01 never settle;
when the log density at the start is -1e5, Adam's second-moment estimate stays huge for thousands
of steps after the gradients have shrunk. Both disappear in whitened coordinates.

``fit`` therefore (by default) finds the mode :math:`z^*` with L-BFGS and the Laplace covariance
:math:`H^{-1}` there (as :func:`bayeskit.optimize.laplace`), and fits the guide over
:math:`w` with :math:`z = z^* + P w`: :math:`P` is the Cholesky factor of :math:`H^{-1}` for the
full-rank guide and the diagonal of marginal sds otherwise. In w the Laplace approximation is a
standard normal, so a step of 0.01 is 0.01 posterior sd in every direction. The ELBO is the same
function of the guide (a change of variables; :math:`\log|\det P|` enters log q and log p alike),
and the fitted guide is mapped back to z as an ordinary guide of the same family
(:meth:`Preconditioner.to_z_guide`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from bayeskit.vi.guides import FullRankGuide, Guide, LowRankGuide, MeanFieldGuide, PointMassGuide

__all__ = ["Preconditioner", "laplace_start"]


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
    from bayeskit.optimize.point import optimize_target
    from bayeskit.vi.guides import make_guide

    opt = optimize_target("fit (Laplace start)", key, target, target.logdensity_fn, 1, 1000, 1e-6)
    hess = jax.jit(jax.hessian(target.logdensity_fn))(opt.z)
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
        return pre, make_guide("lowrank", zeros, init_scale=1.0, rank=rank, key=jax.random.fold_in(key, 1))
    return pre, PointMassGuide(zeros)
