r"""ELBO estimators: the evidence lower bound, its decomposition, and gradient surrogates.

For a guide :math:`q` and a model :math:`p(\theta, D)`,

.. math::
    \log p(D) \;=\; \underbrace{\mathbb E_q[\log p(D \mid \theta)] - \mathrm{KL}(q \,\|\, p(\theta))}
    _{\mathrm{ELBO}(q)} \;+\; \mathrm{KL}(q \,\|\, p(\theta \mid D)),

so maximising the ELBO both raises a lower bound on the log evidence and pulls q towards the
posterior. Every estimate here is an average over ``num_particles`` draws from q and comes with
its two parts, the expected log likelihood and the KL term (:class:`ELBOTerms`).

Four estimators (``estimator=``); all have the same expectation and differ in their gradients'
variance:

- ``"reparam"``: Monte Carlo for both parts; gradients flow through the draws
  (:math:`\theta = g_\phi(\epsilon)`, the reparameterisation trick; Kingma & Welling 2014).
- ``"stl"`` ("sticking the landing"; Roeder, Wu & Duvenaud 2017): as ``"reparam"``, but log q
  takes its gradient through the draws only, not through the parameters directly (that part has
  mean zero). When q equals the posterior, :math:`\log p(\theta, D) - \log q(\theta)` is the
  constant log p(D), so the gradient is exactly zero: fits of families that contain the
  posterior converge without Monte Carlo jitter. The default of :func:`bayeskit.vi.fit`.
- ``"closed_form_kl"``: the same, but the KL term uses closed forms where guide and prior allow:
  the Gaussian guides' exact entropy (as Stan's ADVI) plus exact expected log priors for sites
  with fixed Normal/MultivariateNormal priors on the real line; for custom guides,
  :func:`bayeskit.dist.kl_divergence` per site where the pair has one. Lower variance, same
  expectation. For the point-mass guide all four are the same.
- ``"score_function"``: no gradient through the draws; the gradient is
  :math:`\mathbb E_q[(f(\theta) - b)\,\nabla_\phi \log q_\phi(\theta)]` with
  :math:`f = \log p(\theta, D) - \log q(\theta)` (Williams 1992; Ranganath, Gerrish & Blei 2014,
  "Black box variational inference"), written as a surrogate objective whose gradient is that
  estimate. Custom guides with discrete sites use it for those sites under any estimator.

The baseline :math:`b` reduces the score-function variance without bias: with two or more
particles it is leave-one-out, :math:`b_s = \frac{1}{S-1}\sum_{j \ne s} f_j` (Mnih & Rezende
2016; Kool et al. 2019); with one particle it is a value the caller passes (``fit`` passes a
running average of past ELBO estimates).

Minibatches: when the model has a plate with ``subsample_size`` and ``minibatch=True``, each
particle scores a random minibatch, scaled by N / batch size, which is unbiased for the
full-data ELBO; ``minibatch=False`` scores all data, as a Target does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bayeskit._checks import check_int
from bayeskit._key import check_key
from bayeskit.vi._auto_elbo import auto_nonfinite_sites, auto_particles, auto_plan
from bayeskit.vi._precondition import Preconditioner
from bayeskit.vi._program import Program, program
from bayeskit.vi._site_elbo import site_nonfinite_sites, site_particles, site_plan
from bayeskit.vi.custom_guide import CustomGuide, check_guide
from bayeskit.vi.guides import Guide

__all__ = ["ESTIMATORS", "ELBOTerms", "ELBOEstimator", "elbo", "elbo_estimator"]

ESTIMATORS = ("reparam", "stl", "closed_form_kl", "score_function")


class ELBOTerms(NamedTuple):
    """An ELBO estimate and its two parts: ``elbo = expected_log_likelihood - kl``.

    Attributes:
        elbo: the evidence lower bound estimate.
        expected_log_likelihood: E_q[log p(data | theta)] (observed sites and factors; minibatch
            estimates are scaled to the full data).
        kl: KL(q || prior) (for the point-mass guide: -log prior, the MAP penalty).
    """

    elbo: jax.Array
    expected_log_likelihood: jax.Array
    kl: jax.Array


class ELBOEstimator(NamedTuple):
    """Pure functions of one ELBO estimator (from :func:`elbo_estimator`).

    Attributes:
        value_fn: ``value_fn(key, guide) -> ELBOTerms``.
        loss_fn: ``loss_fn(key, guide, baseline=0.0) -> (loss, ELBOTerms)``; ``jax.grad`` of
            ``loss`` with respect to the guide is an unbiased estimate of minus the ELBO's
            gradient (score-function terms included).
        particles_fn: ``particles_fn(key, guide) -> (log_likelihood, kl)`` per particle, for
            standard errors.
        nonfinite_sites: ``nonfinite_sites(key, guide) -> [site, ...]``: the sites whose log
            density is not finite at the draws (to explain a non-finite ELBO).
        num_particles: draws per estimate.
    """

    value_fn: Callable
    loss_fn: Callable
    particles_fn: Callable
    nonfinite_sites: Callable
    num_particles: int


def _check_count(fn: str, name: str, value) -> int:
    return check_int(fn, name, value)


def elbo_estimator(
    target,
    guide: Guide | CustomGuide,
    *,
    num_particles: int = 1,
    estimator: str = "reparam",
    minibatch: bool = True,
) -> ELBOEstimator:
    """Build the ELBO estimator of guides shaped like ``guide`` on ``target``.

    Args:
        target: a :class:`~bayeskit.ppl.Target`, or a model function ``model(m)`` with its data
            bound (needed for discrete latent sites, which a Target cannot hold).
        guide: an automatic guide (:class:`MeanFieldGuide`, ...) or a :class:`CustomGuide`; the
            functions take any guide with the same structure (e.g. after optimisation steps).
        num_particles: draws from the guide per estimate.
        estimator: ``"reparam"``, ``"stl"``, ``"closed_form_kl"`` or ``"score_function"``
            (module docstring).
        minibatch: score subsampled plates on a random minibatch (scaled by N / batch size).

    Example:
        >>> est = elbo_estimator(t, guide, num_particles=8)
        >>> loss, terms = est.loss_fn(key, guide)
        >>> grads = jax.grad(lambda g: est.loss_fn(key, g)[0])(guide)
    """
    fn = "elbo_estimator"
    return build_estimator(fn, program(fn, target), guide, num_particles, estimator, minibatch)


def build_estimator(
    fn: str,
    prog: Program,
    guide,
    num_particles: int,
    estimator: str,
    minibatch: bool,
    precondition: Preconditioner | None = None,
) -> ELBOEstimator:
    """:func:`elbo_estimator` for an already built :class:`Program` (errors name ``fn``).

    With ``precondition``, automatic guides live on whitened coordinates w, z = shift + P w.
    """
    num_particles = _check_count(fn, "num_particles", num_particles)
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"{fn}: unknown estimator {estimator!r}; choose one of {', '.join(map(repr, ESTIMATORS))}."
        )
    if isinstance(guide, CustomGuide):
        check_guide(guide, prog)
        plan = site_plan(prog, guide, estimator, minibatch)
        particles = lambda key, g: site_particles(plan, key, g, num_particles)
        bad_sites = lambda key, g: site_nonfinite_sites(plan, key, g, num_particles)
    elif isinstance(guide, Guide):
        if prog.target is None:
            raise ValueError(
                f"{fn}: model `{prog.name}` has discrete latent site(s) "
                f"{[s.name for s in prog.latent if s.is_discrete]}; automatic guides live on the "
                "continuous unconstrained vector. Write a custom guide that draws them."
            )
        plan = auto_plan(prog, guide, estimator, minibatch, precondition)
        particles = lambda key, g: auto_particles(plan, key, g, num_particles)
        bad_sites = lambda key, g: auto_nonfinite_sites(plan, key, g, num_particles)
    else:
        hint = ""
        if isinstance(getattr(guide, "guide", None), Guide | CustomGuide):
            hint = " (for the result of fit, pass its fitted guide, `result.guide`)"
        raise TypeError(f"{fn}: `guide` must be a bayeskit.vi guide, got {type(guide).__name__}{hint}.")
    needs_score = plan.needs_score

    def loss_fn(key, guide, baseline=0.0):
        lik, kl, score = particles(key, guide)
        f = lik - kl
        surrogate = f
        if needs_score:
            if num_particles > 1:
                b = (jnp.sum(f) - f) / (num_particles - 1)  # leave-one-out: independent of draw s
            else:
                b = baseline
            centred = jax.lax.stop_gradient(f - b)
            surrogate = f + centred * (score - jax.lax.stop_gradient(score))  # value f, grad adds score term
        terms = ELBOTerms(jnp.mean(f), jnp.mean(lik), jnp.mean(kl))
        return -jnp.mean(surrogate), terms

    def value_fn(key, guide):
        return loss_fn(key, guide)[1]

    def particles_fn(key, guide):
        lik, kl, _ = particles(key, guide)
        return lik, kl

    return ELBOEstimator(value_fn, loss_fn, particles_fn, bad_sites, num_particles)


def elbo(
    key: jax.Array,
    target,
    guide: Guide | CustomGuide,
    *,
    num_particles: int = 100,
    estimator: str = "reparam",
    minibatch: bool = False,
) -> ELBOTerms:
    """Estimate the ELBO of ``guide`` on ``target`` and its two parts, with ``num_particles`` draws.

    ELBO = E_q[log p(data | theta)] - KL(q || p(theta)) <= log p(data).

    Args:
        key: a ``jax.random`` key.
        target: a Target, or a model function ``model(m)`` with its data bound.
        guide: a fitted guide, e.g. ``fit(...).guide``.
        num_particles: draws from the guide.
        estimator: ``"reparam"`` (plain Monte Carlo), ``"closed_form_kl"`` (exact KL terms
            where they exist), or ``"stl"`` / ``"score_function"`` (the same values as
            ``"reparam"``: they differ in gradients only).
        minibatch: score subsampled plates on random minibatches (default: all the data).

    Returns:
        :class:`ELBOTerms` ``(elbo, expected_log_likelihood, kl)``.

    Example:
        >>> result = fit(jax.random.key(0), t, guide="fullrank")
        >>> elbo(jax.random.key(1), t, result.guide, num_particles=1000)
        ELBOTerms(elbo=Array(-37.1...), expected_log_likelihood=..., kl=...)
    """
    key = check_key(key, "elbo")
    est = build_estimator("elbo", program("elbo", target), guide, num_particles, estimator, minibatch)
    return jax.jit(est.value_fn)(key, guide)
