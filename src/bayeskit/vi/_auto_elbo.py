r"""ELBO particles for the automatic guides, which live on the target's unconstrained vector z.

With :math:`p(z, D) = p(\theta(z), D)\,|\det J(z)|` the model's density over z,

.. math::
    \mathrm{ELBO}(q) = \mathbb E_q[\log p(D \mid \theta(z))]
    - \underbrace{\mathbb E_q[\log q(z) - \log p(\theta(z)) - \log|\det J(z)|]}_{\mathrm{KL}(q \,\|\, p(z))}.

Each particle is one draw z ~ q. Per particle this module returns the log likelihood (observed
sites and factors, minibatch-scaled), the KL term, and the log q of draws whose gradient comes
from the score function. The KL term is a Monte Carlo estimate (``"reparam"``,
``"score_function"``) or, with ``"closed_form_kl"``, uses the Gaussian guide's exact entropy and,
for every site on the real line whose prior is a Normal or MultivariateNormal with parameters
that do not depend on other latent sites, the exact expected log prior
:math:`\mathbb E_q[\log \mathcal N(z_b \mid m, S)] = -\tfrac12\big(k\log 2\pi + \log|S|
+ \operatorname{tr}(S^{-1}\Sigma_b) + (\mu_b - m)^\top S^{-1}(\mu_b - m)\big)`
from the guide's block :math:`(\mu_b, \Sigma_b)`. When every site qualifies, the whole KL is
exact and only the likelihood is sampled.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist._distribution import ExpandedDistribution
from bayeskit.dist._independent import Independent
from bayeskit.dist.multivariate_normal import MultivariateNormal
from bayeskit.dist.normal import Normal
from bayeskit.vi._precondition import Preconditioner
from bayeskit.vi._program import Program, depends_on_input
from bayeskit.vi.guides import Guide, PointMassGuide

__all__ = ["AutoPlan", "auto_plan", "auto_particles", "auto_nonfinite_sites"]

_LOG_2PI = math.log(2 * math.pi)


def _unwrap(d):
    while isinstance(d, ExpandedDistribution | Independent):
        d = d.base
    return d


@dataclasses.dataclass(frozen=True, eq=False)
class AutoPlan:
    """What one ELBO evaluation does, decided once: estimator, minibatching, exact KL sites."""

    program: Program
    estimator: str
    minibatch: bool
    closed: tuple[str, ...]
    is_point_mass: bool
    precondition: Preconditioner | None = None  # the guide lives on w, z = shift + P w

    @property
    def needs_score(self) -> bool:
        return self.estimator == "score_function" and not self.is_point_mass


def _fixed_gaussian_sites(program: Program) -> tuple[str, ...]:
    """Latent sites whose prior is a Normal/MVN on the real line not depending on other latents."""
    t = program.target

    def probe(z):
        tr, _ = program.run(z=z, full_data=True)
        return {s.name: tr[s.name].distribution for s in t.sites}

    dists = jax.eval_shape(probe, jnp.zeros((t.dim,)))
    depends = depends_on_input(probe, jnp.zeros((t.dim,)))
    return tuple(
        s.name
        for s in t.sites
        if isinstance(_unwrap(dists[s.name]), Normal | MultivariateNormal)
        and not any(jax.tree.leaves(depends[s.name]))
    )


def auto_plan(
    program: Program,
    guide: Guide,
    estimator: str,
    minibatch: bool,
    precondition: Preconditioner | None = None,
) -> AutoPlan:
    """Decide how to evaluate the ELBO of ``guide`` on ``program``; check the guide's size."""
    t = program.target
    if guide.dim != t.dim:
        raise ValueError(
            f"guide: the guide has dim {guide.dim} but model `{program.name}` has {t.dim} unconstrained "
            f"coordinates ({', '.join(f'{s.name}{list(s.shape)}' for s in t.sites)})."
        )
    minibatch = bool(minibatch and program.is_subsampled)
    if minibatch:
        _check_no_local_latents(program)
    is_point = isinstance(guide, PointMassGuide)
    closed = ()
    if estimator == "closed_form_kl" and not is_point:
        closed = _fixed_gaussian_sites(program)
    return AutoPlan(program, estimator, minibatch, closed, is_point, precondition)


def _check_no_local_latents(program: Program) -> None:
    """An automatic guide covers the full-size latent vector: no latent site may be subsampled."""
    if program.local_latent:
        raise ValueError(
            f"guide: latent site(s) {list(program.local_latent)} of model `{program.name}` are inside a "
            "subsampled plate, so each minibatch sees only some of their entries, while an automatic "
            "guide covers all of them. Write a custom guide that draws them in the same plate (m.plate "
            "with subsample_size), or drop subsample_size."
        )


