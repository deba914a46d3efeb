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
