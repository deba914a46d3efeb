"""Markov chain Monte Carlo: kernels, warmup adaptation and the multi-chain driver.

Every kernel follows one pattern: a factory returns ``Kernel(init, step)`` with
``init(position) -> state`` and ``step(key, state) -> (state, info)``. The driver
:func:`sample` runs them for you, with Stan's windowed warmup, many chains and diagnostics.
"""

from bayeskit.mcmc._kernel import HMCState, Kernel
from bayeskit.mcmc.adaptation import (
    DualAveragingState,
    WelfordState,
    default_term_buffer,
    dual_averaging_init,
    dual_averaging_step_size,
    dual_averaging_update,
    initial_inverse_mass,
    pool_inverse_mass,
    step_size_correction,
    warmup_schedule,
    welford_covariance,
    welford_init,
    welford_update,
)
from bayeskit.mcmc.gibbs import GibbsBlock, GibbsInfo, gibbs
from bayeskit.mcmc.gibbs_conditionals import (
    gaussian_mixture_blocks,
    hierarchical_normal_blocks,
    linear_regression_blocks,
)
from bayeskit.mcmc.hmc import HMCInfo, hmc
from bayeskit.mcmc.integrators import IntegratorState, leapfrog
from bayeskit.mcmc.metrics import Metric, gaussian_euclidean
from bayeskit.mcmc.nuts import NUTSInfo, nuts
from bayeskit.mcmc.rwmh import RWMHInfo, RWMHState, rwmh
from bayeskit.mcmc.rwmh_adaptation import optimal_acceptance_rate, rwmh_warmup
from bayeskit.mcmc.sample import KERNELS, sample

__all__ = [
    "KERNELS",
    "DualAveragingState",
    "GibbsBlock",
    "GibbsInfo",
    "HMCInfo",
    "HMCState",
    "IntegratorState",
    "Kernel",
    "Metric",
    "NUTSInfo",
    "RWMHInfo",
    "RWMHState",
    "WelfordState",
    "default_term_buffer",
    "dual_averaging_init",
    "dual_averaging_step_size",
    "dual_averaging_update",
    "gaussian_euclidean",
    "gaussian_mixture_blocks",
    "gibbs",
    "hierarchical_normal_blocks",
    "hmc",
    "initial_inverse_mass",
    "leapfrog",
    "linear_regression_blocks",
    "nuts",
    "optimal_acceptance_rate",
    "pool_inverse_mass",
    "rwmh",
    "rwmh_warmup",
    "sample",
    "step_size_correction",
    "warmup_schedule",
    "welford_covariance",
    "welford_init",
    "welford_update",
]