def _expected_log_prior(loc, variance, covariance_fn, info, d) -> jax.Array:
    """E_q[log p_b(z_b)] in closed form for a Normal or MultivariateNormal prior on site block b.

    ``loc`` and ``variance`` are the guide's mean and marginal variances over all of z;
    ``covariance_fn()`` gives its covariance (needed only for a MultivariateNormal prior).
    """
    idx = info.offset + np.arange(info.size)
    mu = loc[idx]
    base = _unwrap(d)
    if isinstance(base, Normal):
        m = jnp.broadcast_to(base.loc, info.shape).reshape(-1)
        s = jnp.broadcast_to(base.scale, info.shape).reshape(-1)
        var = variance[idx]
        return jnp.sum(-0.5 * (_LOG_2PI + 2.0 * jnp.log(s) + (var + (mu - m) ** 2) / s**2))
    k = info.shape[-1]
    nb = info.size // k
    m = jnp.broadcast_to(base.loc, info.shape).reshape(nb, k)
    L = jnp.broadcast_to(base.scale_tril, tuple(info.shape[:-1]) + (k, k)).reshape(nb, k, k)
    blocks = idx.reshape(nb, k)
    cov = covariance_fn()[blocks[:, :, None], blocks[:, None, :]]
    diff = jax.scipy.linalg.solve_triangular(L, (mu.reshape(nb, k) - m)[..., None], lower=True)[..., 0]
    a = jax.scipy.linalg.solve_triangular(L, cov, lower=True)  # L^-1 C
    trace = jnp.trace(
        jax.scipy.linalg.solve_triangular(L, jnp.swapaxes(a, -1, -2), lower=True), axis1=-2, axis2=-1
    )
    half_log_det = jnp.sum(jnp.log(jnp.diagonal(L, axis1=-2, axis2=-1)), -1)
    return jnp.sum(-0.5 * (k * _LOG_2PI + trace + jnp.sum(diff**2, -1)) - half_log_det)


def auto_particles(plan: AutoPlan, key: jax.Array, guide: Guide, num_particles: int):
    """Per-particle (log likelihood, KL term, score log q), each of shape ``(num_particles,)``."""
    program, t = plan.program, plan.program.target
    # Few key operations: each one is a threefry hash that costs compile time in every step.
    if plan.minibatch:
        k_z, k_data = jax.random.split(key)
        data_keys = jax.random.split(k_data, num_particles)
    else:
        k_z, data_keys = key, jnp.zeros((num_particles,))
    w = guide.sample(k_z, (num_particles,))
    if plan.needs_score:
        w = jax.lax.stop_gradient(w)
    pre = plan.precondition
    z = w if pre is None else pre.to_z(w)
    log_det = 0.0 if pre is None else pre.log_det  # log q(z) = log q(w) - log |det P|
    closed = set(plan.closed)

    def one(zz, kk):
        tr, log_jac = program.run(z=zz, key=kk if plan.minibatch else None, full_data=not plan.minibatch)
        lik = jnp.zeros((), zz.dtype)
        prior = jnp.zeros((), zz.dtype)
        for s in tr.values():
            if s.kind == "sample" and not s.is_observed:
                if s.name not in closed:
                    prior = prior + s.log_prob
            elif s.kind in ("sample", "factor"):
                lik = lik + s.log_prob
        return lik, prior, log_jac, {n: tr[n].distribution for n in plan.closed}

    lik, prior, log_jac, dists = jax.vmap(one)(z, data_keys)
    if plan.is_point_mass:
        # No entropy, no Jacobian: the objective is the log joint of the constrained values (MAP).
        return lik, -prior, jnp.zeros_like(lik)
    if plan.estimator == "closed_form_kl":
        infos = {s.name: s for s in t.sites}
        if pre is None:
            moments = (guide.loc, guide.variance, lambda: guide.covariance)
        else:
            moments = pre.moments(guide)
        cross = sum(
            (
                _expected_log_prior(*moments, infos[n], jax.tree.map(lambda x: x[0], dists[n]))
                for n in plan.closed
            ),
            jnp.zeros((), z.dtype),
        )
        kl = -(guide.entropy() + log_det) - cross - prior - log_jac
        return lik, kl, jnp.zeros_like(lik)
    log_q = guide.log_prob(w) - log_det
    if plan.estimator == "stl":
        # "Sticking the landing": log q's own parameter gradient has mean zero, so drop it; the
        # draws keep theirs. At an exact fit the gradient is then exactly zero.
        log_q = jax.lax.stop_gradient(guide).log_prob(w) - log_det
    kl = log_q - prior - log_jac
    return lik, kl, (log_q if plan.needs_score else jnp.zeros_like(lik))


def auto_nonfinite_sites(plan: AutoPlan, key: jax.Array, guide: Guide, num_particles: int) -> list[str]:
    """Name the sites whose log density is not finite at the first bad particle (for errors)."""
    k_z = jax.random.split(key)[0] if plan.minibatch else key
    z = guide.sample(k_z, (num_particles,))
    if plan.precondition is not None:
        z = plan.precondition.to_z(z)
    z = np.asarray(z)
    t = plan.program.target
    values = np.asarray(jax.jit(jax.vmap(t.logdensity_fn))(jnp.asarray(z)))
    bad = np.flatnonzero(~np.isfinite(values))
    zz = z[bad[0]] if bad.size else z[0]
    return t.nonfinite_sites(jnp.asarray(zz))
