"""bayeskit's exact-GP log marginal likelihood + gradient over the bare Cholesky floor, alone in a process.

`gp_peers.py` measures the same ratio with the peer libraries loaded in the same process (their
thread pools then compete with BLAS); this script measures it with nothing else loaded.
ARD RBF, d = 8, float64 on the CPU; the floor is scipy's Cholesky of the same matrix.

Run: python benchmarks/gp_floor.py 1000 2000 5000
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg as sl

from bayeskit.gp import kernels as K
from bayeskit.gp.gpr import _covariance, _Hyper, _log_marginal
from bayeskit.gp.means import ZeroMean


def median_time(f, *args, repeats=9):
    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    jax.config.update("jax_enable_x64", True)
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 2000, 5000]
    rng = np.random.default_rng(0)
    print("| n | scipy Cholesky (s) | value + gradient (s) | ratio |\n|---|---|---|---|")
    for n in sizes:
        X, y = jnp.asarray(rng.normal(size=(n, 8))), jnp.asarray(rng.normal(size=n))
        hyper = _Hyper(K.RBF(2.0 * jnp.ones(8)), ZeroMean(), jnp.log(0.1))
        cov = np.asarray(jax.jit(_covariance)(hyper, X))
        floor = median_time(lambda c: sl.cholesky(c, lower=True), cov)
        ours = median_time(jax.jit(jax.value_and_grad(_log_marginal)), hyper, X, y)
        print(f"| {n:,} | {floor:.4f} | {ours:.4f} | {ours / floor:.2f} |", flush=True)


if __name__ == "__main__":
    main()
