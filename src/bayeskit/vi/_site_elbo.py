r"""ELBO particles for custom guides, which draw the model's latent sites by name.

Guide and model are densities over the same constrained values :math:`\theta`, so no Jacobian
enters:

.. math::
    \mathrm{ELBO} = \mathbb E_q[\log p(D \mid \theta)]
    - \sum_{\text{sites } n} \mathbb E_q[\log q_n(\theta_n \mid \cdot) - \log p_n(\theta_n \mid \cdot)].

One particle runs the guide with a key (drawing every site, reparameterised where the
distribution allows), then the model at the guide's values with the same key, so that a plate
with ``subsample_size`` picks the same minibatch in both and scales both by N / batch size.

With ``"closed_form_kl"``, a site's term is :math:`\mathrm{KL}(q_n \| p_n)` from
:func:`bayeskit.dist.kl_divergence` when neither distribution depends on another latent site
(checked once, by running guide and model at NaN values) and the pair has a closed form; other
sites keep the Monte Carlo term. Draws that are not reparameterisable (discrete sites, or every
site with ``"score_function"``) return their log q as the score term of the surrogate objective.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit.dist._distribution import ExpandedDistribution
from bayeskit.dist._independent import Independent
from bayeskit.dist.kl import kl_divergence
from bayeskit.vi._program import Program, depends_on_input
from bayeskit.vi.custom_guide import CustomGuide

__all__ = ["SitePlan", "site_plan", "site_particles", "site_nonfinite_sites"]


def _reparameterised(d) -> bool:
    while isinstance(d, ExpandedDistribution | Independent):
        d = d.base
    return bool(d.has_rsample and not d.is_discrete)


@dataclasses.dataclass(frozen=True, eq=False)
class SitePlan:
    """What one ELBO evaluation does for a custom guide, decided once."""

    program: Program
    estimator: str
    minibatch: bool
    closed: tuple[str, ...]  # sites with an exact KL term
    scored: tuple[str, ...]  # sites whose gradient comes from the score function

    @property
    def needs_score(self) -> bool:
        return bool(self.scored)


def _site_dists(program: Program, guide: CustomGuide):
    """Each latent site's guide and prior distribution, and whether they depend on the draws."""
    names = [s.name for s in program.latent]

    def probe(values):
        gtr = guide.run(program, values=values, full_data=True)
        mtr, _ = program.run(values=values, full_data=True)
        return {n: gtr[n].distribution for n in names}, {n: mtr[n].distribution for n in names}

    values = {s.name: jnp.zeros(s.shape) for s in program.latent}
    return jax.eval_shape(probe, values), depends_on_input(probe, values)


def site_plan(program: Program, guide: CustomGuide, estimator: str, minibatch: bool) -> SitePlan:
    """Decide how to evaluate the ELBO of a custom guide: exact KL sites and scored sites."""
    minibatch = bool(minibatch and program.is_subsampled)
    (gdists, mdists), (gdep, mdep) = _site_dists(program, guide)
    names = [s.name for s in program.latent]
    if estimator == "score_function":
        scored = tuple(names)
    else:
        scored = tuple(n for n in names if not _reparameterised(gdists[n]))
    closed = []
    if estimator == "closed_form_kl":
        for n in names:
            q, p = gdists[n], mdists[n]
            if any(jax.tree.leaves((gdep[n], mdep[n]))):
                continue
            try:
                jax.eval_shape(kl_divergence, q, p)
            except (NotImplementedError, ValueError, TypeError):
                continue
            closed.append(n)
    return SitePlan(program, estimator, minibatch, tuple(closed), scored)


def site_particles(plan: SitePlan, key: jax.Array, guide: CustomGuide, num_particles: int):
    """Per-particle (log likelihood, KL term, score log q), each of shape ``(num_particles,)``."""
    program = plan.program
    names = [s.name for s in program.latent]
    closed, scored = set(plan.closed), set(plan.scored)
    full = not plan.minibatch
    score_all = plan.estimator == "score_function"

    def one(k):
        gtr = guide.run(program, key=k, full_data=full)
        values = {n: gtr[n].value for n in names}
        if score_all:
            # No gradient through the draws: re-score them, so log q carries the parameters' gradient.
            values = jax.lax.stop_gradient(values)
            gtr = guide.run(program, key=k, values=values, full_data=full)
        scoring = gtr  # the score term needs log q's gradient in the parameters
        if plan.estimator == "stl":
            # Sticking the landing: log q through the draws only, not through the parameters.
            frozen = CustomGuide(guide.fn, jax.lax.stop_gradient(guide.params), guide.constraints,
                                 guide.takes_model_args)  # fmt: skip
            gtr = frozen.run(program, key=k, values=values, full_data=full)
        mtr, _ = program.run(key=k, values=values, full_data=full)
        dtype = jnp.result_type(float)
        lik, kl, score = jnp.zeros((), dtype), jnp.zeros((), dtype), jnp.zeros((), dtype)
        for s in mtr.values():
            if (s.kind == "sample" and s.is_observed) or s.kind == "factor":
                lik = lik + s.log_prob
        for n in names:
            g, m = gtr[n], mtr[n]
            if n in closed:
                kl = kl + jnp.sum(kl_divergence(g.distribution, m.distribution)) * g.scale
            else:
                kl = kl + g.log_prob - m.log_prob
            if n in scored:
                score = score + scoring[n].log_prob
        return lik, kl, score

    return jax.vmap(one)(jax.random.split(key, num_particles))


def site_nonfinite_sites(plan: SitePlan, key: jax.Array, guide: CustomGuide, num_particles: int) -> list[str]:
    """Name the guide and model sites whose log density is not finite at the first bad particle."""
    program = plan.program
    names = [s.name for s in program.latent]
    bad: list[str] = []
    for k in jax.random.split(key, num_particles):
        gtr = guide.run(program, key=k, full_data=True)
        values = {n: gtr[n].value for n in names}
        try:
            mtr, _ = program.run(values=values, full_data=True)
        except ValueError as err:  # a distribution refused a non-finite parameter: say so
            return [f"(the model could not be evaluated at the guide's draw: {err})"]
        bad = [f"{n} (guide)" for n in names if not np.all(np.isfinite(np.asarray(gtr[n].log_prob)))]
        bad += [
            n
            for n, s in mtr.items()
            if s.kind in ("sample", "factor") and not np.all(np.isfinite(np.asarray(s.log_prob)))
        ]
        if bad:
            break
    return bad
