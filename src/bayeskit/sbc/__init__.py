"""Simulation-based calibration: does an inference algorithm recover the prior from its posteriors?

Draw parameters from the prior, simulate data from them, fit, and rank each true value among the
posterior draws; over many simulations the ranks are uniform when the posteriors are right
(Talts et al. 2018). :func:`run` does all of it; :class:`SBCResult` tests and draws the ranks.

Choices:

- **Compiled once.** A :class:`~bayeskit.ppl.Target` holds its data as constants, so a new data
  set would mean a new compilation. Here the observed sites read their values from an argument
  of the model instead (:mod:`bayeskit.sbc.simulate`), so one program — simulate, start, warm up,
  sample, rank — is traced and compiled once per run and ``vmap``-ed over simulations times chains
  (one flat axis: nested vmaps compile much more slowly), in batches, split over devices when
  there are several.
- **What users run.** The named kernels (``nuts``, ``hmc``, ``rwmh``) go through the same start-up,
  windowed warmup and kernel loop as :func:`bayeskit.mcmc.sample`. Gibbs kernels take their data
  when built, so ``kernel`` may be a builder ``make_kernel(data) -> Kernel`` whose state is a dict
  of the model's latent site values; its chains start at independent prior draws.
- **Quantities.** Every scalar element of every latent site and deterministic (``theta[3]``);
  ties (discrete quantities) are broken at random, which keeps ranks uniform.
- **Independence.** Autocorrelated draws make rank histograms over-dispersed, so draws are thinned
  (by default to about 100 in all); ``summary()`` reports the kept draws' bulk ESS over their
  number, which should be near 1.
- **Tests.** Pearson's chi-square on ranks binned into up to 20 bins of consecutive values
  (about ten expected per bin), its p-value from the regularised incomplete gamma function (no
  scipy at run time); the run's verdict is Bonferroni-combined over quantities,
  ``min(1, Q * min p)``, valid however the quantities depend on each other.

Example:
    >>> result = bayeskit.sbc.run(jax.random.key(0), model, 10, observed="y", num_simulations=200)
    >>> result.summary()
    >>> result.passes(alpha=0.01)

References:
    Talts, Betancourt, Simpson, Vehtari & Gelman (2018), "Validating Bayesian inference algorithms
    with simulation-based calibration", arXiv:1804.06788.
"""

from bayeskit.sbc.result import SBCResult
from bayeskit.sbc.run import run
from bayeskit.sbc.uniformity import rank_statistics, uniformity_test

__all__ = ["SBCResult", "rank_statistics", "run", "uniformity_test"]
