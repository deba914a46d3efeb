"""NUTS against posteriordb references, for the posteriors that sample in seconds.

The same models and the same check as ``benchmarks/posteriordb.py`` (every reference quantity's
mean within 0.3 reference sd, sd within 20%, R-hat < 1.01), on the copies of ``data.json`` and
``reference.json`` in ``tests/data/posteriordb`` (BSD-3, see its licence file). The models live
in ``benchmarks/posteriordb_models.py``, loaded here by path so that there is one copy of them.
"""

import importlib.util
import sys
from pathlib import Path

import jax
import pytest

from bayeskit.mcmc import sample

REPO = Path(__file__).parents[2]
DATA = REPO / "tests" / "data" / "posteriordb"


def _load_models():
    spec = importlib.util.spec_from_file_location(
        "posteriordb_models", REPO / "benchmarks" / "posteriordb_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


pdb = _load_models()


# sblrc's R-hat sits near the 1.01 line at 1,000 draws (ESS about 700-850; 9 or 10 of seeds 0-9
# pass, depending on the realisation): the test draws 2,000, so that it checks the posterior rather
# than that coin. The benchmark keeps Stan's 1,000.
NUM_SAMPLES = {"sblrc-blr": 2000}
# bball's HMM has a minor mode (lambda[2] near 0.5 instead of 0.08), and Stan's reference run
# needed 35,000 warmup iterations. At 1,000 warmup iterations one chain of four ends warmup there,
# and stays, in about one run in four or five (seeds 0-7 under the test's XLA settings: seeds 0
# and 3 failed, R-hat 1.02-1.03, which the run's warnings report), and the adapted step size
# ranges over 0.1-0.6 from seed to seed; at 2,000 all eight pass with step sizes 0.59-0.64. The
# test warms up for 2,000 so that it checks the sampler's posterior rather than that coin; the
# benchmark keeps the default 1,000 (and passes at seed 0).
NUM_WARMUP = {"bball_drive_event_0-hmm_drive_0": 2000}


# bball at seed 0 failed (R-hat 1.15, 689 divergences) before warmup pooled the metric across
# chains: a chain that adapted to a minor region went back there and stayed. gp_pois_regr at
# seed 0 failed (R-hat 1.10; one chain's step size 0.037 among 0.031-0.033, 160 divergences in
# that chain and a biased alpha) before the end of warmup pooled the step size.
@pytest.mark.parametrize(
    "name",
    [
        "sblrc-blr",
        "mesquite-logmesquite",
        "arK-arK",
        "bball_drive_event_0-hmm_drive_0",
        "gp_pois_regr-gp_pois_regr",
    ],
)
def test_nuts_matches_posteriordb_reference(name):
    spec = pdb.POSTERIORS[name]
    post = sample(
        jax.random.key(0),
        pdb.load_target(name, DATA),
        num_warmup=NUM_WARMUP.get(name, 1000),
        num_samples=NUM_SAMPLES.get(name, 1000),
        target_accept=spec.target_accept,
        max_tree_depth=spec.max_tree_depth,
        progress_bar=False,
        warn=False,
    )
    result = pdb.compare(post.draws, pdb.load_reference(name, DATA))
    bad = {
        q: {k: round(v[k], 4) for k in ("mean_err", "sd_ratio", "rhat")}
        for q, v in result["quantities"].items()
        if v["mean_err"] >= pdb.MEAN_TOL or abs(v["sd_ratio"] - 1) >= pdb.SD_TOL or v["rhat"] >= pdb.RHAT_MAX
    }
    assert result["passed"], f"{name}: quantities outside the criteria: {bad}"
