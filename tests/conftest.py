"""Test configuration: float64 on the CPU so exact tests can compare against scipy tightly.

The suite runs in parallel (``-n auto --dist worksteal`` in pyproject.toml: one worker per core,
idle workers take queued tests from busy ones, which balances the long tour chapters). Each worker keeps BLAS to one
thread: with a worker per core, BLAS threads only contend, and busy-waiting BLAS threads slow
small LAPACK calls by orders of magnitude on a loaded machine.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Every test compiles afresh (bayeskit.mcmc.sample would otherwise keep programs in ~/.cache);
# tests of the cache give it a folder of their own.
os.environ["BAYESKIT_COMPILATION_CACHE"] = "off"

import jax  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

jax.config.update("jax_enable_x64", True)
threadpool_limits(limits=1)  # for BLAS libraries loaded before this file ran
