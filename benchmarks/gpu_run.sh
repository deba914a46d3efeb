#!/usr/bin/env bash
# The GPU check, as run on a lent GPU machine (one NVIDIA H100; no network there): the test suite's
# GPU-relevant folders on the GPU, then gp_peers.py and mcmc_peers.py with --device gpu / --tag gpu.
#
#   bash benchmarks/gpu_run.sh            (logs and results go to $OUT, default /tmp/gpu_out)
#
# Peers missing from the machine's image (BlackJAX, tinygp) are installed from wheels in .whl/ when
# that folder exists (pip download ... -d .whl blackjax==1.7.1 tinygp). Each stage has a time limit so
# that a slow stage cannot take the others' results with it.
set -u
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >/dev/null 2>&1 \
  || export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

{
  nvidia-smi -L
  python3 -c "import jax, numpyro, torch, gpytorch; print('jax', jax.__version__, jax.devices(), '| numpyro', numpyro.__version__, '| torch', torch.__version__, '| gpytorch', gpytorch.__version__)"
  # First, with full tracebacks, the tests that failed on the H100 on 2026-11-27. (The rwmh one's
  # covariance tolerance was 2 standard errors: the GPU's floating point gave another chain, and
  # it failed by chance. It now uses 5 standard errors from the ESS, and passed on an H100 on
  # 2026-11-28, with the GPU-relevant folders: no failures in the 94% that ran in 200 s.)
  timeout 120 python3 -m pytest -q -n 0 -p no:cacheprovider --tb=long \
    "tests/mcmc/test_sample.py::test_other_kernels_through_driver" tests/gp/test_gp_stress.py
  # The suite minus what has nothing to run on a GPU (the diagnostics need ArviZ, the CLI and tour
  # are long walkthroughs of the same code) and the slow validations.
  # -v with xdist names each failure as it happens, so a run cut short still says which failed.
  timeout "${TESTS_S:-240}" python3 -m pytest -v -n 14 -p no:cacheprovider -p no:benchmark -rfE --tb=short \
    tests/gp tests/mcmc tests/vi tests/nn tests/dist tests/ppl tests/optimize tests/conjugate tests/sbc tests/metrics
  echo "pytest exit: $?"
} 2>&1 | tee "$OUT/tests.log"

# JAX's allocator keeps what it frees; capped at 45% of the GPU it leaves GPyTorch room at n = 20,000.
XLA_PYTHON_CLIENT_MEM_FRACTION=0.45 timeout "${GP_S:-170}" python3 benchmarks/gp_peers.py --device gpu --sizes 1000 5000 10000 20000 \
  --fit-sizes 5000 10000 --tag gpu 2>&1 | tee "$OUT/gp.log"
cp benchmarks/results/gp_peers_gpu.* "$OUT/" 2>/dev/null

timeout "${MCMC_S:-150}" python3 benchmarks/mcmc_peers.py --libraries bayeskit numpyro blackjax \
  --no-one-device --no-second-run --tag gpu 2>&1 | tee "$OUT/mcmc.log"
cp benchmarks/results/mcmc_peers_gpu.* "$OUT/" 2>/dev/null
exit 0
