r"""The evidence identity at work: log p(D) = ELBO(q) + KL(q || p(theta | D)).

For any guide q, the log evidence splits exactly into the ELBO and the KL divergence from q to
the posterior. The ELBO is what VI can estimate; the KL to the posterior is what it cannot see
directly, but when log p(D) is known (conjugate models: ``bayeskit.conjugate``'s
``log_marginal_likelihood``) it is the gap, ``log p(D) - ELBO``. Without a known evidence,
importance sampling with q as proposal gives another estimate,
:math:`\log \frac1S \sum_s p(\theta_s, D) / q(\theta_s)`: a tighter lower bound than the ELBO in
expectation (Burda, Grosse & Salakhutdinov 2016), so the gap it implies is a lower estimate of
the KL.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayeskit._checks import as_real_scalar
from bayeskit._key import check_key
from bayeskit.vi._program import program
from bayeskit.vi.custom_guide import CustomGuide
from bayeskit.vi.elbo import build_estimator
from bayeskit.vi.guides import Guide, PointMassGuide

__all__ = ["EvidenceDecomposition", "decompose_evidence"]


class EvidenceDecomposition(NamedTuple):
    """log p(D) = ELBO + KL(q || posterior), with the ELBO's own two parts.

    Attributes:
        log_evidence: log p(D): the one given, else the importance-sampling estimate.
        elbo: the ELBO estimate; ``elbo = expected_log_likelihood - kl_to_prior``.
        elbo_standard_error: its Monte Carlo standard error.
        expected_log_likelihood: E_q[log p(D | theta)].
        kl_to_prior: KL(q || p(theta)).
        kl_to_posterior: KL(q || p(theta | D)) = log_evidence - elbo.
        importance_log_evidence: log mean_s p(theta_s, D) / q(theta_s), theta_s ~ q.
    """

    log_evidence: float
    elbo: float
    elbo_standard_error: float
    expected_log_likelihood: float
    kl_to_prior: float
    kl_to_posterior: float
    importance_log_evidence: float


def decompose_evidence(
    key: jax.Array,
    target,
    guide: Guide | CustomGuide,
    *,
    log_evidence: float | None = None,
    num_particles: int = 10_000,
) -> EvidenceDecomposition:
    """Split log p(D) into the ELBO of ``guide`` and its KL divergence to the posterior.

    Args:
        key: a ``jax.random`` key.
        target: the Target (or model function) the guide was fitted to; all data are scored.
        guide: a fitted guide, e.g. ``fit(...).guide`` (not a point mass: it has no density).
        log_evidence: the exact log p(D), if known; otherwise the importance-sampling estimate
            stands in for it.
        num_particles: draws from the guide.

    Raises:
        ValueError: ``log_evidence`` is not a finite real number; the guide is a point mass; a custom
            guide does not draw exactly the model's latent sites (naming them).

    Example:
        >>> exact = NormalNormal(0.0, 1.0, 0.5).log_marginal_likelihood(y)
        >>> d = decompose_evidence(key, t, result.guide, log_evidence=float(exact))
        >>> d.elbo + d.kl_to_posterior == d.log_evidence
    """
    key = check_key(key, "vi.decompose_evidence")
    if log_evidence is not None:
        given = as_real_scalar(log_evidence)
        if given is None or not np.isfinite(given):
            raise ValueError(
                f"decompose_evidence: `log_evidence` must be a finite real number (the exact log p(D)) "
                f"or None (to use the importance-sampling estimate), got {log_evidence!r}."
            )
        log_evidence = given
    prog = program("decompose_evidence", target)
    if isinstance(guide, PointMassGuide):
        raise ValueError(
            "decompose_evidence: a point-mass guide has no density, so its ELBO does not bound log p(D); "
            "fit a Gaussian or custom guide."
        )
    est = build_estimator("decompose_evidence", prog, guide, num_particles, "reparam", False)
    lik, kl = jax.device_get(jax.jit(est.particles_fn)(key, guide))
    log_w = np.asarray(lik) - np.asarray(kl)  # log p(theta, D) - log q(theta) per draw
    elbo = float(log_w.mean())
    se = float(log_w.std(ddof=1) / math.sqrt(log_w.size)) if log_w.size > 1 else float("nan")
    importance = float(jax.scipy.special.logsumexp(jnp.asarray(log_w)) - math.log(log_w.size))
    evidence = importance if log_evidence is None else float(log_evidence)
    return EvidenceDecomposition(
        log_evidence=evidence,
        elbo=elbo,
        elbo_standard_error=se,
        expected_log_likelihood=float(np.mean(lik)),
        kl_to_prior=float(np.mean(kl)),
        kl_to_posterior=evidence - elbo,
        importance_log_evidence=importance,
    )
