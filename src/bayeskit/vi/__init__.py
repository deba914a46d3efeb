"""Variational inference: ELBO estimators, guides, and the SVI driver ``fit``.

:func:`fit` maximises the evidence lower bound over a guide (a family of distributions) by
stochastic gradient ascent and returns a :class:`VIResult` whose ``sample`` gives a
:class:`~bayeskit.Posterior`. Guides: ``"meanfield"`` (ADVI), ``"fullrank"``, ``"lowrank"``,
``"map"`` (a point mass), or a guide function in the model language (:class:`CustomGuide`).
ELBO estimators (:func:`elbo`, :func:`elbo_estimator`): reparameterised Monte Carlo, closed-form
KL terms where they exist, and the score function (with a baseline) for discrete sites. The
decomposition log p(D) = ELBO + KL(q || posterior) is :func:`decompose_evidence`.

Example:
    >>> t = bayeskit.ppl.target(model, x, y=y)
    >>> result = bayeskit.vi.fit(jax.random.key(0), t, guide="fullrank", num_steps=5000)
    >>> result.elbo                       # per step; also .expected_log_likelihood and .kl
    >>> result.sample(jax.random.key(1), 2000).summary()
"""

from bayeskit.vi.custom_guide import CustomGuide, check_guide, custom_guide
from bayeskit.vi.elbo import ESTIMATORS, ELBOEstimator, ELBOTerms, elbo, elbo_estimator
from bayeskit.vi.evidence import EvidenceDecomposition, decompose_evidence
from bayeskit.vi.fit import default_optimizer, fit
from bayeskit.vi.guides import (
    GUIDES,
    FullRankGuide,
    Guide,
    LowRankGuide,
    MeanFieldGuide,
    PointMassGuide,
    make_guide,
)
from bayeskit.vi.result import VIResult

__all__ = [
    "ESTIMATORS",
    "GUIDES",
    "CustomGuide",
    "ELBOEstimator",
    "ELBOTerms",
    "EvidenceDecomposition",
    "FullRankGuide",
    "Guide",
    "LowRankGuide",
    "MeanFieldGuide",
    "PointMassGuide",
    "VIResult",
    "check_guide",
    "custom_guide",
    "decompose_evidence",
    "default_optimizer",
    "elbo",
    "elbo_estimator",
    "fit",
    "make_guide",
]
