"""XLA compiler options for bayeskit's own long programs: compile time first, on a CPU.

A sampler's first run on a CPU is mostly XLA compiling its program (hundreds of small fused
kernels: NUTS, the warmup, the recording of draws). XLA's newer CPU fusion emitters make kernels
that are sometimes a little faster but take longer to generate; with the older ones the four
``benchmarks/mcmc_peers.py`` models compiled 25-40% faster for loops 0-13% slower, and sampled
1.1-1.5x more effective draws per second of wall time, cold (``benchmarks/chain_layout.py``'s
runs, this project's 2-core machine).

A program that runs once per call, such as the sampler's start (each chain's candidate points
evaluated once), gains nothing from LLVM's optimisations: it compiles at backend optimisation
level 0 (``run_once_compile_options``). On the hierarchical benchmark model its compile went from
0.6-0.8 s to 0.23 s, and since it compiles beside the chunk loop on two cores, the run's wall time
fell by 0.3 s (median of 6 interleaved runs each: 2.58 vs 2.92 s).

The sampler's main loop keeps LLVM's default optimisation. At level 0 it compiled 35-45% faster
but its loops ran 2.5-3x slower: ESS per second of the whole cold run (median of two, the same
machine) went 2,069 -> 2,243 on the 100-d Gaussian and 1,641 -> 1,753 on eight schools, but 1,203 ->
608 on logistic regression and 554 -> 460 on the hierarchical model; levels 1 and 2 fell in between
(2026-11-30).

The options are passed per program (``jax.jit(..., compiler_options=...)``), so a user's own JAX
code is untouched; ``BAYESKIT_XLA_OPTIONS=off`` in the environment turns them off, and a jaxlib
that no longer knows an option simply does not get it.
"""

from __future__ import annotations

import functools
import os

import jax
import numpy as np

__all__ = ["run_once_compile_options", "sampler_compile_options"]

_FAST_COMPILE_CPU = {"xla_cpu_use_fusion_emitters": False}
_RUN_ONCE_CPU = {**_FAST_COMPILE_CPU, "xla_backend_optimization_level": 0}
_OFF = {"0", "off", "false", "no"}


@functools.cache
def _accepted(options: tuple) -> bool:
    try:
        jax.jit(lambda x: x + 1).lower(np.float32(0)).compile(compiler_options=dict(options))
    except Exception:  # an option this jaxlib does not know: compile without it
        return False
    return True


def _cpu_options(wanted: dict) -> dict:
    if os.environ.get("BAYESKIT_XLA_OPTIONS", "").strip().lower() in _OFF:
        return {}
    if jax.default_backend() != "cpu":
        return {}
    options = tuple(sorted(wanted.items()))
    return dict(options) if _accepted(options) else {}


def sampler_compile_options() -> dict:
    """The options for a sampler's programs on the default backend ({} off a CPU, or when off)."""
    return _cpu_options(_FAST_COMPILE_CPU)


def run_once_compile_options() -> dict:
    """The options for a program that runs once per call: the sampler's, without LLVM's optimisations."""
    return _cpu_options(_RUN_ONCE_CPU) or sampler_compile_options()
