"""Test configuration: float64 on the CPU so exact tests can compare against scipy tightly.

The suite runs in parallel (``-n auto --dist worksteal`` in pyproject.toml: one worker per core,
idle workers take queued tests from busy ones, which balances the long tour chapters). Each worker keeps BLAS to one
thread: with a worker per core, BLAS threads only contend, and busy-waiting BLAS threads slow
small LAPACK calls by orders of magnitude on a loaded machine. The workers share one JAX
compilation cache, made for the run and deleted after it (below): 13% less time on 2 cores.
"""

import os
import shutil
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# The suite compiles far more than it runs: XLA's CPU backend without LLVM optimisation compiles
# faster and gives the same IEEE results (bayeskit already compiles its run-once programs so,
# bayeskit._xla_options): 549 s -> 480 s for the suite on 2 cores. BAYESKIT_TEST_XLA_OPT=default
# keeps XLA's default, as do XLA_FLAGS that set the level themselves.
if os.environ.get("BAYESKIT_TEST_XLA_OPT") != "default" and "optimization_level" not in os.environ.get(
    "XLA_FLAGS", ""
):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Nothing is kept in the user's ~/.cache (bayeskit.mcmc.sample would keep its programs there).
os.environ["BAYESKIT_COMPILATION_CACHE"] = "off"

import jax  # noqa: E402
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

jax.config.update("jax_enable_x64", True)
threadpool_limits(limits=1)  # for BLAS libraries loaded before this file ran

# One compilation cache per test run, shared by its workers and deleted at the end: a program
# that both workers need (a module fixture that each builds, the same small jitted operation) is
# compiled once. Every run starts empty, so each test still compiles what no earlier test of the
# same run compiled. (JAX writes an entry without a lock; should one worker read an entry the
# other is still writing, JAX warns and compiles it again. A size limit would add a lock, but also
# a scan of the whole folder at every write.)
# The controlling process makes the folder; xdist's workers inherit its environment.
_OWNS_RUN_CACHE = "BAYESKIT_TEST_RUN_CACHE" not in os.environ
if _OWNS_RUN_CACHE:
    os.environ["BAYESKIT_TEST_RUN_CACHE"] = tempfile.mkdtemp(prefix="bayeskit-tests-")
RUN_CACHE = Path(os.environ["BAYESKIT_TEST_RUN_CACHE"])
jax.config.update("jax_compilation_cache_dir", str(RUN_CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    # A test that raised while a program compiled in the background (say, a bad checkpoint given
    # to `resume`) leaves that compilation running; it writes to the cache when done.
    for thread in threading.enumerate():
        if thread.name == "bayeskit-compile":
            thread.join()
    if _OWNS_RUN_CACHE:
        shutil.rmtree(RUN_CACHE, ignore_errors=True)


@pytest.fixture
def without_run_cache():
    """For tests of the compilation cache itself: no cache folder set while the test runs."""
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_compilation_cache_dir", None)
    compilation_cache.reset_cache()
    yield
    jax.config.update("jax_compilation_cache_dir", str(RUN_CACHE))
    compilation_cache.reset_cache()
